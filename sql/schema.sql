-- Schema of the chat. utf8mb4 everywhere so CJK and emoji are stored as typed;
-- binary collation on names and ids so 'User1' and 'user1' are different accounts.

CREATE TABLE IF NOT EXISTS users (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    nickname        VARCHAR(64) NOT NULL,
    password_hash   VARCHAR(255) NOT NULL,          -- Argon2id PHC string, never a password
    failed_logins   INT UNSIGNED NOT NULL DEFAULT 0,
    locked_until_ms BIGINT NOT NULL DEFAULT 0,      -- per-account back-off after failures
    created_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE KEY uq_users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

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
