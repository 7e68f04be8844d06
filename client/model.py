"""What the window shows, as plain data: conversations, entries, unread counts, roster, outbox.

No Tk and no sockets, so every rule here (dedupe by ``msg_id``, ordering of history pages,
pending until acked, unread counting) is unit tested directly. The controller feeds server
messages in and reads out what changed.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from client.conversations import ConversationIndex
from client.presence import PresenceRun
from common.messages import Ack, ChatDelivery, ChatRequest, DirectDelivery, DirectRequest
from common.protocol import LOBBY

EntryKind = Literal["message", "system"]
EntryState = Literal["", "pending", "retrying", "held", "waiting", "sent"]
"""Own messages: "pending" until acked, "retrying" while the server says it cannot store them
(``1009|unavailable``, ``rate_limited``) and the outbox retries, then "sent". A direct message
may also be "held" (a verified contact's key changed) or "waiting" (they have no end-to-end
keys yet) before it is sealed and sent (``client.e2e_dm``)."""
UNSENT_STATES = ("pending", "retrying", "held", "waiting")
HistoryKind = Literal["first", "older", "refresh"]

HISTORY_PAGE = 50
RETURN_QUIET_MS = 60_000
"""After our own reconnect, how long the joins of people who were online before it stay
silent: after a server restart everyone comes back within seconds of each other, and a line
for each is noise, not news."""

_seq = itertools.count(1)


@dataclass
class Entry:
    """One item of a conversation: a message (own or not) or a system line (join/leave, notes).

    Ordering: a delivered message sorts by its ``msg_id``, so every window shows the server's
    order. An entry made locally (a pending own message, a system line) has no id yet: it is
    anchored just after the newest ``msg_id`` known when it was made, moves below a first
    history page that arrives later, and a message takes its own place once its ack names it.
    """

    conversation: str
    kind: EntryKind
    text: str
    sent_ms: int
    sender: str = ""
    sender_nickname: str = ""
    own: bool = False
    state: EntryState = ""
    msg_id: int | None = None
    client_msg_id: str | None = None
    anchor: int = 0
    rank: int = 0
    seq: int = field(default_factory=lambda: next(_seq))
    version: int = 0  # bumped whenever what is shown changes

    @property
    def entry_id(self) -> str:
        """A stable name for the view (a Tk tag), independent of acks."""
        return f"e{self.seq}"

    def sort_key(self) -> tuple[int, int, int]:
        return (self.anchor, self.rank, self.seq)


@dataclass
class Conversation:
    """The room or one direct conversation (``@username``)."""

    key: str
    nickname: str = ""
    entries: list[Entry] = field(default_factory=list)
    by_msg_id: dict[int, Entry] = field(default_factory=dict)
    unread: int = 0
    newest_msg_id: int = 0
    oldest_msg_id: int | None = None
    more: bool = True  # older history may exist on the server
    history_inflight: bool = False
    opened: bool = False  # the first history page was requested
    draft: str = ""  # what is typed in the input box for this conversation, not yet sent
    _sorted: bool = True

    def add(self, entry: Entry) -> Entry:
        if self.entries and entry.sort_key() < self.entries[-1].sort_key():
            self._sorted = False
        self.entries.append(entry)
        if entry.msg_id is not None:
            self.by_msg_id[entry.msg_id] = entry
            self.newest_msg_id = max(self.newest_msg_id, entry.msg_id)
            if self.oldest_msg_id is None or entry.msg_id < self.oldest_msg_id:
                self.oldest_msg_id = entry.msg_id
        return entry

    def reorder(self) -> None:
        """Sort keys changed: sort again before the next ``ordered()``."""
        self._sorted = False

    def settle_local(self) -> None:
        """The first history page arrived: entries made here before it belong after it."""
        for entry in self.entries:
            if entry.rank == 1 and entry.anchor < self.newest_msg_id:
                entry.anchor = self.newest_msg_id
        self._sorted = False

    def ordered(self) -> list[Entry]:
        """Entries in display order."""
        if not self._sorted:
            self.entries.sort(key=Entry.sort_key)
            self._sorted = True
        return self.entries

    def pending_own(self, text: str) -> Entry | None:
        """The oldest own message still pending with this text (to match an early echo)."""
        candidates = (e for e in self.entries
                      if e.own and e.state in UNSENT_STATES and not e.msg_id)
        return next((e for e in candidates if e.text == text), None)


class UnackedSends:
    """Unacked sends in the order they were typed, keyed by ``client_msg_id``.

    A message leaves only on its ``1007`` ack: after a reconnect everything still
    here is sent again with the same id, and the server's idempotency makes that exactly once.
    """

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[ChatRequest | DirectRequest, Entry]] = OrderedDict()

    def add(self, request: ChatRequest | DirectRequest, entry: Entry) -> None:
        self._items[request.client_msg_id] = (request, entry)

    def ack(self, client_msg_id: str) -> Entry | None:
        item = self._items.pop(client_msg_id, None)
        return item[1] if item else None

    def requests(self) -> list[ChatRequest | DirectRequest]:
        """What to send again, oldest first."""
        return [request for request, _ in self._items.values()]

    def entries(self) -> list[Entry]:
        """The pending entries, oldest first (what the stash file keeps)."""
        return [entry for _, entry in self._items.values()]

    def retrying(self) -> list[Entry]:
        """The server could not take the unacked messages: each shows "retrying…" until acked.

        A state of the messages themselves, not a notice line: it appears on every message
        it concerns at once and goes away with the ack, leaving nothing behind.
        """
        changed = []
        for _, entry in self._items.values():
            if entry.state == "pending":
                entry.state = "retrying"
                entry.version += 1
                changed.append(entry)
        return changed

    def moved(self, old: str, new: str) -> None:
        """Room ``old`` is now called ``new``: its unsent messages go there (same ids)."""
        for cid, (request, entry) in self._items.items():
            if isinstance(request, ChatRequest) and request.room == old:
                self._items[cid] = (replace(request, room=new), entry)

    def drop(self, conversation: str) -> int:
        """The account left room ``conversation``: its unsent messages cannot be sent."""
        gone = [cid for cid, (_, entry) in self._items.items()
                if entry.conversation == conversation]
        for cid in gone:
            del self._items[cid]
        return len(gone)

    def clear(self) -> None:
        """Give up on every unsent message (the person chose to discard them)."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, client_msg_id: object) -> bool:
        return client_msg_id in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)


