"""Which connections get room traffic: members' connections whose client asked for it.

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
        for sink in self.sinks(usernames):
            sink.put_lines(lines)

    def online(self, username: str) -> bool:
        return bool(self._hub.connections_of((username,)))
