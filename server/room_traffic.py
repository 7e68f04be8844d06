"""Which connections get room traffic: members' connections whose client asked for it.

In a cluster each process gives room lines to its own connections only: the hub relays the
lines of ``send`` to the other processes, which apply the same opt-in (``RedisHub`` asks
``opted_in``), and ``changed`` makes them reload a room whose members changed here.

A client of the old contract knows only the lobby; it never sends a room request, so it never
gets a room line it could not read (PROTOCOL.md §6: any code 0009-0021 opts a connection in).
Kept apart from the room rules so that every room line takes this one path to the hub.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from server.hub import Hub, LineSink


class RoomTraffic:
    """The one way room traffic reaches connections: members' connections that opted in."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._lock = threading.Lock()
        self._opted: set[LineSink] = set()

    def opt_in(self, sink: LineSink) -> None:
        with self._lock:
            self._opted.add(sink)

    def forget(self, sink: LineSink) -> None:
        with self._lock:
            self._opted.discard(sink)

    def sinks(self, usernames: Iterable[str]) -> list[LineSink]:
        """The opted-in connections of ``usernames`` (hub ``connections_of``)."""
        return self.opted_in(self._hub.connections_of(usernames))

    def opted_in(self, sinks: Iterable[LineSink]) -> list[LineSink]:
        with self._lock:
            return [sink for sink in sinks if sink in self._opted]

    def send(self, usernames: Iterable[str], *lines: bytes) -> None:
        """Give ``lines`` to the opted-in connections of ``usernames`` here and, through the
        hub, on the other processes of a cluster."""
        audience = frozenset(usernames)
        for sink in self.sinks(audience):
            sink.put_lines(lines)
        self._hub.relay(audience, lines)

    def changed(self, room_id: int, name: str) -> None:
        """A room's members, roles or name changed: the other processes reload it."""
        self._hub.room_changed(room_id, name)

    def online(self, username: str) -> bool:
        return bool(self._hub.connections_of((username,)))
