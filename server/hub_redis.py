"""The hub of a cluster: several server processes over one MariaDB, told by Redis what was
committed.

The database is the truth; Redis pub/sub only says what happened. Each process keeps an
``InProcessHub`` for its own connections and adds three things:

- Deliveries. The committing process delivers to its own connections, then publishes each
  message (id, line, audience) on one channel; every other process delivers it to its own
  connections of the audience. Each process delivers a message id at most once (a bounded
  memory of recent ids), so pub/sub and the catch-up below may both bring it.
- Catch-up. Pub/sub is at-most-once: a subscriber whose connection drops (Redis restarted, a
  network cut) loses what was published meanwhile. When the subscription comes back, and every
  ``catchup_interval`` seconds anyway, the process reads from MariaDB every message above its
  watermark (less a window, because ids are given at insert and commits of other processes
  finish out of order) and delivers those it has not delivered and that the previous pass
  (half a second or one interval earlier) also found undelivered, so that its own commits,
  stored a moment before they are handed to the hub, are never delivered twice.
- Presence. Each logged-in connection is a key ``chat:conn:<user>:<node>:<n>`` whose value is
  the nickname and whose TTL (``presence_ttl``) the heartbeat refreshes. An account is online
  while any such key exists. Joins and leaves are also published so that others learn at once;
  each heartbeat re-reads the keys, so a process that died without a word has its accounts
  leave within the TTL, and a lost join or leave is corrected.
- Account changes. A nickname change and a sign-out (password change, sign out elsewhere, a
  disabled or deleted account) are published too; every process renames the account in its
  rosters and tells its connections, or closes the account's connections it holds.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol

import redis

from common.framing import MAX_FRAME
from server.hub import GCM_TAG, PRESENCE_INTERVAL, Audience, InProcessHub, LineSink, Publication
from server.store import StoredMessage, StoreUnavailable

log = logging.getLogger(__name__)

CHANNEL = "chat:events"
CONN_PREFIX = "chat:conn:"
REMEMBERED_IDS = 100_000  # message ids delivered, kept to deliver each once
CATCHUP_WINDOW = 2_000  # ids below the watermark read again (commits finish out of order)
CATCHUP_PAGE = 1_000
SECOND_LOOK = 0.5  # seconds between the two catch-up passes after a reconnect

Render = Callable[[StoredMessage], tuple[bytes, Audience]]


class MessageSource(Protocol):
    """What the catch-up reads: ``server.store.Store`` is one."""

    def messages_after(self, after_id: int, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` stored messages above ``after_id``, oldest first."""

    def last_message_id(self) -> int:
        """The highest stored message id (0 when there is none)."""


