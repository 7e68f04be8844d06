"""Who is online and how a line reaches them: the roster and the fan-out, behind one interface.

The service never touches a socket or another client's queue; it asks the hub to deliver an
already encoded line to some users or to everyone. That interface is the seam DESIGN §9 keeps
open: a hub backed by Valkey/Redis pub/sub could serve several server processes over one
database without the service or the listener changing.

``InProcessHub`` keeps the roster in a dict guarded by ONE lock, held only to copy or change it.
Enqueueing happens outside that lock and never blocks: an ``Outbox`` whose client does not read
disconnects that client instead of making the sender wait.

Several windows of one account coexist. Presence follows accounts, not connections: ``join`` is
announced when an account's first connection attaches and ``leave`` when its last one detaches.
Attach and detach are serialised by a second lock so that a newcomer's roster and everyone's
join/leave lines are queued in one consistent order; chat fan-out never takes that lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from common.framing import MAX_FRAME
from common.messages import PresenceEvent, RosterUpdate, encode_message

log = logging.getLogger(__name__)

GCM_TAG = 16


class Outbox(Protocol):
    """Where lines for one connection go; ``put`` must never block."""

    def put(self, line: bytes) -> None:
        """Queue one encoded message; a full queue disconnects the client, it never waits."""


class Hub(Protocol):
    """Roster and fan-out; the in-process hub is one implementation (DESIGN §9)."""

    def attach(self, username: str, nickname: str, outbox: Outbox) -> None:
        """Add a logged-in connection: it gets the roster; others get ``join`` if it is new."""

    def detach(self, username: str, outbox: Outbox) -> None:
        """Remove a connection; others get ``leave`` if it was the account's last one."""

    def online(self) -> list[tuple[str, str]]:
        """``(username, nickname)`` of every account online, sorted by username."""

    def deliver(self, usernames: Iterable[str], line: bytes, exclude: Outbox | None = None) -> None:
        """Queue ``line`` on every connection of ``usernames`` (except ``exclude``)."""

    def broadcast(self, line: bytes) -> None:
        """Queue ``line`` on every logged-in connection."""


@dataclass(frozen=True)
class _Account:
    nickname: str
    outboxes: tuple[Outbox, ...]


class InProcessHub:
    """The roster of this process; see the module docstring for the locking rules."""

    def __init__(self, max_line: int = MAX_FRAME - GCM_TAG) -> None:
        self._lock = threading.Lock()  # guards _accounts and _everyone; held only to copy/change
        self._presence = threading.Lock()  # orders attach/detach and their presence lines
        self._accounts: dict[str, _Account] = {}
        self._everyone: tuple[Outbox, ...] = ()  # flat copy, rebuilt on change, read on broadcast
        self._max_line = max_line

    # --- roster changes --------------------------------------------------------------------

    def attach(self, username: str, nickname: str, outbox: Outbox) -> None:
        with self._presence:
            with self._lock:
                account = self._accounts.get(username)
                first = account is None
                outboxes = (account.outboxes if account else ()) + (outbox,)
                self._accounts[username] = _Account(nickname, outboxes)
                self._rebuild()
                roster = sorted((name, a.nickname) for name, a in self._accounts.items())
                others = [ob for ob in self._everyone if ob is not outbox]
            outbox.put(self._roster_line(roster))
            if first:
                line = encode_message(PresenceEvent("join", username, nickname)).encode()
                for other in others:
                    other.put(line)

    def detach(self, username: str, outbox: Outbox) -> None:
        with self._presence:
            with self._lock:
                account = self._accounts.get(username)
                if account is None or outbox not in account.outboxes:
                    return
                remaining = tuple(ob for ob in account.outboxes if ob is not outbox)
                if remaining:
                    self._accounts[username] = _Account(account.nickname, remaining)
                else:
                    del self._accounts[username]
                self._rebuild()
                others = self._everyone
            if not remaining:
                line = encode_message(PresenceEvent("leave", username, account.nickname)).encode()
                for other in others:
                    other.put(line)

    def _rebuild(self) -> None:
        self._everyone = tuple(ob for a in self._accounts.values() for ob in a.outboxes)

    def _roster_line(self, roster: list[tuple[str, str]]) -> bytes:
        """One ``1006`` line; a roster too big for one record is cut (and logged)."""
        line = encode_message(RosterUpdate(tuple(roster))).encode()
        if len(line) <= self._max_line:
            return line
        log.warning("roster of %d accounts does not fit one record; sending a part", len(roster))
        low, high = 0, len(roster)
        while low < high:  # the longest prefix that fits
            mid = (low + high + 1) // 2
            if len(encode_message(RosterUpdate(tuple(roster[:mid]))).encode()) <= self._max_line:
                low = mid
            else:
                high = mid - 1
        return encode_message(RosterUpdate(tuple(roster[:low]))).encode()

    # --- queries and fan-out ---------------------------------------------------------------

    def online(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted((name, a.nickname) for name, a in self._accounts.items())

    def is_online(self, username: str) -> bool:
        """True while the account has at least one connection."""
        with self._lock:
            return username in self._accounts

    def connection_count(self) -> int:
        """Logged-in connections, all accounts together."""
        with self._lock:
            return len(self._everyone)

    def deliver(self, usernames: Iterable[str], line: bytes, exclude: Outbox | None = None) -> None:
        with self._lock:
            targets = [
                ob
                for name in set(usernames)
                if (account := self._accounts.get(name)) is not None
                for ob in account.outboxes
                if ob is not exclude
            ]
        for outbox in targets:
            outbox.put(line)

    def broadcast(self, line: bytes) -> None:
        with self._lock:
            targets = self._everyone
        for outbox in targets:
            outbox.put(line)
