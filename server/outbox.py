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
socket. Lines are counted, not items, so batching cannot hide a client that stopped reading.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from common.errors import LocalProtocolError

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
    ) -> None:
        """``seal`` turns lines into record bytes (``Connection.send_lines``); ``exhausted``
        says the record counter is used up; ``fail(reason, log_level)`` cuts the connection."""
        self._sock, self._seal, self._exhausted = sock, seal, exhausted
        self._limit, self._fail = limit, fail
        self._cond = threading.Condition()
        self._pending: deque[Item] = deque()
        self._queued_lines = 0
        self._queued_bytes = 0
        self._unsent = b""  # sealed bytes the socket has not taken yet: they go first
        self._pen = False  # someone is sealing or writing
        self._open = False  # sealing allowed (after the handshake)
        self._closing = False  # flush what is queued, then stop
        self._dead = False  # stop now

    # --- any thread ------------------------------------------------------------------------

    def put(self, item: Item) -> None:
        """Queue a line (or a batch); write it at once if the connection is idle. Never blocks."""
        with self._cond:
            if self._dead or self._closing:
                return
            count, size = (
                (len(item), sum(map(len, item))) if isinstance(item, tuple) else (1, len(item))
            )
            overflow = bool(self._pending) and (
                self._queued_lines + count > self._limit
                or self._queued_bytes + size > MAX_QUEUED_BYTES
            )
            if not overflow:  # one item alone is always taken: a batch may be big
                self._pending.append(item)
                self._queued_lines += count
                self._queued_bytes += size
                if self._pen or self._unsent or not self._open:
                    self._cond.notify()  # the writer thread (or the pen's holder) takes it
                    return
                self._pen = True
                lines = self._take()
        if overflow:
            reason = f"outbox full ({self._queued_lines} lines, {self._queued_bytes} bytes)"
            self._fail(f"{reason}: client is not reading", logging.WARNING)
            return
        self._write_now(lines)

    def put_lines(self, lines: tuple[bytes, ...]) -> None:
        """Queue several lines as one item, sealed into one record. Never blocks."""
        if lines:
            self.put(lines)

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
                    self._sock.sendall(unsent)
                if lines:
                    self._sock.sendall(self._sealed(lines))
            finally:
                with self._cond:
                    self._pen = False
                    self._cond.notify_all()

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
        self._queued_lines -= len(lines)
        self._queued_bytes -= sum(map(len, lines))
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
            if rest or self._pending or self._closing:
                self._cond.notify_all()
