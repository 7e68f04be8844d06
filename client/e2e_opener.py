"""Sealed messages opened on a worker thread, so a history page never freezes the window.

Opening a blob costs an Ed25519 verification, an X25519 agreement and two AES-GCM opens:
a few milliseconds each, which a page of fifty would add up to on the Tk thread. The Tk
thread prepares each job (which keys, from its own state) and starts it here; one worker
runs them in the order given, and the Tk thread collects the results in order, polling every
``POLL_MS`` while the head of its queue is not done. The job itself touches no client state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

from client.traffic import Timers
from common.e2e import Opened

logger = logging.getLogger(__name__)

POLL_MS = 10


class BlobOpener:
    """One worker thread for opening blobs; results are read on the Tk thread."""

    def __init__(self, timers: Timers, on_progress: Callable[[], None]) -> None:
        self._timers, self._on_progress = timers, on_progress
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: dict[Hashable, Future[Opened]] = {}
        self._poll: object | None = None

    def start(self, key: Hashable, job: Callable[[], Opened]) -> None:
        """Queue ``job`` for ``key`` unless it is already queued."""
        if key in self._jobs:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e2e-open")
        self._jobs[key] = self._pool.submit(job)

    def started(self, key: Hashable) -> bool:
        return key in self._jobs

    def take(self, key: Hashable) -> Future[Opened] | None:
        """The finished job of ``key`` (forgotten here), or None while it runs (a poll is
        scheduled that calls ``on_progress`` again)."""
        future = self._jobs.get(key)
        if future is None or not future.done():
            if self._poll is None:
                self._poll = self._timers.after(POLL_MS, self._polled)
            return None
        del self._jobs[key]
        return future

    def _polled(self) -> None:
        self._poll = None
        self._on_progress()

    def close(self) -> None:
        """The account logged out or the window closed: drop what is still queued."""
        if self._poll is not None:
            self._timers.after_cancel(self._poll)
            self._poll = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._jobs.clear()
