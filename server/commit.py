"""Group commit: many senders, one writer thread, one transaction per batch.

A message must be committed before it is acked and relayed (so history equals what was
delivered), but one transaction per message would make every send pay a full commit (an fsync
on the database side). Here each sender queues its ``NewMessage`` and waits on a ``Future``; one
thread takes everything queued (up to ``max_batch``), writes it with a single
``store.insert_messages`` call, and resolves every future. Under load a commit carries many
messages; when idle a batch is one message and nothing waits for a timer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from server.store import NewMessage, StoredMessage, StoreUnavailable

log = logging.getLogger(__name__)

Result = tuple[StoredMessage, bool]


class MessageStore(Protocol):
    """The part of ``server.store.Store`` the committer uses."""

    def insert_messages(self, batch: list[NewMessage]) -> list[Result]:
        """Store ``batch`` in one transaction; ``(row, is_new)`` per item, in order."""


class GroupCommitter:
    """Batches ``NewMessage`` inserts; ``submit`` gives a future of ``(StoredMessage, is_new)``."""

    def __init__(
        self,
        store: MessageStore,
        max_batch: int = 256,
        resolving: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        """``resolving`` wraps the resolution of each batch's futures (whose callbacks ack and
        relay): the server passes ``server.outbox.coalescing`` so a batch is one record per
        recipient."""
        self._store = store
        self._resolving = resolving
        self._max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[tuple[NewMessage, Future[Result]] | None] = (
            queue.SimpleQueue()
        )
        self._closed = False
        self._close_lock = threading.Lock()
        self.batches = 0  # commits made (for tests and the bench)
        self.messages = 0  # messages they carried
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, message: NewMessage) -> Future[Result]:
        """Queue one message; the future fails with ``StoreUnavailable`` if it cannot be stored."""
        future: Future[Result] = Future()
        with self._close_lock:
            if self._closed:
                future.set_exception(StoreUnavailable("server is shutting down"))
                return future
            self._queue.put((message, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
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

    def _commit(self, batch: list[tuple[NewMessage, Future[Result]]]) -> None:
        live = [(m, f) for m, f in batch if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self._store.insert_messages([m for m, _ in live])
            if len(results) != len(live):
                raise RuntimeError("store returned a result count that does not match the batch")
        except StoreUnavailable as exc:
            log.warning("group commit of %d message(s) failed: %s", len(live), exc)
            with self._resolving():
                for _, future in live:
                    future.set_exception(exc)
            return
        except Exception as exc:  # a bug or an unexpected database answer: fail, don't die
            log.exception("group commit of %d message(s) failed unexpectedly", len(live))
            failure = StoreUnavailable(f"store error: {exc.__class__.__name__}")
            with self._resolving():
                for _, future in live:
                    future.set_exception(failure)
            return
        self.batches += 1
        self.messages += len(live)
        with self._resolving():
            for (_, future), result in zip(live, results, strict=True):
                future.set_result(result)
