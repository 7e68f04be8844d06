"""The controller from the login form to the chat and back: the form, login failures, logout
and quit, and the key to pin (project key, first use, changed keys). Fakes: ``client_fakes``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.session import ConnectFailed, KeyFetched
from client.trust import parse_address
from common.crypto import fingerprint
from common.messages import (
    SERVER_MESSAGES,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
    decode_message,
)
from common.messages_login import KdfParamsRequest, KeyLoginRequest
from common.protocol import LoginRefusal
from tests.unit.client_fakes import CIPHER, Harness, key_login


def test_login_success_opens_the_chat(h: Harness) -> None:
    session = h.login()
    assert session.connected and session.host == "127.0.0.1" and session.port == 8090
    assert session.of(LoginRequest) == []  # the password never leaves the client
    assert session.of(KdfParamsRequest) == [KdfParamsRequest("user1")]
    assert session.of(KeyLoginRequest) == [key_login()]
    assert h.view.busy == "Logging in…"
    session.deliver(LoginResult(True, "wang_yuan", "user1", "token-1"))
    h.pump()
    assert h.view.screen == "chat" and "wang_yuan" in h.view.title
    assert h.view.status == (f"connected · {CIPHER} · SHA256:test", "ok")
    assert session.of(HistoryRequest) == [HistoryRequest("lobby", None, 50)]


@pytest.mark.parametrize(("refusal", "shown"), [
    (LoginRefusal.WRONG_CREDENTIALS, "Wrong username or password."),
    (LoginRefusal.TOO_MANY_ATTEMPTS, "Too many failed attempts. Try again in a moment."),
    (LoginRefusal.SERVICE_UNAVAILABLE, "The server cannot reach its database right now."),
    (LoginRefusal.SESSION_EXPIRED, "Your session expired."),
    (LoginRefusal.TOO_MANY_CONNECTIONS, "This account has as many windows open as it may."),
])
def test_login_failure_is_explained_by_its_code_word(
    h: Harness, refusal: LoginRefusal, shown: str
) -> None:
    session = h.login("nope")
    # the server's English differs from every text the client knows: only the code word counts
    session.deliver(LoginResult(False, "", "", "das hat nicht geklappt", refusal.code_word))
    h.pump()
    assert h.view.login_error.startswith(shown) and h.view.screen == "login"
    assert session.closed and h.app.phase == "login"
    assert h.view.password_cleared  # every refusal: the next attempt is typed afresh


def test_the_servers_wait_reaches_the_login_form(h: Harness) -> None:
    session = h.login("nope")
    session.deliver(LoginResult.refused(LoginRefusal.TOO_MANY_ATTEMPTS, 42))
    h.pump()
    assert h.view.screen == "login" and h.view.login_wait == 42
    assert h.view.login_error.startswith("Too many failed attempts.")


@pytest.mark.parametrize("result", [
    LoginResult(False, "", "", "you are banned", "banned"),  # a code word from a newer server
    LoginResult(False, "", "", "you are banned"),  # an older server's 1001|0|||reason
])
def test_an_unknown_refusal_shows_the_servers_text(h: Harness, result: LoginResult) -> None:
    session = h.login("nope")
    session.deliver(result)
    h.pump()
    assert h.view.login_error == "You are banned." and h.view.screen == "login"
    assert h.view.password_cleared


def test_a_refusal_on_the_wire_in_the_old_form_still_works(h: Harness) -> None:
    session = h.login("nope")
    old = decode_message(b"1001|0|||wrong username or password", SERVER_MESSAGES)
    session.deliver(old)  # type: ignore[arg-type]
    h.pump()
    assert h.view.login_error == "Wrong username or password." and h.view.password_cleared


def test_form_errors_keep_the_password(h: Harness) -> None:
    h.app.login("127.0.0.1", "", "secret")
    assert h.view.login_error == "Enter your username." and not h.view.password_cleared


def test_form_is_checked_before_connecting(h: Harness) -> None:
    h.app.login("127.0.0.1:99999", "user1", "x")
    assert "host:port" in h.view.login_error
    h.app.login("127.0.0.1", "", "x")
    assert h.view.login_error == "Enter your username."
    h.app.login("127.0.0.1", "user1", "")
    assert h.view.login_error == "Enter your password."
    assert not h.sessions


def test_unreachable_server(h: Harness) -> None:
    h.app.login("127.0.0.1:8090", "user1", "111111")
    refused = ConnectFailed(h.session.id, "connection refused. Is it running?", "connect")
    h.session.events.put(refused)
    h.pump()
    assert "Is it running?" in h.view.login_error and h.app.phase == "login"


def test_logout_and_quit(h: Harness) -> None:
    session = h.online()
    h.app.logout()
    assert session.of(LogoutRequest) == [LogoutRequest()] and session.closed
    assert h.view.screen == "login" and h.app.model is None
    session = h.online()
    h.app.quit()
    assert session.of(LogoutRequest) and session.closed and h.view.screen == "closed"
    assert h.app.phase == "closed" and h.app.wait_closed(1)


# --- trust --------------------------------------------------------------------------------


def test_project_key_is_recorded_silently(tmp_path: Path, key: RSA.RsaKey) -> None:
    pem = tmp_path / "server_public.pem"
    pem.write_bytes(key.public_key().export_key())
    h = Harness(tmp_path, key, explicit_key=None, project_key=pem)
    h.login()
    assert h.view.trust_question is None
    assert h.store.lookup("127.0.0.1", 8090) == fingerprint(key)


def test_changed_project_key_asks_and_cancel_refuses(tmp_path: Path, key: RSA.RsaKey) -> None:
    pem = tmp_path / "server_public.pem"
    pem.write_bytes(key.public_key().export_key())
    h = Harness(tmp_path, key, explicit_key=None, project_key=pem)
    old = RSA.generate(1024).public_key()
    h.store.remember("127.0.0.1", 8090, old)
    h.app.login("127.0.0.1:8090", "user1", "111111")
    assert not h.sessions
    assert "man-in-the-middle" in h.view.key_changed[0]
    assert h.view.replace_question is not None
    server, recorded, offered, answer = h.view.replace_question
    assert (server, recorded, offered) == ("127.0.0.1:8090", fingerprint(old), fingerprint(key))
    answer(None)  # Cancel
    assert "key has changed" in h.view.login_error and not h.sessions
    assert h.store.lookup("127.0.0.1", 8090) == fingerprint(old)


def test_unknown_server_asks_then_remembers_after_the_handshake(
    tmp_path: Path, key: RSA.RsaKey
) -> None:
    h = Harness(tmp_path, key, explicit_key=None)
    h.app.login("chat.example.org:8090", "user1", "111111")
    assert h.fetches == [("chat.example.org", 8090)] and not h.sessions
    h.app.events.put(KeyFetched("chat.example.org", 8090, key.public_key()))
    h.pump()
    assert h.view.trust_question is not None
    server, shown, answer = h.view.trust_question
    assert (server, shown) == ("chat.example.org:8090", fingerprint(key))
    answer(True)
    assert h.session.key is not None
    assert h.store.lookup("chat.example.org", 8090) is None  # not before the server proves it
    h.session.handshake()
    h.pump()
    assert h.store.lookup("chat.example.org", 8090) == shown
    h.session.events.put(ConnectFailed(h.session.id, "refused", "connect"))
    h.pump()
    h.app.login("chat.example.org:8090", "user1", "111111")  # now known: no question
    assert len(h.fetches) == 1 and len(h.sessions) == 2


def test_unknown_server_declined(tmp_path: Path, key: RSA.RsaKey) -> None:
    h = Harness(tmp_path, key, explicit_key=None)
    h.app.login("chat.example.org:8090", "user1", "111111")
    h.app.events.put(KeyFetched("chat.example.org", 8090, key.public_key()))
    h.pump()
    assert h.view.trust_question is not None
    h.view.trust_question[2](False)
    assert "did not accept" in h.view.login_error and not h.sessions
    assert h.store.lookup("chat.example.org", 8090) is None


def test_fetched_key_differs_from_record(tmp_path: Path, key: RSA.RsaKey) -> None:
    h = Harness(tmp_path, key, explicit_key=None)
    h.store.remember("chat.example.org", 8090, RSA.generate(1024).public_key())
    (h.store.directory / "server_keys").rename(tmp_path / "gone")  # force a fetch
    h.app.login("chat.example.org:8090", "user1", "111111")
    h.app.events.put(KeyFetched("chat.example.org", 8090, key.public_key()))
    h.pump()
    assert h.view.trust_question is None and h.view.key_changed and not h.sessions
    assert h.view.replace_question is not None


def test_identity_failure_is_diagnosed_as_a_changed_key(tmp_path: Path, key: RSA.RsaKey) -> None:
    h = Harness(tmp_path, key, explicit_key=None)
    h.store.remember("chat.example.org", 8090, key.public_key())
    h.app.login("chat.example.org:8090", "user1", "111111")
    h.session.events.put(ConnectFailed(h.session.id, "bad signature", "handshake", identity=True))
    h.pump()
    assert h.fetches == [("chat.example.org", 8090)]
    h.app.events.put(KeyFetched("chat.example.org", 8090, RSA.generate(1024).public_key()))
    h.pump()
    assert "man-in-the-middle" in h.view.key_changed[0]
    assert h.view.replace_question is not None
    h.view.replace_question[3](None)
    assert h.app.phase == "login" and "changed" in h.view.login_error


def test_identity_failure_with_the_same_key(tmp_path: Path, key: RSA.RsaKey) -> None:
    h = Harness(tmp_path, key)
    h.app.login("127.0.0.1:8090", "user1", "111111")
    h.session.events.put(ConnectFailed(h.session.id, "bad signature", "handshake", identity=True))
    h.pump()
    h.app.events.put(KeyFetched("127.0.0.1", 8090, None, "no key", True))
    h.pump()
    assert h.view.login_error.startswith("The server could not prove its identity")


def test_parse_address() -> None:
    assert parse_address("example.org", 8090) == ("example.org", 8090)
    assert parse_address(" 127.0.0.1:9000 ", 8090) == ("127.0.0.1", 9000)
    assert parse_address("[::1]:7000", 8090) == ("::1", 7000)
    assert parse_address("host:0", 8090) is None
    assert parse_address("a b", 8090) is None
    assert parse_address("", 8090) is None
