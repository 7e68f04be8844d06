"""Reconnect back-off: exponential growth with jitter, bounded between 0.5 s and 30 s.

Exponential so a server that is down is not hammered; jittered so a hundred clients dropped by
the same restart do not all come back in the same millisecond (a reconnect storm); capped so a
person waiting never waits more than half a minute after the server is back.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BASE_DELAY = 0.5
MAX_DELAY = 30.0


class Backoff:
    """Delay n (n = 0, 1, 2, ...) is uniform in ``[c/2, c]`` with ``c = min(cap, base*2**(n+1))``.

    So the first retry comes after 0.5-1 s, then 1-2 s, 2-4 s, ... and never more than ``cap``;
    every delay is at least ``base``. ``reset()`` after a successful login starts over.
    """

    def __init__(
        self,
        base: float = BASE_DELAY,
        cap: float = MAX_DELAY,
        uniform: Callable[[float, float], float] | None = None,
    ) -> None:
        if not 0 < base <= cap:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self.uniform = uniform or random.SystemRandom().uniform

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt ``attempt`` can get."""
        return float(min(self.cap, self.base * 2.0 ** min(attempt + 1, 64)))

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one attempt."""
        ceiling = self.ceiling(self.attempt)
        self.attempt += 1
        delay = float(self.uniform(ceiling / 2, ceiling))
        return min(self.cap, max(self.base, delay))

    def reset(self) -> None:
        """Start again from the shortest delay (the connection worked)."""
        self.attempt = 0


class ReconnectTimer:
    """Waits out one back-off delay, updating the status line once a second until it fires.

    Scheduling goes through the view's ``after`` (Tk's timer in the app, a fake in tests), so
    no thread sleeps and a logout simply cancels the pending call.
    """

    def __init__(
        self,
        backoff: Backoff,
        after: Callable[[int, Callable[[], None]], object],
        cancel: Callable[[object], None],
        monotonic: Callable[[], float],
        on_tick: Callable[[float, str], None],
        on_fire: Callable[[], None],
    ) -> None:
        self.backoff = backoff
        self._after, self._cancel, self._monotonic = after, cancel, monotonic
        self._on_tick, self._on_fire = on_tick, on_fire
        self._timer: object | None = None
        self._due = 0.0
        self._reason = ""

    @property
    def pending(self) -> bool:
        return self._timer is not None

    def schedule(self, reason: str, cap: float | None = None) -> float:
        """Start waiting for the next delay (at most ``cap`` when given); returns it in seconds."""
        self.cancel()
        delay = self.backoff.next_delay()
        if cap is not None:
            delay = min(delay, cap)
        self._due, self._reason = self._monotonic() + delay, reason
        self._tick()
        return delay

    def shorten(self, cap: float) -> None:
        """A wait under way ends at most ``cap`` seconds from now (the person became active)."""
        if self._timer is None or self._due - self._monotonic() <= cap:
            return
        self.cancel()
        self._due = self._monotonic() + cap
        self._tick()

    def cancel(self) -> None:
        if self._timer is not None:
            self._cancel(self._timer)
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        left = self._due - self._monotonic()
        if left <= 0:
            self._on_fire()
            return
        self._on_tick(left, self._reason)
        step = left - int(left) if left > 1 else left  # land on whole seconds for the display
        self._timer = self._after(max(1, int(step * 1000) or 1000), self._tick)
