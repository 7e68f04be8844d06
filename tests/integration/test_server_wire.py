"""What an eavesdropper sees, and what random input does to a live server (SECURITY.md S1, S7).

A recording TCP relay sits between a client and the server: after the two hellos nothing on
the wire, in either direction, contains the password, the names or the text. Then hypothesis
throws random authentic records and random raw bytes at the server; each connection gets a
``1009`` or is closed, and another client keeps chatting throughout.
"""

from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.messages import ChatDelivery, DirectDelivery, ErrorReply, PingRequest, Pong
from tests.support.chat_client import ChatClient, ServerClosed

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


class RecordingRelay:
    """Forwards one TCP connection to the server and keeps every byte, both directions."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = bytearray()  # client -> server
        self.down = bytearray()  # server -> client
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(self.target)
        for src, dst, log in ((client, server, self.up), (server, client, self.down)):
            threading.Thread(target=self._pump, args=(src, dst, log), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, log: bytearray) -> None:
        while True:
            try:
                data = src.recv(65_536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            log += data
            dst.sendall(data)


def test_nothing_readable_on_the_wire(chat) -> None:
    relay = RecordingRelay((chat.host, chat.port))
    bob = chat.login("user2")
    alice = ChatClient("127.0.0.1", relay.port, chat.public_key)
    try:
        assert alice.login("user1", "111111").ok
        alice.chat_acked("the quick brown fox 狐狸 😀")
        alice.wait_ack(alice.direct("user2", "psst, a direct secret"))
        bob.chat_acked("an answer from bob")
        alice.recv_until(lambda m: isinstance(m, ChatDelivery) and m.sender == "user2")
        bob.recv_until(lambda m: isinstance(m, DirectDelivery))
    finally:
        alice.close()
    wire = bytes(relay.up) + bytes(relay.down)
    assert len(relay.up) > 400 and len(relay.down) > 400
    for secret in ("111111", "user1", "user2", "wang_yuan", "ding_zhen", "quick brown",
                   "狐狸", "😀", "direct secret", "answer from bob", "0001|", "1002|", "lobby"):
        assert secret.encode() not in wire, secret


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4))
def test_random_authentic_records_get_errors_or_a_close(chat, lines: list[bytes]) -> None:
    c = chat.login("user3")
    c.send_raw(c.conn.send_lines([line.replace(b"\n", b" ") or b"x" for line in lines]))
    try:
        c.send(PingRequest("after"))
        reply = c.recv_until(lambda m: isinstance(m, Pong | ErrorReply), timeout=5.0)
        assert isinstance(reply, Pong | ErrorReply)
    except (ServerClosed, OSError):
        pass  # closing is an allowed answer too (e.g. a logout in the noise)
    c.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(min_size=1, max_size=2_000), after_hello=st.booleans())
def test_random_bytes_end_only_that_connection(chat, noise: bytes, after_hello: bool) -> None:
    c = chat.client()
    if after_hello:
        c.handshake()
    try:
        c.send_raw(noise)
        c.sock.shutdown(socket.SHUT_WR)
        assert c.closed_by_server(5.0)
    except OSError:
        pass
    c.close()


def test_everyone_else_kept_chatting(chat) -> None:
    alice, bob = chat.login("user1"), chat.login("user2")
    alice.chat_acked("fuzzing is over")
    bob.recv_until(lambda m: isinstance(m, ChatDelivery) and m.text == "fuzzing is over")
    assert chat.server.connection_count() <= 4
