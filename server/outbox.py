"""One connection's outgoing lines: a bounded queue, and "the pen", the right to seal and write.

Why not simply a queue drained by the connection's writer thread: a lobby message to a thousand
idle clients then woke a thousand writer threads, and handing the GIL from thread to thread cost
~0.35 s per message where sealing and sending took ~35 ms. So whoever queues a line for an idle
connection (nobody holds the pen, nothing waits) takes the pen, seals everything queued into
one record and writes it with a non-blocking ``write``: a fan-out is one thread's loop. Only
what the socket does not take at once (a client that reads slowly) is left to the writer
thread, which waits in ``sendall`` and drains whatever queued meanwhile into as few records as
possible. Records are sealed by one holder of the pen at a time, so the record counter and the
byte stream stay in order.

Several lines queued as one item (``put_lines``: a group commit's acks and relays for this
connection, a presence batch) are sealed into one record.

Nobody ever waits for a slow client: a queue that would go past ``limit`` lines or
``MAX_QUEUED_BYTES`` calls ``fail`` (the listener cuts that client); ``put`` never blocks on the
socket. Lines are counted, not items, so batching cannot hide a client that stopped reading,
and the batch the writer holds while it waits on the socket counts too (it is still memory).
All outboxes together draw on one ``MemoryBudget``: a put that would pass it cuts the
connection holding the most (this one if nobody holds more), so many connections each under
their own bound cannot add up to gigabytes. A writer that sees the client take no bytes for
``stall_timeout`` seconds gives up (``TimeoutError``): a client that never reads is cut even
while its queue is small.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from common.errors import LocalProtocolError
from server.limits import MemoryBudget

log = logging.getLogger(__name__)

MAX_COALESCE = 1_024  # lines sealed in one record batch
MAX_QUEUED_BYTES = 16 * 1024 * 1024  # per connection, besides the kernel's send buffer

Item = bytes | tuple[bytes, ...]  # one line, or lines to seal together

class Writable(Protocol):
    """The listener's socket, as far as the outbox uses it (sockets stay in listener.py)."""

    def sendall(self, data: bytes, /) -> None: ...

    def fileno(self) -> int: ...


