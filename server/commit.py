"""Group commit: many senders, one writer thread, one transaction per batch.

A message must be committed before it is acked and relayed (so history equals what was
delivered), but one transaction per message would make every send pay a full commit (an fsync
on the database side). Here each sender queues its ``NewMessage`` with an ``origin`` (whatever
the caller needs to answer it: the service passes the sending connection) and goes on. One
thread takes everything queued (up to ``max_batch``), writes it with a single
``store.insert_messages`` call, and hands the whole batch, in queue order, to the ``deliver``
function given to ``start`` (the service's ``on_committed``). A batch whose transaction failed
is handed over too, every item marked not stored. Under load a commit carries many messages;
when idle a batch is one message and nothing waits for a timer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from server.store import NewMessage, StoredMessage, StoreUnavailable

log = logging.getLogger(__name__)

Origin = TypeVar("Origin")


class MessageStore(Protocol):
    """The part of the store the committer uses."""

    def insert_messages(self, batch: Sequence[NewMessage]) -> list[tuple[StoredMessage, bool]]:
        """Store ``batch`` in one transaction; ``(row, is_new)`` per item, in order."""
        ...


@dataclass(frozen=True, slots=True)
class Committed(Generic[Origin]):
    """One queued message after its group commit."""

    origin: Origin  # what ``submit`` was given with the message
    stored: StoredMessage | None  # None: the transaction failed; nothing was stored
    is_new: bool = False  # False: a resend of a message stored earlier (``stored`` is that one)


class GroupCommitter(Generic[Origin]):
    """Batches ``NewMessage`` inserts and hands each batch's outcome to one ``deliver`` call."""

    def __init__(self, store: MessageStore, max_batch: int = 256) -> None:
        self._store = store
        self._max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[tuple[NewMessage, Origin] | None] = queue.SimpleQueue()
        self._deliver: Callable[[list[Committed[Origin]]], None] | None = None
        self._closed = False
        self._close_lock = threading.Lock()
        self.batches = 0  # commits made (for tests and the bench)
        self.messages = 0  # messages they carried
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)

    def start(self, deliver: Callable[[list[Committed[Origin]]], None]) -> None:
        """Start committing; ``deliver`` gets every batch on the commit thread, in order."""
        self._deliver = deliver
        self._thread.start()

    def submit(self, message: NewMessage, origin: Origin) -> bool:
        """Queue one message; False (nothing queued) once the committer is closed."""
        with self._close_lock:
            if self._closed:
                return False
            self._queue.put((message, origin))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[tuple[NewMessage, Origin]]) -> None:
        assert self._deliver is not None  # set by start(), before the thread runs
        try:
            results = self._store.insert_messages([message for message, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError("store returned a result count that does not match the batch")
        except StoreUnavailable as exc:
            log.warning("group commit of %d message(s) failed: %s", len(batch), exc)
            outcome = [Committed(origin, None) for _, origin in batch]
        except Exception:  # a bug or an unexpected database answer: fail, don't die
            log.exception("group commit of %d message(s) failed unexpectedly", len(batch))
            outcome = [Committed(origin, None) for _, origin in batch]
        else:
            self.batches += 1
            self.messages += len(batch)
            outcome = [
                Committed(origin, stored, is_new)
                for (_, origin), (stored, is_new) in zip(batch, results, strict=True)
            ]
        try:
            self._deliver(outcome)
        except Exception:  # the thread must outlive a bug in one delivery
            log.exception("delivering a group commit of %d message(s) failed", len(batch))
