"""store.py against a real MariaDB: users, group-committed messages, history, resume tokens."""

from __future__ import annotations

import hashlib
import secrets

import pymysql
import pytest

from server import provision
from server.store import DbParams, NewMessage, Store, StoreUnavailable

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


def test_users_and_failure_counters(store: Store) -> None:
    alice = store.get_user("alice")
    assert alice is not None and alice.nickname == "Alice" and alice.failed_logins == 0
    assert store.get_user("ALICE") is None  # names are case-sensitive
    with pytest.raises(ValueError):
        store.add_user("alice", "again", "h")
    assert store.record_login_failure("alice", 0) == 1
    assert store.record_login_failure("alice", 123) == 2
    assert store.get_user("alice").locked_until_ms == 123  # type: ignore[union-attr]
    store.reset_login_failures("alice")
    assert store.get_user("alice").failed_logins == 0  # type: ignore[union-attr]
    store.set_password_hash("alice", "$argon2id$new")
    assert store.get_user("alice").password_hash == "$argon2id$new"  # type: ignore[union-attr]


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
