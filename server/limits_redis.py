"""Rate limits that hold for a cluster as a whole: token buckets kept in Redis.

With several server processes, a per-process bucket would let an account send N times its
rate through N processes. ``ClusterBuckets`` keeps each bucket (tokens, last refill time) in a
Redis hash and takes from it with one Lua script (run atomically by Redis, registered through
redis-py's ``register_script``), so every process takes from the same bucket. Time is Redis's
own clock (``TIME``), so the processes' clocks need not agree.

If Redis cannot be reached the bucket of this process (``KeyedBuckets``) decides: the limit
then holds per process until Redis is back, rather than refusing everyone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import redis

from server.limits import KeyedBuckets

log = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV rate, burst, cost. Returns 1 when the tokens were taken.
_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, t end
tokens = math.min(burst, tokens + math.max(0, t - at) * rate)
local ok = 0
if tokens >= cost then tokens = tokens - cost; ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / math.max(rate, 0.001)) + 1)
return ok
"""


class Buckets(Protocol):
    """Token buckets by key: ``KeyedBuckets`` (one process) or ``ClusterBuckets``."""

    def take(self, key: str, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens from ``key``'s bucket; False: refuse."""


class ClusterBuckets:
    """One token bucket per key, shared by every process through Redis; thread-safe."""

    def __init__(
        self, url: str, name: str, rate: float, burst: int, fallback: KeyedBuckets
    ) -> None:
        # a bounded pool: a login storm's threads wait for a connection (at most a second)
        # instead of opening one each (Redis refuses past its client limit)
        self._redis = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
            url, max_connections=16, timeout=1, socket_timeout=1, socket_connect_timeout=1))
        self._script = self._redis.register_script(_TAKE)
        self._prefix = f"chat:bucket:{name}:"
        self._rate, self._burst = rate, burst
        self._fallback = fallback

    def take(self, key: str, cost: float = 1.0) -> bool:
        try:
            taken = self._script(keys=[self._prefix + key], args=[self._rate, self._burst, cost])
        except (redis.RedisError, OSError) as exc:
            log.warning("redis bucket %s unavailable (%s); limiting per process", self._prefix,
                        exc)
            return self._fallback.take(key, cost)
        return bool(taken)


def buckets(
    redis_url: str, name: str, rate: float, burst: int, keys: int,
    clock: Callable[[], float] = time.monotonic,
) -> Buckets:
    """The buckets of one limit: cluster-wide when ``redis_url`` is set, else this process's."""
    local = KeyedBuckets(rate, burst, keys, clock)
    if not redis_url:
        return local
    return ClusterBuckets(redis_url, name, rate, burst, local)
