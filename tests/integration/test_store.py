"""store.py against a real MariaDB: users, group-committed messages, history, resume tokens."""

from __future__ import annotations

import hashlib
import secrets

import pymysql
import pymysql.cursors
import pytest

from server import provision
from server.store import DbParams, DelayPolicy, NewMessage, Store, StoreUnavailable

pytestmark = pytest.mark.integration

INJECTIONS = ["' OR '1'='1", "x'; DROP TABLE users; --", "\\'; SELECT 1; #", "user1' -- "]


@pytest.fixture(scope="module")
def store(db_params: DbParams):
    s = Store(db_params)
    s.add_user("alice", "Alice", "$argon2id$fake-a")
    s.add_user("bob", "鲍勃", "$argon2id$fake-b")
    yield s
    s.close()


def new(sender: str, cid: str, text: str = "hi", conversation: str = "lobby") -> NewMessage:
    return NewMessage(conversation, sender, None, cid, text, 1_700_000_000_000)


def test_users(store: Store) -> None:
    alice = store.get_user("alice")
    assert alice is not None and alice.nickname == "Alice"
    assert store.get_user("ALICE") is None  # names are case-sensitive
    with pytest.raises(ValueError, match="already exists"):
        store.add_user("alice", "again", "h")
    store.set_password_hash("alice", "$argon2id$new")
    assert store.get_user("alice").password_hash == "$argon2id$new"  # type: ignore[union-attr]


@pytest.mark.parametrize("look_alike", ["alice", "ALICE", "\uff21lice", "Alic\u0065"])
def test_a_nickname_that_looks_like_another_is_refused(store: Store, look_alike: str) -> None:
    with pytest.raises(ValueError, match="nickname"):
        store.add_user(f"other{len(look_alike)}{ord(look_alike[0])}", look_alike, "h")


POLICY = DelayPolicy(free_attempts=3, base_ms=1_000, cap_ms=60_000, half_life_ms=600_000)


def test_reservation_counts_before_the_check_and_refuses_during_the_delay(store: Store) -> None:
    granted = [store.reserve_login_attempt("carol", "10.0.0.1", 5_000, POLICY) for _ in range(5)]
    assert granted == [True, True, True, False, False]  # the 3rd failure starts a 1 s delay
    failures, not_before = store.login_attempt_state("carol", "10.0.0.1")  # type: ignore[misc]
    assert failures == pytest.approx(3) and not_before == 6_000
    assert store.reserve_login_attempt("carol", "10.0.0.2", 5_000, POLICY)  # another address
    assert store.reserve_login_attempt("carol", "10.0.0.1", 6_000, POLICY)  # delay over
    # 4 failures (less the decay of one second) double the delay to about 2 s
    _, not_before = store.login_attempt_state("carol", "10.0.0.1")  # type: ignore[misc]
    assert not_before == pytest.approx(6_000 + 2_000, abs=20)
    store.clear_login_attempts("carol", "10.0.0.1")
    assert store.login_attempt_state("carol", "10.0.0.1") is None


def test_failures_decay_with_time_and_idle_rows_are_swept(store: Store) -> None:
    for _ in range(3):
        store.reserve_login_attempt("dave", "10.0.0.9", 0, POLICY)
    assert store.reserve_login_attempt("dave", "10.0.0.9", 1_200_000, POLICY)  # 2 half-lives
    failures, _ = store.login_attempt_state("dave", "10.0.0.9")  # type: ignore[misc]
    assert failures == pytest.approx(3 / 4 + 1)
    store.sweep_login_attempts(idle_before_ms=1_000_000, now_ms=2_000_000)
    assert store.login_attempt_state("dave", "10.0.0.9") is not None  # touched since
    assert store.sweep_login_attempts(idle_before_ms=1_300_000, now_ms=2_000_000) >= 1
    assert store.login_attempt_state("dave", "10.0.0.9") is None


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_strings_are_plain_data(store: Store, evil: str) -> None:
    assert store.get_user(evil) is None
    ((row, is_new),) = store.insert_messages([new("alice", evil[:60], evil)])
    assert is_new and row.text == evil
    assert store.get_user("alice") is not None and store.get_user("bob") is not None


