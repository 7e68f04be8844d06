"""Room traffic in the controller: requests out, the server's answers and room events in, and
what the room parts of the window (header, members column, dialogs) must show.

**Which answer is whose.** A ``1009`` names no request, and ``1016``/``1019`` pages may answer
another part of the window. The server handles one connection's requests in order (rooms
requests and pings alike wait for the sends before them, PROTOCOL.md §5), so every batch of
room requests goes out between two pings of its own: what arrives after the first pong and
before the second answers that batch, exactly. An error there is shown beside what caused it
(the dialog, the header), never as a line in some conversation; lists there are this module's.
Room events (``1010``-``1013``) are only observed: they go on to the rest of the controller.

Like the rest of the controller it runs in the Tk thread and knows no widgets.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from client.formatting import safe_name
from client.model import ChatModel
from client.rooms import Member, Room, RoomsModel, refusal_text
from common.messages import ClientMessage, ErrorReply, PingRequest, Pong, PresenceEvent
from common.messages_rooms import (
    ConversationEntry,
    ListEnd,
    MemberChange,
    MemberEntry,
    MembersRequest,
    PersonEntry,
    PublicRoomEntry,
    PublicRoomsRequest,
    RoomInfo,
    RoomLeft,
    RoomRenamed,
)
from common.protocol import LOBBY

logger = logging.getLogger(__name__)

FENCED = (ErrorReply, PersonEntry, PublicRoomEntry, MemberEntry, ListEnd, ConversationEntry)
"""What a batch's fence keeps for itself; everything else also goes to the rest."""


@dataclass(frozen=True)
class MemberRow:
    """One row of the members column."""

    username: str
    nickname: str
    owner: bool
    online: bool
    me: bool


@dataclass(frozen=True)
class RoomPanel:
    """The open room as its header and members column show it (None: not a room)."""

    name: str
    topic: str
    private: bool
    owner: bool
    members: tuple[MemberRow, ...] | None  # None: still being asked for


@runtime_checkable
class RoomsView(Protocol):
    """What the controller asks of the window's room parts (``client.ui.room_view``)."""

    def show_room(self, panel: RoomPanel | None) -> None: ...
    def show_public_rooms(self, entries: Sequence[PublicRoomEntry], more: bool) -> None: ...
    def show_room_error(self, where: str, text: str) -> None: ...
    def room_request_done(self, where: str) -> None: ...


class NoRoomsView:
    """A window without room parts (old views, tests of other things): nothing to show."""

    def show_room(self, panel: RoomPanel | None) -> None: ...
    def show_public_rooms(self, entries: Sequence[PublicRoomEntry], more: bool) -> None: ...
    def show_room_error(self, where: str, text: str) -> None: ...
    def room_request_done(self, where: str) -> None: ...


Answer = list[object]  # what arrived inside one fence


@dataclass
class Fence:
    """One batch of requests between the pings ``start`` and ``end``."""

    start: str
    end: str
    where: str  # which part of the window asked ("browse", "new", "header", ...)
    on_done: Callable[[Answer], None]
    open: bool = False
    answer: Answer = field(default_factory=list)


