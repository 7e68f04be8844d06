"""The controller with a fake view and fake sessions: no display, no sockets, no real time."""

from __future__ import annotations

import itertools
import queue
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from Crypto.PublicKey import RSA

from client.app import App
from client.backoff import Backoff
from client.formatting import Line
from client.renderer import ConversationItem, Person
from client.session import Connected, ConnectFailed, Disconnected, KeyFetched, Received
from client.trust import KnownServers, parse_address
from common.crypto import fingerprint
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    DirectDelivery,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
    PresenceEvent,
    ResumeRequest,
    RosterUpdate,
)

CIPHER = "AES-256-GCM · X25519 + RSA-3072"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeView:
    """Records what the controller shows; ``after`` timers run when the test advances time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.timers: dict[int, tuple[float, Callable[[], None]]] = {}
        self._ids = itertools.count(1)
        self.screen = ""
        self.login_error = ""
        self.busy = ""
        self.status: tuple[str, str] = ("", "")
        self.conversations: Sequence[ConversationItem] = ()
        self.active = ""
        self.lines: list[Line] = []
        self.people: Sequence[Person] = ()
        self.trust_question: tuple[str, str, Callable[[bool], None]] | None = None
        self.key_changed: list[str] = []
        self.renders = 0
        self.title = ""

    def after(self, ms: int, callback: Callable[[], None]) -> object:
        token = next(self._ids)
        self.timers[token] = (self.clock.now + ms / 1000, callback)
        return token

    def after_cancel(self, token: object) -> None:
        self.timers.pop(token, None)  # type: ignore[call-overload]

    def fire_due(self, skip: Callable[[], None] | None = None) -> None:
        for token, (due, callback) in sorted(self.timers.items(), key=lambda kv: kv[1][0]):
            if due <= self.clock.now and getattr(callback, "__name__", "") != "pump":
                self.timers.pop(token, None)
                callback()

    def show_login(self, address: str, username: str, error: str) -> None:
        self.screen, self.login_error = "login", error

    def set_login_busy(self, busy: bool, note: str) -> None:
        self.busy = note if busy else ""

    def show_login_error(self, text: str) -> None:
        self.login_error, self.busy = text, ""

    def show_chat(self, title: str) -> None:
        self.screen, self.title = "chat", title

    def set_status(self, text: str, level: str) -> None:
        self.status = (text, level)

    def set_conversations(self, items: Sequence[ConversationItem], active: str) -> None:
        self.conversations, self.active = items, active

    def render_messages(self, lines: Sequence[Line], anchor: str | None) -> None:
        self.lines = list(lines)
        self.renders += 1

    def append_messages(self, lines: Sequence[Line]) -> None:
        self.lines.extend(lines)

    def update_message(self, line: Line) -> None:
        self.lines = [line if old.entry_id == line.entry_id else old for old in self.lines]

    def set_people(self, people: Sequence[Person]) -> None:
        self.people = people

    def ask_trust(self, server: str, fingerprint: str, on_answer: Callable[[bool], None]) -> None:
        self.trust_question = (server, fingerprint, on_answer)

    def ask_key_file(
        self, server: str, reason: str, on_answer: Callable[[str | None], None]
    ) -> None:
        on_answer(None)

    def show_key_changed(self, text: str) -> None:
        self.key_changed.append(text)

    def close(self) -> None:
        self.screen = "closed"

    # helpers
    def messages(self) -> list[tuple[str, str, str]]:
        return [(ln.sender, ln.text, ln.state) for ln in self.lines if ln.kind == "message"]

    def unread(self) -> dict[str, int]:
        return {item.key: item.unread for item in self.conversations}


class FakeSession:
    _ids = itertools.count(1000)

    def __init__(self, host: str, port: int, key: RSA.RsaKey, events: queue.Queue[Any]) -> None:
        self.id = next(self._ids)
        self.host, self.port, self.key, self.events = host, port, key, events
        self.sent: list[Any] = []
        self.connected = self.closed = False

    def connect(self) -> None:
        self.connected = True

    def send(self, message: Any) -> None:
        assert not self.closed, "sent on a closed session"
        self.sent.append(message)

    def close(self) -> None:
        self.closed = True

    def join(self, timeout: float) -> bool:
        return self.closed

    def handshake(self) -> None:
        self.events.put(Connected(self.id, "SHA256:test", CIPHER))

    def deliver(self, *messages: Any) -> None:
        for message in messages:
            self.events.put(Received(self.id, message))

    def drop(self, reason: str = "connection lost") -> None:
        self.events.put(Disconnected(self.id, reason))

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.sent if isinstance(m, kind)]


class Harness:
    def __init__(self, tmp_path: Path, key: RSA.RsaKey, **options: Any) -> None:
        self.clock = Clock()
        self.view = FakeView(self.clock)
        self.sessions: list[FakeSession] = []
        self.fetches: list[tuple[str, int]] = []
        self.store = KnownServers(tmp_path / "cfg")

        def factory(host: str, port: int, pinned: RSA.RsaKey, events: queue.Queue[Any]) -> Any:
            session = FakeSession(host, port, pinned, events)
            self.sessions.append(session)
            return session

        def fetcher(host: str, port: int, events: queue.Queue[Any]) -> None:
            self.fetches.append((host, port))

        options.setdefault("explicit_key", key)
        self.app = App(
            self.view, self.store, address="127.0.0.1:8090", username="user1",
            session_factory=factory, key_fetcher=fetcher,
            backoff=Backoff(uniform=lambda a, b: b), clock=self.clock, monotonic=self.clock,
            **options,
        )
        self.app.start()

    @property
    def session(self) -> FakeSession:
        return self.sessions[-1]

    def pump(self) -> None:
        self.app.pump()

    def advance(self, seconds: float) -> None:
        """Let time pass in small steps, firing timers and draining events like Tk would."""
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = min(end, self.clock.now + 0.1)
            self.view.fire_due()
            self.pump()

    def login(self, password: str = "111111") -> FakeSession:
        self.app.login("127.0.0.1:8090", "user1", password)
        session = self.session
        session.handshake()
        self.pump()
        return session

    def online(self) -> FakeSession:
        session = self.login()
        session.deliver(LoginResult(True, "wang_yuan", "user1", "token-1"),
                        RosterUpdate((("user1", "wang_yuan"), ("user2", "ding_zhen"))))
        self.pump()
        session.deliver(HistoryEnd("lobby", None, False))
        self.pump()
        return session


@pytest.fixture
def key() -> RSA.RsaKey:
    return RSA.generate(1024)


@pytest.fixture
def h(tmp_path: Path, key: RSA.RsaKey) -> Harness:
    return Harness(tmp_path, key)


def test_login_success_opens_the_chat(h: Harness) -> None:
    session = h.login()
    assert session.connected and session.host == "127.0.0.1" and session.port == 8090
    assert session.of(LoginRequest) == [LoginRequest("user1", "111111")]
    assert h.view.busy == "Logging in…"
    session.deliver(LoginResult(True, "wang_yuan", "user1", "token-1"))
    h.pump()
    assert h.view.screen == "chat" and "wang_yuan" in h.view.title
    assert h.view.status == (f"connected · {CIPHER} · SHA256:test", "ok")
    assert session.of(HistoryRequest) == [HistoryRequest("lobby", None, 50)]


@pytest.mark.parametrize(("detail", "shown"), [
    ("wrong username or password", "Wrong username or password."),
    ("too many attempts, try again later", "Too many failed attempts. Wait a minute"),
    ("service unavailable", "The server cannot reach its database right now."),
])
def test_login_failure_is_explained(h: Harness, detail: str, shown: str) -> None:
    session = h.login("nope")
    session.deliver(LoginResult(False, "", "", detail))
    h.pump()
    assert h.view.login_error.startswith(shown) and h.view.screen == "login"
    assert session.closed and h.app.phase == "login"


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


def test_message_pending_then_sent(h: Harness) -> None:
    session = h.online()
    assert h.app.send_text("  hello 你好  \n")
    (request,) = session.of(ChatRequest)
    assert request.text == "hello 你好" and len(request.client_msg_id) == 32
    assert h.view.messages() == [("wang_yuan", "hello 你好", "pending")]
    session.deliver(Ack(request.client_msg_id, 7, int(h.clock.now * 1000)))
    h.pump()
    assert h.view.messages() == [("wang_yuan", "hello 你好", "sent")]
    assert not h.app.send_text("   ") and not h.app.send_text("x" * 4001)
    assert len(session.of(ChatRequest)) == 1


def test_incoming_messages_and_unread(h: Harness) -> None:
    session = h.online()
    session.deliver(ChatDelivery(3, "lobby", "user2", "ding_zhen", 1000, "hi all"))
    session.deliver(DirectDelivery(4, "user2", "ding_zhen", "user1", 1001, "psst"))
    h.pump()
    assert h.view.messages() == [("ding_zhen", "hi all", "")]
    assert h.view.unread() == {"lobby": 0, "@user2": 1}
    assert [item.title for item in h.view.conversations] == ["# lobby", "@ding_zhen"]
    h.app.select_conversation("@user2")
    assert session.of(HistoryRequest)[-1] == HistoryRequest("@user2", None, 50)
    assert h.view.unread() == {"lobby": 0, "@user2": 0}
    assert h.view.messages() == [("ding_zhen", "psst", "")]
    h.app.send_text("back at you")
    assert session.of(ChatRequest) == []
    assert session.sent[-1].to_username == "user2"


def test_roster_and_presence(h: Harness) -> None:
    session = h.online()
    assert [p.username for p in h.view.people] == ["user1", "user2"]
    assert h.view.people[0].me
    session.deliver(PresenceEvent("join", "user3", "cxk", ))
    h.pump()
    assert [p.nickname for p in h.view.people] == ["wang_yuan", "cxk", "ding_zhen"]
    assert [ln.text for ln in h.view.lines if ln.kind == "system"] == ["cxk joined"]
    session.deliver(PresenceEvent("leave", "user2", "ding_zhen"))
    h.pump()
    assert "user2" not in [p.username for p in h.view.people]
    h.app.open_direct("user1")  # oneself: nothing
    assert h.app.model is not None and h.app.model.active == "lobby"
    h.app.open_direct("user3")
    assert h.app.model.active == "@user3"


def test_outbox_resent_once_with_the_same_id_after_reconnect(h: Harness) -> None:
    first = h.online()
    h.app.send_text("typed before the crash")
    (original,) = first.of(ChatRequest)
    first.drop()
    h.pump()
    assert h.app.phase == "waiting" and h.view.status[0].startswith("reconnecting in 1 s")
    h.app.send_text("typed while offline")
    assert len(h.sessions) == 1
    h.advance(1.1)
    second = h.session
    assert second is not first and second.connected
    second.handshake()
    h.pump()
    assert second.of(ResumeRequest) == [ResumeRequest("user1", "token-1")]
    assert second.of(LoginRequest) == []  # the password is only a fall-back
    second.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    h.pump()
    resent = second.of(ChatRequest)
    assert [r.text for r in resent] == ["typed before the crash", "typed while offline"]
    assert resent[0].client_msg_id == original.client_msg_id
    assert h.view.status[1] == "ok"
    for request in resent:
        second.deliver(Ack(request.client_msg_id, 20 + len(request.text), 5000))
    h.pump()
    assert [m[2] for m in h.view.messages()] == ["sent", "sent"]
    second.drop()
    h.advance(1.1)
    third = h.session
    third.handshake()
    h.pump()
    assert third.of(ResumeRequest) == [ResumeRequest("user1", "token-2")]  # single-use tokens
    third.deliver(LoginResult(True, "wang_yuan", "user1", "token-3"))
    h.pump()
    assert third.of(ChatRequest) == []  # acked messages are never sent again


def test_reconnect_fills_the_gap_with_history(h: Harness) -> None:
    first = h.online()
    first.drop()
    h.advance(1.1)
    h.session.handshake()
    h.pump()
    h.session.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    h.pump()
    assert h.session.of(HistoryRequest) == [HistoryRequest("lobby", None, 50)]


def test_failed_resume_falls_back_to_the_password(h: Harness) -> None:
    h.online().drop()
    h.advance(1.1)
    session = h.session
    session.handshake()
    h.pump()
    session.deliver(LoginResult(False, "", "", "session expired, log in again"))
    h.pump()
    assert session.of(LoginRequest) == [LoginRequest("user1", "111111")]
    session.deliver(LoginResult(True, "wang_yuan", "user1", "token-9"))
    h.pump()
    assert h.app.phase == "online"


def test_backoff_grows_and_resets(h: Harness) -> None:
    h.online().drop()
    h.pump()
    seen = []
    for _ in range(4):
        seen.append(h.view.status[0])
        while h.app.phase == "waiting":
            h.advance(0.5)
        h.session.events.put(ConnectFailed(h.session.id, "refused", "connect"))
        h.pump()
    assert [s.split(" · ")[0] for s in seen] == [
        "reconnecting in 1 s", "reconnecting in 2 s", "reconnecting in 4 s", "reconnecting in 8 s"]
    while h.app.phase == "waiting":
        h.advance(0.5)
    h.session.handshake()
    h.pump()
    h.session.deliver(LoginResult(True, "wang_yuan", "user1", "t"))
    h.pump()
    h.session.drop()
    h.pump()
    assert h.view.status[0].startswith("reconnecting in 1 s")


def test_unavailable_keeps_the_message_and_retries(h: Harness) -> None:
    session = h.online()
    h.app.send_text("while the database is down")
    session.deliver(ErrorReply("unavailable", "database unavailable"))
    h.pump()
    assert len(session.of(ChatRequest)) == 1
    h.advance(4.5)
    assert len(session.of(ChatRequest)) == 2
    assert session.of(ChatRequest)[0] == session.of(ChatRequest)[1]
    assert any("cannot store" in ln.text for ln in h.view.lines if ln.kind == "system")


def test_history_older_pages_and_scroll(h: Harness) -> None:
    session = h.login()
    session.deliver(LoginResult(True, "wang_yuan", "user1", "t"))
    h.pump()
    session.deliver(*[ChatDelivery(i, "lobby", "user2", "ding_zhen", 1000 + i, f"m{i}")
                      for i in range(51, 101)], HistoryEnd("lobby", 51, True))
    h.pump()
    assert len(h.view.messages()) == 50 and h.view.unread() == {"lobby": 0}
    h.app.load_older()
    h.app.load_older()  # one page at a time
    assert session.of(HistoryRequest)[1:] == [HistoryRequest("lobby", 51, 50)]
    renders = h.view.renders
    session.deliver(*[ChatDelivery(i, "lobby", "user2", "ding_zhen", 1000 + i, f"m{i}")
                      for i in range(1, 51)], HistoryEnd("lobby", 1, False))
    h.pump()
    assert h.view.renders == renders + 1
    assert [m[1] for m in h.view.messages()] == [f"m{i}" for i in range(1, 101)]
    h.app.load_older()
    assert len(session.of(HistoryRequest)) == 2  # nothing older


def test_logout_and_quit(h: Harness) -> None:
    session = h.online()
    h.app.logout()
    assert session.of(LogoutRequest) == [LogoutRequest()] and session.closed
    assert h.view.screen == "login" and h.app.model is None
    session = h.online()
    h.app.quit()
    assert session.of(LogoutRequest) and session.closed and h.view.screen == "closed"
    assert h.app.phase == "closed" and h.app.wait_closed(1)


def test_events_of_an_old_session_are_ignored(h: Harness) -> None:
    first = h.online()
    first.drop()
    h.advance(1.1)
    first.deliver(ChatDelivery(9, "lobby", "user2", "ding_zhen", 1, "ghost"))
    first.drop()
    h.pump()
    assert h.view.messages() == [] and h.app.phase == "connecting"


def test_identity_failure_during_reconnect_stops(h: Harness) -> None:
    h.online().drop()
    h.advance(1.1)
    h.session.events.put(ConnectFailed(h.session.id, "bad signature", "handshake", identity=True))
    h.pump()
    assert h.app.phase == "offline" and h.view.status[1] == "error"
    assert "could not prove its identity" in h.view.key_changed[0]
    h.advance(60)
    assert len(h.sessions) == 2


# --- trust --------------------------------------------------------------------------------


def test_project_key_is_recorded_silently(tmp_path: Path, key: RSA.RsaKey) -> None:
    pem = tmp_path / "server_public.pem"
    pem.write_bytes(key.public_key().export_key())
    h = Harness(tmp_path, key, explicit_key=None, project_key=pem)
    h.login()
    assert h.view.trust_question is None
    assert h.store.lookup("127.0.0.1", 8090) == fingerprint(key)


def test_changed_project_key_is_refused(tmp_path: Path, key: RSA.RsaKey) -> None:
    pem = tmp_path / "server_public.pem"
    pem.write_bytes(key.public_key().export_key())
    h = Harness(tmp_path, key, explicit_key=None, project_key=pem)
    h.store.remember("127.0.0.1", 8090, RSA.generate(1024).public_key())
    h.app.login("127.0.0.1:8090", "user1", "111111")
    assert not h.sessions
    assert "man-in-the-middle" in h.view.key_changed[0]
    assert "key has changed" in h.view.login_error


def test_unknown_server_asks_then_remembers(tmp_path: Path, key: RSA.RsaKey) -> None:
    h = Harness(tmp_path, key, explicit_key=None)
    h.app.login("chat.example.org:8090", "user1", "111111")
    assert h.fetches == [("chat.example.org", 8090)] and not h.sessions
    h.app.events.put(KeyFetched("chat.example.org", 8090, key.public_key()))
    h.pump()
    assert h.view.trust_question is not None
    server, shown, answer = h.view.trust_question
    assert (server, shown) == ("chat.example.org:8090", fingerprint(key))
    answer(True)
    assert h.session.key is not None and h.store.lookup("chat.example.org", 8090) == shown
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