def new_client_msg_id() -> str:
    """A fresh idempotency key for one message (unique per account)."""
    return uuid.uuid4().hex


class ChatModel:
    """Everything one logged-in window knows, changed only through these methods."""

    def __init__(self, username: str, nickname: str = "") -> None:
        self.username = username
        self.nickname = nickname
        self.conversations: dict[str, Conversation] = {LOBBY: Conversation(LOBBY)}
        self.active = LOBBY
        self.roster: dict[str, str] = {}
        self.roster_stale = False  # offline: the roster is only what was last known
        self._returning: set[str] = set()  # known before our reconnect, not back yet
        self._returning_until = 0
        self.outbox = UnackedSends()
        self._presence_run = PresenceRun()
        self._presence_entry: Entry | None = None  # the lobby line the current run rewrites
        self.index = ConversationIndex()  # previews, order, read positions (``conversations``)

    # --- conversations ----------------------------------------------------------------------

    def conversation(self, key: str, nickname: str = "") -> Conversation:
        """The conversation ``key``, created on first use."""
        conv = self.conversations.get(key)
        if conv is None:
            conv = self.conversations[key] = Conversation(key, nickname)
        elif nickname and not conv.nickname:
            conv.nickname = nickname
        return conv

    def direct_key(self, username: str) -> str:
        return "@" + username

    def select(self, key: str) -> Conversation:
        """Make ``key`` the shown conversation; its unread count is cleared."""
        conv = self.conversation(key, self.roster.get(key.removeprefix("@"), ""))
        self.active = key
        conv.unread = 0
        return conv

    # --- incoming ---------------------------------------------------------------------------

    def receive(self, message: ChatDelivery | DirectDelivery) -> Entry | None:
        """Add a live or history message; None if it is already shown (dedupe by ``msg_id``)."""
        if isinstance(message, ChatDelivery):
            key, peer_nick = message.room, ""
        else:
            own = message.sender == self.username
            peer = message.recipient if own else message.sender
            key, peer_nick = self.direct_key(peer), "" if own else message.sender_nickname
        conv = self.conversation(key, peer_nick or self.roster.get(key.removeprefix("@"), ""))
        if message.msg_id in conv.by_msg_id:
            return None
        own = message.sender == self.username
        live = message.msg_id > conv.newest_msg_id and not conv.history_inflight
        if own and live:
            early = conv.pending_own(message.text)  # our own echo, ahead of its ack
            if early is not None:
                self._mark_sent(conv, early, message.msg_id, message.sent_ms)
                return None
        kind: EntryKind = "system" if getattr(message, "system", False) else "message"
        entry = conv.add(Entry(  # system: a sealed message that failed its checks
            key, kind, message.text, message.sent_ms, message.sender,
            message.sender_nickname, own, "sent" if own else "", message.msg_id,
            anchor=message.msg_id,
        ))
        if live and not own and key != self.active:
            conv.unread += 1
        return entry

    def ack(self, ack: Ack) -> Entry | None:
        """Mark a pending message sent; None for an ack we no longer wait for (a resend's)."""
        entry = self.outbox.ack(ack.client_msg_id)
        if entry is None:
            return None
        conv = self.conversation(entry.conversation)
        if entry.msg_id is None:
            self._mark_sent(conv, entry, ack.msg_id, ack.sent_ms)
        return entry

    def _mark_sent(self, conv: Conversation, entry: Entry, msg_id: int, sent_ms: int) -> None:
        entry.msg_id, entry.sent_ms, entry.state = msg_id, sent_ms, "sent"
        entry.anchor, entry.rank = msg_id, 0
        entry.version += 1
        conv.by_msg_id[msg_id] = entry
        conv.newest_msg_id = max(conv.newest_msg_id, msg_id)
        conv.reorder()

    def system(self, key: str, text: str, now_ms: int) -> Entry:
        """A line that is not a message (someone joined, an error), placed at the end.

        The same notice twice in a row (a retry failing again) is shown once.
        """
        conv = self.conversation(key)
        last = conv.ordered()[-1] if conv.entries else None
        if last is not None and last.kind == "system" and last.text == text:
            return last
        return conv.add(Entry(key, "system", text, now_ms, anchor=conv.newest_msg_id, rank=1))

    def presence(self, event: str, username: str, nickname: str, now_ms: int) -> Entry | None:
        """Update the roster; joins and leaves of others fold into one lobby line per run.

        Consecutive presence events (nothing else said in the room between them) share one
        line, rewritten as they come: "cxk joined · amy joined and left". A leave followed by
        a join of the same account is a reconnect and shows nothing; one's own presence (other
        windows, one's own reconnects) never shows.
        """
        if event == "join":
            self.roster[username] = nickname
            if username in self._returning and now_ms <= self._returning_until:
                self._returning.discard(username)  # back after the same outage as us
                return None
        elif event == "leave":
            self.roster.pop(username, None)
        else:
            return None
        if username == self.username:
            return None
        lobby = self.conversation(LOBBY)
        last = lobby.ordered()[-1] if lobby.entries else None
        run = self._presence_run if last is not None and last is self._presence_entry else None
        if run is None:
            run = self._presence_run = PresenceRun()
            self._presence_entry = None
        run.add(event, username, nickname)
        text = run.text()
        entry = self._presence_entry
        if entry is None:
            if not text:
                return None
            entry = self._presence_entry = lobby.add(Entry(
                LOBBY, "system", text, now_ms, anchor=lobby.newest_msg_id, rank=1))
        elif not text:  # everything in the run cancelled out (a reconnect): drop the line
            lobby.entries.remove(entry)
            self._presence_entry = None
            return None
        elif entry.text != text:
            entry.text, entry.sent_ms = text, now_ms
            entry.version += 1
        return entry

    def set_roster(self, users: tuple[tuple[str, str], ...], now_ms: int = 0) -> None:
        """The full roster (``1006``, after each login). After a reconnect, people of the last
        known roster who are not back yet may rejoin quietly for ``RETURN_QUIET_MS``."""
        new = dict(users)
        if self.roster_stale:
            self._returning = set(self.roster) - set(new)
            self._returning_until = now_ms + RETURN_QUIET_MS
        self.roster, self.roster_stale = new, False

    def went_offline(self) -> None:
        """The connection is gone: the roster is kept, but only as "last known"."""
        self.roster_stale = True

    def history_end(
        self, conversation: str, oldest: int | None, more: bool, added: int, kind: HistoryKind
    ) -> None:
        """Close a history page (``first``, ``older`` or ``refresh`` after a reconnect).

        Only the first and older pages say whether more exists further back; an empty page
        means there is nothing older.
        """
        conv = self.conversation(conversation)
        conv.history_inflight = False
        if kind == "first":
            conv.settle_local()
        if kind != "refresh":
            conv.more = bool(more and added and oldest is not None)

    # --- outgoing ---------------------------------------------------------------------------

    def set_draft(self, key: str, text: str) -> bool:
        """Keep what is typed in conversation ``key``; True if it changed."""
        conv = self.conversation(key)
        if conv.draft == text:
            return False
        conv.draft = text
        return True

    def drafts(self) -> dict[str, str]:
        """Every non-empty draft, by conversation."""
        return {key: conv.draft for key, conv in self.conversations.items() if conv.draft}

    def compose(
        self, key: str, text: str, now_ms: int, client_msg_id: str | None = None
    ) -> ChatRequest | DirectRequest:
        """A new own message: shown at once as pending and kept in the outbox until acked.

        ``client_msg_id`` is given for a message restored from the stash file: it keeps the id
        it was first sent with, so the server recognises a resend.
        """
        conv = self.conversation(key)
        cid = client_msg_id or new_client_msg_id()
        request: ChatRequest | DirectRequest
        if not key.startswith("@"):  # lobby or another room
            request = ChatRequest(key, cid, text)
        else:
            request = DirectRequest(key.removeprefix("@"), cid, text)
        entry = conv.add(Entry(
            key, "message", text, now_ms, self.username, self.nickname, True, "pending",
            client_msg_id=cid, anchor=conv.newest_msg_id, rank=1,
        ))
        self.outbox.add(request, entry)
        return request
