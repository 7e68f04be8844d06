"""Rooms: who is in which, what each member may do, and how room traffic reaches people.

The database (``memberships``) is the authority; this module keeps a cache of every room it
has touched (name, topic, kind, members and their roles) so that the send path and the fan-out
of a room message never ask the database. The cache is changed ONLY here, in the same
critical section as the database write and before anyone is told (``1010``/``1011``/``1013``),
so a member who left or was removed gets nothing committed after its ``1011``. With several
server processes each process's cache must be told of changes the others make (the hub's
pub/sub carries them; docs/ARCHITECTURE.md "Rooms").

Every room line reaches connections through ``RoomTraffic.sinks`` (hub ``connections_of`` less the
connections that never opted in to room traffic, PROTOCOL.md §6): there is no other way.
Membership is checked against the cache on every request; a room one may not see answers
``forbidden`` with the same bytes whether or not it exists.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from common.messages import ChatDelivery, encode_message
from common.messages_rooms import (
    CreateRoomRequest,
    InviteRequest,
    JoinRoomRequest,
    LeaveRoomRequest,
    ListEnd,
    MemberChange,
    MemberEntry,
    MembersRequest,
    PublicRoomEntry,
    PublicRoomsRequest,
    RemoveMemberRequest,
    RenameRoomRequest,
    RoomEvent,
    RoomInfo,
    RoomLeft,
    RoomRenamed,
    SetRoleRequest,
    SetTopicRequest,
)
from common.protocol import LOBBY
from server.connection_state import ConnectionState
from server.hub import LineSink
from server.names import is_username
from server.options import ServerOptions
from server.ports_rooms import RoomStore
from server.room_rules import (
    MEMBER,
    OWNER,
    ROLES,
    clean_topic,
    is_name_prefix,
    is_new_room_name,
    is_room_name,
    next_owner,
)
from server.room_traffic import RoomTraffic
from server.store import StoredMessage
from server.store_rooms import NameTaken, RoomRecord, room_key

log = logging.getLogger(__name__)

FORBIDDEN_TEXT = "no such room, or you are not in it"


def line_of(message: RoomEvent | ChatDelivery) -> bytes:
    return encode_message(message).encode()


def room_line(stored: StoredMessage, name: str) -> bytes:
    """The ``1002`` of a stored room message, under the room's current ``name``."""
    return line_of(ChatDelivery(stored.msg_id, name, stored.sender, stored.sender_nickname,
                                stored.created_ms, stored.text))


@dataclass
class RoomState:
    """A cached room; members map username -> role in joining order."""

    room_id: int
    name: str
    topic: str
    private: bool
    members: dict[str, str] = field(default_factory=dict)
    joined_after: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, record: RoomRecord) -> RoomState:
        return cls(record.room_id, record.name, record.topic, record.private,
                   {u: role for u, (role, _) in record.members.items()},
                   {u: after for u, (_, after) in record.members.items()})

    def info(self, username: str) -> bytes:
        return line_of(RoomInfo(self.name, self.topic, self.private, len(self.members),
                                self.members.get(username, MEMBER)))


