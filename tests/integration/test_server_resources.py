"""One machine cannot exhaust the server: each test performs the attack on a live server.

Addresses in 127.0.0.0/8 stand for the few real addresses one attacker holds: client sockets
bind to 127.0.0.2, 127.0.0.3 ... (one /24) or 127.0.1.x (another /24). Every attack is bounded
in count and time and talks to loopback only.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from common.handshake import ServerHandshake
from common.messages import (
    ChatDelivery,
    ErrorReply,
    HistoryRequest,
    PingRequest,
    Pong,
)
from tests.support.chat_client import ChatClient, ServerClosed

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


class BoundClient(ChatClient):
    """A ``ChatClient`` whose socket comes from ``source`` (another loopback address)."""

    def __init__(self, live: Any, source: str, rcvbuf: int = 0) -> None:
        real = socket.create_connection

        def bound(address: tuple[str, int], timeout: float = 10.0) -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.bind((source, 0))
            sock.connect(address)
            return sock

        socket.create_connection = bound  # type: ignore[assignment]
        try:
            super().__init__(live.host, live.port, live.public_key)
        finally:
            socket.create_connection = real
        live._clients.append(self)


def refused(client: ChatClient) -> bool:
    """True if the server closes the connection instead of completing the handshake."""
    try:
        client.handshake(timeout=5.0)
    except (ServerClosed, OSError):
        return True
    return False


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def still_chatting(live: Any, note: str) -> None:
    alice, bob = live.login("user1"), live.login("user2")
    text = f"still chatting after {note}"
    alice.chat_acked(text)
    assert bob.recv_until(lambda m: isinstance(m, ChatDelivery) and m.text == text)


def random_hello(live: Any, source: str) -> BoundClient:
    """A hello whose envelope is random bytes: it costs the server one RSA decrypt."""
    c = BoundClient(live, source)
    hello = bytearray(c.conn.initiate())
    hello[4 + 68 :] = os.urandom(len(hello) - 4 - 68)
    c.send_raw(bytes(hello))
    return c


# --- A. pre-authentication CPU ----------------------------------------------------------------


def test_one_network_hits_its_cap_while_another_network_connects(make_server) -> None:
    live = make_server(max_conns_per_addr=2, max_conns_per_network=4)
    admitted = [BoundClient(live, f"127.0.0.{host}") for host in (2, 2, 3, 3)]
    assert not any(refused(c) for c in admitted)
    # two more addresses of the same /24, each far under its own per-address cap
    assert refused(BoundClient(live, "127.0.0.4"))
    assert refused(BoundClient(live, "127.0.0.5"))
    other = BoundClient(live, "127.0.1.2")  # another /24
    assert other.login("user1").ok


def test_a_hello_flood_never_runs_more_rsa_than_the_workers(make_server, monkeypatch) -> None:
    running, peak, lock = [0], [0], threading.Lock()
    respond = ServerHandshake.respond

    def counted(self: ServerHandshake, body: bytes) -> Any:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.1)  # a slow core: flood hellos overlap for sure
            return respond(self, body)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(ServerHandshake, "respond", counted)
    live = make_server(handshake_workers=2, handshake_queue=64)
    flood = [random_hello(live, f"127.0.0.{2 + i % 6}") for i in range(12)]
    assert all(c.closed_by_server(10.0) for c in flood)
    assert 1 <= peak[0] <= 2
    assert live.server.handshake_gate.peak <= 2


def test_a_hello_that_finds_the_queue_full_is_closed_at_once(make_server, monkeypatch) -> None:
    release, entered = threading.Event(), [0]
    respond = ServerHandshake.respond

    def stuck(self: ServerHandshake, body: bytes) -> Any:
        entered[0] += 1
        release.wait(10.0)
        return respond(self, body)

    monkeypatch.setattr(ServerHandshake, "respond", stuck)
    live = make_server(handshake_workers=1, handshake_queue=1)
    try:
        working = random_hello(live, "127.0.0.2")
        assert eventually(lambda: entered[0] == 1)
        waiting = random_hello(live, "127.0.0.3")
        assert eventually(lambda: live.server.handshake_gate.waiting == 1)
        third = random_hello(live, "127.0.0.4")
        assert third.closed_by_server(5.0)  # long before the stuck handshake is released
        assert entered[0] == 1
    finally:
        release.set()
    assert working.closed_by_server(5.0) and waiting.closed_by_server(5.0)


# --- B. memory per connection -----------------------------------------------------------------


def test_one_account_cannot_open_more_than_its_connections(make_server) -> None:
    live = make_server(max_conns_per_account=2)
    first, second = live.login("user3"), live.login("user3")
    tokens_before = live.store.count_resume_tokens("user3")
    extra = live.client()
    result = extra.login("user3")
    assert not result.ok and result.detail == "too many connections for this account"
    # the token made for the refused login was never sent: it must not crowd the account's cap
    assert live.store.count_resume_tokens("user3") == tokens_before
    assert live.login("user2")  # another account is not affected
    first.close()
    assert eventually(lambda: live.client().login("user3").ok)
    assert second.send(PingRequest("still")) and second.recv_until(lambda m: isinstance(m, Pong))


def seed_history(live: Any, count: int, size: int) -> None:
    writer = live.login("user1")
    for i in range(count):
        writer.chat_acked(f"{i:04d}" + "h" * size)
    writer.close()


def test_non_readers_together_cannot_pass_the_outbox_budget(make_server) -> None:
    budget = 1024 * 1024
    live = make_server(
        outbox_total_bytes=budget, outbox_limit=1_000_000, send_buffer=4096, history_limit=200
    )
    seed_history(live, 60, 3_000)  # one page: ~190 KB
    assert eventually(lambda: live.server.connection_count() == 0)
    hoarders = []
    for i, user in enumerate(("user2", "user2", "user3", "user3")):
        c = BoundClient(live, f"127.0.0.{2 + i}", rcvbuf=4096)
        assert c.login(user).ok
        hoarders.append(c)
    for c in hoarders:  # ~1.1 MB each: far under its own 16 MiB, together over the budget
        for _ in range(6):
            c.send(HistoryRequest("lobby", None, 200))
    assert eventually(lambda: live.server.connection_count() < len(hoarders))
    assert live.server.outbox_budget.used <= budget
    still_chatting(live, "a memory flood")


def test_a_client_that_takes_no_bytes_is_cut_after_the_stall_timeout(make_server) -> None:
    live = make_server(
        write_stall_timeout=1.0, idle_timeout=60.0, send_buffer=4096, outbox_limit=1_000_000
    )
    seed_history(live, 60, 3_000)
    assert eventually(lambda: live.server.connection_count() == 0)
    stalled = BoundClient(live, "127.0.0.2", rcvbuf=4096)
    assert stalled.login("user3").ok
    stalled.send([HistoryRequest("lobby", None, 200) for _ in range(3)])  # ~570 KB, far under
    # its 16 MiB and the budget; it never reads, and the idle timeout is a minute away
    assert eventually(lambda: live.server.connection_count() == 0, timeout=15.0)
    still_chatting(live, "a stalled reader")


# --- C. descriptors ---------------------------------------------------------------------------


def test_a_silent_socket_is_closed_after_the_first_byte_deadline(make_server) -> None:
    live = make_server(first_byte_timeout=0.5, handshake_timeout=60.0)
    silent = [BoundClient(live, f"127.0.0.{2 + i}") for i in range(3)]
    assert all(c.closed_by_server(10.0) for c in silent)  # not the 60 s handshake deadline
    assert eventually(lambda: live.server.connection_count() == 0)


def test_silent_sockets_cannot_take_the_last_places(make_server) -> None:
    live = make_server(max_pending_connections=3, first_byte_timeout=30.0)
    member = live.login("user1")
    silent = [BoundClient(live, f"127.0.0.{2 + i}") for i in range(3)]
    assert eventually(lambda: live.server.connection_count() == 4)
    assert refused(BoundClient(live, "127.0.0.9"))  # the fourth silent socket
    member.chat_acked("logged-in users keep their place")
    silent[0].close()
    assert eventually(lambda: live.server.connection_count() == 3)
    assert BoundClient(live, "127.0.1.2").login("user2").ok


def test_the_descriptor_limit_is_raised_and_bounds_connections(make_server) -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 512:
        pytest.skip("needs a finite hard descriptor limit above 512")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        live = make_server(max_connections=10_000_000, fd_reserve=64)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
        assert live.server.counts.max_total == hard - 64
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# --- D. request amplification -----------------------------------------------------------------


def test_packed_history_requests_are_bounded_by_rows(make_server) -> None:
    live = make_server(history_rows_rate=1.0, history_rows_burst=400, history_limit=200)
    seed_history(live, 200, 10)
    reader = live.login("user2")
    reader.send([HistoryRequest("lobby", None, 200) for _ in range(30)])  # one record
    got = reader.collect(3.0)
    rows = [m for m in got if isinstance(m, ChatDelivery)]
    refusals = [m for m in got if isinstance(m, ErrorReply) and m.code_word == "rate_limited"]
    assert len(rows) <= 400 + 200  # the burst, and at most one page more refilled meanwhile
    assert len(refusals) >= 25
    still_chatting(live, "a history flood")


def test_a_ping_flood_is_refused_then_cut(make_server) -> None:
    live = make_server(request_rate=1.0, request_burst=20)
    flooder = live.login("user3")
    # one record, under the cap on messages per record, holding three bursts' worth of pings:
    # the burst is answered, then refused, then the connection is cut
    flooder.send([PingRequest(str(i)) for i in range(60)])
    assert flooder.closed_by_server(10.0)
    got = list(flooder.inbox)
    pongs = [m for m in got if isinstance(m, Pong)]
    refusals = [m for m in got if isinstance(m, ErrorReply) and m.code_word == "rate_limited"]
    assert len(pongs) <= 20 + 10  # the burst, and what refilled meanwhile
    assert refusals  # told first, then cut
    still_chatting(live, "a ping flood")
