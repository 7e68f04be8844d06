"""Attacks on login from one machine, performed against a live server on real MariaDB.

Addresses in 127.0.0.0/8 stand for different machines: a client binds its source address.
Password checks are counted by wrapping the running hasher's ``verify``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from common.messages import (
    DirectRequest,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
)
from server.accounts import RESUME_FAILED, TOO_MANY_ATTEMPTS, WRONG_CREDENTIALS
from server.service import dm_conversation
from tests.support.chat_client import ChatClient

if TYPE_CHECKING:
    from tests.integration.conftest_server import LiveServer

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GUESSES = 200
MANY = {  # room for GUESSES connections from one address, and for their failures
    "max_conns_per_addr": GUESSES + 50,
    "handshake_burst": GUESSES + 50,
    "handshake_queue": GUESSES + 50,  # every hello may wait for its turn at the RSA key
    "login_burst": 10 * GUESSES,
    "handshake_timeout": 120.0,  # the first connection waits for the last handshake
    "first_byte_timeout": 120.0,  # the last connection sends its hello after 199 handshakes
}


class VerifyCounter:
    """Counts the password checks of a live server, and the most running at once per name."""

    def __init__(self, live: LiveServer) -> None:
        self.calls = 0
        self.running: Counter[str] = Counter()
        self.most_at_once = 0
        self._lock = threading.Lock()
        self._verify: Callable[..., bool] = live.hasher.verify
        live.hasher.verify = self._counted  # type: ignore[method-assign]

    def _counted(self, stored_hash: str | None, password: str) -> bool:
        with self._lock:
            self.calls += 1
            self.running["*"] += 1
            self.most_at_once = max(self.most_at_once, self.running["*"])
        try:
            return self._verify(stored_hash, password)
        finally:
            with self._lock:
                self.running["*"] -= 1


def client_from(live: LiveServer, source: str) -> ChatClient:
    """A connection whose source address is ``source`` (another machine, as the server sees)."""
    c = live.client()
    c.sock.close()
    c.sock = socket.create_connection((live.host, live.port), 10.0, (source, 0))
    return c


def login_at_once(
    clients: list[ChatClient], username: str, passwords: list[str], names: Sequence[str] = ()
) -> list[Any]:
    """Send one login per connection, all released together; the answers in order.

    Either one ``username`` with ``passwords``, or ``names`` each with the password ``guess``.
    """
    names = list(names) or [username] * len(clients)
    passwords = passwords or ["guess"] * len(clients)
    for c in clients:
        c.handshake()
    start = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def attempt(i: int) -> None:
        start.wait()
        clients[i].send(LoginRequest(names[i], passwords[i]))
        answers[i] = clients[i].recv_until(lambda m: isinstance(m, LoginResult), 60.0)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90.0)
    assert all(isinstance(a, LoginResult) for a in answers)
    return answers


def test_concurrent_guesses_at_one_account_are_reserved_before_hashing(make_server) -> None:
    live = make_server(account_backoff_seconds=600.0, **MANY)
    counter = VerifyCounter(live)
    clients = [client_from(live, "127.0.0.11") for _ in range(GUESSES)]
    answers = login_at_once(clients, "user1", [f"guess-{i}" for i in range(GUESSES)])
    details = Counter(a.detail for a in answers)
    free = live.options.account_backoff_after
    assert counter.calls <= free  # not 200: each attempt is counted before it is checked
    assert details[WRONG_CREDENTIALS] == counter.calls
    assert details[TOO_MANY_ATTEMPTS] == GUESSES - counter.calls
    right = client_from(live, "127.0.0.11").login("user1", "111111")
    assert right.detail == TOO_MANY_ATTEMPTS and counter.calls <= free  # refused unchecked
    assert client_from(live, "127.0.0.12").login("user1", "111111").ok  # elsewhere: fine


def test_one_address_has_few_password_checks_in_flight(make_server) -> None:
    live = make_server(login_hashes_per_address=2, **MANY)
    counter = VerifyCounter(live)
    clients = [client_from(live, "127.0.0.13") for _ in range(GUESSES)]
    answers = login_at_once(clients, "", [], names=[f"ghost{i}" for i in range(GUESSES)])
    assert Counter(a.detail for a in answers).keys() <= {WRONG_CREDENTIALS, TOO_MANY_ATTEMPTS}
    assert 0 < counter.most_at_once <= 2


def test_failures_from_one_address_do_not_delay_the_owner_elsewhere(make_server) -> None:
    live = make_server(account_backoff_seconds=600.0)
    owner_token = client_from(live, "127.0.0.21").login("user2").detail
    attacker = client_from(live, "127.0.0.22")
    for _ in range(live.options.account_backoff_after):
        assert attacker.login("user2", "wrong").detail == WRONG_CREDENTIALS
    assert attacker.login("user2", "111111").detail == TOO_MANY_ATTEMPTS  # delayed there
    assert client_from(live, "127.0.0.21").login("user2").ok  # the owner's address: no delay
    assert client_from(live, "127.0.0.21").resume("user2", owner_token).ok  # resume unaffected


def test_a_64_kb_username_costs_no_hash_and_leaves_nothing(make_server) -> None:
    live = make_server()
    counter = VerifyCounter(live)
    huge = "u" * 60_000
    answer = client_from(live, "127.0.0.31").login(huge, "x")
    assert answer.detail == WRONG_CREDENTIALS
    assert counter.calls == 0
    assert live.store.login_attempt_state(huge[:32], "127.0.0.31") is None


def test_real_and_unknown_names_leave_the_same_trace(make_server) -> None:
    live = make_server()
    c = client_from(live, "127.0.0.41")
    assert c.login("user3", "wrong").detail == c.login("nobody3", "wrong").detail
    real = live.store.login_attempt_state("user3", "127.0.0.41")
    unknown = live.store.login_attempt_state("nobody3", "127.0.0.41")
    assert real is not None and unknown is not None
    assert real[0] == pytest.approx(unknown[0], abs=0.01) and real[1] == unknown[1] == 0


def test_logout_revokes_the_connection_token(chat) -> None:
    c = chat.client()
    login = c.login("user1")
    assert login.ok
    token = login.detail
    c.send(LogoutRequest())
    assert c.closed_by_server()
    assert chat.client().resume("user1", token).detail == RESUME_FAILED


def test_logout_after_a_resume_revokes_the_newer_token(chat) -> None:
    first = chat.client().login("user1")
    assert first.ok
    c = chat.client()
    second = c.resume("user1", first.detail)
    assert second.ok
    c.send(LogoutRequest())
    assert c.closed_by_server()
    assert chat.client().resume("user1", second.detail).detail == RESUME_FAILED


def test_an_account_keeps_only_its_newest_tokens(chat) -> None:
    keep = chat.options.max_tokens_per_account
    tokens = []
    for _ in range(keep + 3):  # one window after another (an account has at most 8 at once)
        window = chat.client()
        tokens.append(window.login("user3").detail)
        window.close()
    assert chat.store.count_resume_tokens("user3") <= keep
    assert chat.client().resume("user3", tokens[0]).detail == RESUME_FAILED  # dropped
    assert chat.client().resume("user3", tokens[-1]).ok


def test_expired_tokens_are_swept_without_any_resume(chat) -> None:
    stale = bytes(range(32))
    chat.store.save_resume_token(stale, "user2", expires_ms=1_000)
    chat.service.accounts.sweep()
    assert not chat.store.revoke_resume_token(stale)  # gone already


@pytest.mark.parametrize("name", ["user2 ", "user2\t", "USER2", " user2"])
def test_a_recipient_that_only_looks_like_an_account_is_refused(chat, name: str) -> None:
    sender = chat.login("user1")
    cid = f"pad-{len(name)}-{ord(name[-1])}-{ord(name[0])}"
    sender.send(DirectRequest(name, cid, "hi"))
    error = sender.recv_until(lambda m: isinstance(m, ErrorReply))
    assert error.code_word == "no_such_user"
    rows, _ = chat.store.history(dm_conversation("user1", "user2"), None, 200)
    padded, _ = chat.store.history(dm_conversation("user1", name), None, 200)
    assert cid not in {r.client_msg_id for r in rows + padded}


def test_history_of_a_padded_name_is_a_bad_request(chat) -> None:
    c = chat.login("user1")
    c.send(HistoryRequest("@user2 ", None, 10))
    reply = c.recv_until(lambda m: isinstance(m, ErrorReply | HistoryEnd))
    assert isinstance(reply, ErrorReply) and reply.code_word == "bad_request"


def add_user(db: Any, username: str, nickname: str) -> subprocess.CompletedProcess[str]:
    """``python -m server add-user`` against the test database, password on stdin."""
    env = {
        **os.environ,
        "CHAT_DB_NAME": db.database,
        "CHAT_DB_USER": db.user,
        "CHAT_DB_PASSWORD": db.password,
        "CHAT_DB_SOCKET": db.unix_socket,
    }
    return subprocess.run(
        [sys.executable, "-m", "server", "add-user", username, "--nickname", nickname],
        input="a-good-password\n", env=env, cwd=REPO, capture_output=True, text=True,
        timeout=60, check=False,
    )


@pytest.mark.parametrize(
    ("username", "nickname", "code", "why"),
    [
        ("mallory", "WANG_YUAN", 1, "nickname"),  # user1's nickname, shouted
        ("mallory", "wang\u202eyuan", 2, "U+202E"),  # a bidi override
        ("mallory", " wang_yuan", 2, "space"),
        ("user2 ", "someone", 2, "1-32"),
    ],
)
def test_add_user_refuses_names_that_pass_for_another(
    demo_db: Any, username: str, nickname: str, code: int, why: str
) -> None:
    done = add_user(demo_db, username, nickname)
    assert done.returncode == code and why in done.stderr


def test_add_user_accepts_a_distinct_nickname(demo_db: Any) -> None:
    done = add_user(demo_db, "trent", "Trent 🙂")
    assert done.returncode == 0, done.stderr
