"""Faults end only the guilty connection; a second pair of clients keeps chatting through each.

Covers SECURITY.md S4 and S7 on a live server: tampered, replayed, reordered and reflected records,
garbage, bad lengths, a bad version, a random envelope, an abrupt reset, a client that never
reads, one that stalls in the handshake or never logs in, and an exhausted record counter.
"""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest

from common.messages import ChatDelivery, PingRequest, Pong, PresenceEvent
from tests.support.chat_client import ChatClient

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def still_chatting(live, note: str) -> None:
    """user1 says something and user2 hears it: the server serves everyone else."""
    alice, bob = live.login("user1"), live.login("user2")
    text = f"still chatting after {note}"
    alice.chat_acked(text)
    got = bob.recv_until(lambda m: isinstance(m, ChatDelivery) and m.text == text)
    assert got.sender == "user1"


def logged_in_attacker(live) -> ChatClient:
    attacker = live.login("user3")
    attacker.send(PingRequest("1"))
    attacker.recv_until(lambda m: isinstance(m, Pong))
    return attacker


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


ATTACKS = {
    "tamper": lambda a: a.send_raw(
        (lambda r: r[:10] + bytes([r[10] ^ 0x01]) + r[11:])(a.conn.send(PingRequest("2")))
    ),
    "tamper_tag": lambda a: a.send_raw(
        (lambda r: r[:-1] + bytes([r[-1] ^ 0x80]))(a.conn.send(PingRequest("2")))
    ),
    "tamper_length_header": lambda a: a.send_raw(
        (lambda r: struct.pack(">I", len(r) - 5) + r[4:-1])(a.conn.send(PingRequest("2")))
    ),
    "replay": lambda a: a.send_raw(a.sent_records[-1]),
    "reorder": lambda a: a.send_raw(
        (lambda first, second: second + first)(
            a.conn.send(PingRequest("3")), a.conn.send(PingRequest("4"))
        )
    ),
    "reflect": lambda a: a.send_raw(frame(a.received_frames[-1])),
    "garbage_frame": lambda a: a.send_raw(frame(os.urandom(60))),
    "short_record": lambda a: a.send_raw(frame(b"\x00" * 8)),
    "oversized_length": lambda a: a.send_raw(b"\xff\xff\xff\xff" + b"\x00" * 32),
    "just_over_max_length": lambda a: a.send_raw(struct.pack(">I", 65_537) + b"\x00" * 32),
    "zero_length": lambda a: a.send_raw(b"\x00\x00\x00\x00"),
    "truncated_then_close": lambda a: (
        a.send_raw(a.conn.send(PingRequest("5"))[:20]), a.sock.shutdown(socket.SHUT_WR)
    ),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_record_attacks_end_only_the_attacker(chat, attack: str) -> None:
    watcher = chat.login("user2")
    attacker = logged_in_attacker(chat)
    watcher.recv_until(lambda m: isinstance(m, PresenceEvent) and m.username == "user3")
    ATTACKS[attack](attacker)
    assert attacker.closed_by_server(5.0)
    leave = watcher.recv_until(lambda m: isinstance(m, PresenceEvent) and m.username == "user3")
    assert leave.event == "leave"
    still_chatting(chat, attack)


def hello_attack(live, kind: str) -> None:
    c = live.client()
    hello = bytearray(c.conn.initiate()[4:])
    if kind == "bad_version":
        hello[1] = 2
    elif kind == "random_envelope":
        hello[68:] = os.urandom(len(hello) - 68)
    elif kind == "wrong_type":
        hello[0] = 0x02
    elif kind == "short_hello":
        hello = hello[:40]
    elif kind == "garbage":
        hello = bytearray(os.urandom(200))
    elif kind == "key_request_twice":
        c.send_raw(frame(b"\x03\x01") * 2)
        assert c.closed_by_server(5.0)
        return
    c.send_raw(frame(bytes(hello)))
    assert c.closed_by_server(5.0)
    assert not c.received_frames  # nothing, not even a ServerHello, for a hello that fails


@pytest.mark.parametrize(
    "kind",
    ["bad_version", "random_envelope", "wrong_type", "short_hello", "garbage",
     "key_request_twice"],
)
def test_bad_hellos_end_only_that_connection(chat, kind: str) -> None:
    hello_attack(chat, kind)
    still_chatting(chat, kind)


def test_abrupt_reset(chat) -> None:
    watcher = chat.login("user2")
    victim = chat.login("user3")
    watcher.recv_until(lambda m: isinstance(m, PresenceEvent) and m.username == "user3")
    victim.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    victim.sock.close()  # RST instead of FIN
    leave = watcher.recv_until(lambda m: isinstance(m, PresenceEvent) and m.username == "user3")
    assert leave.event == "leave"
    still_chatting(chat, "reset")


def test_reset_in_the_middle_of_the_handshake(chat) -> None:
    c = chat.client()
    c.send_raw(c.conn.initiate()[:100])
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.sock.close()
    still_chatting(chat, "a reset mid-handshake")


def test_stall_mid_handshake_is_dropped(make_server) -> None:
    live = make_server(handshake_timeout=0.6)
    staller = live.client()
    staller.send_raw(staller.conn.initiate()[:50])  # half a ClientHello, then nothing
    quiet = live.client()  # connects and never says a word
    silent_after_hello = live.client()
    silent_after_hello.handshake()  # handshake done, but no login
    started = time.monotonic()
    assert staller.closed_by_server(5.0)
    assert quiet.closed_by_server(5.0)
    assert silent_after_hello.closed_by_server(5.0)
    assert time.monotonic() - started < 3.0
    still_chatting(live, "stalled handshakes")


def test_a_client_that_never_reads_is_cut_off(make_server) -> None:
    # Small kernel buffers on both ends, so the outbox is what fills, not megabytes of TCP buffer.
    live = make_server(outbox_limit=16, send_buffer=16_384)
    lazy = live.client()
    lazy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert lazy.login("user3").ok  # ...and from now on it never reads again
    alice, bob = live.login("user1"), live.login("user2")
    big = "z" * 3_900
    dropped_after = None
    started = time.monotonic()
    for i in range(600):
        alice.chat_acked(f"{i} {big}")
        bob.recv_until(lambda m, i=i: isinstance(m, ChatDelivery) and m.text.startswith(f"{i} "))
        if live.server.connection_count() == 2:
            dropped_after = i
            break
    assert dropped_after is not None, "the client that never reads was not cut off"
    assert time.monotonic() - started < 20
    still_chatting(live, "a client that never reads")


def test_exhausted_record_counter_closes(make_server) -> None:
    live = make_server(record_limit=6)  # 1001 and 1006 then a few pongs: the counter runs out
    c = live.login("user1")
    closed = False
    for i in range(10):
        try:
            c.send(PingRequest(str(i)))
            c.recv_until(lambda m: isinstance(m, Pong), timeout=2.0)
        except Exception:
            closed = True
            break
    assert closed or c.closed_by_server(2.0)
    still_chatting(live, "record counter exhaustion")
