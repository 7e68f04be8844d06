"""Login latency with key login (PROTOCOL.md §8): what the chat's client waits for, step by step.

One connection at a time against the bench server (default settings): the handshake, the
parameter request (``0030`` → ``1030``), the client's own Argon2id derivation (64 MiB, 3
passes, 4 lanes by default: the expensive part, now on the client), the key login (``0031`` →
``1001``: the server verifies a cheap Argon2id of the 32-byte key), and the whole of it. The
old password login (``0001``) is measured too: for a key account the server must derive the key
from the password itself, and every ``0001`` costs that (equal work for every kind of row), so
it is now the slow path that only older clients take.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from Crypto.PublicKey import RSA

from bench.scenarios import Bench
from bench.stats import Summary
from common.account_keys import derive_account_keys
from common.connection import NEED_DATA, Connection, HandshakeComplete
from common.e2e import to_field
from common.messages import ClientMessage, LoginRequest, LoginResult
from common.messages_login import KdfParamsReply, KdfParamsRequest, KeyLoginRequest, params_of
from server.__main__ import DEMO_PASSWORD

HOST = "127.0.0.1"
now_ns = time.perf_counter_ns


class _Client:
    """A blocking client of one connection: send one message, wait for one kind of answer."""

    def __init__(self, port: int, key: RSA.RsaKey) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=15.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = Connection.client(key)
        self.sock.sendall(self.conn.initiate())
        self._until(HandshakeComplete)

    def ask(self, message: ClientMessage, kind: type) -> Any:
        self.sock.sendall(self.conn.send(message))
        return self._until(kind)

    def _until(self, kind: type) -> Any:
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                data = self.sock.recv(65_536)
                if not data:
                    raise ConnectionError("the server closed the connection")
                self.conn.receive_data(data)
            elif isinstance(event, kind):
                return event

    def close(self) -> None:
        self.sock.close()


def key_login_once(port: int, key: RSA.RsaKey, username: str, password: str) -> dict[str, int]:
    """One login as the chat's client does it; ns per step."""
    t0 = now_ns()
    client = _Client(port, key)
    try:
        t1 = now_ns()
        reply = client.ask(KdfParamsRequest(username), KdfParamsReply)
        t2 = now_ns()
        keys = derive_account_keys(password, params_of(reply))
        t3 = now_ns()
        result = client.ask(KeyLoginRequest(username, to_field(keys.auth_key)), LoginResult)
        t4 = now_ns()
    finally:
        client.close()
    assert result.ok, result
    return {"handshake": t1 - t0, "params": t2 - t1, "derive": t3 - t2, "key_login": t4 - t3,
            "total": t4 - t0}


def password_login_once(port: int, key: RSA.RsaKey, username: str, password: str) -> int:
    """The old ``0001`` after the handshake; ns."""
    client = _Client(port, key)
    try:
        t0 = now_ns()
        result = client.ask(LoginRequest(username, password), LoginResult)
        elapsed = now_ns() - t0
    finally:
        client.close()
    assert result.ok, result
    return elapsed


def scenario_login(bench: Bench) -> None:
    """``python -m bench login``: key login step by step, and the old password login."""
    chat = bench.chat
    if chat is None:
        bench.say("login: chat server not running")
        return
    port, key = chat.server.port, RSA.import_key(chat.public_pem)
    count = 10 if bench.quick else 30
    runs = [key_login_once(port, key, "user1", DEMO_PASSWORD) for _ in range(count)]
    steps = {name: Summary.of_ns(r[name] for r in runs) for name in runs[0]}
    legacy = Summary.of_ns(password_login_once(port, key, "user2", DEMO_PASSWORD)
                           for _ in range(count))
    labels = {"handshake": "connect + handshake", "params": "0030 -> 1030",
              "derive": "client Argon2id (default cost)", "key_login": "0031 -> 1001",
              "total": "handshake + 0030 + derive + 0031"}
    for name, label in labels.items():
        bench.say(f"ours key login, {label}: {steps[name].line()}")
    bench.say(f"ours password login 0001 -> 1001 (legacy, key account): {legacy.line()}")
    bench.results["login"] = {name: summary.__dict__ for name, summary in steps.items()} | {
        "legacy_0001": legacy.__dict__}
