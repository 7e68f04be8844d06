"""The hub's interface: how a line reaches connections, on this process and on the others.

``server.hub.InProcessHub`` (one process) and ``server.hub_redis.RedisHub`` (a cluster over
Redis) implement ``Hub``; the service, the rooms and the end-to-end relay use only this.
``server.hub`` re-exports every name here, so importers need not know where it lives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from server.store import StoredMessage


class LineSink(Protocol):
    """Where lines for one connection go; ``put`` and ``put_lines`` must never block."""

    def put(self, line: bytes) -> None:
        """Queue one encoded message; a full queue disconnects the client, it never waits."""

    def put_lines(self, lines: tuple[bytes, ...]) -> None:
        """Queue several encoded messages as one item (sealed together); never waits."""

    def close_after(self, line: bytes) -> None:
        """Queue ``line`` as the last thing this connection gets, then end it (a sign-out)."""


Audience = frozenset[str] | None
"""Who a line is for: a set of account usernames, or None for everyone logged in."""

EVERYONE: Audience = None


@dataclass(frozen=True, slots=True)
class Publication:
    """One committed line for the other server processes: its message id (they deliver each
    id once and catch up from the database by id), its line and its audience."""

    msg_id: int
    line: bytes
    audience: Audience
    room: bool = False  # a room line: only connections that opted in to room traffic get it


class RoomCache(Protocol):
    """What a cluster's hub needs of the rooms (``server.rooms.Rooms`` is one): the opt-in
    filter for room lines committed elsewhere, and forgetting a room another process changed."""

    def opted_in(self, sinks: Iterable[LineSink]) -> list[LineSink]:
        """Those of ``sinks`` whose client asked for room traffic (PROTOCOL.md §6)."""

    def invalidate(self, room_id: int, name: str) -> None:
        """Forget cached room ``room_id`` and load it again as ``name`` if it was cached."""

    def forget_all(self) -> None:
        """Forget every cached room (changes made elsewhere may have been missed)."""


class Hub(Protocol):
    """Roster and fan-out; the in-process hub is one implementation, ``RedisHub`` another.

    Publish model: the process that committed something delivers it to its own connections
    (``local``) and then ``publish``es it; every other process delivers it to its own.
    """

    def local(self, audience: Audience, exclude: LineSink | None = None) -> Sequence[LineSink]:
        """This process's connections of ``audience`` (less ``exclude``), presence first."""

    def publish(self, items: Sequence[Publication]) -> None:
        """Hand committed lines to the other processes (nothing to do in one process)."""

    def bind_rooms(self, rooms: RoomCache) -> None:
        """The rooms of this process: filter and cache that room events from others reach."""

    def relay(self, audience: frozenset[str], lines: tuple[bytes, ...]) -> None:
        """Room lines that are not stored (member changes, room info), already given to this
        process's opted-in connections of ``audience``: the other processes give them to
        theirs (at most once: a process that misses them sees the change at its next list)."""

    def room_changed(self, room_id: int, name: str) -> None:
        """A room's members, roles or name changed here: the other processes forget their
        cached copy of it (``name`` is its name now)."""

    def attach(self, username: str, nickname: str, outbox: LineSink) -> None:
        """Add a logged-in connection: it gets the roster; others get ``join`` if it is new."""

    def detach(self, username: str, outbox: LineSink) -> None:
        """Remove a connection; others get ``leave`` if it was the account's last one."""

    def everyone(self) -> tuple[LineSink, ...]:
        """Every logged-in connection, once pending presence lines are on their way."""

    def connections_of(
        self, usernames: Iterable[str], exclude: LineSink | None = None
    ) -> list[LineSink]:
        """The connections of ``usernames`` (less ``exclude``), once pending presence is out."""

    def rename(self, username: str, nickname: str, line: bytes) -> None:
        """An account's nickname changed: rosters use it from now on, and every connection
        online (on every process) gets ``line`` (its ``1032``)."""

    def announce(self, line: bytes) -> None:
        """``line`` to every connection online, on every process (a new key set's ``1041``)."""

    def sign_out(
        self, username: str, line: bytes, keep: LineSink | None = None, *, everywhere: bool = True
    ) -> None:
        """End the account's connections but ``keep``, each after ``line`` (its ``1039``), on
        every process (``everywhere=False``: on this one only)."""

    def close(self) -> None:
        """Server shutdown: deliver what is pending and stop any thread of the hub."""


Render = Callable[[StoredMessage], tuple[bytes, Audience]]


class MessageSource(Protocol):
    """What the catch-up reads: ``server.store.Store`` is one."""

    def messages_after(self, after_id: int, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` stored messages above ``after_id``, oldest first."""

    def last_message_id(self) -> int:
        """The highest stored message id (0 when there is none)."""


class NoRooms:
    """Before the service binds its rooms: no connection has opted in to room traffic."""

    def opted_in(self, sinks: Iterable[LineSink]) -> list[LineSink]:
        return []

    def invalidate(self, room_id: int, name: str) -> None:
        pass

    def forget_all(self) -> None:
        pass
