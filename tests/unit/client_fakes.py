"""Fakes for the controller tests: a recording view, scripted sessions and a clock.

No display, no sockets, no real time. The ``h`` fixture (a ``Harness``) and the throwaway
``key`` it pins are in ``tests/unit/conftest.py``.
"""

from __future__ import annotations

import itertools
import queue
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from Crypto.PublicKey import RSA

from client.app import App
from client.backoff import Backoff
from client.formatting import Line
from client.renderer import ConversationItem, Person
from client.session import Connected, Disconnected, Received
from client.trust import KnownServers
from common.account_keys import KdfParams, derive_account_keys
from common.e2e import to_field
from common.messages import HistoryEnd, LoginResult, RosterUpdate
from common.messages_login import KdfParamsReply, KdfParamsRequest, KeyLoginRequest, RegisterRequest
from common.messages_rooms import PersonEntry

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
        self.login_wait: int | None = None
        self.password_cleared = False
        self.busy = ""
        self.status: tuple[str, str] = ("", "")
        self.reconnect_offered = False
        self.conversations: Sequence[ConversationItem] = ()
        self.active = ""
        self.lines: list[Line] = []
        self.people: Sequence[Person] = ()
        self.trust_question: tuple[str, str, Callable[[bool], None]] | None = None
        self.key_changed: list[str] = []
        self.replace_question: tuple[str, str, str, Callable[[str | None], None]] | None = None
        self.renders = 0
        self.title = ""
        self.draft: tuple[str, str] = ("", "")  # (conversation, text) in the input box
        self.unseen_marks: list[str] = []  # entries the "New messages" line was put above
        self.newest_in_view = True
        self.directory: list[tuple[tuple[PersonEntry, ...], str]] = []

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

    def show_login_error(
        self, text: str, clear_password: bool = False, wait_s: int | None = None
    ) -> None:
        self.login_error, self.busy, self.login_wait = text, "", wait_s
        self.password_cleared = clear_password

    def show_chat(self, title: str) -> None:
        self.screen, self.title = "chat", title

    def set_status(self, text: str, level: str) -> None:
        self.status = (text, level)

    def offer_reconnect(self, offered: bool) -> None:
        self.reconnect_offered = offered

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

    def show_draft(self, conversation: str, text: str) -> None:
        self.draft = (conversation, text)

    def mark_unseen(self, entry_id: str) -> None:
        self.unseen_marks.append(entry_id)

    def at_newest(self) -> bool:
        return self.newest_in_view

    def show_directory(self, people: Sequence[PersonEntry], more: str) -> None:
        self.directory.append((tuple(people), more))

    def ask_trust(self, server: str, fingerprint: str, on_answer: Callable[[bool], None]) -> None:
        self.trust_question = (server, fingerprint, on_answer)

    def ask_key_file(
        self, server: str, reason: str, on_answer: Callable[[str | None], None]
    ) -> None:
        on_answer(None)

    def show_key_changed(self, text: str) -> None:
        self.key_changed.append(text)

    def ask_replace_key(
        self, server: str, recorded: str, offered: str, text: str,
        on_answer: Callable[[str | None], None],
    ) -> None:
        self.key_changed.append(text)
        self.replace_question = (server, recorded, offered, on_answer)

    def set_security(self, note: Any) -> None:
        self.security = note

    def show_safety(self, safety: Any) -> None:
        self.safety = safety

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


TEST_SALT = b"0123456789abcdef"
TEST_KEYS = derive_account_keys("111111", KdfParams(64, 1, 1, TEST_SALT))
"""What ``Harness.login`` derives for user1 with the default password."""


def key_login(password_keys: Any = None) -> KeyLoginRequest:
    """The ``0031`` user1 sends after ``Harness.login`` (default password)."""
    return KeyLoginRequest("user1", to_field((password_keys or TEST_KEYS).auth_key))


class Harness:
    def __init__(
        self, tmp_path: Path, key: RSA.RsaKey, config: Path | None = None, **options: Any
    ) -> None:
        self.clock = Clock()
        self.view = FakeView(self.clock)
        self.sessions: list[FakeSession] = []
        self.fetches: list[tuple[str, int]] = []
        self.store = KnownServers(config or tmp_path / "cfg")

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
        """Log in as the Tk client does: ``0030``, the key derived off the Tk thread, ``0031``."""
        self.app.login("127.0.0.1:8090", "user1", password)
        session = self.session
        session.handshake()
        self.pump()
        self.derive(session)
        return session

    def derive(self, session: FakeSession) -> None:
        """Answer the session's ``0030`` with cheap parameters and wait for the ``0031``."""
        if not session.of(KdfParamsRequest):
            return
        session.deliver(KdfParamsReply(64, 1, 1, to_field(TEST_SALT)))
        self.pump()
        deadline = time.monotonic() + 10.0
        while not session.of(KeyLoginRequest | RegisterRequest) and time.monotonic() < deadline:
            time.sleep(0.005)
            self.pump()

    def online(self) -> FakeSession:
        session = self.login()
        session.deliver(LoginResult(True, "wang_yuan", "user1", "token-1"),
                        RosterUpdate((("user1", "wang_yuan"), ("user2", "ding_zhen"))))
        self.pump()
        session.deliver(HistoryEnd("lobby", None, False))
        self.pump()
        return session