class RedisHub:
    """``Hub`` for one process of a cluster; see the module docstring."""

    def __init__(
        self,
        url: str,
        source: MessageSource,
        render: Render,
        *,
        max_line: int = MAX_FRAME - GCM_TAG,
        presence_interval: float = PRESENCE_INTERVAL,
        presence_ttl: float = 10.0,
        catchup_interval: float = 5.0,
    ) -> None:
        self.node = uuid.uuid4().hex[:12]
        self._redis = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=2, decode_responses=True
        )
        self._source, self._render = source, render
        self._ttl = max(1, int(presence_ttl))
        self._catchup_interval = catchup_interval
        self._remote: dict[str, tuple[str, frozenset[str]]] = {}  # user -> nickname, conn keys
        self._remote_lock = threading.Lock()
        self.local_hub = InProcessHub(max_line, presence_interval, elsewhere=self._remote_online)
        self._keys: dict[LineSink, tuple[str, str]] = {}  # connection -> presence key, nickname
        self._keys_lock = threading.Lock()
        self._serial = itertools.count(1)
        self._delivered: OrderedDict[int, None] = OrderedDict()
        self._delivered_lock = threading.Lock()  # also serialises deliveries of remote ids
        self._watermark: int | None = None  # highest message id delivered or published
        # Ids the last catch-up found stored but not delivered. A row is delivered by the
        # catch-up only when a second pass, a moment later, still finds it undelivered: this
        # node's own commits are in the database a moment before ``on_committed`` publishes
        # (and so remembers) them, and must not be delivered twice.
        self._suspects: set[int] = set()
        self._outgoing: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._caught_up = threading.Event()  # the subscription is live (tests wait on it)
        self._threads = [
            threading.Thread(target=self._listen, name="redis-listen", daemon=True),
            threading.Thread(target=self._send, name="redis-publish", daemon=True),
            threading.Thread(target=self._heartbeat, name="redis-heartbeat", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # --- Hub: roster ----------------------------------------------------------------------

    def attach(self, username: str, nickname: str, outbox: LineSink) -> None:
        key = f"{CONN_PREFIX}{username}:{self.node}:{next(self._serial)}"
        with self._keys_lock:
            self._keys[outbox] = (key, nickname)
        self._try(lambda: self._redis.set(key, nickname, ex=self._ttl))
        self.local_hub.attach(username, nickname, outbox)
        self._outgoing.put({"k": "p", "e": "join", "u": username, "n": nickname, "c": key})

    def detach(self, username: str, outbox: LineSink) -> None:
        with self._keys_lock:
            entry = self._keys.pop(outbox, None)
        if entry is None:
            return
        key = entry[0]
        self._try(lambda: self._redis.delete(key))
        self.local_hub.detach(username, outbox)
        self._outgoing.put({"k": "p", "e": "leave", "u": username, "n": "", "c": key})

    def _remote_online(self) -> dict[str, str]:
        with self._remote_lock:
            return {user: nickname for user, (nickname, _) in self._remote.items()}

    # --- Hub: fan-out ---------------------------------------------------------------------

    def everyone(self) -> tuple[LineSink, ...]:
        return self.local_hub.everyone()

    def connections_of(
        self, usernames: Iterable[str], exclude: LineSink | None = None
    ) -> list[LineSink]:
        return self.local_hub.connections_of(usernames, exclude)

    def local(self, audience: Audience, exclude: LineSink | None = None) -> Sequence[LineSink]:
        return self.local_hub.local(audience, exclude)

    def publish(self, items: Sequence[Publication]) -> None:
        """Remember the ids as delivered here, and queue them for the publisher thread (the
        commit thread never waits for Redis)."""
        with self._delivered_lock:
            for item in items:
                self._remember(item.msg_id)
        for item in items:
            audience = None if item.audience is None else sorted(item.audience)
            self._outgoing.put(
                {"k": "m", "id": item.msg_id, "l": item.line.decode(), "a": audience}
            )

    # --- Hub: account changes ----------------------------------------------------------------

    def rename(self, username: str, nickname: str, line: bytes) -> None:
        """Rename here (the presence keys of this node's windows carry the nickname), then
        tell the other processes, which rename in their view of this node and deliver."""
        prefix = f"{CONN_PREFIX}{username}:"  # a username never holds ':'
        with self._keys_lock:
            mine = [(sink, key) for sink, (key, _) in self._keys.items() if key.startswith(prefix)]
            for sink, key in mine:
                self._keys[sink] = (key, nickname)
        for _, key in mine:
            self._try(lambda key=key: self._redis.set(key, nickname, ex=self._ttl))  # type: ignore[misc]
        self.local_hub.rename(username, nickname, line)
        self._outgoing.put({"k": "n", "u": username, "n": nickname, "l": line.decode()})

    def sign_out(
        self, username: str, line: bytes, keep: LineSink | None = None, *, everywhere: bool = True
    ) -> None:
        self.local_hub.sign_out(username, line, keep)
        if everywhere:
            self._outgoing.put({"k": "s", "u": username, "l": line.decode()})

    def close(self) -> None:
        self._stop.set()
        self._outgoing.put(None)
        for thread in self._threads:
            thread.join(timeout=6)
        with self._keys_lock:
            keys = [key for key, _ in self._keys.values()]
        if keys:
            self._try(lambda: self._redis.delete(*keys))
        self.local_hub.close()
        self._redis.close()

    def wait_subscribed(self, timeout: float) -> bool:
        """Is the subscription live (within ``timeout`` seconds)? For start-up and tests."""
        return self._caught_up.wait(timeout)

    # --- delivery of what others committed --------------------------------------------------

    def _remember(self, msg_id: int) -> bool:
        """Note ``msg_id`` as delivered (``_delivered_lock`` held); False if it already was."""
        if msg_id in self._delivered:
            return False
        self._delivered[msg_id] = None
        if len(self._delivered) > REMEMBERED_IDS:
            self._delivered.popitem(last=False)
        if self._watermark is None or msg_id > self._watermark:
            self._watermark = msg_id
        return True

    def _deliver(self, msg_id: int, line: bytes, audience: Audience) -> None:
        with self._delivered_lock:
            if not self._remember(msg_id):
                return
            for sink in self.local_hub.local(audience):
                sink.put(line)

    def _catch_up(self) -> None:
        """Deliver every stored message this process may have missed (each id once)."""
        with self._delivered_lock:
            watermark = self._watermark
        try:
            if watermark is None:  # first time: everything older was before our time
                watermark = self._source.last_message_id()
                with self._delivered_lock:
                    if self._watermark is None or watermark > self._watermark:
                        self._watermark = watermark
                return
            after = max(0, watermark - CATCHUP_WINDOW)
            suspects, self._suspects = self._suspects, set()
            while not self._stop.is_set():
                rows = self._source.messages_after(after, CATCHUP_PAGE)
                for row in rows:
                    with self._delivered_lock:
                        delivered = row.msg_id in self._delivered
                    if delivered:
                        continue
                    if row.msg_id not in suspects:  # maybe this node's, not yet handed over
                        self._suspects.add(row.msg_id)
                        continue
                    line, audience = self._render(row)
                    self._deliver(row.msg_id, line, audience)
                if len(rows) < CATCHUP_PAGE:
                    return
                after = rows[-1].msg_id
        except StoreUnavailable:
            log.warning("catch-up: the database is unavailable; trying again later")

    def _on_event(self, data: str) -> None:
        event = json.loads(data)
        if event.get("node") == self.node:
            return
        if event["k"] == "m":
            audience = None if event["a"] is None else frozenset(event["a"])
            self._deliver(int(event["id"]), event["l"].encode(), audience)
        elif event["k"] == "p":
            self._presence(event["e"], event["u"], event["n"], event["c"])
        elif event["k"] == "n":  # a nickname changed on another node
            with self._remote_lock:
                entry = self._remote.get(event["u"])
                if entry is not None:
                    self._remote[event["u"]] = (event["n"], entry[1])
            self.local_hub.rename(event["u"], event["n"], event["l"].encode())
        elif event["k"] == "s":  # an account signed out on another node
            self.local_hub.sign_out(event["u"], event["l"].encode())

    # --- presence of the other processes ----------------------------------------------------

    def _presence(self, event: Literal["join", "leave"], user: str, nick: str, key: str) -> None:
        with self._remote_lock:
            before = self._remote.get(user)
            keys = before[1] if before else frozenset()
            keys = keys | {key} if event == "join" else keys - {key}
            if keys:
                self._remote[user] = (before[0] if before else nick, keys)
            else:
                self._remote.pop(user, None)
        if event == "join" and before is None:
            self.local_hub.remote_change("join", user, nick)
        elif event == "leave" and before is not None and not keys:
            self.local_hub.remote_change("leave", user, before[0])

    def _reconcile(self) -> None:
        """Re-read every presence key: who is online elsewhere is what Redis says now."""
        found: dict[str, tuple[str, frozenset[str]]] = {}
        names = [str(n) for n in self._redis.scan_iter(match=f"{CONN_PREFIX}*", count=1_000)]
        values: list[Any] = list(self._redis.mget(names)) if names else []
        for name, value in zip(names, values, strict=True):
            nickname = None if value is None else str(value)
            user, node = name[len(CONN_PREFIX) :].split(":")[:2]
            if node == self.node or nickname is None:
                continue
            nick, keys = found.get(user, (nickname, frozenset()))
            found[user] = (nick, keys | {name})
        with self._remote_lock:
            before, self._remote = self._remote, found
        for user in found.keys() - before.keys():
            self.local_hub.remote_change("join", user, found[user][0])
        for user in before.keys() - found.keys():
            self.local_hub.remote_change("leave", user, before[user][0])

    # --- threads ----------------------------------------------------------------------------

    def _listen(self) -> None:
        """Subscribe; when the connection drops, subscribe again and catch up from MariaDB."""
        delay = 0.1
        while not self._stop.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(CHANNEL)
                self._catch_up()  # what was published while we were not listening
                self._stop.wait(SECOND_LOOK)
                self._catch_up()  # ... delivered now that it was missing twice
                self._reconcile()
                self._caught_up.set()
                delay = 0.1
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._on_event(message["data"])
            except (redis.RedisError, OSError) as exc:
                self._caught_up.clear()
                log.warning("redis subscription lost (%s); reconnecting", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 2.0)
            finally:
                try:
                    pubsub.close()
                except (redis.RedisError, OSError):
                    pass

    def _send(self) -> None:
        """Publish queued events in order, many per round trip; a failure loses them from the
        bus only (the others catch up from MariaDB when their subscription comes back)."""
        while True:
            first = self._outgoing.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 500:
                try:
                    more = self._outgoing.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._outgoing.put(None)
                    break
                batch.append(more)
            try:
                pipe = self._redis.pipeline(transaction=False)
                for event in batch:
                    event["node"] = self.node
                    pipe.publish(CHANNEL, json.dumps(event, separators=(",", ":")))
                pipe.execute()
            except (redis.RedisError, OSError) as exc:
                log.warning("redis: %d event(s) not published (%s)", len(batch), exc)

    def _heartbeat(self) -> None:
        """Keep this process's presence keys alive, re-read the others', and catch up."""
        interval = max(0.2, self._ttl / 3)
        since_catchup = 0.0
        while not self._stop.wait(interval):
            with self._keys_lock:
                mine = list(self._keys.items())
            try:
                pipe = self._redis.pipeline(transaction=False)
                for _, (key, _) in mine:
                    pipe.expire(key, self._ttl)
                results = pipe.execute() if mine else []
                for (_, (key, nickname)), alive in zip(mine, results, strict=True):
                    if not alive:  # Redis lost it (restarted): write it again
                        self._redis.set(key, nickname, ex=self._ttl)
                self._reconcile()
            except (redis.RedisError, OSError) as exc:
                log.warning("redis heartbeat failed: %s", exc)
            since_catchup += interval
            if since_catchup >= self._catchup_interval:
                since_catchup = 0.0
                self._catch_up()

    def _try(self, call: Callable[[], object]) -> None:
        try:
            call()
        except (redis.RedisError, OSError) as exc:
            log.warning("redis: %s (the heartbeat will repair it)", exc)