class Rooms:
    """Room requests (``0009``-``0018``), the membership checks of sends and history, and the
    fan-out of room messages; thread-safe (one lock over each change and its database write)."""

    def __init__(self, store: RoomStore, audience: RoomTraffic, options: ServerOptions,
                 now_ms: Callable[[], int]) -> None:
        self._store, self._audience, self._options = store, audience, options
        self._now_ms = now_ms
        self._lock = threading.RLock()
        self._by_name: dict[str, RoomState] = {}
        self._by_id: dict[int, RoomState] = {}

    # --- the cache -------------------------------------------------------------------------

    def _nickname(self, user: str) -> str:
        """As stored: another window of the account may have changed it (PROTOCOL.md §8)."""
        return self._store.nicknames((user,)).get(user, user)

    def _room(self, name: str) -> RoomState | None:
        """The room called ``name`` (loaded once; the lock is held by the caller)."""
        if not is_room_name(name) or name == LOBBY:
            return None
        room = self._by_name.get(name)
        if room is None:
            record = self._store.load_room(name)
            if record is None:
                return None
            room = self._by_id.get(record.room_id) or RoomState.of(record)
            self._by_name[room.name], self._by_id[room.room_id] = room, room
        return room

    def invalidate(self, room_id: int, name: str) -> None:
        """Forget the cached room ``room_id`` (changed by another server process, whose hub
        relays its id and name now) and, if it was cached, load it again at once, so that
        deliveries by id (``delivery``) keep finding it."""
        with self._lock:
            room = self._by_id.pop(room_id, None)
            if room is None:
                return
            self._by_name.pop(room.name, None)
            self._room(name)

    def forget_all(self) -> None:
        """Forget every cached room: changes made elsewhere may have been missed."""
        with self._lock:
            self._by_id.clear()
            self._by_name.clear()

    def _visible(self, username: str, name: str) -> RoomState | None:
        with self._lock:
            room = self._room(name)
            return room if room is not None and username in room.members else None

    # --- what sends and history ask ----------------------------------------------------------

    def conversation_of(self, username: str, name: str) -> str | None:
        """The stored conversation of room ``name`` if ``username`` is in it, else None."""
        room = self._visible(username, name)
        return None if room is None else room_key(room.room_id)

    def history_source(self, username: str, name: str) -> tuple[str, int] | None:
        """(stored conversation, the id its history starts after) for a member, else None."""
        with self._lock:
            room = self._room(name)
            if room is None or username not in room.members:
                return None
            floor = room.joined_after.get(username, 0) if room.private else 0
            return room_key(room.room_id), floor

    def delivery(self, stored: StoredMessage) -> tuple[bytes, frozenset[str]]:
        """A committed room message's ``1002`` and who gets it: the members at this moment
        (an empty line for a room that is gone)."""
        room_id = int(stored.conversation.removeprefix("room:"))
        with self._lock:
            room = self._by_id.get(room_id)
            if room is None:
                return b"", frozenset()
            name, members = room.name, frozenset(room.members)
        return room_line(stored, name), members

    def opted_in(self, sinks: Iterable[LineSink]) -> list[LineSink]:
        """Those of ``sinks`` whose client asked for room traffic (PROTOCOL.md §6)."""
        return self._audience.opted_in(sinks)

    # --- requests -----------------------------------------------------------------------------

    def create(self, conn: ConnectionState, request: CreateRoomRequest) -> None:
        user = _user(conn)
        topic = clean_topic(request.topic)
        if not is_room_name(request.name):
            conn.error("bad_request", "a room name is 1-32 of a-z 0-9 -")
        elif request.name == LOBBY:
            conn.error("name_taken", "that room name is taken")
        elif len(topic) > self._options.max_topic:
            conn.error("too_long", f"a topic has at most {self._options.max_topic} characters")
        else:
            with self._lock:
                if self._store.rooms_of(user) >= self._options.max_rooms_per_account:
                    conn.error("limit_reached", "you are in as many rooms as you may be")
                    return
                try:
                    room_id = self._store.create_room(request.name, topic, request.private, user,
                                                      self._now_ms())
                except NameTaken:
                    conn.error("name_taken", "that room name is taken")
                    return
                room = RoomState(room_id, request.name, topic, request.private, {user: OWNER},
                                 {user: 0})
                self._by_name[room.name], self._by_id[room_id] = room, room
                self._audience.send((user,), room.info(user))
            log.info("%s created room %s", user, request.name)

    def join(self, conn: ConnectionState, request: JoinRoomRequest) -> None:
        user = _user(conn)
        with self._lock:
            room = self._room(request.name)
            if room is None or (room.private and user not in room.members):
                conn.error("forbidden", FORBIDDEN_TEXT)
            elif user in room.members:
                conn.outbox.put(room.info(user))
            elif self._admit(conn, room, user):
                self._add(room, user, self._nickname(user))

    def invite(self, conn: ConnectionState, request: InviteRequest) -> None:
        user, guest = _user(conn), request.username
        with self._lock:
            room = self._owned(conn, request.name)
            if room is None:
                return
            if not is_username(guest) or not self._store.user_exists(guest):
                conn.error("no_such_user", "no such user")
            elif guest not in room.members and self._admit(conn, room, guest):
                nickname = self._nickname(guest)
                self._add(room, guest, nickname)
                log.info("%s invited %s to %s", user, guest, room.name)

    def leave(self, conn: ConnectionState, request: LeaveRoomRequest) -> None:
        user = _user(conn)
        if request.name == LOBBY:
            conn.error("bad_request", "nobody leaves the lobby")
            return
        with self._lock:
            room = self._joined(conn, request.name)
            if room is not None:
                self._drop(room, user, "left", user, self._nickname(user))

    def remove(self, conn: ConnectionState, request: RemoveMemberRequest) -> None:
        user, target = _user(conn), request.username
        with self._lock:
            room = self._owned(conn, request.name)
            if room is None:
                return
            if target == user or room.members.get(target) != MEMBER:
                conn.error("forbidden", "only a member who is not an owner can be removed")
                return
            nickname = self._nickname(target)
            self._drop(room, target, "removed", user, nickname)
            log.info("%s removed %s from %s", user, target, room.name)

    def set_topic(self, conn: ConnectionState, request: SetTopicRequest) -> None:
        topic = clean_topic(request.topic)
        with self._lock:
            room = self._owned(conn, request.name)
            if room is None:
                return
            if len(topic) > self._options.max_topic:
                conn.error("too_long", f"a topic has at most {self._options.max_topic} characters")
                return
            self._store.set_topic(room.room_id, topic)
            room.topic = topic
            self._audience.changed(room.room_id, room.name)
            for member in room.members:
                self._audience.send((member,), room.info(member))

    def rename(self, conn: ConnectionState, request: RenameRoomRequest) -> None:
        new = request.new_name
        with self._lock:
            room = self._owned(conn, request.name)
            if room is None:
                return
            if not is_room_name(new):
                conn.error("bad_request", "a room name is 1-32 of a-z 0-9 -")
                return
            if not is_new_room_name(new) or self._room(new) is not None:
                conn.error("name_taken", "that room name is taken")
                return
            try:
                self._store.rename_room(room.room_id, new)
            except NameTaken:
                conn.error("name_taken", "that room name is taken")
                return
            old = room.name
            del self._by_name[old]
            room.name = new
            self._by_name[new] = room
            self._audience.changed(room.room_id, new)
            self._audience.send(room.members, line_of(RoomRenamed(old, new, _user(conn))))

    def set_role(self, conn: ConnectionState, request: SetRoleRequest) -> None:
        target, role = request.username, request.role
        with self._lock:
            room = self._owned(conn, request.name)
            if room is None:
                return
            if target not in room.members:
                conn.error("forbidden", "not a member of this room")
            elif role not in ROLES:
                conn.error("bad_request", "a role is owner or member")
            elif role == MEMBER and list(room.members.values()).count(OWNER) == 1 \
                    and room.members[target] == OWNER:
                conn.error("bad_request", "a room keeps at least one owner")
            else:
                self._store.set_role(room.room_id, target, role)
                room.members[target] = role
                nickname = self._nickname(target)
                self._tell_role(room, target, nickname)

    def members(self, conn: ConnectionState, request: MembersRequest) -> None:
        if request.name == LOBBY:
            conn.error("bad_request", "everyone is in the lobby; ask for people (0019)")
            return
        with self._lock:
            room = self._joined(conn, request.name)
            if room is None:
                return
            name, members = room.name, dict(room.members)
        nicknames = self._store.nicknames(tuple(members))
        lines = [
            line_of(MemberEntry(name, member, nicknames.get(member, member), role,
                                self._audience.online(member)))
            for member, role in sorted(members.items())
        ]
        lines.append(line_of(ListEnd("members", "")))
        conn.outbox.put_lines(tuple(lines))

    def public_rooms(self, conn: ConnectionState, request: PublicRoomsRequest) -> None:
        page = self._options.directory_page
        found = (
            self._store.public_rooms(request.prefix, request.after, page, _user(conn))
            if is_name_prefix(request.prefix) else []
        )
        lines = [line_of(PublicRoomEntry(*row)) for row in found]
        following = found[-1][0] if len(found) == page else ""
        lines.append(line_of(ListEnd("rooms", following)))
        conn.outbox.put_lines(tuple(lines))

    # --- changes (the lock is held) ----------------------------------------------------------

    def _joined(self, conn: ConnectionState, name: str) -> RoomState | None:
        """The room if the requester is in it; else None, told ``forbidden`` (same bytes)."""
        room = self._room(name)
        if room is None or _user(conn) not in room.members:
            conn.error("forbidden", FORBIDDEN_TEXT)
            return None
        return room

    def _owned(self, conn: ConnectionState, name: str) -> RoomState | None:
        """The room if the requester owns it; else None, the requester told ``forbidden``."""
        room = self._joined(conn, name)
        if room is None:
            return None
        if room.members[_user(conn)] != OWNER:
            conn.error("forbidden", "only an owner of the room may do that")
            return None
        return room

    def _admit(self, conn: ConnectionState, room: RoomState, username: str) -> bool:
        """May ``username`` join one more room, and ``room`` take one more member?"""
        if len(room.members) >= self._options.max_room_members:
            conn.error("limit_reached", "the room is full")
        elif self._store.rooms_of(username) >= self._options.max_rooms_per_account:
            conn.error("limit_reached", "already in as many rooms as one may be")
        else:
            return True
        return False

    def _add(self, room: RoomState, username: str, nickname: str) -> None:
        others = tuple(room.members)
        room.joined_after[username] = self._store.add_member(
            room.room_id, username, room.private, self._now_ms())
        room.members[username] = MEMBER
        self._audience.changed(room.room_id, room.name)
        self._audience.send((username,), room.info(username))
        change = MemberChange(room.name, "join", username, nickname, MEMBER)
        self._audience.send(others, line_of(change))

    def _drop(self, room: RoomState, username: str, how: str, by: str, nickname: str) -> None:
        self._store.remove_member(room.room_id, username)
        del room.members[username]
        room.joined_after.pop(username, None)
        self._audience.changed(room.room_id, room.name)
        self._audience.send((username,), line_of(RoomLeft(room.name, how, by)))
        event = "leave" if how == "left" else "removed"
        self._audience.send(room.members, line_of(MemberChange(room.name, event, username,
                                                               nickname, "")))
        heir = next_owner(room.members)
        if heir is not None:
            self._store.set_role(room.room_id, heir, OWNER)
            room.members[heir] = OWNER
            self._tell_role(room, heir, self._nickname(heir))

    def _tell_role(self, room: RoomState, target: str, nickname: str) -> None:
        self._audience.changed(room.room_id, room.name)
        change = MemberChange(room.name, "role", target, nickname, room.members[target])
        self._audience.send((m for m in room.members if m != target), line_of(change))
        self._audience.send((target,), room.info(target))


def _user(conn: ConnectionState) -> str:
    assert conn.username is not None  # room requests come only after login
    return conn.username