class RoomSync:
    """Rooms for one logged-in account: created with the chat, kept across reconnects."""

    def __init__(self, model: ChatModel, send: Callable[[ClientMessage], None],
                 online: Callable[[], bool], view: RoomsView, now_ms: Callable[[], int],
                 select: Callable[[str], None]) -> None:
        self.chat, self.rooms = model, RoomsModel(model.username)
        self._send, self._online, self.view = send, online, view
        self._now_ms, self._select = now_ms, select
        self._nonces = itertools.count(1)
        self._fences: deque[Fence] = deque()
        self._shown: RoomPanel | None = None
        self._asked: set[str] = set()  # rooms whose members were asked for on this session
        self.open_when_known = ""  # a room this window created or joined: open it on its 1010

    # --- out ----------------------------------------------------------------------------------

    def batch(self, where: str, requests: Sequence[ClientMessage],
              on_done: Callable[[Answer], None] | None = None) -> bool:
        """Send ``requests`` fenced; ``on_done`` gets what answered them (errors included).
        False while offline: nothing is sent, and the part that asked says so."""
        if not self._online():
            self.view.show_room_error(where, "Not connected to the server; try again once "
                                      "the window is back online.")
            return False
        fence = Fence(f"room-{next(self._nonces)}", f"room-{next(self._nonces)}", where,
                      on_done or self._default_done(where))
        self._fences.append(fence)
        self._send(PingRequest(fence.start))
        for request in requests:
            self._send(request)
        self._send(PingRequest(fence.end))
        return True

    def _default_done(self, where: str) -> Callable[[Answer], None]:
        def done(answer: Answer) -> None:
            if self.report_errors(where, answer):
                self.open_when_known = ""  # refused: a later 1010 of that name is not ours
            else:
                self.view.room_request_done(where)
        return done

    def report_errors(self, where: str, answer: Answer) -> bool:
        """Show the batch's refusals beside ``where``; True if there was one."""
        errors = [m for m in answer if isinstance(m, ErrorReply)]
        if errors:
            text = " ".join(dict.fromkeys(refusal_text(e.code_word, e.text) for e in errors))
            self.view.show_room_error(where, text)
        return bool(errors)

    def logged_in(self) -> None:
        """A new session (the first login or a reconnect): fences of the old one never close.
        (The conversation list, ``0021``, which opts the connection in to room traffic, is
        asked by ``client.conversation_sync``.)"""
        self._fences.clear()
        self._asked.clear()
        self.rooms.public.loading = False  # a page asked on the old session never comes
        self.sync()

    # --- in -----------------------------------------------------------------------------------

    def received(self, message: object) -> bool:
        """Look at one server message; True if it was this module's alone (a fence's part)."""
        if isinstance(message, Pong) and self._fences:
            head = self._fences[0]
            if message.nonce == head.start:
                head.open = True
                return True
            if message.nonce == head.end:
                self._fences.popleft()
                head.on_done(head.answer)
                return True
        if isinstance(message, FENCED) and self._fences and self._fences[0].open:
            self._fences[0].answer.append(message)
            return True
        if isinstance(message, RoomInfo):
            self._room_info(message)
        elif isinstance(message, RoomLeft):
            self._room_left(message)
        elif isinstance(message, RoomRenamed):
            self._renamed(message)
        elif isinstance(message, MemberChange):
            online = message.username in self.chat.roster
            self.rooms.member_change(message.room, message.event, message.username,
                                     message.nickname, message.role, online)
            self._member_line(message)
        elif isinstance(message, PresenceEvent):
            self.rooms.presence(message.username, message.event == "join")
        else:
            return False
        self.sync()
        return False

    def _room_info(self, info: RoomInfo) -> None:
        self.rooms.info(info)
        self.chat.conversation(info.name)  # listed from now on
        if info.name == self.open_when_known:
            self.open_when_known = ""
            self._select(info.name)

    def _room_left(self, left: RoomLeft) -> None:
        """The room's own state; the conversation, its outbox and the line that says so are
        ``client.conversation_sync``'s."""
        self.rooms.left(left.name)
        self._asked.discard(left.name)

    def _renamed(self, renamed: RoomRenamed) -> None:
        self.rooms.renamed(renamed.old_name, renamed.new_name)  # the conversation: as above
        self._asked.discard(renamed.old_name)

    def _member_line(self, change: MemberChange) -> None:
        who = change.nickname or change.username
        text = {"join": f"{who} joined #{change.room}.", "leave": f"{who} left #{change.room}.",
                "removed": f"{who} was removed from #{change.room}.",
                "role": f"{who} is now {'an owner' if change.role == 'owner' else 'a member'} "
                        f"of #{change.room}."}.get(change.event)
        if text and change.room in self.chat.conversations:
            self.chat.system(change.room, text, self._now_ms())

    def _members_answer(self, name: str) -> Callable[[Answer], None]:
        def done(answer: Answer) -> None:
            first = True
            for message in answer:
                if isinstance(message, MemberEntry):
                    self.rooms.member_entry(message, first)
                    first = False
                elif isinstance(message, PublicRoomEntry) and message.name == name:
                    room = self.rooms.room(name)
                    if room is not None and not room.known:
                        room.topic = message.topic
                elif isinstance(message, ListEnd) and message.kind == "members":
                    self.rooms.members_done(name)
            if not self.report_errors("header", answer):
                self.sync()
        return done

    # --- the open room --------------------------------------------------------------------------

    def sync(self) -> None:
        """Show the open conversation's room parts if they changed (hidden when not a room)."""
        key = self.chat.active
        panel: RoomPanel | None = None
        if key != LOBBY and not key.startswith("@"):
            room = self.rooms.room(key)
            if room is None or room.members is None:
                self._ask_members(key)
            room = self.rooms.room(key) or Room(key)
            panel = self._panel(room)
        if panel != self._shown:
            self._shown = panel
            self.view.show_room(panel)

    def _ask_members(self, name: str) -> None:
        """Members (``0018``), and the topic of a public room not seen in a ``1010`` yet."""
        if name in self._asked or not self._online():
            return
        self._asked.add(name)
        if self.rooms.room(name) is None:
            self.rooms.rooms[name] = Room(name)
        requests: list[ClientMessage] = [MembersRequest(name)]
        if not self.rooms.rooms[name].known:
            requests.append(PublicRoomsRequest(name, ""))
        self.batch("header", requests, self._members_answer(name))

    def _panel(self, room: Room) -> RoomPanel:
        members = None if room.members is None else tuple(
            MemberRow(m.username, m.nickname, m.role == "owner", m.online,
                      m.username == self.chat.username)
            for m in room.sorted_members()
        )
        # the server strips control and bidi characters; shown safe here all the same
        return RoomPanel(room.name, safe_name(room.topic), room.private, room.owner, members)

    def member(self, room: str, username: str) -> Member | None:
        found = self.rooms.room(room)
        return (found.members or {}).get(username) if found is not None else None
