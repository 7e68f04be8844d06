"""Token buckets (handshakes and failed logins per address and network, messages per user),
the handshake gate and the memory budget of the outboxes.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; an action that finds
no token is refused. The burst is what keeps an office behind one NAT address from ever being
locked out by ordinary use, while the rate bounds what a script can do for long.

``KeyedBuckets`` keeps one bucket per key in a bounded LRU map: an address that has been quiet
for a while has a full bucket, which is the same as having none, so evicting the least recently
used keys costs nothing in correctness and bounds memory against a flood of fresh addresses.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

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
        if rate < 0 or burst < 1:  # refused at start, not by the first request's thread
            raise ValueError("a bucket needs rate >= 0 and burst >= 1")
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

def count_down(counts: dict[str, int], key: str) -> None:
    """One fewer of ``key`` in ``counts``; a key that reaches zero is dropped (takes no memory)."""
    left = counts.get(key, 1) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


def network_key(address: str) -> str:
    """The network an address aggregates into: its /24 (IPv4) or /64 (IPv6).

    One machine, or one small hosting customer, usually holds a whole /24 or /64, so limits
    per address alone let it multiply its share by the number of addresses it binds. An
    IPv4-mapped IPv6 address counts as the IPv4 address it carries; anything unparsable is its
    own key (it cannot be grouped, but is still limited as an address).
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class HandshakeGate:
    """At most ``workers`` RSA handshakes at once, at most ``queue`` waiting for a turn.

    A private-key operation costs milliseconds of CPU that nothing can take back, and garbage
    hellos cost as much as real ones. Bounding how many run at once keeps cores for the chat
    itself; bounding the queue makes a flood cheap to refuse: a hello that finds the queue full
    is refused at once instead of waiting (and holding its connection) for a turn.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self._workers = max(1, workers)
        self._queue = max(0, queue)
        self._cond = threading.Condition()
        self._running = 0
        self._waiting = 0
        self.peak = 0  # most handshakes ever running at once

    @property
    def waiting(self) -> int:
        """Hellos waiting for a turn now."""
        with self._cond:
            return self._waiting

    def enter(self, timeout: float) -> bool:
        """Wait for a turn (at most ``timeout`` s); False = refused (queue full or timed out)."""
        with self._cond:
            if self._running >= self._workers:
                if self._waiting >= self._queue:
                    return False
                self._waiting += 1
                try:
                    if not self._cond.wait_for(
                        lambda: self._running < self._workers, max(0.0, timeout)
                    ):
                        return False
                finally:
                    self._waiting -= 1
            self._running += 1
            self.peak = max(self.peak, self._running)
            return True

    def leave(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify()


class MemoryBudget:
    """Bytes queued for clients, all connections together, against one ceiling.

    Each connection's own bound stops one slow reader; this one stops many connections each
    just under their bound from adding up to gigabytes. It remembers who holds what, so the
    biggest holder can be the one cut. Thread-safe; it never calls out while locked.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._used = 0
        self._holders: dict[object, int] = {}
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        with self._lock:
            return self._used

    def take(self, size: int, holder: object) -> bool:
        """Reserve ``size`` bytes for ``holder``; False (nothing taken) past the ceiling."""
        with self._lock:
            if self._used + size > self.limit and self._used > 0:
                return False  # one reply alone is always taken, as in each outbox
            self._used += size
            self._holders[holder] = self._holders.get(holder, 0) + size
            return True

    def give_back(self, size: int, holder: object) -> None:
        with self._lock:
            held = self._holders.get(holder, 0)
            size = min(size, held)
            self._used -= size
            if held - size > 0:
                self._holders[holder] = held - size
            else:
                self._holders.pop(holder, None)

    def biggest(self) -> object | None:
        """Who holds the most (O(holders): only called when the budget is full)."""
        with self._lock:
            return max(self._holders, key=self._holders.__getitem__, default=None)


class SharedCounts(Protocol):
    """Counts kept for a whole cluster (``server.counts_redis.ClusterCounts``): asked after
    this process's own count said yes, with the same limit."""

    def claim(self, *limits: tuple[str, int]) -> bool:
        """One more of each ``(thing, limit)``; False if any is at its limit in the cluster
        (nothing counted then)."""

    def release(self, *things: str) -> None:
        """One of each of ``things`` counted by ``claim`` is gone."""


