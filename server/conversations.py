"""The people directory, read positions and the conversation list; and the one entry point
the service calls for every rooms request (``RoomRequests``).

Read positions live in the database (``memberships.last_read``), so every window and every
later login of an account sees the same unread counts; moving one (``0020``) tells all of the
account's opted-in windows (``1018``) through the rooms' ``RoomTraffic``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.messages_rooms import (
    ConversationEntry,
    ConversationsRequest,
    CreateRoomRequest,
    InviteRequest,
    JoinRoomRequest,
    LeaveRoomRequest,
    ListEnd,
    MarkReadRequest,
    MembersRequest,
    PeopleRequest,
    PersonEntry,
    PublicRoomsRequest,
    ReadPosition,
    RemoveMemberRequest,
    RenameRoomRequest,
    RoomRequest,
    SetRoleRequest,
    SetTopicRequest,
)
from common.protocol import LOBBY
from server.admission import Admission
from server.connection_state import ConnectionState
from server.direct import dm_conversation
from server.hub import Hub, LineSink
from server.names import USERNAME_PATTERN, is_username
from server.options import ServerOptions
from server.ports_rooms import RoomStore
from server.room_rules import is_room_name
from server.room_traffic import RoomTraffic
from server.rooms import FORBIDDEN_TEXT, Rooms, line_of
from server.store import StoreUnavailable
from server.store_rooms import LOBBY_KEY, ConversationRow

log = logging.getLogger(__name__)


def conversation_name(row: ConversationRow, username: str) -> str:
    """What the account calls a stored conversation: ``lobby``, a room's name or ``@peer``."""
    if row.room_name is not None:
        return row.room_name
    if row.conversation.startswith("dm:"):
        low, high = row.conversation[3:].split(":", 1)
        return "@" + (high if low == username else low)
    return row.conversation


class Conversations:
    """``0019`` people, ``0020`` mark read, ``0021`` the conversation list."""

    def __init__(self, store: RoomStore, rooms: Rooms, audience: RoomTraffic,
                 options: ServerOptions) -> None:
        self._store, self._rooms, self._audience = store, rooms, audience
        self._options = options

    def people(self, conn: ConnectionState, request: PeopleRequest) -> None:
        page = self._options.directory_page
        prefix_ok = request.prefix == "" or USERNAME_PATTERN.fullmatch(request.prefix)
        found = self._store.people(request.prefix, request.after, page) if prefix_ok else []
        lines = [line_of(PersonEntry(u, n, self._audience.online(u))) for u, n in found]
        following = found[-1][0] if len(found) == page else ""
        lines.append(line_of(ListEnd("people", following)))
        conn.outbox.put_lines(tuple(lines))

    def mark_read(self, conn: ConnectionState, request: MarkReadRequest) -> None:
        assert conn.username is not None
        name = request.conversation
        if name == LOBBY:
            key = LOBBY_KEY
        elif name.startswith("@"):
            if not is_username(name[1:]):
                conn.error("bad_request", "conversation is lobby, a room or @username")
                return
            key = dm_conversation(conn.username, name[1:])
        elif not is_room_name(name):
            conn.error("bad_request", "conversation is lobby, a room or @username")
            return
        else:
            room_key = self._rooms.conversation_of(conn.username, name)
            if room_key is None:
                conn.error("forbidden", FORBIDDEN_TEXT)
                return
            key = room_key
        moved = self._store.mark_read(conn.username, key, request.msg_id)
        position, unread = moved if moved is not None else (0, 0)
        self._audience.send((conn.username,), line_of(ReadPosition(name, position, unread)))

    def listing(self, conn: ConnectionState) -> None:
        assert conn.username is not None
        rows = self._store.conversations(conn.username)
        lines = [
            line_of(ConversationEntry(
                conversation_name(row, conn.username), row.unread, row.last_read,
                row.newest_id, row.newest_sender, row.newest_ms, row.preview,
            ))
            for row in rows
        ]
        lines.append(line_of(ListEnd("conversations", "")))
        conn.outbox.put_lines(tuple(lines))


class RoomRequests:
    """Every request of ``0009``-``0021``: opts the connection in, then hands it on."""

    def __init__(self, store: RoomStore, hub: Hub, options: ServerOptions,
                 now_ms: Callable[[], int], admission: Admission) -> None:
        self._admission = admission
        self.audience = RoomTraffic(hub)
        self.rooms = Rooms(store, self.audience, options, now_ms)
        hub.bind_rooms(self.rooms)  # a cluster's room lines from elsewhere: opt-in, reloads
        self._conversations = Conversations(store, self.rooms, self.audience, options)

    def forget(self, sink: LineSink) -> None:
        """The connection is gone."""
        self.audience.forget(sink)

    def send_key(self, conn: ConnectionState, name: str) -> str | None:
        """The stored conversation of a ``0002`` to room ``name``; None once refused."""
        assert conn.username is not None
        try:
            key = self.rooms.conversation_of(conn.username, name)
        except StoreUnavailable:
            conn.error("unavailable", "the message was not stored; it will be resent")
            return None
        if key is None:
            conn.error("forbidden", FORBIDDEN_TEXT)
        return key

    def history_source(self, conn: ConnectionState, name: str) -> tuple[str, int] | None:
        """(stored conversation, first id after which a page may start) of a ``0004`` of room
        ``name``; None once refused (bad name, not a member, database down)."""
        assert conn.username is not None
        if not is_room_name(name):
            conn.error("bad_request", "conversation is lobby, a room or @username")
            return None
        try:
            source = self.rooms.history_source(conn.username, name)
        except StoreUnavailable:
            conn.error("unavailable", "history is unavailable; try again")
            return None
        if source is None:
            conn.error("forbidden", FORBIDDEN_TEXT)
        return source

    def handle(self, conn: ConnectionState, message: RoomRequest) -> bool:
        """Answer one request; each costs a token of the connection's request bucket (False:
        close the connection, as for a ping flood)."""
        if (verdict := self._admission.check_request(conn)) != "ok":
            return self._admission.refuse_request(conn, verdict)
        self.audience.opt_in(conn.outbox)
        try:
            self._dispatch(conn, message)
        except StoreUnavailable:
            log.warning("rooms request of %s: database unavailable", conn.peer)
            conn.error("unavailable", "the database is unavailable; try again")
        return True

    def _dispatch(self, conn: ConnectionState, message: RoomRequest) -> None:
        rooms, talk = self.rooms, self._conversations
        match message:
            case CreateRoomRequest():
                rooms.create(conn, message)
            case JoinRoomRequest():
                rooms.join(conn, message)
            case LeaveRoomRequest():
                rooms.leave(conn, message)
            case InviteRequest():
                rooms.invite(conn, message)
            case SetTopicRequest():
                rooms.set_topic(conn, message)
            case RenameRoomRequest():
                rooms.rename(conn, message)
            case RemoveMemberRequest():
                rooms.remove(conn, message)
            case SetRoleRequest():
                rooms.set_role(conn, message)
            case PublicRoomsRequest():
                rooms.public_rooms(conn, message)
            case MembersRequest():
                rooms.members(conn, message)
            case PeopleRequest():
                talk.people(conn, message)
            case MarkReadRequest():
                talk.mark_read(conn, message)
            case ConversationsRequest():
                talk.listing(conn)
