-- Schema of the chat. utf8mb4 everywhere so CJK and emoji are stored as typed;
-- binary collation on names and ids so 'User1' and 'user1' are different accounts.

CREATE TABLE IF NOT EXISTS users (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    nickname        VARCHAR(64) NOT NULL,
    nickname_key    VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,  -- NFKC, case-folded
    password_hash   VARCHAR(255) NOT NULL,          -- Argon2id PHC string, never a password
    created_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE KEY uq_users_username (username),
    UNIQUE KEY uq_users_nickname_key (nickname_key)  -- no two accounts look alike
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- a database made before nickname keys: the column arrives empty (NULL), init-db fills it
-- (server/provision.py) and then adds the unique key
ALTER TABLE users ADD COLUMN IF NOT EXISTS
    nickname_key VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL AFTER nickname;

CREATE TABLE IF NOT EXISTS messages (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    conversation  VARCHAR(80) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,  -- lobby | dm:a:b
    sender        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    recipient     VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    client_msg_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    body          TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    UNIQUE KEY uq_messages_sender_client_id (sender, client_msg_id),  -- idempotent resend
    KEY ix_messages_conversation (conversation, id)                    -- history pages
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS resume_tokens (
    token_hash BINARY(32) NOT NULL PRIMARY KEY,     -- SHA-256 of the token; the token itself is never stored
    username   VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    expires_ms BIGINT NOT NULL,
    KEY ix_resume_tokens_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed-login delay per (name, address), for account names and unknown names alike, so the
-- same statements run whether or not the account exists. ``failures`` decays (halves every
-- CHAT_LOGIN_FAILURE_HALF_LIFE); no password is checked for the pair before ``not_before_ms``.
CREATE TABLE IF NOT EXISTS login_attempts (
    username      VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    address       VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    failures      DOUBLE NOT NULL DEFAULT 0,        -- as of updated_ms
    updated_ms    BIGINT NOT NULL DEFAULT 0,
    not_before_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (username, address),
    KEY ix_login_attempts_updated (updated_ms)      -- the sweep of forgotten rows
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX IF NOT EXISTS ix_resume_tokens_expires ON resume_tokens (expires_ms);

-- Rooms other than the lobby. The name is what people type and may change (rename); messages
-- are stored under the conversation 'room:<id>', so a rename keeps history and read positions.
CREATE TABLE IF NOT EXISTS rooms (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- a-z 0-9 -
    topic       VARCHAR(200) NOT NULL DEFAULT '',
    is_private  TINYINT(1) NOT NULL DEFAULT 0,
    created_ms  BIGINT NOT NULL,
    UNIQUE KEY uq_rooms_name (name),
    KEY ix_rooms_public_name (is_private, name)      -- the public room list, by name
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per (account, conversation) the account is in: rooms (role, where its history
-- starts), the lobby and direct conversations (made when their first message is stored), each
-- with the account's read position. The conversation list at login reads these rows by
-- username (the primary key) and each conversation's newest message by ix_messages_conversation.
CREATE TABLE IF NOT EXISTS memberships (
    username      VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    conversation  VARCHAR(80) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,  -- lobby | room:<id> | dm:a:b
    room_id       BIGINT UNSIGNED NULL,                  -- rooms.id for a room, else NULL
    role          VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'member',
    joined_after  BIGINT UNSIGNED NOT NULL DEFAULT 0,    -- private room: history after this id
    joined_ms     BIGINT NOT NULL DEFAULT 0,
    last_read     BIGINT UNSIGNED NOT NULL DEFAULT 0,    -- the newest message id read
    PRIMARY KEY (username, conversation),
    KEY ix_memberships_room (room_id, username)          -- a room's members
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- a database made before memberships: every direct conversation already stored gets its two
-- rows, so it is in both accounts' conversation lists (INSERT IGNORE: a second init-db adds none)
INSERT IGNORE INTO memberships (username, conversation)
    SELECT DISTINCT sender, conversation FROM messages WHERE recipient IS NOT NULL;
INSERT IGNORE INTO memberships (username, conversation)
    SELECT DISTINCT recipient, conversation FROM messages WHERE recipient IS NOT NULL;

-- End-to-end direct messages: the body of a sealed row is the blob (base64url, PROTOCOL.md §7),
-- which the server cannot read; clear rows (0003 of older clients) keep sealed = 0.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS sealed TINYINT(1) NOT NULL DEFAULT 0;

-- Each account's identity key sets, made on its client. Public keys only, and the private keys
-- sealed under a master key that is derived from the password on the client and never sent.
-- Every set an account ever published stays (older messages name theirs by key id); the
-- newest is current.
CREATE TABLE IF NOT EXISTS identity_keys (
    username   VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    key_id     BINARY(16) NOT NULL,           -- SHA-256(label | sign_pub | recv_pub)[:16]
    bundle     VARBINARY(65) NOT NULL,        -- 0x01 | Ed25519 public | X25519 public
    backup     VARBINARY(93) NOT NULL,        -- AES-256-GCM under the client's master key
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (username, key_id),
    KEY ix_identity_keys_current (username, created_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Key login and invitations (PROTOCOL.md §8). A step of its own: every statement below may run
-- again on a database that already has it.
-- An account whose kdf_* columns are set keeps in password_hash an Argon2id hash of the
-- *authentication key* its client derives (common/account_keys.py), never of the password;
-- kdf_* are the client's Argon2id parameters and salt, per account so they can be raised
-- later. NULL kdf_* is an account made before key login: its password_hash is of the
-- password, and its next password login (0001) turns it into a key row.
ALTER TABLE users ADD COLUMN IF NOT EXISTS kdf_memory_kib INT UNSIGNED NULL;
ALTER TABLE users ADD COLUMN IF NOT EXISTS kdf_time_cost INT UNSIGNED NULL;
ALTER TABLE users ADD COLUMN IF NOT EXISTS kdf_parallelism INT UNSIGNED NULL;
ALTER TABLE users ADD COLUMN IF NOT EXISTS kdf_salt VARBINARY(32) NULL;
-- who may make invitations from the client (0033); the account administration adds the same
-- column, hence IF NOT EXISTS
ALTER TABLE users ADD COLUMN IF NOT EXISTS is_admin TINYINT(1) NOT NULL DEFAULT 0;

-- Invitation codes: only their SHA-256 is stored (the code is shown once, to whoever made it).
CREATE TABLE IF NOT EXISTS invitations (
    code_hash  BINARY(32) NOT NULL PRIMARY KEY,
    uses_left  INT UNSIGNED NOT NULL,
    expires_ms BIGINT NOT NULL,
    created_by VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,  -- NULL: the operator
    created_ms BIGINT NOT NULL,
    KEY ix_invitations_expires (expires_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Account management (PROTOCOL.md §9): administrators, disabled accounts, and the one-time code
-- an administrator's password reset hands out (its SHA-256 only, with an expiry). is_admin
-- is added above.
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled TINYINT(1) NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN IF NOT EXISTS reset_code_hash BINARY(32) NULL;
ALTER TABLE users ADD COLUMN IF NOT EXISTS reset_expires_ms BIGINT NOT NULL DEFAULT 0;

-- A session is the chain of resume tokens one login hands on: each resume's token inherits the
-- session id and login time of the token it replaced (the sessions list, sign out elsewhere).
ALTER TABLE resume_tokens ADD COLUMN IF NOT EXISTS
    session_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '';
ALTER TABLE resume_tokens ADD COLUMN IF NOT EXISTS
    address VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '';
ALTER TABLE resume_tokens ADD COLUMN IF NOT EXISTS login_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE resume_tokens ADD COLUMN IF NOT EXISTS seen_ms BIGINT NOT NULL DEFAULT 0;

-- Sign-outs decided outside the running servers (the command line: disable, delete, a password
-- reset): every server process reads new rows on a timer and closes the account's connections.
CREATE TABLE IF NOT EXISTS account_signouts (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username    VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    reason      VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_ms  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