class Outbox:
    """Lines for one connection; see the module docstring. Thread-safe."""

    def __init__(
        self,
        sock: Writable,
        seal: Callable[[list[bytes]], bytes],
        exhausted: Callable[[], bool],
        limit: int,
        fail: Callable[[str, int], None],
        *,
        budget: MemoryBudget | None = None,
        stall_timeout: float | None = None,
    ) -> None:
        """``seal`` turns lines into record bytes (``Connection.send_lines``); ``exhausted``
        says the record counter is used up; ``fail(reason, log_level)`` cuts the connection;
        ``budget`` is shared by all outboxes; ``stall_timeout`` bounds a write without progress
        (None: plain ``sendall``)."""
        self._sock, self._seal, self._exhausted = sock, seal, exhausted
        self._limit, self._fail = limit, fail
        self._budget, self._stall = budget, stall_timeout
        self._inflight_lines = 0  # taken by the pen's holder, not completely written yet
        self._inflight_bytes = 0
        self._charged = 0  # bytes this outbox holds in the shared budget
        self._cond = threading.Condition()
        self._pending: deque[Item] = deque()
        self._queued_lines = 0
        self._queued_bytes = 0
        self._unsent = b""  # sealed bytes the socket has not taken yet: they go first
        self._pen = False  # someone is sealing or writing
        self._open = False  # sealing allowed (after the handshake)
        self._closing = False  # flush what is queued, then stop
        self._dead = False  # stop now
        self.signed_off = False  # closed by the server for the account (close_after)

    # --- any thread ------------------------------------------------------------------------

    def put(self, item: Item) -> None:
        """Queue a line (or a batch); write it at once if the connection is idle. Never blocks."""
        self._put(item, evict=True)

    def _put(self, item: Item, evict: bool) -> None:
        count, size = (
            (len(item), sum(map(len, item))) if isinstance(item, tuple) else (1, len(item))
        )
        over_budget = False
        with self._cond:
            if self._dead or self._closing:
                return
            overflow = bool(self._pending or self._inflight_lines) and (
                self._queued_lines + self._inflight_lines + count > self._limit
                or self._queued_bytes + self._inflight_bytes + size > MAX_QUEUED_BYTES
            )
            if not overflow and self._budget is not None:
                over_budget = not self._budget.take(size, self)
            if not (overflow or over_budget):  # one item alone is always taken: may be big
                self._charged += size if self._budget is not None else 0
                self._pending.append(item)
                self._queued_lines += count
                self._queued_bytes += size
                if self._pen or self._unsent or not self._open:
                    self._cond.notify()  # the writer thread (or the pen's holder) takes it
                    return
                self._pen = True
                lines = self._take()
        if over_budget:
            if evict and self._evict_bigger():
                self._put(item, evict=False)
                return
            self._fail("replies queued for all clients would pass their budget", logging.WARNING)
            return
        if overflow:
            reason = (
                f"outbox full ({self._queued_lines + self._inflight_lines} lines, "
                f"{self._queued_bytes + self._inflight_bytes} bytes)"
            )
            self._fail(f"{reason}: client is not reading", logging.WARNING)
            return
        self._write_now(lines)

    def put_lines(self, lines: tuple[bytes, ...]) -> None:
        """Queue several lines as one item, sealed into one record. Never blocks."""
        if lines:
            self.put(lines)

    def close_after(self, line: bytes) -> None:
        """A sign-out: queue ``line`` last, write what is queued, then end the connection (the
        listener shuts its reading side once the writer is done: ``signed_off``)."""
        self.put(line)
        with self._cond:
            self.signed_off = True
        self.close()

    def close(self) -> None:
        """Write what is queued, then let the writer thread end."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    def kill(self, wait: float = 0.0) -> None:
        """Drop what is queued; the writer thread ends as soon as it can. With ``wait``, also
        wait (that many seconds at most) until nobody is writing: call it so before closing
        the socket, whose descriptor number the next connection may get."""
        with self._cond:
            self._dead = True
            self._pending.clear()
            self._queued_lines = self._queued_bytes = 0
            self._sync_budget()
            self._cond.notify_all()
            if wait > 0:
                self._cond.wait_for(lambda: not self._pen, timeout=wait)

    # --- the connection's threads ----------------------------------------------------------

    def start(self) -> None:
        """The handshake is done: records may be sealed from now on."""
        with self._cond:
            self._open = True
            self._cond.notify()

    def run_writer(self) -> None:
        """The writer thread's loop: until closed and drained, or killed."""
        while True:
            with self._cond:
                while not self._dead and (
                    self._pen or not (self._pending or self._unsent or self._closing)
                ):
                    self._cond.wait()
                if self._dead or not (self._pending or self._unsent):
                    return  # killed, or closing with nothing left
                self._pen = True
                unsent, self._unsent = self._unsent, b""
                lines = self._take()
            try:
                if unsent:
                    self._send_all(unsent)
                if lines:
                    self._send_all(self._sealed(lines))
            finally:
                with self._cond:
                    self._pen = False
                    self._inflight_lines = self._inflight_bytes = 0
                    self._sync_budget()
                    self._cond.notify_all()

    def _send_all(self, data: bytes) -> None:
        """``sendall``, but give up (TimeoutError) when the client takes nothing for
        ``stall_timeout`` seconds, however small what is left: progress, not size, is the test."""
        if self._stall is None:
            self._sock.sendall(data)
            return
        fd = self._sock.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view) :]  # the descriptor is non-blocking
                continue
            except BlockingIOError:
                pass
            if not poller.poll(max(1, int(self._stall * 1000))):
                raise TimeoutError(f"client took no bytes for {self._stall:g} s")

    # --- the shared memory budget ----------------------------------------------------------

    def _evict_bigger(self) -> bool:
        """The budget is full: cut the connection holding the most, if that is another one
        (True: worth trying again). Called without this outbox's lock."""
        victim = self._budget.biggest() if self._budget is not None else None
        if not isinstance(victim, Outbox) or victim is self:
            return False
        victim._fail("holds the most of the replies queued for all clients", logging.WARNING)
        return True

    def _sync_budget(self) -> None:
        """Give back what this outbox no longer holds (call with the lock held)."""
        held = 0 if self._dead else self._queued_bytes + self._inflight_bytes
        if self._budget is not None and self._charged > held:
            self._budget.give_back(self._charged - held, self)
            self._charged = held

    # --- holding the pen -------------------------------------------------------------------

    def _take(self) -> list[bytes]:
        """Everything queued, up to MAX_COALESCE lines (call with the lock held)."""
        lines: list[bytes] = []
        while self._pending and len(lines) < MAX_COALESCE:
            item = self._pending.popleft()
            if isinstance(item, tuple):
                lines.extend(item)
            else:
                lines.append(item)
        size = sum(map(len, lines))
        self._queued_lines -= len(lines)
        self._queued_bytes -= size
        self._inflight_lines += len(lines)
        self._inflight_bytes += size
        return lines

    def _sealed(self, lines: list[bytes]) -> bytes:
        if self._exhausted():
            raise LocalProtocolError("record counter exhausted; the client reconnects")
        return self._seal(lines)

    def _write_now(self, lines: list[bytes]) -> None:
        """Seal and write without waiting; leave any rest to the writer thread."""
        written, data = 0, b""
        try:
            data = self._sealed(lines)
            written = os.write(self._sock.fileno(), data)  # the socket is non-blocking
        except BlockingIOError:
            pass
        except LocalProtocolError as exc:
            self._release(b"")
            self._fail(str(exc), logging.WARNING)
            return
        except OSError as exc:
            self._release(b"")
            self._fail(f"write failed ({exc.__class__.__name__})", logging.INFO)
            return
        except Exception:  # a bug must not leave the pen held and the connection stuck
            log.exception("writing to a connection failed")
            self._release(b"")
            self._fail("internal error while writing", logging.ERROR)
            return
        self._release(data[written:])

    def _release(self, rest: bytes) -> None:
        with self._cond:
            self._unsent = rest
            self._pen = False
            if not rest:  # the batch is out; with a rest, the writer thread still holds it
                self._inflight_lines = self._inflight_bytes = 0
                self._sync_budget()
            if rest or self._pending or self._closing:
                self._cond.notify_all()
