"""Scenario (i): handshake, login and resume latency, and handshakes per second, ours vs TLS 1.3.

Latency is measured one connection at a time (nothing else in flight), so it is the cost of
one handshake plus the loopback round trip. The rate is measured with several forked client
processes hammering the server for a fixed time; the server's CPU seconds over that window
(from /proc) turn it into handshakes per CPU-second, the "on one core" figure.

Both protocols are one round trip: the client has its keys once it has checked the server's
answer (our ServerHello signature; TLS 1.3's Finished), which is where the clock stops.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import ssl
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from Crypto.PublicKey import RSA

from bench.stats import Summary
from bench.wire import ChatWire

now_ns = time.perf_counter_ns
HOST = "127.0.0.1"


class HandshakeFailed(Exception):
    """The server refused or broke off a bench connection."""


def _wait_for(sock: socket.socket, wire: ChatWire, kind: str) -> tuple[Any, ...]:
    """Read until ``wire`` yields an event of ``kind``; refusals and closes raise."""
    while True:
        data = sock.recv(65536)
        for event in wire.feed(data):
            if event[0] == kind:
                return event
            if event[0] in ("refused", "closed"):
                raise HandshakeFailed(f"{kind}: {event}")
        if not data:
            raise HandshakeFailed(f"closed before {kind}")


@dataclass(frozen=True)
class SessionTiming:
    """One sequential connection: ``handshake`` → ``login`` → later ``resume``, in ns."""

    handshake_ns: int
    login_ns: int
    resume_ns: int  # 0008 sent -> 1001 ok
    reconnect_ns: int  # TCP connect + handshake + resume


def ours_session(
    port: int, key: RSA.RsaKey, username: str, password: str, timeout: float = 15.0
) -> SessionTiming:
    """Connect, handshake, log in; then reconnect and resume with the token."""
    t0 = now_ns()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = ChatWire(key, (username, password))
        sock.sendall(wire.hello())
        _wait_for(sock, wire, "handshake")
        t1 = now_ns()
        sock.sendall(wire.take_output())
        token = str(_wait_for(sock, wire, "ready")[1])
        t2 = now_ns()
    t3 = now_ns()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = ChatWire(key, (username, token), resume=True)
        sock.sendall(wire.hello())
        _wait_for(sock, wire, "handshake")
        t4 = now_ns()
        sock.sendall(wire.take_output())
        _wait_for(sock, wire, "ready")
        t5 = now_ns()
    return SessionTiming(t1 - t0, t2 - t1, t5 - t4, t5 - t3)


def ours_handshake_only(port: int, key: RSA.RsaKey, timeout: float = 15.0) -> int:
    """One connect + handshake, nothing else; ns."""
    t0 = now_ns()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = ChatWire(key, None)
        sock.sendall(wire.hello())
        _wait_for(sock, wire, "handshake")
    return now_ns() - t0


def tls_handshake_only(port: int, ctx: ssl.SSLContext, timeout: float = 15.0) -> int:
    """One connect + TLS 1.3 handshake (client side complete); ns."""
    t0 = now_ns()
    with socket.create_connection((HOST, port), timeout=timeout) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname="localhost"):
            elapsed = now_ns() - t0
    return elapsed


def sequential(make_one: Callable[[], int], count: int) -> Summary:
    """``count`` connections one after another."""
    return Summary.of_ns(make_one() for _ in range(count))


@dataclass(frozen=True)
class RateResult:
    """Handshakes completed in a fixed window by concurrent clients."""

    completed: int
    failed: int
    seconds: float
    latency: Summary

    @property
    def per_second(self) -> float:
        """Completed handshakes per wall-clock second."""
        return self.completed / self.seconds if self.seconds else 0.0


def _rate_worker(make_one: Callable[[], int], threads: int, seconds: float, out: Any) -> None:
    lat = array("q")
    failed = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        mine = array("q")
        bad = 0
        while time.monotonic() < deadline:
            try:
                mine.append(make_one())
            except (OSError, ssl.SSLError, HandshakeFailed):
                bad += 1
                time.sleep(0.01)
        with lock:
            lat.extend(mine)
            failed[0] += bad

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 30)
    out.put((lat, failed[0]))


def concurrent_rate(
    make_one: Callable[[], int], procs: int, threads: int, seconds: float
) -> RateResult:
    """``procs`` forked processes × ``threads`` threads, each connecting in a loop."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_rate_worker, args=(make_one, threads, seconds, out))
        for _ in range(procs)
    ]
    for w in workers:
        w.start()
    lat = array("q")
    failed = 0
    for _ in workers:
        part, bad = out.get(timeout=seconds + 60)
        lat.extend(part)
        failed += bad
    for w in workers:
        w.join(10)
    # No handshake starts after the deadline, so the window is ``seconds`` (plus one tail).
    return RateResult(len(lat), failed, seconds, Summary.of_ns(lat))
