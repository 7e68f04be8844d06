"""Smoke tests of the load generator: short, small, on 127.0.0.1, no timing assertions."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from Crypto.PublicKey import RSA

from bench.loadspec import LoadSpec
from bench.plain_relay import PlainRelay
from bench.runner import run_load
from common.connection import NEED_DATA, Connection
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    LoginRequest,
    LoginResult,
    encode_message,
)
from tests.unit.conftest import fixed_test_key


@pytest.fixture
def relay() -> Iterator[PlainRelay]:
    server = PlainRelay().start()
    yield server
    server.close()


def test_plain_relay_two_clients_one_second(relay: PlainRelay) -> None:
    r = run_load(LoadSpec(port=relay.port, mode="plain", clients=2, duration=1.0, window=2))
    assert r.ready == 2
    assert r.acked > 0
    assert r.deliveries == r.acked  # each message reaches the one other client
    assert r.lost == 0 and r.duplicates == 0
    assert 0 < r.latency.count <= r.deliveries  # sends after the window are not timed


def test_plain_relay_paced_two_processes(relay: PlainRelay) -> None:
    r = run_load(LoadSpec(port=relay.port, mode="plain", clients=4, duration=1.0, rate=20,
                          procs=2))
    assert r.ready == 4
    assert 40 <= r.sent <= 100  # 4 clients x 20/s x 1 s, give or take the edges
    assert r.lost == 0 and r.duplicates == 0
    assert r.reach_all.count == r.acked


def test_loadspec_refuses_other_hosts() -> None:
    with pytest.raises(ValueError):
        LoadSpec(port=1, host="10.0.0.1")


class _MiniChatServer:
    """The chat protocol's relay path in 60 lines: enough to drive ``ChatWire`` end to end."""

    def __init__(self, key: RSA.RsaKey) -> None:
        self.key = key
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.peers: list[tuple[socket.socket, Connection, threading.Lock]] = []
        self.next_id = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for sock, _, _ in self.peers:
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Connection.server(self.key)
        wlock = threading.Lock()
        user = ""
        try:
            while data := sock.recv(65536):
                conn.receive_data(data)
                while (event := conn.next_event()) is not NEED_DATA:
                    if handshake := conn.data_to_send():
                        sock.sendall(handshake)
                    if isinstance(event, LoginRequest):
                        user = event.username
                        with wlock:
                            sock.sendall(conn.send(LoginResult(True, user, user, "tok")))
                        with self.lock:
                            self.peers.append((sock, conn, wlock))
                    elif isinstance(event, ChatRequest):
                        with self.lock:
                            self.next_id += 1
                            msg_id, peers = self.next_id, list(self.peers)
                        line = encode_message(
                            ChatDelivery(msg_id, "lobby", user, user, 1, event.text)).encode()
                        for other, oconn, olock in peers:
                            if other is not sock:
                                with olock:
                                    other.sendall(oconn.send_lines([line]))
                        with wlock:
                            sock.sendall(conn.send(Ack(event.client_msg_id, msg_id, 1)))
        except OSError:
            pass


def test_chat_wire_against_a_mini_server() -> None:
    key = fixed_test_key()
    server = _MiniChatServer(key)
    try:
        spec = LoadSpec(
            port=server.port, mode="ours", clients=3, duration=1.0, window=2,
            users=("u0", "u1", "u2"), password="pw",
            server_key_pem=key.public_key().export_key(format="PEM"),
        )
        r = run_load(spec)
    finally:
        server.close()
    assert r.ready == 3 and r.failed == 0
    assert r.handshake.count == 3 and r.login.count == 3
    assert r.acked > 0
    assert r.deliveries == 2 * r.acked
    assert r.lost == 0 and r.duplicates == 0, r.errors
