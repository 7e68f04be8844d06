"""A hostile server that trickles one byte at a time cannot hold the client forever.

The fake server on 127.0.0.1 answers every read well inside any per-read timeout (one byte
every 50 ms, the length prefix of a frame that never completes), so only an overall deadline
ends the wait. Each test uses a short deadline; without the deadline the session would wait
for the trickle to end (eight seconds here) and report something else.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.app import App
from client.session import (
    ConnectFailed,
    DeadlineExceeded,
    KeyFetched,
    Session,
    SessionEvent,
    fetch_server_key,
    start_key_fetch,
)
from client.trust import KnownServers
from common.framing import HEADER
from tests.unit.client_fakes import Clock, FakeView

TRICKLE_FOR = 8.0  # seconds the fake server keeps trickling before it gives up itself
DEADLINE = 0.6


class TrickleServer:
    """Accepts connections and sends a frame header promising 2000 bytes, then one per 50 ms."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.stop = threading.Event()
        self.bytes_sent = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while not self.stop.is_set():
                conn, _ = self.listener.accept()
                threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        end = time.monotonic() + TRICKLE_FOR
        with conn, contextlib.suppress(OSError):
            conn.settimeout(0.05)
            with contextlib.suppress(OSError):
                conn.recv(65536)  # whatever the client says first
            for byte in HEADER.pack(2000) + b"x" * 2000:
                if self.stop.is_set() or time.monotonic() > end:
                    return
                conn.sendall(bytes([byte]))
                self.bytes_sent += 1
                self.stop.wait(0.05)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    server = TrickleServer()
    yield server
    server.close()


def test_handshake_trickle_is_abandoned_at_the_deadline(trickle: TrickleServer) -> None:
    events: queue.Queue[SessionEvent] = queue.Queue()
    session = Session("127.0.0.1", trickle.port, RSA.generate(1024).public_key(), events,
                      connect_timeout=DEADLINE)
    session.connect()
    failed = events.get(timeout=TRICKLE_FOR - 2)  # before the trickle would end by itself
    assert isinstance(failed, ConnectFailed) and failed.stage == "handshake"
    assert "did not complete the connection in time" in failed.reason
    assert "0.6 s" in failed.reason and not failed.identity
    assert trickle.bytes_sent >= 2  # it really was trickling, not silent
    assert session.join(5)


def test_key_fetch_trickle_is_abandoned_at_the_deadline(trickle: TrickleServer) -> None:
    with pytest.raises(DeadlineExceeded):
        fetch_server_key("127.0.0.1", trickle.port, DEADLINE)
    events: queue.Queue[SessionEvent] = queue.Queue()
    start_key_fetch("127.0.0.1", trickle.port, events, DEADLINE)
    fetched = events.get(timeout=TRICKLE_FOR - 2)
    assert isinstance(fetched, KeyFetched) and fetched.key is None
    assert "did not complete the connection in time" in fetched.error


def test_the_person_is_told_and_gets_the_login_form_back(
    trickle: TrickleServer, tmp_path: Path
) -> None:
    clock = Clock()
    view = FakeView(clock)
    app = App(
        view, KnownServers(tmp_path / "cfg"), address=f"127.0.0.1:{trickle.port}",
        explicit_key=RSA.generate(1024).public_key(),
        session_factory=functools.partial(Session, connect_timeout=DEADLINE),
    )
    app.start()
    app.login(f"127.0.0.1:{trickle.port}", "user1", "111111")
    assert app.phase == "connecting"
    end = time.monotonic() + TRICKLE_FOR - 2
    while not view.login_error and time.monotonic() < end:
        app.pump()
        time.sleep(0.02)
    assert app.phase == "login"
    assert "did not complete the connection in time" in view.login_error
    app.quit()


def test_deadlines_are_settings_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from client.__main__ import parse_args

    monkeypatch.delenv("CHAT_CONNECT_DEADLINE", raising=False)
    monkeypatch.delenv("CHAT_KEY_FETCH_DEADLINE", raising=False)
    args = parse_args([])
    assert (args.connect_deadline, args.key_fetch_deadline) == (10.0, 10.0)
    monkeypatch.setenv("CHAT_CONNECT_DEADLINE", "2.5")
    monkeypatch.setenv("CHAT_KEY_FETCH_DEADLINE", "4")
    args = parse_args([])
    assert (args.connect_deadline, args.key_fetch_deadline) == (2.5, 4.0)
    monkeypatch.setenv("CHAT_CONNECT_DEADLINE", "0")
    with pytest.raises(SystemExit):
        parse_args([])
