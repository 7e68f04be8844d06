"""The messages of rooms, the people directory and read positions (PROTOCOL.md §6).

Kept apart from ``common.messages`` (which registers them in its tables) so the older contract
stays readable on its own: a peer that never sends one of these codes never receives one.
Field layouts are read from the dataclasses exactly as in ``common.messages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

# --- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateRoomRequest:
    """``0009``: create a room and become its owner."""

    CODE: ClassVar[str] = "0009"
    name: str
    topic: str
    private: bool


@dataclass(frozen=True)
class JoinRoomRequest:
    """``0010``: join a public room."""

    CODE: ClassVar[str] = "0010"
    name: str


@dataclass(frozen=True)
class LeaveRoomRequest:
    """``0011``: leave a room (never ``lobby``)."""

    CODE: ClassVar[str] = "0011"
    name: str


@dataclass(frozen=True)
class InviteRequest:
    """``0012``: an owner makes another account a member."""

    CODE: ClassVar[str] = "0012"
    name: str
    username: str


@dataclass(frozen=True)
class SetTopicRequest:
    """``0013``: an owner sets the topic."""

    CODE: ClassVar[str] = "0013"
    name: str
    topic: str


@dataclass(frozen=True)
class RenameRoomRequest:
    """``0014``: an owner renames the room."""

    CODE: ClassVar[str] = "0014"
    name: str
    new_name: str


@dataclass(frozen=True)
class RemoveMemberRequest:
    """``0015``: an owner removes a member."""

    CODE: ClassVar[str] = "0015"
    name: str
    username: str


@dataclass(frozen=True)
class SetRoleRequest:
    """``0016``: an owner makes a member an owner (``owner``) or an owner a member."""

    CODE: ClassVar[str] = "0016"
    name: str
    username: str
    role: str


@dataclass(frozen=True)
class PublicRoomsRequest:
    """``0017``: a page of public rooms whose names start with ``prefix``, after ``after``."""

    CODE: ClassVar[str] = "0017"
    prefix: str
    after: str


@dataclass(frozen=True)
class MembersRequest:
    """``0018``: every member of a room one is in."""

    CODE: ClassVar[str] = "0018"
    name: str


@dataclass(frozen=True)
class PeopleRequest:
    """``0019``: a page of every account, online or not, by username prefix."""

    CODE: ClassVar[str] = "0019"
    prefix: str
    after: str


@dataclass(frozen=True)
class MarkReadRequest:
    """``0020``: everything up to ``msg_id`` in ``conversation`` is read."""

    CODE: ClassVar[str] = "0020"
    conversation: str
    msg_id: int


@dataclass(frozen=True)
class ConversationsRequest:
    """``0021``: the account's conversations with unread counts, newest first."""

    CODE: ClassVar[str] = "0021"


# --- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomInfo:
    """``1010``: a room as the receiving account sees it (it is a member)."""

    CODE: ClassVar[str] = "1010"
    name: str
    topic: str
    private: bool
    member_count: int
    role: str


@dataclass(frozen=True)
class RoomLeft:
    """``1011``: the account is no longer in the room (``left`` or ``removed``, by whom)."""

    CODE: ClassVar[str] = "1011"
    name: str
    how: str
    by: str


@dataclass(frozen=True)
class RoomRenamed:
    """``1012``: the room is now called ``new_name``."""

    CODE: ClassVar[str] = "1012"
    old_name: str
    new_name: str
    by: str


@dataclass(frozen=True)
class MemberChange:
    """``1013``: someone joined, left, was removed or changed role in a room."""

    CODE: ClassVar[str] = "1013"
    room: str
    event: str
    username: str
    nickname: str
    role: str


@dataclass(frozen=True)
class PublicRoomEntry:
    """``1014``: one public room of a ``0017`` page."""

    CODE: ClassVar[str] = "1014"
    name: str
    topic: str
    member_count: int
    joined: bool


@dataclass(frozen=True)
class MemberEntry:
    """``1015``: one member of a ``0018`` answer."""

    CODE: ClassVar[str] = "1015"
    room: str
    username: str
    nickname: str
    role: str
    online: bool


@dataclass(frozen=True)
class PersonEntry:
    """``1016``: one account of a ``0019`` page."""

    CODE: ClassVar[str] = "1016"
    username: str
    nickname: str
    online: bool


@dataclass(frozen=True)
class ConversationEntry:
    """``1017``: one conversation of the account, with its unread count and newest message."""

    CODE: ClassVar[str] = "1017"
    conversation: str
    unread: int
    last_read_msg_id: int
    newest_msg_id: int | None
    newest_sender: str
    newest_ms: int | None
    preview: str


@dataclass(frozen=True)
class ReadPosition:
    """``1018``: the account's read position in a conversation moved (any of its windows)."""

    CODE: ClassVar[str] = "1018"
    conversation: str
    last_read_msg_id: int
    unread: int


@dataclass(frozen=True)
class ListEnd:
    """``1019``: the end of a list; ``next`` is the ``after`` of the next page (empty: none)."""

    CODE: ClassVar[str] = "1019"
    kind: str
    next: str


RoomRequest = (
    CreateRoomRequest | JoinRoomRequest | LeaveRoomRequest | InviteRequest | SetTopicRequest
    | RenameRoomRequest | RemoveMemberRequest | SetRoleRequest | PublicRoomsRequest
    | MembersRequest | PeopleRequest | MarkReadRequest | ConversationsRequest
)
RoomEvent = (
    RoomInfo | RoomLeft | RoomRenamed | MemberChange | PublicRoomEntry | MemberEntry
    | PersonEntry | ConversationEntry | ReadPosition | ListEnd
)
ROOM_REQUESTS: tuple[type[RoomRequest], ...] = (
    CreateRoomRequest, JoinRoomRequest, LeaveRoomRequest, InviteRequest, SetTopicRequest,
    RenameRoomRequest, RemoveMemberRequest, SetRoleRequest, PublicRoomsRequest, MembersRequest,
    PeopleRequest, MarkReadRequest, ConversationsRequest,
)
ROOM_EVENTS: tuple[type[RoomEvent], ...] = (
    RoomInfo, RoomLeft, RoomRenamed, MemberChange, PublicRoomEntry, MemberEntry, PersonEntry,
    ConversationEntry, ReadPosition, ListEnd,
)