def test_resend_is_stored_once_and_returns_the_original(store: Store) -> None:
    ((first, new1),) = store.insert_messages([new("alice", "same-id", "original")])
    ((again, new2),) = store.insert_messages([new("alice", "same-id", "changed")])
    assert new1 and not new2
    assert again.msg_id == first.msg_id and again.text == "original"
    mixed = store.insert_messages([new("bob", "same-id", "bob's"), new("alice", "same-id")])
    assert [flag for _, flag in mixed] == [True, False]  # the key is sender + client id
    assert mixed[0][0].sender_nickname == "鲍勃"


def test_a_batch_dedupes_within_itself_and_against_stored_rows(store: Store) -> None:
    ((stored, _),) = store.insert_messages([new("alice", "batch-old", "stored before")])
    batch = [
        new("alice", "batch-a", "first copy"),
        new("alice", "batch-old", "resent"),  # already stored
        new("bob", "batch-a", "bob's own id"),  # the key is sender + client id
        new("alice", "batch-a", "second copy"),  # the same id twice in one batch
        new("alice", "batch-b", "plain"),
    ]
    results = store.insert_messages(batch)
    assert [flag for _, flag in results] == [True, False, True, False, True]
    rows = [row for row, _ in results]
    assert rows[1] == stored  # the original row, not the resend
    assert rows[3] == rows[0] and rows[3].text == "first copy"
    assert rows[0].msg_id < rows[2].msg_id < rows[4].msg_id  # batch order is id order
    assert [r.sender_nickname for r in rows] == ["Alice", "Alice", "鲍勃", "Alice", "Alice"]
    page, _ = store.history("lobby", None, 200)
    mine = [r for r in page if r.client_msg_id.startswith("batch-")]
    assert sorted((r.sender, r.client_msg_id, r.text) for r in mine) == [
        ("alice", "batch-a", "first copy"),
        ("alice", "batch-b", "plain"),
        ("alice", "batch-old", "stored before"),
        ("bob", "batch-a", "bob's own id"),
    ]
    assert {r.msg_id: r for r in mine}[rows[0].msg_id] == rows[0]  # relayed = stored


def test_ids_that_differ_only_in_trailing_spaces_are_one_message(store: Store) -> None:
    # the unique key's collation ignores trailing spaces; a batch holding such an id must
    # still be stored (not fail as a whole, which would fail everyone's messages in it)
    ((pad, _),) = store.insert_messages([new("alice", "pad", "original")])
    results = store.insert_messages(
        [new("alice", "pad "), new("bob", "pad2", "kept"), new("bob", "pad2  ", "dropped")]
    )
    assert [flag for _, flag in results] == [False, True, False]
    assert results[0][0] == pad
    assert results[2][0] == results[1][0] and results[2][0].text == "kept"


@pytest.fixture()
def statements(monkeypatch) -> list[str]:
    """The first word of every statement the store sends while the test runs."""
    sent: list[str] = []
    real_query = pymysql.cursors.Cursor._query

    def spy(cursor, query):  # a multi-row INSERT comes as bytes
        text = query if isinstance(query, str) else bytes(query[:20]).decode()
        sent.append(text.split(None, 1)[0].upper())
        return real_query(cursor, query)

    monkeypatch.setattr(pymysql.cursors.Cursor, "_query", spy)
    return sent


def test_a_batch_costs_one_insert_and_one_select(store: Store, statements: list[str]) -> None:
    results = store.insert_messages([new("alice", f"one-trip-{i}", f"m{i}") for i in range(40)])
    assert all(flag for _, flag in results) and len({r.msg_id for r, _ in results}) == 40
    assert statements == ["INSERT", "SELECT"]
    statements.clear()
    # a resend in the batch: the INSERT fails as a whole, then a look-up first, still per batch
    again = store.insert_messages(
        [new("bob", f"one-trip-b{i}") for i in range(20)] + [new("alice", "one-trip-7")]
    )
    assert [flag for _, flag in again] == [True] * 20 + [False]
    assert again[-1][0] == results[7][0]
    assert statements == ["INSERT", "SELECT", "INSERT", "SELECT"]


