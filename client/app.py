"""The controller: login, trust, the session's life and the chat state, with no widgets.

It owns the policy (key to pin, when to reconnect, what to resend) and talks to a ``View`` (Tk,
or a fake in tests) and to ``Session`` objects through the event queue, all in the Tk thread:
network threads only queue events, ``pump()`` drains them every 50 ms with ``after()``, so the
window stays responsive and the controller is testable without a display or a socket.

``App`` runs the connection's life as moves of the ``client.lifecycle`` table; the conversation
is the ``ChatTraffic`` it owns from login to logout (reached through ``client.actions``; rooms
through ``client.room_actions``, which sees each server message first); what
the status area says of the connection is ``client.liveness``.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from Crypto.PublicKey import RSA

from client.account_actions import AccountActions
from client.backoff import Backoff
from client.e2e_actions import E2eActions
from client.e2e_dm import SealedDirect
from client.formatting import login_failure_text, online_status
from client.keyflow import IDENTITY_TEXT, KeyFetcher, KeyFlow, KeySource
from client.keylogin import KeysDerived, SignInFlow
from client.lifecycle import Lifecycle, Phase
from client.link import SessionFactory, SessionLike, SessionLink
from client.liveness import ConnectionWatch, LivenessTimes, StatusLine
from client.model import ChatModel
from client.notify import Alerts
from client.password_change import PasswordChange, SecretsDerived
from client.renderer import Renderer, View
from client.room_actions import RoomActions
from client.session import (
    Connected,
    ConnectFailed,
    Disconnected,
    KeyFetched,
    Received,
    Session,
    SessionEvent,
    start_key_fetch,
)
from client.signin_actions import SignInActions
from client.stash import StashFile
from client.traffic import RETRY_BASE, RETRY_CAP, ChatTraffic
from client.trust import KnownServers, next_server, parse_address, server_id
from common.crypto import fingerprint
from common.messages import (
    LoginResult,
    LogoutRequest,
    PingRequest,
    ResumeRequest,
    ServerMessage,
)
from common.protocol import LoginRefusal

logger = logging.getLogger(__name__)

PUMP_MS = 50
PUMP_BATCH = 500


class App(RoomActions, SignInActions, AccountActions, E2eActions):
    """One window's worth of client: from the login form to chatting and back."""

    def __init__(
        self,
        view: View,
        store: KnownServers,
        *,
        address: str = "127.0.0.1:8090",
        username: str = "",
        explicit_key: RSA.RsaKey | None = None,
        project_key: Path | None = None,
        events: queue.Queue[SessionEvent] | None = None,
        session_factory: SessionFactory = Session,
        key_fetcher: KeyFetcher = start_key_fetch,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        liveness: LivenessTimes | None = None, alerts: Alerts | None = None,
    ) -> None:
        self.view = view
        self.store = store
        self.address, self.username = address, username
        self.events: queue.Queue[SessionEvent] = events if events is not None else queue.Queue()
        self._session_factory = session_factory
        self.keys = KeyFlow(view, store, self.events, key_fetcher, self._key_ready,
                            self._back_to_login, explicit_key, project_key)
        self.backoff = backoff or Backoff()
        self._retry = Backoff(base=RETRY_BASE, cap=RETRY_CAP, uniform=self.backoff.uniform)
        self._clock, self.alerts = clock, alerts  # alerts: the window's notifications, if any
        self.status = StatusLine(view)
        self.watch = ConnectionWatch(
            self.status, self.backoff, monotonic, lambda nonce: self.link.send(PingRequest(nonce)),
            self._reconnect, self._schedule_reconnect, liveness,
        )
        self.lifecycle = Lifecycle()
        self.link = SessionLink(self.lifecycle)
        self.traffic: ChatTraffic | None = None  # from the first login to the logout
        self.e2e: SealedDirect | None = None  # sealed direct messages, as long as traffic
        self._host, self._port = "", 0
        self._servers: list[tuple[str, int]] = []  # every address given (--host a,b,c)
        self.signin = SignInFlow(self.events)  # the password until derived, then the keys
        self.password_change = PasswordChange(self.events)
        self._token: str | None = None  # single-use resume token from the last 1001
        self._key: RSA.RsaKey | None = None
        self._key_source: KeySource = "known"
        self._auth: Literal["", "key", "resume"] = ""
        self._pump_timer: object | None = None
        self._ended: list[SessionLike] = []  # closed sessions whose threads may still flush
        self._quit_when_sent = False  # the person chose to wait for the outbox, then close
        self._account_setup(getattr(view, "account", None))  # the Account dialog, if any

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Show the login form and start draining the event queue."""
        self.view.show_login(self.address, self.username, "")
        self._pump_timer = self.view.after(PUMP_MS, self.pump)

    def pump(self) -> None:
        """Handle up to ``PUMP_BATCH`` queued events, repaint once, and come back in 50 ms."""
        handled = 0
        while handled < PUMP_BATCH:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            handled += 1
            try:
                self.dispatch(event)
            except Exception:  # one bad event must not stop the window from working
                logger.exception("error handling %r", type(event).__name__)
        if self.traffic is not None:
            self.traffic.renderer.refresh()
            self.show_note()
        if self._quit_when_sent and self.unsent_count() == 0:
            self.quit()
        if self.phase is not Phase.CLOSED:
            self._pump_timer = self.view.after(1 if handled >= PUMP_BATCH else PUMP_MS, self.pump)

    @property
    def session(self) -> SessionLike | None:
        return self.link.session

    @property
    def model(self) -> ChatModel | None:
        return self.traffic.model if self.traffic is not None else None

    @property
    def renderer(self) -> Renderer | None:
        return self.traffic.renderer if self.traffic is not None else None

    @property
    def in_chat(self) -> bool:
        return self.traffic is not None

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # --- what the view calls ----------------------------------------------------------------

    def quit_when_sent(self) -> None:
        """Closing with messages unsent, and the person chose to wait: close once acked."""
        self._quit_when_sent = True
        self.status.set_notice(f"closing once {self.unsent_count()} unsent message(s) are sent…")

    def _start(self, address: str, username: str, password: str) -> bool:
        """Check the address and names, pick the key, connect; False: the form says why."""
        if self.phase is not Phase.LOGIN:
            return False
        default = parse_address(self.address.split(",")[0], 8090)
        servers = [parse_address(part, default.port if default else 8090)
                   for part in address.split(",")]  # nodes of one cluster: same key
        where = servers[0] if None not in servers else None
        problem = ("Enter the server as host:port, for example 127.0.0.1:8090." if where is None
                   else "Enter your username." if not username.strip()
                   else "Enter your password." if not password else "")
        if where is None or problem:
            self.view.show_login_error(problem)
            return False
        self.address = address.strip()
        self._host, self._port = where.host, where.port
        self._servers = [(a.host, a.port) for a in servers if a is not None]
        self.username, self._token = username.strip(), None
        self.lifecycle.move("submit login")
        self.view.set_login_busy(True, "Checking the server's key…")
        self.keys.start(self._host, self._port)
        return True

    def logout(self) -> None:
        """End the session cleanly and return to the login form.

        The person confirmed that unsent messages are given up; drafts are kept on disk.
        """
        if self.traffic is not None:
            self.traffic.discard_unsent()
        self._quit_when_sent = False
        self._end_session(logout=True)
        self.keys.cancel()
        self._e2e_save()
        self.traffic, self.e2e, self._token = None, None, None
        self.signin.clear()  # the keys go with the session
        self.backoff.reset()
        self.lifecycle.move("log out")
        self.view.show_login(self.address, self.username, "")

    def quit(self, unsent: Literal["keep", "discard"] = "keep") -> None:
        """The window is closing: log out, stop the threads, stop pumping.

        Unsent messages are kept in the stash file for the next login (``keep``), or given up
        when the person chose so (``discard``); drafts are kept either way.
        """
        if self.phase is Phase.CLOSED:
            return
        if self.traffic is not None:
            if unsent == "discard":
                self.traffic.discard_unsent()
            else:
                self.traffic.save()
        self._e2e_save()
        self._end_session(logout=True)
        self.keys.cancel()
        self.lifecycle.move("quit")
        if self._pump_timer is not None:
            self.view.after_cancel(self._pump_timer)
        self.view.close()

    def wait_closed(self, timeout: float = 2.0) -> bool:
        """After ``quit()``: let the writers flush the logout before the process exits."""
        deadline = self._clock() + timeout
        done = all(s.join(max(0.0, deadline - self._clock())) for s in self._ended)
        self._ended.clear()
        return done

    def _end_session(self, logout: bool) -> None:
        self.watch.stop()
        if self.traffic is not None:
            self.traffic.stop()
        session = self.link.session
        if session is not None:
            if logout and self.phase is Phase.ONLINE:
                session.send(LogoutRequest())
            session.close()
            self._ended = [*self._ended[-3:], session]  # older ones are long done
            self.link.session = None

    # --- trust ------------------------------------------------------------------------------

    def _key_ready(self, key: RSA.RsaKey, source: KeySource) -> None:
        self._key, self._key_source = key, source
        self.lifecycle.move("key ready")
        self._connect()

    def _back_to_login(self, error: str, refused: bool = False, wait: int | None = None) -> None:
        """The login form again, saying why; ``refused`` (by the server) clears the password, never
        to append a retry to it; ``wait``: seconds a retry stays refused (the form counts down)."""
        self._end_session(logout=False)
        self.keys.cancel()
        self.lifecycle.move("back to login")
        self.view.set_login_busy(False, "")
        self.view.show_login_error(error, clear_password=refused, wait_s=wait)

    # --- the session ------------------------------------------------------------------------

    def _reconnect(self) -> None:
        self.view.offer_reconnect(False)
        self.lifecycle.move("reconnect")
        self._host, self._port = next_server(self._servers, (self._host, self._port))
        self._connect()

    def _connect(self) -> None:
        assert self._key is not None
        if not self.in_chat:
            self.view.set_login_busy(True, f"Connecting to {server_id(self._host, self._port)}…")
        else:
            self.status.set_status("connecting…", "busy")
        session = self._session_factory(self._host, self._port, self._key, self.events)
        self.link.session = session
        session.connect()

    def dispatch(self, event: SessionEvent) -> None:
        """Route one queued event; events of an ended session are dropped here."""
        if isinstance(event, KeyFetched):
            self.keys.handle(event)
            return
        if self.link.session is None or event.session_id != self.link.session.id:
            return
        if isinstance(event, KeysDerived):
            self._keys_derived(event)
        elif isinstance(event, SecretsDerived):
            self._secrets_derived(event)
        elif isinstance(event, Connected):
            self._connected(event)
        elif isinstance(event, Received):
            self._received(event.message)
        elif isinstance(event, ConnectFailed):
            self._connect_failed(event)
        elif isinstance(event, Disconnected):
            self._lost(event.reason, event.fatal)

    def _connected(self, event: Connected) -> None:
        self.lifecycle.move("handshake done")
        if self._key is not None:  # the server proved it holds the key: now it may be recorded
            self.keys.confirmed(self._host, self._port, self._key)
        self.watch.online_text = online_status(event.cipher, event.fingerprint)
        if self._token:
            self._auth = "resume"
            self.link.send(ResumeRequest(self.username, self._token))
        else:
            self._auth = "key"
            self.link.send(self.signin.first_request(self.username))
        if not self.in_chat:
            self.view.set_login_busy(True, "Logging in…")

    def _connect_failed(self, event: ConnectFailed) -> None:
        self.link.session = None
        if event.identity and not self.in_chat and self._key is not None:
            self.lifecycle.move("diagnose key")
            self.keys.diagnose(self._host, self._port, self._key, self._key_source)
        elif event.identity:
            pinned = fingerprint(self._key) if self._key is not None else "?"
            self._go_offline(IDENTITY_TEXT.format(fp=pinned), dialog=True)
        elif not self.in_chat:
            self._back_to_login(event.reason)
        else:
            self._lost(event.reason, False)

    def _lost(self, reason: str, fatal: bool) -> None:
        self.link.session = None
        if not self.in_chat:
            self._back_to_login(reason)
        elif fatal:
            self._go_offline(reason)
        else:
            self._schedule_reconnect(reason)

    def _go_offline(self, reason: str, dialog: bool = False) -> None:
        self._end_session(logout=False)
        if self.traffic is not None:
            self.traffic.went_offline()
        self.lifecycle.move("go offline")
        self.status.set_status(f"offline · {reason}", "error")
        if dialog:
            self.view.show_key_changed(reason)

    def _schedule_reconnect(self, reason: str) -> None:
        self._end_session(logout=False)
        self.lifecycle.move("wait to reconnect")
        if self.traffic is not None:
            self.traffic.went_offline()
        delay = self.watch.wait(reason)
        logger.info("reconnecting in %.1f s after: %s", delay, reason)

    # --- messages from the server -----------------------------------------------------------

    def _received(self, message: ServerMessage) -> None:
        if isinstance(message, LoginResult):
            self._login_result(message)
        elif self._signin_reply(message):  # client.signin_actions: parameters, or a refusal
            return
        elif self.traffic is not None and not self.account_received(message):
            if not self._e2e_took(message) and not self.rooms_received(message):
                self.traffic.received(message)
                self.rooms_settled()  # the room parts follow what the list did (left, renamed)
            self.watch.heard(settled=self.traffic.unsent_count() == 0)

    def _login_result(self, result: LoginResult) -> None:
        if self.phase is not Phase.AUTHENTICATING:
            return
        if not result.ok:
            self._login_failed(result)
            return
        self._token = result.detail
        self.username = result.username or self.username
        self.lifecycle.move("logged in")
        self.backoff.reset()
        if self.traffic is None:
            model = ChatModel(self.username, result.nickname)
            self.e2e = e2e = self._make_e2e(model, self._host, self._port)
            self.traffic = ChatTraffic(
                model, Renderer(self.view, model, self.now_ms), e2e.link, self.view,
                self.now_ms, self._schedule_reconnect, self._retry,
                StashFile(self.store.directory, self._host, self._port, self.username),
                self.alerts,
            )
            self.view.set_login_busy(False, "")
            self.view.show_chat(f"{result.nickname or self.username} ({self.username}) — Chat")
            e2e.attach(self.traffic, self.view.show_safety)
            self.traffic.restore()  # resends go before any history request
            self.traffic.opened()  # the lobby shown, then the conversation list (``0021``)
            e2e.start(self.master_key)  # derived by the key login
        else:
            self.traffic.model.nickname = result.nickname or self.traffic.model.nickname
            self._e2e_resumed()  # before the outbox is resent: keys are fetched again
            self.traffic.resumed()
        self.watch.online(unsent=self.traffic.unsent_count() > 0)  # resends expect acks
        self.rooms_logged_in()

    def _login_failed(self, result: LoginResult) -> None:
        """Act on the refusal's code word (never its English): log in again with the password
        after an expired resume, back to the form before the chat opened, offline for wrong
        credentials inside it, otherwise reconnect later."""
        refusal, text = result.refusal, login_failure_text(result)
        if self._auth == "resume":
            self._token = None  # single use, and a refused one is spent: next time, the key
            again = self.signin.relogin_request(self.username)
            if again is not None and refusal in (LoginRefusal.SESSION_EXPIRED, None):
                self._auth = "key"
                self.link.send(again)
                return
        if not self.in_chat:
            self._back_to_login(text, refused=True, wait=result.retry_after)
        elif refusal in (LoginRefusal.WRONG_CREDENTIALS, LoginRefusal.ACCOUNT_DISABLED):
            self._go_offline(f"{text} Log out and log in again.")
        else:
            self._schedule_reconnect(text)
