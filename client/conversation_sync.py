"""The conversation list kept in step with the server: rooms, read positions, the directory.

``ConversationSync`` is the part of ``client.traffic.ChatTraffic`` that speaks PROTOCOL.md §6.
After every login and resume it opts the connection in to room traffic with ``0021`` and
rebuilds the list from the ``1017`` answer (so a direct message received while offline shows
with its unread count); it follows ``1010`` (a room appears), ``1011`` (gone: dropped, said in
words if it was open), ``1012`` (renamed) and ``1018`` (read in another window: the badge
clears here too). It tells the server a conversation is read (``0020``) only when a person can
have read it: the conversation is open, the window has the focus and the newest message is in
view, debounced, and never for a position the server already has. It also answers the "New
conversation" dialog's searches of the people directory (``0019``, paged by ``1019|people|``).

Tk thread only, no widgets: what it needs of the window is ``SyncView``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from client.conversations import is_room, preview_text
from client.formatting import person_label
from client.model import ChatModel, Entry
from client.notify import Alerts, mentions
from common.messages import ClientMessage
from common.messages_rooms import (
    ConversationEntry,
    ConversationsRequest,
    ListEnd,
    MarkReadRequest,
    PeopleRequest,
    PersonEntry,
    ReadPosition,
    RoomEvent,
    RoomInfo,
    RoomLeft,
    RoomRenamed,
)
from common.protocol import LOBBY

logger = logging.getLogger(__name__)

MARK_READ_MS = 400
"""How long the newest message must stay in view before ``0020`` goes: one mark per pause,
not one per arriving message or scroll step."""


class SyncLink(Protocol):
    @property
    def online(self) -> bool: ...
    def send(self, message: ClientMessage) -> None: ...


class SyncTimers(Protocol):
    def after(self, ms: int, callback: Callable[[], None]) -> object: ...
    def after_cancel(self, token: object) -> None: ...


class SyncView(Protocol):
    """What the sync asks of the window (part of ``client.renderer.View``)."""

    def at_newest(self) -> bool: ...
    def show_directory(self, people: Sequence[PersonEntry], more: str) -> None: ...


class ConversationSync:
    """Rooms, read positions and the directory for one logged-in account."""

    def __init__(
        self, model: ChatModel, link: SyncLink, timers: SyncTimers, view: SyncView,
        alerts: Alerts | None, select: Callable[[str], None], now_ms: Callable[[], int],
    ) -> None:
        self.model, self._link, self._timers, self._view = model, link, timers, view
        self._alerts, self._select, self._now_ms = alerts, select, now_ms
        self._mark_timer: object | None = None
        self._people: list[PersonEntry] = []  # the directory page being received

    # --- what the controller and the traffic call -------------------------------------------

    def start(self) -> None:
        """Logged in (or resumed): opt in to room traffic and ask for the whole list."""
        self.model.index.forget_sent()
        if self._link.online:
            self._link.send(ConversationsRequest())

    def focused(self) -> bool:
        return self._alerts.focused() if self._alerts is not None else True

    def switching(self, key: str) -> None:
        """The person opens ``key`` (before the model shows it): where they left off."""
        index = self.model.index
        if key != self.model.active:
            self._flush_mark()  # what was in view of the conversation left counts as read
            index.left(self.model.active)
        index.returned(key)
        self.schedule_mark()

    def window_focus(self, focused: bool) -> None:
        """The window got (or lost) the keyboard focus."""
        if not focused:
            return
        key = self.model.active
        self.model.index.returned(key)
        conv = self.model.conversation(key)
        conv.unread = 0  # counted while away (``delivered``), now in front of the person
        self.schedule_mark()

    def delivered(self, entry: Entry, live: bool) -> None:
        """A message entered the model (live, a history row, or an own message acked)."""
        if entry.msg_id is None:
            return
        model, key = self.model, entry.conversation
        who = "You" if entry.own else (entry.sender_nickname or entry.sender)
        mentioned = (live and not entry.own and is_room_or_lobby(key)
                     and mentions(entry.text, (model.username, model.nickname)))
        here = key == model.active and self.focused()
        model.index.message(key, entry.msg_id, preview_text(who, entry.text),
                            mentioned and not here)
        if live and not entry.own and key == model.active and not here:
            model.conversation(key).unread += 1  # open, but the window is not in front
        if key == model.active:
            self.schedule_mark()

    def search_people(self, prefix: str, after: str) -> None:
        """The "New conversation" dialog: a page of the directory (``0019``)."""
        if not after:
            self._people = []
        if self._link.online:
            self._link.send(PeopleRequest(prefix, after))

    def received(self, event: RoomEvent) -> bool:
        """A message of codes ``1010``-``1019`` (the ones the list needs; others pass by).
        True when the outbox changed (a room left or renamed): the stash file is due."""
        unsent = len(self.model.outbox)
        if isinstance(event, ConversationEntry):
            self._listed(event)
        elif isinstance(event, ListEnd):
            self._list_end(event)
        elif isinstance(event, PersonEntry):
            self._people.append(event)
        elif isinstance(event, ReadPosition):
            self._read_position(event)
        elif isinstance(event, RoomInfo):
            self.model.conversation(event.name)
            self.model.index.summary(event.name).topic = event.topic
        elif isinstance(event, RoomLeft):
            how = ("You left" if event.how == "left"
                   else f"{event.by} removed you from")
            self.drop(event.name, f"{how} #{event.name}.")
        elif isinstance(event, RoomRenamed):
            self._renamed(event)
            return any(e.conversation == event.new_name for e in self.model.outbox.entries())
        return len(self.model.outbox) != unsent

    # --- marking read -----------------------------------------------------------------------

    def schedule_mark(self) -> None:
        if self._mark_timer is None:
            self._mark_timer = self._timers.after(MARK_READ_MS, self._mark_read)

    def _flush_mark(self) -> None:
        """A mark still waiting for its debounce is made now, for the conversation in view."""
        if self._mark_timer is not None:
            self._timers.after_cancel(self._mark_timer)
            self._mark_read()

    def _mark_read(self) -> None:
        """Send ``0020`` for the open conversation when a person can see its newest message."""
        self._mark_timer = None
        key = self.model.active
        conv = self.model.conversations.get(key)
        if conv is None or not conv.newest_msg_id or not self.focused():
            return
        if not self._view.at_newest():
            return
        index = self.model.index
        index.saw(key, conv.newest_msg_id)
        index.read_here(key)
        conv.unread = 0
        msg_id = index.to_mark(key, conv.newest_msg_id)
        if msg_id is not None and self._link.online:
            self._link.send(MarkReadRequest(key, msg_id))
            index.mark_sent(key, msg_id)

    # --- inside -----------------------------------------------------------------------------

    def _listed(self, event: ConversationEntry) -> None:
        model, key = self.model, event.conversation
        nickname = model.roster.get(key.removeprefix("@"), "") if key.startswith("@") else ""
        conv = model.conversation(key, nickname)
        here = key == model.active and self.focused()
        conv.unread = 0 if here else event.unread
        sender = event.newest_sender
        who = ("You" if sender == model.username
               else person_label(model.roster.get(sender, ""), sender) if sender else "")
        mentioned = (event.unread > 0 and sender != model.username and not here
                     and mentions(event.preview, (model.username, model.nickname)))
        preview = preview_text(who, event.preview) if event.newest_msg_id else ""
        model.index.listed(key, event.last_read_msg_id, event.newest_msg_id, preview, mentioned)
        if here:
            self.schedule_mark()

    def _list_end(self, event: ListEnd) -> None:
        if event.kind == "conversations":
            for key in self.model.index.listing_done():
                self.drop(key, f"You are no longer in #{key}.")
        elif event.kind == "people":
            self._view.show_directory(tuple(self._people), event.next)
            self._people = []

    def _read_position(self, event: ReadPosition) -> None:
        model, key = self.model, event.conversation
        model.index.read_position(key, event.last_read_msg_id, event.unread)
        conv = model.conversations.get(key)
        if conv is None or (key == model.active and self.focused()):
            return
        last_read = event.last_read_msg_id
        if conv.opened and (not conv.more or (conv.oldest_msg_id or 0) <= last_read):
            # every message after the position is here: count them, since the server's count
            # may predate a message this window already shows (its live copy came first)
            conv.unread = sum(1 for e in conv.entries if e.kind == "message" and not e.own
                              and e.msg_id is not None and e.msg_id > last_read)
        else:
            conv.unread = event.unread

    def drop(self, key: str, text: str) -> None:
        """The account is no longer in room ``key``: it leaves the list; said if it was open."""
        model = self.model
        if not is_room(key):
            return
        was_open = model.active == key
        model.conversations.pop(key, None)
        model.index.drop(key)
        unsent = model.outbox.drop(key)
        logger.info("conversation %s dropped from the list (%d unsent given up)", key, unsent)
        if unsent:
            text += f" {unsent} unsent message(s) to it could not be sent."
        if was_open:
            self._select(LOBBY)
        model.system(LOBBY, text, self._now_ms())  # said where the person is sure to look

    def _renamed(self, event: RoomRenamed) -> None:
        model, old, new = self.model, event.old_name, event.new_name
        conv = model.conversations.pop(old, None)
        model.index.rename(old, new)
        model.outbox.moved(old, new)
        if conv is None or new in model.conversations:
            return
        conv.key = new
        for entry in conv.entries:
            entry.conversation = new
        model.conversations[new] = conv
        if model.active == old:
            model.active = new
        model.system(new, f"#{old} is now #{new} (renamed by {event.by}).", self._now_ms())


def is_room_or_lobby(key: str) -> bool:
    """Mentions count in rooms; in a direct conversation every message is for the person."""
    return not key.startswith("@")