def test_a_batch_split_into_several_statements_rolls_back_whole(
    store: Store, statements: list[str]
) -> None:
    # ~1.5 MB of text: PyMySQL sends it as more than one INSERT, and the duplicate is in the
    # last one, so the first has to be undone before the batch is stored again
    ((old, _),) = store.insert_messages([new("bob", "split-old", "original")])
    big = "长" * 4_000  # 12,000 bytes
    batch = [new("bob", f"split-{i}", big) for i in range(120)] + [new("bob", "split-old")]
    statements.clear()
    results = store.insert_messages(batch)
    assert statements.count("INSERT") >= 4  # two tries, each in more than one statement
    assert [flag for _, flag in results] == [True] * 120 + [False]
    assert results[-1][0] == old
    ids = [row.msg_id for row, _ in results[:-1]]
    assert len(set(ids)) == 120
    page, _ = store.history("lobby", None, 200)
    assert sorted(r.msg_id for r in page if r.client_msg_id.startswith("split-")) == sorted(
        [*ids, old.msg_id]
    )


@pytest.mark.parametrize(
    "text", ["a|b", "line1\nline2\r\n", "100% %7C", "中文消息", "emoji 😀👍🏽", "x" * 4000]
)
def test_text_round_trips_exactly(store: Store, text: str) -> None:
    cid = "t-" + hashlib.sha256(text.encode()).hexdigest()[:40]
    ((row, _),) = store.insert_messages([new("bob", cid, text)])
    rows, _ = store.history("lobby", row.msg_id + 1, 1)
    assert rows[0].text == text


def test_history_pages_oldest_first(store: Store) -> None:
    conv = "dm:alice:bob"
    ids = [r.msg_id for r, _ in store.insert_messages(
        [new("alice", f"h{i}", f"m{i}", conversation=conv) for i in range(7)]
    )]
    page, more = store.history(conv, None, 3)
    assert [r.msg_id for r in page] == ids[4:] and more
    page, more = store.history(conv, ids[4], 3)
    assert [r.msg_id for r in page] == ids[1:4] and more
    page, more = store.history(conv, ids[1], 3)
    assert [r.msg_id for r in page] == ids[:1] and not more
    assert store.history("dm:nobody:else", None, 5) == ([], False)


def test_resume_tokens_are_single_use_and_expire(store: Store) -> None:
    token = hashlib.sha256(b"token-1").digest()
    store.save_resume_token(token, "alice", expires_ms=2_000)
    assert store.consume_resume_token(token, now_ms=1_000) == "alice"
    assert store.consume_resume_token(token, now_ms=1_000) is None
    old = hashlib.sha256(b"token-2").digest()
    store.save_resume_token(old, "bob", expires_ms=500)
    assert store.consume_resume_token(old, now_ms=1_000) is None


def test_revoked_tokens_are_gone_and_an_account_keeps_only_its_newest(store: Store) -> None:
    token = hashlib.sha256(b"token-3").digest()
    store.save_resume_token(token, "alice", expires_ms=10_000)
    assert store.revoke_resume_token(token)
    assert store.consume_resume_token(token, now_ms=1_000) is None
    hashes = [hashlib.sha256(b"many-%d" % i).digest() for i in range(6)]
    for i, digest in enumerate(hashes):
        store.save_resume_token(digest, "bob", expires_ms=100_000 + i, keep=4)
    assert store.count_resume_tokens("bob") == 4
    assert store.consume_resume_token(hashes[0], now_ms=1_000) is None  # the oldest went
    assert store.consume_resume_token(hashes[5], now_ms=1_000) == "bob"


def test_expired_tokens_are_swept_in_batches(store: Store) -> None:
    for i in range(7):
        store.save_resume_token(hashlib.sha256(b"exp-%d" % i).digest(), "alice", 50 + i, keep=99)
    live = hashlib.sha256(b"live").digest()
    store.save_resume_token(live, "alice", expires_ms=10**12, keep=99)
    assert store.sweep_resume_tokens(now_ms=1_000, batch=3) >= 7
    assert store.count_resume_tokens("alice") == 1


