"""Who is online and how a line reaches them: the roster and the fan-out, behind one interface.

The interface (``Hub``, ``LineSink``, ``Publication``) is in ``server.ports_hub``.
The service never touches a socket; it asks the hub who is to get a line (``everyone`` or
``connections_of``: each connection as a ``LineSink``, the listener's ``server.outbox.LineSink``)
and puts the line on each itself. That interface is the seam that stays
open for several server processes over one database (a hub backed by pub/sub), without the
service or the listener changing.

``InProcessHub`` keeps the roster in a dict guarded by ONE lock, held only to copy or change it.
Enqueueing happens outside that lock and never blocks: a ``LineSink`` whose client does not read
disconnects that client instead of making the sender wait.

Several windows of one account coexist. Presence follows accounts, not connections: ``join`` is
announced when an account's first connection attaches and ``leave`` when its last one detaches.

Presence is batched. A login storm of N clients would otherwise put N²/2 single lines on the
outboxes, each waking a writer and costing a record. Attach and detach change the roster at
once but only append their ``1005`` line to a pending list; a flush (at most
``presence_interval`` seconds later, by one lazily started flusher thread, or at once when the
interval is 0) puts ALL pending lines as ONE item on every outbox, so each writer wakes once and
seals them into one record. What a client sees stays exact:

- a newcomer's ``1006`` roster is queued before it can receive anything else, and it covers
  every line pending at that moment, so the flush gives it only the lines announced after it
  attached (never a ``join`` for someone already in its roster, never a stray ``leave``);
- lines keep the order in which the roster changed (one flush at a time, each in order), so a
  ``leave`` never precedes its ``join``;
- chat fan-out (``everyone``/``connections_of``) first flushes what is pending, so a message
  from someone who just logged in never arrives before their ``join``.

A flush also merges what cancels out. One account connecting and disconnecting 93 times a
second made every window receive 174 presence lines a second; now, within the lines one
connection is about to get, a ``join`` followed by a ``leave`` of the same account is dropped
(it came and went unseen), and so is a ``leave`` followed by a ``join`` with the same nickname
(to the others it stayed online). The merge is made per connection, on the lines after its
roster, so a newcomer whose roster lists someone still gets that someone's ``leave``; what each
connection believes at the end of a flush is exactly what it would have believed without it.

Attach and detach are serialised by a second lock (``_presence``); chat fan-out takes it only
for that flush, and only when presence lines are pending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from common.framing import MAX_FRAME
from common.messages import PresenceEvent, RosterUpdate, encode_message
from server.ports_hub import EVERYONE as EVERYONE
from server.ports_hub import Audience as Audience
from server.ports_hub import Hub as Hub
from server.ports_hub import LineSink as LineSink
from server.ports_hub import Publication as Publication
from server.ports_hub import RoomCache as RoomCache

log = logging.getLogger(__name__)

GCM_TAG = 16
PRESENCE_INTERVAL = 0.1  # seconds a presence line may wait to be batched with others


@dataclass(frozen=True)
class _Account:
    nickname: str
    outboxes: tuple[LineSink, ...]


@dataclass(frozen=True, slots=True)
class _Change:
    """One pending presence change and its encoded ``1005`` line."""

    event: Literal["join", "leave"]
    username: str
    nickname: str
    line: bytes

    @classmethod
    def of(cls, event: Literal["join", "leave"], username: str, nickname: str) -> _Change:
        line = encode_message(PresenceEvent(event, username, nickname)).encode()
        return cls(event, username, nickname, line)

    def cancels(self, later: _Change) -> bool:
        """Does ``later`` (the account's next change) undo this one for whoever saw neither?"""
        if self.event == later.event:
            return False  # cannot happen for one account; kept out of the merge all the same
        return self.event == "join" or self.nickname == later.nickname


def merged(changes: tuple[_Change, ...]) -> tuple[bytes, ...]:
    """The lines of ``changes`` with every pair that cancels out left out, in order.

    Per account, each change either cancels the last one kept (then both go) or is kept, so
    ``join, leave, join, leave`` leaves nothing and ``leave, join, leave`` leaves one
    ``leave``. Whoever applies the result ends with the same view as with all of them.
    """
    kept: dict[int, _Change] = {}
    last: dict[str, list[int]] = {}  # account -> indexes of its kept changes, in order
    for index, change in enumerate(changes):
        stack = last.setdefault(change.username, [])
        if stack and kept[stack[-1]].cancels(change):
            del kept[stack.pop()]
        else:
            stack.append(index)
            kept[index] = change
    return tuple(kept[index].line for index in sorted(kept))


class InProcessHub:
    """The roster of this process; see the module docstring for the locking rules."""

    def __init__(
        self,
        max_line: int = MAX_FRAME - GCM_TAG,
        presence_interval: float = PRESENCE_INTERVAL,
        elsewhere: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        # accounts online on OTHER processes (username -> nickname): they are in every roster,
        # and a local window of theirs coming or going changes nothing for anyone
        self._elsewhere = elsewhere or dict
        self._lock = threading.Lock()  # guards _accounts and _everyone; held only to copy/change
        self._presence = threading.Lock()  # orders attach/detach; guards _pending and _fresh
        self._flushing = threading.Lock()  # one flush at a time, held while it enqueues
        self._accounts: dict[str, _Account] = {}
        self._everyone: tuple[LineSink, ...] = ()  # flat copy, rebuilt on change, read on broadcast
        self._max_line = max_line
        self._interval = max(0.0, presence_interval)
        self._pending: list[_Change] = []  # presence not yet on any outbox, in order
        # outboxes attached since the pending list was last taken -> how many pending lines
        # their roster already covers (they get only the lines after those)
        self._fresh: dict[LineSink, int] = {}
        self._due = threading.Event()  # something is pending: the flusher should wake
        self._closing = threading.Event()  # close(): cut the flusher's wait short
        self._closed = False
        self._flusher: threading.Thread | None = None

    # --- roster changes --------------------------------------------------------------------

    def attach(self, username: str, nickname: str, outbox: LineSink) -> None:
        with self._presence:
            with self._lock:
                account = self._accounts.get(username)
                online = {name: a.nickname for name, a in self._accounts.items()}
            remote = self._elsewhere()
            first = account is None and username not in remote
            online = {**remote, **online}
            if first:
                online[username] = nickname
            # Queued before the outbox is on the roster, so nothing can precede it.
            outbox.put(self._roster_line(sorted(online.items())))
            with self._lock:
                # the same account as above: attach and detach both hold _presence
                if account is None:
                    self._accounts[username] = _Account(nickname, (outbox,))
                else:
                    self._accounts[username] = _Account(
                        account.nickname, (*account.outboxes, outbox)
                    )
                self._rebuild()
            if first:
                self._pending.append(_Change.of("join", username, nickname))
            if self._pending:  # its roster already says all of these: it gets only later ones
                self._fresh[outbox] = len(self._pending)
            now = first and self._schedule()
        if now:
            self.flush()

    def detach(self, username: str, outbox: LineSink) -> None:
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
            self._fresh.pop(outbox, None)
            if remaining or username in self._elsewhere():
                return
            self._pending.append(_Change.of("leave", username, account.nickname))
            now = self._schedule()
        if now:
            self.flush()

    def remote_change(self, event: Literal["join", "leave"], username: str, nickname: str) -> None:
        """An account came online (or went offline) on the other processes as a whole: tell
        this process's connections, unless the account has a window here (then nothing
        changed for them)."""
        with self._presence:
            with self._lock:
                if username in self._accounts:
                    return
            self._pending.append(_Change.of(event, username, nickname))
            now = self._schedule()
        if now:
            self.flush()

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

    # --- presence batching -----------------------------------------------------------------

    def _schedule(self) -> bool:
        """A line was appended (``_presence`` held): wake the flusher; True = flush now."""
        if self._interval <= 0 or self._closed:
            return True
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="presence-flush", daemon=True
            )
            self._flusher.start()
        self._due.set()
        return False

    def _flush_loop(self) -> None:
        while not self._closed:
            self._due.wait()
            # Collect for one interval, then deliver everything in one go. Lines appended
            # after the clear set the event again and get the next round.
            self._closing.wait(self._interval)
            self._due.clear()
            self.flush()

    def flush(self) -> None:
        """Put every pending presence line on every outbox as one item, in order, less the
        changes that cancel out for that outbox (an outbox left with none gets nothing)."""
        with self._flushing:
            with self._presence:
                if not self._pending:
                    return
                changes, fresh = tuple(self._pending), self._fresh
                self._pending, self._fresh = [], {}
                with self._lock:
                    targets = self._everyone
            tails: dict[int, tuple[bytes, ...]] = {}
            for outbox in targets:
                start = fresh.get(outbox, 0)
                tail = tails.get(start)
                if tail is None:
                    tail = tails[start] = merged(changes[start:])
                if tail:
                    outbox.put_lines(tail)

    def _presence_first(self) -> None:
        """Before chat fan-out: presence lines pending (or being put) go out first."""
        # A flush holds _flushing from before it empties _pending until its last put, so an
        # empty list and a free lock together mean nothing announced earlier is still on its way.
        if self._pending or self._flushing.locked():
            self.flush()

    def close(self) -> None:
        """Deliver what is pending and stop the flusher; later changes are flushed at once."""
        with self._presence:
            self._closed = True
            flusher = self._flusher
        self._closing.set()
        self._due.set()
        if flusher is not None:
            flusher.join()
        self.flush()

    # --- queries and fan-out ---------------------------------------------------------------

    def everyone(self) -> tuple[LineSink, ...]:
        self._presence_first()
        with self._lock:
            return self._everyone

    def connections_of(
        self, usernames: Iterable[str], exclude: LineSink | None = None
    ) -> list[LineSink]:
        self._presence_first()
        with self._lock:
            return [
                sink
                for name in set(usernames)
                if (account := self._accounts.get(name)) is not None
                for sink in account.outboxes
                if sink is not exclude
            ]

    def local(self, audience: Audience, exclude: LineSink | None = None) -> Sequence[LineSink]:
        if audience is None:
            everyone = self.everyone()
            return everyone if exclude is None else [s for s in everyone if s is not exclude]
        return self.connections_of(audience, exclude)

    def publish(self, items: Sequence[Publication]) -> None:
        """One process: every connection was reached by ``local``; nobody else to tell."""

    def bind_rooms(self, rooms: RoomCache) -> None:
        """One process: no room is changed elsewhere."""

    def relay(self, audience: frozenset[str], lines: tuple[bytes, ...]) -> None:
        """One process: ``RoomTraffic`` reached every connection already."""

    def room_changed(self, room_id: int, name: str) -> None:
        """One process: nobody else caches the room."""

    # --- account changes (server.account_requests) -----------------------------------------

    def rename(self, username: str, nickname: str, line: bytes) -> None:
        """The nickname of later rosters and ``leave`` lines; ``line`` to every connection."""
        with self._presence, self._lock:
            account = self._accounts.get(username)
            if account is not None:
                self._accounts[username] = _Account(nickname, account.outboxes)
        for sink in self.everyone():
            sink.put(line)

    def announce(self, line: bytes) -> None:
        for sink in self.everyone():
            sink.put(line)

    def sign_out(
        self, username: str, line: bytes, keep: LineSink | None = None, *, everywhere: bool = True
    ) -> None:
        """Each of the account's connections here but ``keep`` gets ``line`` and is closed;
        it leaves the roster when its reader ends (as for any disconnect)."""
        for sink in self.connections_of((username,), exclude=keep):
            sink.close_after(line)