class ConnectionCounts:
    """Open connections by address, by network, and how many have not logged in yet.

    ``admit`` decides and counts in one step under one lock, so two accepts can never both take
    the last place. Connections not yet logged in are capped apart (``max_pending``, at most
    ``max_total - login_room``): a flood of silent sockets then never takes the last places,
    and a real user can still connect and log in while it lasts.
    """

    def __init__(
        self, max_total: int, max_pending: int, per_address: int, per_network: int,
        shared: SharedCounts | None = None,
    ) -> None:
        self._shared = shared  # a cluster: per address and per network hold for all nodes
        self.max_total = max(1, max_total)
        login_room = max(1, self.max_total // 10)
        self.max_pending = max(1, min(max_pending, self.max_total - login_room))
        self._per_address_limit, self._per_network_limit = per_address, per_network
        self._lock = threading.Lock()
        self._total = 0
        self._pending = 0
        self._by_address: dict[str, int] = {}
        self._by_network: dict[str, int] = {}

    def admit(self, address: str) -> str:
        """Count a new (pending) connection; or the reason to refuse it (nothing counted)."""
        network = network_key(address)
        with self._lock:
            if self._total >= self.max_total:
                return "server full"
            if self._pending >= self.max_pending:
                return "too many connections not logged in"
            if self._by_address.get(address, 0) >= self._per_address_limit:
                return "too many connections from this address"
            if self._by_network.get(network, 0) >= self._per_network_limit:
                return f"too many connections from {network}"
            self._total += 1
            self._pending += 1
            self._by_address[address] = self._by_address.get(address, 0) + 1
            self._by_network[network] = self._by_network.get(network, 0) + 1
        # the cluster's count: a Redis round trip, made outside the lock (releases and logins
        # of other connections never wait for it)
        if self._shared is None or self._shared.claim(
                (f"address:{address}", self._per_address_limit),
                (f"network:{network}", self._per_network_limit)):
            return ""
        self._uncount(address, network, pending=True)
        return f"too many connections from this address or {network} (cluster)"

    def logged_in(self) -> None:
        """A pending connection logged in: it no longer counts against ``max_pending``."""
        with self._lock:
            self._pending -= 1

    def release(self, address: str, pending: bool) -> None:
        """A counted connection is gone."""
        network = network_key(address)
        self._uncount(address, network, pending)
        if self._shared is not None:
            self._shared.release(f"address:{address}", f"network:{network}")

    def _uncount(self, address: str, network: str, pending: bool) -> None:
        with self._lock:
            self._total -= 1
            if pending:
                self._pending -= 1
            count_down(self._by_address, address)
            count_down(self._by_network, network)


def raise_descriptor_limit() -> int:
    """Raise this process's soft limit on open descriptors to its hard limit; the new soft
    limit (or a large number where the platform has no such limit).

    Each connection holds one descriptor; the usual soft limit of 1,024 let a thousand silent
    sockets make ``accept`` (and the database pool, and log rotation) fail with EMFILE.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not Unix
        return 1 << 20
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)


class RequestLimiter:
    """Cheap requests (pings, refused sends) per connection: refuse past a bucket, then cut.

    Each request a client packs into a record costs the server a decode, a reply and a seal;
    180,000 pings in 1.3 MB kept a core busy for ten seconds. ``check`` answers ``"ok"``, then
    ``"refuse"`` (answer ``rate_limited``) once the connection's bucket is empty, and ``"cut"``
    once it has been refused ``burst`` times in a row without a token coming back. Thread-safe.
    """

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._lock = threading.Lock()
        self._buckets: dict[object, TokenBucket] = {}
        self._strikes: dict[object, int] = {}

    def check(self, key: object) -> str:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, self._clock)
            if bucket.take():
                self._strikes.pop(key, None)
                return "ok"
            strikes = self._strikes[key] = self._strikes.get(key, 0) + 1
            return "cut" if strikes >= self._burst else "refuse"

    def forget(self, key: object) -> None:
        """The connection is gone."""
        with self._lock:
            self._buckets.pop(key, None)
            self._strikes.pop(key, None)
