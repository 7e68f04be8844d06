"""The hub of a cluster: several server processes over one MariaDB, told by Redis what was
committed.

The database is the truth; Redis pub/sub only says what happened. Each process keeps an
``InProcessHub`` for its own connections and adds four things:

- Deliveries. The committing process delivers to its own connections, then publishes the
  group commit (ids, lines, audiences) as ONE event; every other process drains what arrived
  and gives each connection of the audiences ONE item for all of it. Each id is delivered at
  most once (a bounded memory of recent ids): pub/sub and the catch-up may both bring it.
- Catch-up. Pub/sub is at-most-once. When the subscription comes back, and every
  ``catchup_interval`` seconds, the process reads from MariaDB every message above its
  watermark less a window (ids are given at insert; commits finish out of order), never below
  what was stored before it first subscribed, and delivers those that two passes in a row
  found undelivered (its own commits are stored a moment before they reach the hub).
- Presence (``server.presence_redis``): a key with a TTL per logged-in connection, refreshed
  by the heartbeat, and joins and leaves on the bus. The same heartbeat keeps this process's
  cluster-wide connection counts alive (``server.counts_redis``).
- Rooms. Room lines reach only connections that opted in (``RoomCache.opted_in``); room lines
  that are not stored (``relay``) and room changes (``room_changed``: reload the cached room)
  go on the same channel, in order with the messages.
- Account changes: a nickname change, a sign-out and a line for everyone (a new key set) are
  published too; every process applies them to the connections it holds.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis

from common.framing import MAX_FRAME
from server.counts_redis import ClusterCounts
from server.hub import (
    GCM_TAG,
    PRESENCE_INTERVAL,
    Audience,
    InProcessHub,
    LineSink,
    Publication,
    RoomCache,
)
from server.ports_hub import MessageSource, NoRooms, Render
from server.presence_redis import CONN_PREFIX, RemotePresence
from server.store import StoreUnavailable

log = logging.getLogger(__name__)

CHANNEL = "chat:events"
REMEMBERED_IDS = 100_000  # message ids delivered, kept to deliver each once
CATCHUP_WINDOW = 2_000  # ids below the watermark read again (commits finish out of order)
CATCHUP_PAGE = 1_000
SECOND_LOOK = 0.5  # seconds between the two catch-up passes after a reconnect
DRAIN = 200  # events read before delivering them together

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
        self._redis = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
            url, max_connections=8, timeout=5, socket_timeout=5, socket_connect_timeout=2,
            decode_responses=True))
        self._source, self._render = source, render
        self._ttl = max(1, int(presence_ttl))
        self._catchup_interval = catchup_interval
        self._elsewhere = RemotePresence(self.node)
        self.local_hub = InProcessHub(max_line, presence_interval, elsewhere=self._elsewhere.online)
        self._elsewhere.bind(self.local_hub)
        self._keys: dict[LineSink, tuple[str, str]] = {}  # connection -> presence key, nickname
        self._keys_lock = threading.Lock()
        self._serial = itertools.count(1)
        self._delivered: OrderedDict[int, None] = OrderedDict()
        self._delivered_lock = threading.Lock()
        self._watermark: int | None = None  # highest message id delivered or published
        self._floor = 0  # the highest id stored before this process subscribed
        # Ids the last catch-up found stored but not delivered. A row is delivered by the
        # catch-up only when a second pass, a moment later, still finds it undelivered: this
        # node's own commits are in the database a moment before ``on_committed`` publishes
        # (and so remembers) them, and must not be delivered twice.
        self._suspects: set[int] = set()
        self._outgoing: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        # connections per account, address and network, counted for the whole cluster
        self.counts = ClusterCounts(url, self.node, self._ttl)
        self._rooms: RoomCache = NoRooms()  # until the service binds its rooms
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
        self.local_hub.attach(username, nickname, outbox)  # the key: by the publisher thread
        self._outgoing.put({"k": "p", "e": "join", "u": username, "n": nickname, "c": key})

    def detach(self, username: str, outbox: LineSink) -> None:
        with self._keys_lock:
            entry = self._keys.pop(outbox, None)
        if entry is None:
            return
        key = entry[0]
        self.local_hub.detach(username, outbox)
        self._outgoing.put({"k": "p", "e": "leave", "u": username, "n": "", "c": key})

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
        """Remember the ids as delivered here, and queue them for the publisher thread as ONE
        event (the commit thread never waits for Redis; the others deliver a group commit in
        one pass, one item per connection)."""
        with self._delivered_lock:
            for item in items:
                self._remember(item.msg_id)
        if items:
            self._outgoing.put({"k": "m", "m": [
                [item.msg_id, item.line.decode(),
                 None if item.audience is None else sorted(item.audience), int(item.room)]
                for item in items
            ]})

    def bind_rooms(self, rooms: RoomCache) -> None:
        self._rooms = rooms

    def relay(self, audience: frozenset[str], lines: tuple[bytes, ...]) -> None:
        self._outgoing.put({"k": "l", "a": sorted(audience), "l": [x.decode() for x in lines]})

    def room_changed(self, room_id: int, name: str) -> None:
        self._outgoing.put({"k": "r", "id": room_id, "n": name})

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

    def announce(self, line: bytes) -> None:
        self.local_hub.announce(line)
        self._outgoing.put({"k": "a", "l": line.decode()})

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
        try:
            if keys:
                self._redis.delete(*keys)
        except (redis.RedisError, OSError) as exc:
            log.warning("redis: presence keys left to expire (%s)", exc)
        self.local_hub.close()
        self.counts.close()
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

    def _deliver(self, messages: Iterable[tuple[int, bytes, Audience, bool]]) -> None:
        """Give each message not yet delivered here to this process's connections of its
        audience (room lines only to those that opted in). The lines are gathered per
        connection and each gets them as ONE item, in order: one record and one wake-up per
        connection for a whole group commit, as ``ChatService.on_committed`` does locally."""
        with self._delivered_lock:  # held only to pick the new ids: commits remember theirs
            fresh = [m for m in messages if self._remember(m[0])]
        lines: defaultdict[LineSink, list[bytes]] = defaultdict(list)
        for _, line, audience, room in fresh:
            targets = self.local_hub.local(audience)
            if room:
                targets = self._rooms.opted_in(targets)
            for sink in targets:
                lines[sink].append(line)
        for sink, queued in lines.items():
            sink.put_lines(tuple(queued))

    def _catch_up(self) -> None:
        """Deliver every stored message this process may have missed (each id once)."""
        with self._delivered_lock:
            watermark = self._watermark
        try:
            if watermark is None:  # first time: everything older was before our time
                watermark = self._source.last_message_id()
                with self._delivered_lock:
                    self._floor = watermark  # ... and is never delivered, even in the window
                    if self._watermark is None or watermark > self._watermark:
                        self._watermark = watermark
                return
            after = max(self._floor, watermark - CATCHUP_WINDOW)
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
                    if line:
                        room = audience is not None and row.recipient is None
                        self._deliver([(row.msg_id, line, audience, room)])
                if len(rows) < CATCHUP_PAGE:
                    return
                after = rows[-1].msg_id
        except StoreUnavailable:
            log.warning("catch-up: the database is unavailable; trying again later")

    def _on_events(self, events: Iterable[str]) -> None:
        """Handle what other processes published, in order; the messages of consecutive
        events are delivered together."""
        messages: list[tuple[int, bytes, Audience, bool]] = []
        for data in events:
            event = json.loads(data)
            if event.get("node") == self.node:
                continue
            if event["k"] == "m":
                messages.extend(
                    (int(msg_id), line.encode(), None if aud is None else frozenset(aud),
                     bool(room))
                    for msg_id, line, aud, room in event["m"]
                )
                continue
            if messages:  # what came before this event goes out before it
                self._deliver(messages)
                messages = []
            if event["k"] == "p":
                self._elsewhere.event(event["e"], event["u"], event["n"], event["c"])
            elif event["k"] == "r":
                self._room_changed(int(event["id"]), str(event["n"]))
            elif event["k"] == "n":  # a nickname changed on another node
                self._elsewhere.rename(event["u"], event["n"])
                self.local_hub.rename(event["u"], event["n"], event["l"].encode())
            elif event["k"] == "a":  # a line for everyone, from another node
                self.local_hub.announce(event["l"].encode())
            elif event["k"] == "s":  # an account signed out on another node
                self.local_hub.sign_out(event["u"], event["l"].encode())
            elif event["k"] == "l":
                lines = tuple(str(line).encode() for line in event["l"])
                for sink in self._rooms.opted_in(self.local_hub.connections_of(event["a"])):
                    sink.put_lines(lines)
        if messages:
            self._deliver(messages)

    def _room_changed(self, room_id: int, name: str) -> None:
        try:
            self._rooms.invalidate(room_id, name)
        except StoreUnavailable:
            log.warning("room %d changed elsewhere; reloaded when the database is back", room_id)

    # --- threads ----------------------------------------------------------------------------

    def _listen(self) -> None:
        """Subscribe; when the connection drops, subscribe again and catch up from MariaDB."""
        delay = 0.1
        while not self._stop.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(CHANNEL)
                self._rooms.forget_all()  # room changes published meanwhile were missed
                self._catch_up()  # what was published while we were not listening
                self._stop.wait(SECOND_LOOK)
                self._catch_up()  # ... delivered now that it was missing twice
                self._elsewhere.reconcile(self._redis)
                self._caught_up.set()
                delay = 0.1
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    events: list[str] = []
                    while message is not None and len(events) < DRAIN:
                        if message["type"] == "message":
                            events.append(message["data"])
                        message = pubsub.get_message(timeout=0.0)
                    if message is not None and message["type"] == "message":
                        events.append(message["data"])
                    self._on_events(events)
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
        """Publish queued events in order, many per round trip, with the presence keys of
        joins and leaves (so a login storm costs no Redis round trip per login, and no Redis
        connection per login thread); a failure loses them from the bus only (the others catch
        up from MariaDB when their subscription comes back; the heartbeat rewrites the keys)."""
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
                    if event["k"] == "p":  # the presence key first, as a login would
                        if event["e"] == "join":
                            pipe.set(event["c"], event["n"], ex=self._ttl)
                        else:
                            pipe.delete(event["c"])
                    pipe.publish(CHANNEL, json.dumps(event, separators=(",", ":")))
                pipe.execute()
            except (redis.RedisError, OSError) as exc:
                log.warning("redis: %d event(s) not published (%s)", len(batch), exc)

    def _try(self, call: Callable[[], object]) -> None:
        try:
            call()
        except (redis.RedisError, OSError) as exc:
            log.warning("redis: %s (the heartbeat will repair it)", exc)

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
                self._elsewhere.reconcile(self._redis)
            except (redis.RedisError, OSError) as exc:
                log.warning("redis heartbeat failed: %s", exc)
            self.counts.refresh()
            since_catchup += interval
            if since_catchup >= self._catchup_interval:
                since_catchup = 0.0
                self._catch_up()
