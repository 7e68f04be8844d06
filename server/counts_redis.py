"""Connection counts that hold for a cluster as a whole: connections per account, per address
and per network, counted in Redis.

With several server processes, a per-process count lets an account (or an address) hold N
times its limit through N processes. Each counted thing (``account:<name>``,
``address:<ip>``, ``network:<net>``) is one Redis hash ``chat:count:<thing>`` whose fields are
the nodes holding such connections and whose values are how many each holds. A claim is one
Lua script (atomic in Redis): the sum of the fields of live nodes, refused at the limit, else
one more for this node.

A node that dies without a word must not keep its counts forever: each node has a liveness
key ``chat:node:<node>`` with a TTL, written by the presence heartbeat of ``RedisHub`` together
with this node's own counts (written whole, so a lost release or a Redis restart is repaired
within one beat). The claim ignores, and deletes, the fields of nodes whose liveness key has
expired, so a dead node's connections stop counting within the presence TTL.

When Redis cannot be reached the node's own count (which is checked first, with the same
limit) decides alone: the limit then holds per node until Redis is back, rather than refusing
everyone. Redis is not asked again for ``RETRY_AFTER`` seconds after a failure, so that the
accept thread does not wait on a dead Redis for each connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

COUNT_PREFIX = "chat:count:"
NODE_PREFIX = "chat:node:"
RETRY_AFTER = 2.0  # seconds without asking Redis after it failed

# KEYS the counted things; ARGV node, ttl, liveness key prefix, then one limit per key.
# 1: each counted once more; 0: one of them is at its limit (nothing counted).
_CLAIM = """
for k = 1, #KEYS do
  local fields = redis.call('HGETALL', KEYS[k])
  local total = 0
  for i = 1, #fields, 2 do
    local node, n = fields[i], tonumber(fields[i + 1])
    if node == ARGV[1] or redis.call('EXISTS', ARGV[3] .. node) == 1 then
      total = total + n
    else
      redis.call('HDEL', KEYS[k], node)
    end
  end
  if total >= tonumber(ARGV[3 + k]) then return 0 end
end
for k = 1, #KEYS do
  redis.call('HINCRBY', KEYS[k], ARGV[1], 1)
  redis.call('EXPIRE', KEYS[k], ARGV[2])
end
return 1
"""

# KEYS the counted things; ARGV node.
_RELEASE = """
for k = 1, #KEYS do
  local n = redis.call('HINCRBY', KEYS[k], ARGV[1], -1)
  if n <= 0 then redis.call('HDEL', KEYS[k], ARGV[1]) end
end
return 1
"""


class ClusterCounts:
    """This node's share of the cluster-wide connection counts; thread-safe.

    ``claim`` and ``release`` are called after the node's own count (``Admission``,
    ``ConnectionCounts``) has said yes, with the same limit.
    """

    def __init__(self, url: str, node: str, ttl: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._claim = self._redis.register_script(_CLAIM)
        self._release = self._redis.register_script(_RELEASE)
        self._node, self._ttl, self._clock = node, max(1, ttl), clock
        self._lock = threading.Lock()  # guards _held and _gone, never held across Redis
        self._held: dict[str, int] = {}  # thing -> connections this node holds
        self._gone: set[str] = set()  # things released to zero while Redis was away
        self._down_until = 0.0
        self.refresh()

    def claim(self, *limits: tuple[str, int]) -> bool:
        """One more connection of each ``(thing, limit)`` on this node, in one round trip;
        False if the cluster holds ``limit`` of any of them already (nothing counted then).

        No lock is held across the round trip (the accept thread and every login would queue
        behind each other): a heartbeat rewriting this node's counts in between may write one
        too few until its next beat."""
        if self._clock() >= self._down_until:
            try:
                counted = self._claim(
                    keys=[COUNT_PREFIX + thing for thing, _ in limits],
                    args=[self._node, self._ttl, NODE_PREFIX, *(limit for _, limit in limits)])
            except (redis.RedisError, OSError) as exc:
                self._failed(exc)
            else:
                if not counted:
                    return False
        with self._lock:
            for thing, _ in limits:
                self._held[thing] = self._held.get(thing, 0) + 1
                self._gone.discard(thing)
        return True

    def release(self, *things: str) -> None:
        """Connections counted by ``claim`` are gone (one of each of ``things``)."""
        emptied = []
        with self._lock:
            for thing in things:
                left = self._held.get(thing, 0) - 1
                if left > 0:
                    self._held[thing] = left
                else:
                    self._held.pop(thing, None)
                    emptied.append(thing)
        if self._clock() >= self._down_until:
            try:
                self._release(keys=[COUNT_PREFIX + t for t in things], args=[self._node])
                return
            except (redis.RedisError, OSError) as exc:
                self._failed(exc)
        with self._lock:
            self._gone.update(emptied)

    def refresh(self) -> None:
        """The heartbeat: this node is alive, and these are its counts (written whole)."""
        with self._lock:
            held, gone = dict(self._held), set(self._gone)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(NODE_PREFIX + self._node, 1, ex=self._ttl)
            for thing, count in held.items():
                pipe.hset(COUNT_PREFIX + thing, self._node, count)
                pipe.expire(COUNT_PREFIX + thing, self._ttl)
            for thing in gone:
                pipe.hdel(COUNT_PREFIX + thing, self._node)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return
        with self._lock:
            self._gone -= gone
        self._down_until = 0.0

    def close(self) -> None:
        """Shutdown: this node's counts and liveness go at once."""
        with self._lock:
            things = list(self._held) + list(self._gone)
            try:
                pipe = self._redis.pipeline(transaction=False)
                for thing in things:
                    pipe.hdel(COUNT_PREFIX + thing, self._node)
                pipe.delete(NODE_PREFIX + self._node)
                pipe.execute()
            except (redis.RedisError, OSError) as exc:
                log.warning("redis: counts of this node left to expire (%s)", exc)
        self._redis.close()

    def _failed(self, exc: Exception) -> None:
        """Redis failed: counts per node for a moment; the heartbeat repairs."""
        log.warning("redis connection counts unavailable (%s); limiting per node", exc)
        self._down_until = self._clock() + RETRY_AFTER
