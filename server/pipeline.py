"""The commits one connection has in flight: sends are pipelined, other requests wait for them.

Why: when the reader thread waited for each message's group commit before reading the next,
one client's messages paid one commit (an fsync) each, one after another, and a commit could
carry at most one message per connection. Now the reader queues a send for the group commit
and goes on; ``ChatService.on_committed`` acks and relays it when the transaction is durable
(in queue order, so a connection's acks and relays keep its order) and then marks its future
here done. What is still in flight is kept here so that

- at most ``limit`` sends of one connection wait for the database (then the reader waits, which
  is the connection's back-pressure), and
- a request whose answer must follow the earlier sends' (history, ping, logout, the end of the
  connection) waits for them first: "messages of one connection are handled in order".
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future
from typing import Any


class CommitPipeline:
    """The unfinished commit futures of one connection, oldest first."""

    def __init__(self, limit: int = 32) -> None:
        self._limit = max(1, limit)
        self._futures: deque[Future[Any]] = deque()
        self._lock = threading.Lock()  # the reader adds; the listener may settle on close

    def add(self, future: Future[Any]) -> None:
        with self._lock:
            self._prune()
            self._futures.append(future)

    def wait_for_room(self, timeout: float) -> bool:
        """Wait until fewer than ``limit`` are in flight; False if ``timeout`` ran out first."""
        return self._wait(lambda n: n < self._limit, timeout)

    def settle(self, timeout: float) -> bool:
        """Wait until none is in flight; False if ``timeout`` ran out first (they stay queued)."""
        return self._wait(lambda n: n == 0, timeout)

    def forget(self) -> int:
        """Stop tracking what is in flight (it still completes); how many there were."""
        with self._lock:
            self._prune()
            count = len(self._futures)
            self._futures.clear()
            return count

    def _wait(self, enough: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._prune()
                if enough(len(self._futures)):
                    return True
                oldest = self._futures[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                oldest.exception(timeout=remaining)  # waits; never raises the commit's error
            except TimeoutError:
                return False
            except CancelledError:
                pass  # done all the same

    def _prune(self) -> None:
        while self._futures and self._futures[0].done():
            self._futures.popleft()
