"""Session over real loopback sockets against a tiny in-process server built on ``common``.

No database and no display: this checks the threads (reader, writer, ping), the coalescing of
queued messages, and the events the controller relies on, including a wrong pinned key.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from Crypto.PublicKey import RSA

from client.session import (
    Connected,
    ConnectFailed,
    Disconnected,
    Received,
    Session,
    fetch_server_key,
    start_key_fetch,
)
from common.connection import (
    NEED_DATA,
    Connection,
    ConnectionClosed,
    HandshakeComplete,
    KeyRequested,
)
from common.crypto import fingerprint
from common.errors import ChatError
from common.messages import ChatRequest, LoginRequest, LoginResult, PingRequest, Pong


class TinyServer:
    """Accepts connections; answers logins, pings, and records every message and record."""

    def __init__(self, key: RSA.RsaKey) -> None:
        self.key = key
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[Any] = []
        self.records: list[int] = []  # messages per record
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Connection.server(self.key)
        try:
            while data := sock.recv(65536):
                conn.receive_data(data)
                batch = 0
                while (event := conn.next_event()) is not NEED_DATA:
                    if out := conn.data_to_send():
                        sock.sendall(out)
                    if isinstance(event, KeyRequested | HandshakeComplete | ConnectionClosed):
                        continue
                    batch += 1
                    self.received.append(event)
                    if isinstance(event, LoginRequest):
                        sock.sendall(conn.send(LoginResult(True, "wang_yuan", "user1", "tok")))
                    elif isinstance(event, PingRequest):
                        sock.sendall(conn.send(Pong(event.nonce)))
                if batch:
                    self.records.append(batch)
        except (OSError, ChatError):
            pass
        finally:
            sock.close()

    def kick(self) -> None:
        for sock in self.conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.listener.close()
        self.kick()


@pytest.fixture
def server(server_key: RSA.RsaKey) -> Iterator[TinyServer]:
    tiny = TinyServer(server_key)
    yield tiny
    tiny.close()


def next_event(events: queue.Queue[Any], kind: type, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=0.05)
        except queue.Empty:
            continue
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_connect_login_and_coalesce(server: TinyServer, server_key: RSA.RsaKey) -> None:
    events: queue.Queue[Any] = queue.Queue()
    session = Session("127.0.0.1", server.port, server_key.public_key(), events)
    session.send(LoginRequest("user1", "111111"))  # queued before the handshake: waits
    session.connect()
    connected = next_event(events, Connected)
    assert connected.fingerprint == fingerprint(server_key)
    assert connected.cipher == "AES-256-GCM · X25519 + RSA-3072"
    result = next_event(events, Received).message
    assert result == LoginResult(True, "wang_yuan", "user1", "tok")
    for i in range(50):
        session.send(ChatRequest("lobby", f"id{i}", f"message {i} 你好"))
    wait_for(lambda: len(server.received) == 51)
    assert [m.text for m in server.received[1:]] == [f"message {i} 你好" for i in range(50)]
    assert len(server.records) < 51  # the writer sealed bursts into shared records
    session.close()
    assert session.join(5)
    with pytest.raises(queue.Empty):
        events.get(timeout=0.2)  # a close asked for is not reported as a disconnect


def test_server_going_away_is_reported(server: TinyServer, server_key: RSA.RsaKey) -> None:
    events: queue.Queue[Any] = queue.Queue()
    session = Session("127.0.0.1", server.port, server_key.public_key(), events)
    session.connect()
    next_event(events, Connected)
    server.kick()
    lost = next_event(events, Disconnected)
    assert lost.session_id == session.id and not lost.fatal
    assert session.join(5)


def test_wrong_pinned_key_fails_the_handshake(
    server: TinyServer, other_key: RSA.RsaKey
) -> None:
    events: queue.Queue[Any] = queue.Queue()
    session = Session("127.0.0.1", server.port, other_key.public_key(), events)
    session.connect()
    failed = next_event(events, ConnectFailed)
    assert failed.stage == "handshake" and failed.identity
    assert server.received == []


def test_refused_connection(server_key: RSA.RsaKey) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused
        events: queue.Queue[Any] = queue.Queue()
        Session("127.0.0.1", port, server_key.public_key(), events).connect()
        failed = next_event(events, ConnectFailed)
    assert failed.stage == "connect" and not failed.identity
    assert "refused" in failed.reason and "Is it running?" in failed.reason


def test_idle_session_pings(server: TinyServer, server_key: RSA.RsaKey) -> None:
    events: queue.Queue[Any] = queue.Queue()
    session = Session("127.0.0.1", server.port, server_key.public_key(), events,
                      ping_interval=0.2)
    session.connect()
    next_event(events, Connected)
    pong = next_event(events, Received).message
    assert isinstance(pong, Pong)
    assert any(isinstance(m, PingRequest) for m in server.received)
    session.close()
    assert session.join(5)


def test_fetch_server_key(server: TinyServer, server_key: RSA.RsaKey) -> None:
    key = fetch_server_key("127.0.0.1", server.port)
    assert fingerprint(key) == fingerprint(server_key) and not key.has_private()
    events: queue.Queue[Any] = queue.Queue()
    start_key_fetch("127.0.0.1", server.port, events).join(10)
    fetched = events.get_nowait()
    assert fetched.key is not None and fetched.error == ""
    server.close()
    start_key_fetch("127.0.0.1", server.port, events).join(10)
    failed = events.get_nowait()
    assert failed.key is None and not failed.reachable


def _established(server_key: RSA.RsaKey) -> tuple[Connection, Connection]:
    client, server = Connection.client(server_key.public_key()), Connection.server(server_key)
    server.receive_data(client.initiate())
    assert isinstance(server.next_event(), HandshakeComplete)
    client.receive_data(server.data_to_send())
    assert isinstance(client.next_event(), HandshakeComplete)
    return client, server


def test_a_reader_whose_connection_the_writer_failed_ends_quietly(server_key: RSA.RsaKey) -> None:
    """The writer's socket write broke (``send_failed``); the reader then finds the connection
    failed (a LocalProtocolError from ``next_event``) and reports a loss, no traceback."""
    events: queue.Queue[Any] = queue.Queue()
    session = Session("127.0.0.1", 9, server_key.public_key(), events)
    client, server = _established(server_key)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        client.next_event()  # NEED_DATA: nothing yet
        client.send_failed()  # what the writer does when sendall raises
        theirs.sendall(server.send(Pong("1")))
        session._read(ours, client)  # must return, not raise
    gone = events.get_nowait()
    assert isinstance(gone, Disconnected)
    assert gone.reason == "connection lost (the caller's write failed)"


def test_a_peer_error_in_the_reader_is_a_disconnect(server_key: RSA.RsaKey) -> None:
    events: queue.Queue[Any] = queue.Queue()
    session = Session("127.0.0.1", 9, server_key.public_key(), events)
    client, server = _established(server_key)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        record = bytearray(server.send(Pong("1")))
        record[-1] ^= 1  # tampered
        theirs.sendall(bytes(record))
        session._read(ours, client)
    gone = events.get_nowait()
    assert isinstance(gone, Disconnected) and "record failed authentication" in gone.reason