def test_server_account_has_least_privilege(db_params: DbParams) -> None:
    conn = pymysql.connect(**db_params.connect_kwargs())
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GRANTS")
            grants = " ".join(row[0] for row in cur.fetchall())
            assert "SELECT, INSERT, UPDATE, DELETE" in grants and "ALL PRIVILEGES" not in grants
            for statement in (
                "CREATE TABLE t (x INT)",
                "DROP TABLE messages",
                "ALTER TABLE users ADD COLUMN x INT",
                "GRANT SELECT ON mysql.* TO CURRENT_USER",
                "SELECT * FROM mysql.user",
            ):
                with pytest.raises(pymysql.err.MySQLError):
                    cur.execute(statement)
    finally:
        conn.close()


def test_remote_account_gets_the_same_least_privilege(mariadb) -> None:
    admin = mariadb.admin_params()
    name = "chat_remote_" + secrets.token_hex(4)
    try:
        provision.apply_schema(admin, name)
        provision.ensure_server_account(admin, name, name, "pw-" + name, remote=True)
        provision.ensure_server_account(admin, name, name, "pw2-" + name, remote=True)  # again
        conn = pymysql.connect(**admin.connect_kwargs())
        try:
            with conn.cursor() as cur:
                for host in ("localhost", "%"):
                    cur.execute("SHOW GRANTS FOR %s@%s", (name, host))
                    grants = " ".join(row[0] for row in cur.fetchall())
                    assert f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.*" in grants
                    assert "ALL PRIVILEGES" not in grants and "GRANT OPTION" not in grants
        finally:
            conn.close()
    finally:
        provision.drop_database(admin, name)
        provision.drop_account(admin, name)


def test_unsafe_identifiers_are_refused(mariadb) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        provision.apply_schema(mariadb.admin_params(), "chat`; DROP DATABASE mysql; --")
    with pytest.raises(ValueError, match="unsafe"):
        provision.ensure_server_account(mariadb.admin_params(), "chat", "x' OR 1", "pw")


def test_outage_raises_unavailable_then_heals(db_params: DbParams, db_control) -> None:
    store = Store(db_params)
    try:
        assert store.ping()
        db_control.stop()
        with pytest.raises(StoreUnavailable):
            store.get_user("alice")
        assert not store.ping()
        db_control.start()
        assert store.get_user("alice") is not None
    finally:
        store.close()


OLD_USERS = """
CREATE TABLE users (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    nickname VARCHAR(64) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    failed_logins INT UNSIGNED NOT NULL DEFAULT 0,
    locked_until_ms BIGINT NOT NULL DEFAULT 0,
    UNIQUE KEY uq_users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO users (username, nickname, password_hash) VALUES
    ('ann', 'Alice', 'h'), ('amy', 'ALICE', 'h'), ('bo', 'Bob', 'h')
"""


def test_init_db_upgrades_a_database_made_before_nickname_keys(mariadb) -> None:
    admin = mariadb.admin_params()
    name = f"chat_old_{secrets.token_hex(4)}"
    provision.apply_schema(admin, name, OLD_USERS)
    try:
        provision.apply_schema(admin, name)  # init-db with today's schema
        conn = pymysql.connect(**mariadb.admin_params(name).connect_kwargs())
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT username, nickname_key FROM users ORDER BY id")
                keys = dict(cur.fetchall())
        finally:
            conn.close()
        assert keys == {"ann": "alice", "amy": None, "bo": "bob"}  # amy's looks like ann's
        user, password = f"chat_old_srv_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        provision.ensure_server_account(admin, name, user, password)
        upgraded = Store(DbParams(name, user, password, unix_socket=mariadb.socket))
        try:
            with pytest.raises(ValueError, match="nickname"):
                upgraded.add_user("al", "alice", "h")
            upgraded.add_user("cy", "Cy", "h")
            assert upgraded.get_user("cy") is not None
        finally:
            upgraded.close()
        provision.drop_account(admin, user)
    finally:
        provision.drop_database(admin, name)
