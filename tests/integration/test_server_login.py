"""Login against the live server on real MariaDB: Argon2id, one generic failure, back-off.

The attacks on the delay, names and tokens are in ``test_server_login_attacks.py``.
"""

from __future__ import annotations

import time

import pytest

from common.messages import (
    ChatRequest,
    ErrorReply,
    LoginResult,
    PresenceEvent,
    RosterUpdate,
)
from server.accounts import RESUME_FAILED, TOO_MANY_ATTEMPTS, WRONG_CREDENTIALS

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

INJECTIONS = [
    "' OR '1'='1",
    "user1' -- ",
    "user1'; DROP TABLE users; --",
    '" OR ""="',
    "\\' OR 1=1 #",
    "user1\x00",
]


def test_login_success_gives_token_roster_and_presence(chat) -> None:
    watcher = chat.login("user2")
    c = chat.client()
    result = c.login("user1")
    assert result.ok and result.username == "user1" and result.nickname == "wang_yuan"
    assert len(result.detail) >= 43  # 32 random bytes, urlsafe base64
    roster = c.recv_until(lambda m: isinstance(m, RosterUpdate))
    assert ("user1", "wang_yuan") in roster.users and ("user2", "ding_zhen") in roster.users
    join = watcher.recv_until(lambda m: isinstance(m, PresenceEvent))
    assert (join.event, join.username, join.nickname) == ("join", "user1", "wang_yuan")


def test_wrong_password_and_unknown_user_read_the_same(chat) -> None:
    wrong = chat.client().login("user3", "not-the-password")
    unknown = chat.client().login("nobody-here", "111111")
    assert not wrong.ok and not unknown.ok
    assert wrong.detail == unknown.detail == WRONG_CREDENTIALS
    assert wrong.username == unknown.username == "" and wrong.nickname == ""


@pytest.mark.parametrize("evil", INJECTIONS)
def test_sql_injection_strings_fail(chat, evil: str) -> None:
    as_user = chat.client().login(evil, "111111")
    as_password = chat.client().login("user1", evil)
    assert not as_user.ok and not as_password.ok
    assert chat.store.get_user("user1") is not None  # the table is still there


def test_hashes_in_the_table_are_argon2id(chat) -> None:
    for name in ("user1", "user2", "user3"):
        record = chat.store.get_user(name)
        assert record is not None
        assert record.password_hash.startswith("$argon2id$")
        assert "111111" not in record.password_hash


def test_chat_before_login_is_refused_and_reaches_nobody(chat) -> None:
    listener = chat.login("user2")
    sneaky = chat.client()
    sneaky.handshake()
    sneaky.send(ChatRequest("lobby", "early-1", "sneaky text before login"))
    error = sneaky.recv_until(lambda m: isinstance(m, ErrorReply))
    assert error.code_word == "not_logged_in"
    heard = listener.collect(0.5)
    assert not any("sneaky" in getattr(m, "text", "") for m in heard)


def test_repeated_failures_back_off_then_succeed(chat) -> None:
    chat.store.clear_login_attempts("user3", "127.0.0.1")  # earlier tests may have failed
    c = chat.client()
    for _ in range(chat.options.account_backoff_after):
        assert c.login("user3", "wrong").detail == WRONG_CREDENTIALS
    # delayed now: even the right password gets the back-off answer, and is not checked
    locked = c.login("user3", "111111")
    assert not locked.ok and locked.detail == TOO_MANY_ATTEMPTS
    # the refusal says how long is left: whole seconds, at most the configured delay
    assert locked.retry_after is not None
    assert 1 <= locked.retry_after <= max(1, round(chat.options.account_backoff_seconds + 0.5))
    state = chat.store.login_attempt_state("user3", "127.0.0.1")
    assert state is not None and state[1] > 0  # kept in the database
    time.sleep(chat.options.account_backoff_seconds + 0.2)
    ok = chat.client().login("user3", "111111")
    assert ok.ok
    assert chat.store.login_attempt_state("user3", "127.0.0.1") is None  # forgiven


def test_unknown_users_back_off_like_real_ones(chat) -> None:
    c = chat.client()
    for _ in range(chat.options.account_backoff_after):
        assert c.login("ghost", "x").detail == WRONG_CREDENTIALS
    assert c.login("ghost", "x").detail == TOO_MANY_ATTEMPTS


def test_failed_logins_per_address_are_throttled(make_server) -> None:
    live = make_server(login_rate=0.01, login_burst=3, account_backoff_after=100)
    # every attempt takes its token up front; the three failures leave none for a fourth
    c = live.client()
    for i in range(3):
        assert c.login(f"nobody{i}", "x").detail == WRONG_CREDENTIALS
    assert c.login("user1", "111111").detail == TOO_MANY_ATTEMPTS


def test_resume_token_works_once(chat) -> None:
    first = chat.client().login("user1")
    token = first.detail
    resumed = chat.client().resume("user1", token)
    assert resumed.ok and resumed.username == "user1" and resumed.detail != token
    again = chat.client().resume("user1", token)
    assert not again.ok and again.detail == RESUME_FAILED
    fresh = chat.client().resume("user1", resumed.detail)  # the new one works, once
    assert fresh.ok


def test_resume_token_of_another_user_fails(chat) -> None:
    token = chat.client().login("user2").detail
    stolen = chat.client().resume("user1", token)
    assert not stolen.ok


def test_login_result_on_wire_has_four_fields(chat) -> None:
    result = chat.client().login("user1", "bad")
    assert isinstance(result, LoginResult) and result.detail == WRONG_CREDENTIALS
