"""Outbox: direct writes when idle, the writer thread for the rest, order, limits, batches.

A socketpair stands in for the client; "sealing" is a visible framing (``<line>``) so the byte
stream shows exactly which lines went out, in which order, and how many per seal.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from common.errors import LocalProtocolError
from server.limits import MemoryBudget
from server.outbox import Outbox


class Harness:
    def __init__(self, limit: int = 100, sndbuf: int | None = None) -> None:
        self.server, self.client = socket.socketpair()
        if sndbuf is not None:
            self.server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sndbuf)
        self.server.settimeout(5.0)  # as the listener does: the descriptor is non-blocking
        self.seals: list[list[bytes]] = []
        self.failures: list[str] = []
        self.exhausted = False
        self._sealing = threading.Lock()
        self.overlapped = False
        self.outbox = Outbox(self.server, self.seal, lambda: self.exhausted, limit, self.fail)
        self.writer: threading.Thread | None = None

    def seal(self, lines: list[bytes]) -> bytes:
        if not self._sealing.acquire(blocking=False):
            self.overlapped = True  # two holders of the pen at once: must never happen
            self._sealing.acquire()
        try:
            self.seals.append(list(lines))
            return b"".join(b"<" + line + b">" for line in lines)
        finally:
            self._sealing.release()

    def fail(self, reason: str, level: int) -> None:
        self.failures.append(reason)

    def start(self, writer: bool = True) -> None:
        self.outbox.start()
        if writer:
            self.writer = threading.Thread(target=self.outbox.run_writer, daemon=True)
            self.writer.start()

    def read(self, expected_bytes: int, timeout: float = 5.0) -> bytes:
        self.client.settimeout(timeout)
        data = b""
        while len(data) < expected_bytes:
            data += self.client.recv(1 << 20)
        return data

    def close(self) -> None:
        self.outbox.kill(wait=1.0)
        if self.writer is not None:
            self.writer.join(2.0)
        self.server.close()
        self.client.close()


@pytest.fixture
def harness() -> Iterator[Harness]:
    made: list[Harness] = []

    def make(**kw: int) -> Harness:
        made.append(Harness(**kw))
        return made[-1]

    yield make  # type: ignore[misc]
    for h in made:
        h.close()


def test_an_idle_connection_is_written_by_the_caller(harness) -> None:
    h = harness()
    h.start(writer=False)  # no writer thread at all: the put itself must write
    h.outbox.put(b"one")
    h.outbox.put((b"two", b"three"))
    assert h.read(len(b"<one><two><three>")) == b"<one><two><three>"
    assert h.seals == [[b"one"], [b"two", b"three"]]


def test_nothing_is_sealed_before_the_handshake_is_done(harness) -> None:
    h = harness()
    h.outbox.put(b"early")
    h.outbox.put(b"also")
    assert h.seals == []
    h.start()
    assert h.read(len(b"<early><also>")) == b"<early><also>"
    assert h.seals == [[b"early", b"also"]]  # what waited is sealed together


def test_put_lines_is_one_record(harness) -> None:
    h = harness()
    h.start(writer=False)
    h.outbox.put_lines((b"a1", b"a2", b"a3"))
    h.outbox.put_lines(())  # nothing to send: no record
    assert h.read(len(b"<a1><a2><a3>")) == b"<a1><a2><a3>"
    assert h.seals == [[b"a1", b"a2", b"a3"]]


def test_what_the_socket_does_not_take_is_left_to_the_writer_in_order(harness) -> None:
    h = harness(sndbuf=4096)
    h.start()
    lines = [f"{i:05d}".encode() * 2000 for i in range(20)]  # 10 kB each, far past the buffer
    for line in lines:
        h.outbox.put(line)  # never blocks although nobody reads yet
    expected = b"".join(b"<" + line + b">" for line in lines)
    assert h.read(len(expected)) == expected
    assert len(h.seals) < len(lines)  # the writer sealed what queued meanwhile together
    assert h.failures == []


def test_a_full_outbox_cuts_the_client_instead_of_waiting(harness) -> None:
    h = harness(limit=3)  # not started: everything stays queued, as with a stuck client
    for i in range(3):
        h.outbox.put(b"%d" % i)
    assert h.failures == []
    h.outbox.put(b"one too many")
    assert h.failures and "outbox full (3 lines" in h.failures[0]


def test_lines_are_counted_not_items_so_batches_cannot_hide_a_stuck_client(harness) -> None:
    h = harness(limit=10)  # not started: nothing leaves the queue
    h.outbox.put(tuple(b"line %d" % i for i in range(25)))  # alone in the queue: taken whole
    assert h.failures == []
    h.outbox.put((b"a", b"b"))  # 27 lines queued would pass 10
    assert h.failures and "outbox full (25 lines" in h.failures[0]


def test_bytes_are_bounded_too(harness, monkeypatch) -> None:
    monkeypatch.setattr("server.outbox.MAX_QUEUED_BYTES", 1000)
    h = harness(limit=1000)
    h.outbox.put(b"x" * 600)
    h.outbox.put(b"y" * 300)
    assert h.failures == []
    h.outbox.put(b"z" * 200)
    assert h.failures and "900 bytes" in h.failures[0]


def test_close_flushes_then_the_writer_ends_and_later_lines_are_dropped(harness) -> None:
    h = harness(sndbuf=4096)
    h.start()
    big = b"x" * 50_000
    h.outbox.put(big)
    h.outbox.put(b"last")
    h.outbox.close()
    h.outbox.put(b"after close")
    expected = b"<" + big + b"><last>"
    assert h.read(len(expected)) == expected
    assert h.writer is not None
    h.writer.join(5.0)
    assert not h.writer.is_alive()
    h.client.settimeout(0.2)
    with pytest.raises(TimeoutError):
        h.client.recv(10)


def test_kill_drops_the_queue_and_ends_the_writer(harness) -> None:
    h = harness()
    h.outbox.put(b"queued before the handshake")
    h.outbox.kill()
    h.start()
    assert h.writer is not None
    h.writer.join(5.0)
    assert not h.writer.is_alive()
    h.outbox.put(b"ignored")
    assert h.seals == []


def test_an_exhausted_record_counter_fails_the_connection(harness) -> None:
    h = harness()
    h.start(writer=False)
    h.exhausted = True
    h.outbox.put(b"one more")
    assert h.seals == []
    assert h.failures and "exhausted" in h.failures[0]


def test_a_closed_socket_fails_quietly(harness) -> None:
    h = harness()
    h.start(writer=False)
    h.client.close()
    h.outbox.put(b"to nobody")
    deadline = time.monotonic() + 2
    while not h.failures and time.monotonic() < deadline:
        h.outbox.put(b"to nobody")
    assert h.failures and h.failures[0].startswith("write failed")


def test_many_threads_each_line_once_each_threads_order_kept_one_sealer(harness) -> None:
    h = harness(limit=100_000, sndbuf=8192)
    h.start()
    threads, per_thread = 6, 400
    received: list[bytes] = []
    expected_bytes = sum(len(f"<t{t}:{i:04d}>") for t in range(threads) for i in range(per_thread))

    def reader() -> None:
        received.append(h.read(expected_bytes, timeout=20.0))

    def sender(t: int) -> None:
        for i in range(per_thread):
            h.outbox.put(f"t{t}:{i:04d}".encode())

    reading = threading.Thread(target=reader)
    reading.start()
    senders = [threading.Thread(target=sender, args=(t,)) for t in range(threads)]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    reading.join(25.0)
    lines = received[0][1:-1].split(b"><")
    assert len(lines) == threads * per_thread == len(set(lines))
    for t in range(threads):
        mine = [line for line in lines if line.startswith(f"t{t}:".encode())]
        assert mine == [f"t{t}:{i:04d}".encode() for i in range(per_thread)]
    assert not h.overlapped
    assert h.failures == []


def test_seal_errors_reach_the_writer_thread() -> None:
    """The writer thread lets a sealing error propagate: the listener turns it into a cut."""
    server, client = socket.socketpair()
    try:
        outbox = Outbox(server, lambda lines: b"", lambda: True, 10, lambda r, lvl: None)
        outbox.put(b"queued")
        with pytest.raises(LocalProtocolError):
            outbox.run_writer()
    finally:
        server.close()
        client.close()


# --- budgets: the in-flight batch, a stalled writer, the shared memory budget -----------------


def test_the_batch_being_written_counts_against_the_bound(harness) -> None:
    h = harness(limit=10, sndbuf=4096)
    h.start(writer=False)
    h.outbox.put(tuple(b"x" * 100_000 for _ in range(8)))  # the socket takes only a part
    assert h.failures == []
    h.outbox.put((b"a", b"b", b"c"))  # 8 still held + 3 would pass 10
    assert h.failures and "outbox full (8 lines" in h.failures[0]


def test_a_writer_without_progress_gives_up_after_the_stall_timeout() -> None:
    server, client = socket.socketpair()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    server.settimeout(60.0)  # the plain socket timeout alone would wait a minute
    failures: list[str] = []
    outbox = Outbox(
        server, lambda lines: b"".join(lines), lambda: False, 1_000,
        lambda reason, level: failures.append(reason), stall_timeout=0.3,
    )
    outbox.start()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            outbox.run_writer()
        except OSError as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        outbox.put(b"y" * 2_000_000)  # the client never reads any of it
        thread.join(10.0)
        assert not thread.is_alive()
        assert errors and isinstance(errors[0], TimeoutError)
    finally:
        outbox.kill()
        server.close()
        client.close()


def test_the_shared_budget_cuts_the_biggest_holder_first() -> None:
    budget = MemoryBudget(10_000)
    cut: dict[str, list[str]] = {"small": [], "big": []}
    boxes = {}
    for name in cut:
        sock, peer = socket.socketpair()
        boxes[name] = (
            Outbox(
                sock, lambda lines: b"".join(lines), lambda: False, 1_000,
                lambda reason, level, name=name: (cut[name].append(reason), boxes[name][0].kill()),
                budget=budget,
            ),
            sock,
            peer,
        )
    small, big = boxes["small"][0], boxes["big"][0]  # never started: everything stays queued
    big.put(b"b" * 6_000)
    small.put(b"s" * 1_000)
    small.put(b"s" * 2_000)
    assert budget.used == 9_000
    small.put(b"s" * 2_000)  # past the budget: the biggest holder goes, this one stays
    assert cut["big"] and not cut["small"]
    assert budget.used == 5_000
    big.put(b"late")  # a killed outbox takes nothing
    small.put(b"s" * 6_000)  # now it is the biggest itself: it is the one cut
    assert cut["small"] and budget.used == 0
    for _, sock, peer in boxes.values():
        sock.close()
        peer.close()
