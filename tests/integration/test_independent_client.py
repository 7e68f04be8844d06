"""The live server against a client written from the wire contract alone (tests/unit/spec_peer).

This is the check an outside team would run: log in as user1, chat with user2, and attack with
replays, tampering, reflection, a bad version and garbage. Every attack must end only the
attacking connection; user1 and user2 keep chatting through all of it.
"""

from __future__ import annotations

import socket
import struct
import time
import uuid

import pytest

from tests.unit.spec_peer import SpecClient

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


class Wire:
    """A raw socket speaking the contract through SpecClient, with helpers to misbehave."""

    def __init__(self, host: str, port: int, server_public) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.peer = SpecClient(server_public)
        self.buffer = b""
        self.sent_records: list[bytes] = []
        self.received_records: list[bytes] = []

    def read_frame(self, timeout: float = 10.0) -> bytes | None:
        """One frame body, or None when the server closed the connection."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 4:
                (length,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= 4 + length:
                    body, self.buffer = self.buffer[4 : 4 + length], self.buffer[4 + length :]
                    return body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame from the server")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def handshake(self) -> None:
        self.sock.sendall(self.peer.hello_frame())
        server_hello = self.read_frame()
        assert server_hello is not None, "server closed during the handshake"
        self.peer.finish(server_hello)

    def send_line(self, line: str) -> None:
        record = self.peer.seal(line.encode("utf-8"))
        self.sent_records.append(record)
        self.sock.sendall(record)

    def lines(self, timeout: float = 10.0) -> list[str] | None:
        body = self.read_frame(timeout)
        if body is None:
            return None
        self.received_records.append(body)
        return self.peer.open(body).decode("utf-8").split("\n")

    def wait_for(self, prefix: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            got = self.lines(max(0.1, deadline - time.monotonic()))
            assert got is not None, f"closed while waiting for {prefix!r}"
            for line in got:
                if line.startswith(prefix):
                    return line

    def login(self, user: str, password: str = "111111") -> str:
        self.handshake()
        self.send_line(f"0001|{user}|{password}")
        return self.wait_for("1001|")

    def closed_by_server(self, timeout: float = 10.0) -> bool:
        """True when the server ends the connection without sending a record we can open."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body = self.read_frame(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                return False
            if body is None:
                return True
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def wire(live_server):
    opened: list[Wire] = []

    def make() -> Wire:
        w = Wire(live_server.host, live_server.port, live_server.public_key)
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


def chat_round_trip(alice: Wire, bob: Wire, text: str) -> None:
    """alice says ``text`` in the lobby; alice gets the ack and bob the message."""
    msg_id = uuid.uuid4().hex
    alice.send_line(f"0002|lobby|{msg_id}|{text}")
    assert alice.wait_for(f"1007|{msg_id}|")
    line = bob.wait_for("1002|")
    while not line.endswith("|" + text):
        line = bob.wait_for("1002|")
    fields = line.split("|")
    assert fields[2] == "lobby" and fields[3] == "user1" and fields[4] == "wang_yuan"


def test_login_and_chat_from_the_contract_alone(wire) -> None:
    alice, bob = wire(), wire()
    result = alice.login("user1").split("|")
    assert result[:4] == ["1001", "1", "wang_yuan", "user1"] and result[4]
    assert bob.login("user2").startswith("1001|1|ding_zhen|user2|")
    chat_round_trip(alice, bob, "hello from the spec client %7C with a pipe")


@pytest.mark.parametrize("attack", ["replay", "tamper", "reflect", "reorder", "garbage"])
def test_attacks_end_only_the_attacking_connection(wire, attack: str) -> None:
    alice, bob = wire(), wire()
    alice.login("user1")
    bob.login("user2")
    attacker = wire()
    attacker.login("user3")
    attacker.send_line("0006|1")
    attacker.wait_for("1008|1")
    if attack == "replay":
        attacker.sock.sendall(attacker.sent_records[-1])
    elif attack == "tamper":
        record = bytearray(attacker.peer.seal(b"0006|2"))
        record[10] ^= 0x01
        attacker.sock.sendall(bytes(record))
    elif attack == "reflect":
        body = attacker.received_records[-1]
        attacker.sock.sendall(struct.pack(">I", len(body)) + body)
    elif attack == "reorder":
        first, second = attacker.peer.seal(b"0006|3"), attacker.peer.seal(b"0006|4")
        attacker.sock.sendall(second + first)
    else:
        attacker.sock.sendall(struct.pack(">I", 50) + b"\x00" * 50)
    assert attacker.closed_by_server()
    chat_round_trip(alice, bob, f"still chatting after {attack}")


@pytest.mark.parametrize("hello", ["version2", "garbage", "random_envelope", "huge_length"])
def test_bad_hellos_are_closed_without_a_record(wire, live_server, hello: str) -> None:
    alice, bob = wire(), wire()
    alice.login("user1")
    bob.login("user2")
    bad = wire()
    body = bad.peer.client_hello
    if hello == "version2":
        bad.sock.sendall(struct.pack(">I", len(body)) + body[:1] + b"\x02" + body[2:])
    elif hello == "garbage":
        bad.sock.sendall(struct.pack(">I", 9) + b"not hello")
    elif hello == "random_envelope":
        forged = body[:68] + bytes(range(256)) + bytes(range(128))
        bad.sock.sendall(struct.pack(">I", len(forged)) + forged)
    else:
        bad.sock.sendall(b"\xff\xff\xff\xff" + b"\x00" * 16)
    assert bad.closed_by_server()
    chat_round_trip(alice, bob, f"still chatting after {hello}")


def test_a_refusal_reads_as_protocol_md_writes_it(wire) -> None:
    """PROTOCOL.md "Login refusals": ``1001|0|<code_word>||<reason>``, reason in the last field."""
    line = wire().login("user1", "not-the-password")
    assert line == "1001|0|wrong_credentials||wrong username or password"
    assert line.split("|")[-1] == "wrong username or password"  # how an older reader reads it


def test_a_record_past_the_message_cap_is_closed_from_the_contract_alone(wire) -> None:
    """PROTOCOL.md §4: more than 64 messages in one record closes the connection."""
    attacker, bystander = wire(), wire()
    attacker.login("user1")
    bystander.login("user2")
    attacker.send_line("\n".join(f"0006|{i}" for i in range(65)))
    assert attacker.closed_by_server()
    bystander.send_line("0006|still-here")
    assert bystander.wait_for("1008|") == "1008|still-here"
