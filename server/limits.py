"""Token buckets: handshakes and failed logins per address, messages per user.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; an action that finds
no token is refused. The burst is what keeps an office behind one NAT address from ever being
locked out by ordinary use, while the rate bounds what a script can do for long.

``KeyedBuckets`` keeps one bucket per key in a bounded LRU map: an address that has been quiet
for a while has a full bucket, which is the same as having none, so evicting the least recently
used keys costs nothing in correctness and bounds memory against a flood of fresh addresses.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """One bucket. Not thread-safe on its own; ``KeyedBuckets`` locks around it."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("a bucket needs rate >= 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        return self._tokens

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        return self._refill()

    @property
    def full(self) -> bool:
        """True when the bucket has refilled completely (indistinguishable from a new one)."""
        return self._refill() >= self.burst

    def allows(self, cost: float = 1.0) -> bool:
        """Would ``take(cost)`` succeed? Takes nothing."""
        return self._refill() >= cost

    def take(self, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if they are there; False (and nothing taken) if not."""
        if self._refill() >= cost:
            self._tokens -= cost
            return True
        return False

    def charge(self, cost: float = 1.0) -> None:
        """Take ``cost`` tokens even if that empties the bucket (never below zero)."""
        self._tokens = max(0.0, self._refill() - cost)


class KeyedBuckets:
    """A bucket per key (address or username), bounded in number, safe across threads."""

    def __init__(
        self, rate: float, burst: float, max_keys: int = 100_000, clock: Clock = time.monotonic
    ) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._max_keys = max(1, max_keys)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, self._clock)
            self._buckets[key] = bucket
            self._evict()
        else:
            self._buckets.move_to_end(key)
        return bucket

    def _evict(self) -> None:
        """Drop the least recently used keys down to the bound.

        The oldest key has had the longest time to refill, so it is the one whose loss matters
        least; scanning for full buckets instead would cost O(keys) per new key under a flood.
        """
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    def take(self, key: str, cost: float = 1.0) -> bool:
        """Take from ``key``'s bucket; False means the action must be refused."""
        with self._lock:
            return self._bucket(key).take(cost)

    def allows(self, key: str, cost: float = 1.0) -> bool:
        """Would ``take`` succeed for ``key``? Takes nothing (and creates no bucket)."""
        with self._lock:
            bucket = self._buckets.get(key)
            return bucket is None or bucket.allows(cost)

    def charge(self, key: str, cost: float = 1.0) -> None:
        """Count an action that already happened (a failed login), even past empty."""
        with self._lock:
            self._bucket(key).charge(cost)

    def refund(self, key: str, cost: float = 1.0) -> None:
        """Give back what ``take`` took for an action that turned out not to count (never
        above the burst); a key without a bucket already has a full one."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.charge(-min(cost, bucket.burst - bucket.tokens))
