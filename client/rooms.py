"""What the window knows of rooms, as plain data: each room's state, members and the lists
the dialogs page through. No Tk and no sockets, so every rule (who sorts first, what a server
refusal says in words, what a room name may be) is unit tested directly.

The server decides everything (PROTOCOL.md §6); this is only what it last said. A ``1010``
replaces a room's state, ``1013`` and presence (``1005``) move its members, ``1011`` drops it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from common.messages_rooms import MemberEntry, PublicRoomEntry, RoomInfo
from common.protocol import LOBBY, ErrorCode

ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
"""The server's rule for a room name (a slug: 1-32 of ``a-z 0-9 -``, first a letter or digit);
checked here too so the person reads what is wrong before anything is sent."""
MAX_TOPIC = 200
USERNAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
OWNER = "owner"


def room_name_problem(name: str) -> str:
    """Why ``name`` cannot be a new room's name, in words; empty when it can."""
    if not name:
        return "Enter a name for the room."
    if name == LOBBY:
        return "“lobby” is the room everyone is in; choose another name."
    if len(name) > 32:
        return f"A room name has at most 32 characters (this one has {len(name)})."
    if name != name.lower() and ROOM_NAME.fullmatch(name.lower()):
        return "Use lower-case letters: a room name is a-z, 0-9 and “-”."
    if not ROOM_NAME.fullmatch(name):
        if name.startswith("-"):
            return "A room name starts with a letter or a digit."
        return "A room name is made of a-z, 0-9 and “-” only (no spaces)."
    return ""


def usernames_in(text: str) -> tuple[list[str], list[str]]:
    """The usernames typed in an invite box (commas or spaces between), and the ones that
    cannot be usernames at all; ``@`` before a name is allowed."""
    names: list[str] = []
    bad: list[str] = []
    for part in re.split(r"[\s,;]+", text.strip()):
        name = part.removeprefix("@")
        if not name:
            continue
        (names if USERNAME.fullmatch(name) else bad).append(name)
    return list(dict.fromkeys(names)), bad


REFUSAL_TEXTS: dict[str, str] = {
    ErrorCode.FORBIDDEN: "The server refused.",
    "name_taken": "That name is taken by another room; choose another.",
    "limit_reached": "A limit was reached: the room is full, or someone is in as many rooms "
                     "as they may be.",
    ErrorCode.TOO_LONG: f"The topic is too long (at most {MAX_TOPIC} characters).",
    ErrorCode.BAD_REQUEST: "The server did not accept that.",
    ErrorCode.NO_SUCH_USER: "There is no account with that username.",
    ErrorCode.RATE_LIMITED: "Too many requests at once; try again in a moment.",
    ErrorCode.UNAVAILABLE: "The server cannot do that right now; try again in a moment.",
}


def refusal_text(code_word: str, text: str) -> str:
    """A ``1009`` answering a room request, in words: ours with the server's detail after it
    (it says which limit, which rule), the server's alone for a code word we do not know."""
    ours = REFUSAL_TEXTS.get(code_word)
    if ours is None:
        return text or f"The server refused ({code_word})."
    detail = text.strip()
    return f"{ours} ({detail})" if detail else ours


@dataclass
class Member:
    """One member of a room as the window shows it."""

    username: str
    nickname: str
    role: str
    online: bool

    def sort_key(self) -> tuple[bool, str, str]:
        """Online first, then by name (nickname, username)."""
        return (not self.online, self.nickname.casefold(), self.username)


@dataclass
class Room:
    """A room the account is in: the last ``1010``, and the members once asked for."""

    name: str
    topic: str = ""
    private: bool = False
    member_count: int = 0
    role: str = "member"
    members: dict[str, Member] | None = None  # None: not asked for yet (``0018``)
    known: bool = False  # a ``1010`` was seen: topic, privacy and role are the server's
    version: int = 0  # bumped on every change, so a view repaints only what changed

    @property
    def owner(self) -> bool:
        return self.role == OWNER

    def sorted_members(self) -> list[Member]:
        return sorted((self.members or {}).values(), key=Member.sort_key)


@dataclass
class Listing:
    """One list paged through a dialog (public rooms, people found): what arrived, the
    ``after`` of the next page (empty: none) and whether a page is on its way."""

    query: str = ""
    entries: list[PublicRoomEntry] = field(default_factory=list)
    next: str = ""
    loading: bool = False


class RoomsModel:
    """Every room of the account this window has heard of, by name."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.rooms: dict[str, Room] = {}
        self.public = Listing()

    def room(self, name: str) -> Room | None:
        return self.rooms.get(name)

    def info(self, info: RoomInfo) -> Room:
        """A ``1010``: the whole state of the room as this account sees it."""
        room = self.rooms.get(info.name)
        if room is None:
            room = self.rooms[info.name] = Room(info.name)
        room.topic, room.private = info.topic, info.private
        room.member_count, room.role, room.known = info.member_count, info.role, True
        if room.members is not None and self.username in room.members:
            room.members[self.username].role = info.role
        room.version += 1
        return room

    def left(self, name: str) -> Room | None:
        """A ``1011``: the account is no longer in the room."""
        return self.rooms.pop(name, None)

    def renamed(self, old: str, new: str) -> Room | None:
        room = self.rooms.pop(old, None)
        if room is not None:
            room.name = new
            room.version += 1
            self.rooms[new] = room
        return room

    def member_entry(self, entry: MemberEntry, fresh: bool) -> None:
        """One ``1015`` of a ``0018`` answer; ``fresh``: the first of its answer (replace)."""
        room = self.rooms.get(entry.room)
        if room is None:
            room = self.rooms[entry.room] = Room(entry.room)
        if fresh or room.members is None:
            room.members = {}
        room.members[entry.username] = Member(entry.username, entry.nickname, entry.role,
                                              entry.online)
        if entry.username == self.username:
            room.role = entry.role
        room.member_count = len(room.members)
        room.version += 1

    def members_done(self, name: str) -> None:
        """``1019|members|``: an answer with no ``1015`` is an empty room."""
        room = self.rooms.get(name)
        if room is not None and room.members is None:
            room.members = {}
            room.version += 1

    def member_change(self, room_name: str, event: str, username: str, nickname: str,
                      role: str, online: bool) -> Room | None:
        """A ``1013``: someone joined, left, was removed or changed role."""
        room = self.rooms.get(room_name)
        if room is None:
            return None
        members = room.members
        if event == "join":
            room.member_count += 0 if members is not None and username in members else 1
            if members is not None:
                members[username] = Member(username, nickname, role or "member", online)
        elif event in ("leave", "removed"):
            if members is None or username in members:
                room.member_count = max(0, room.member_count - 1)
            if members is not None:
                members.pop(username, None)
        elif event == "role" and members is not None and username in members:
            members[username].role = role
        room.version += 1
        return room

    def presence(self, username: str, online: bool) -> list[Room]:
        """A ``1005``: the rooms whose member list shows ``username`` (they change)."""
        changed = []
        for room in self.rooms.values():
            member = (room.members or {}).get(username)
            if member is not None and member.online != online:
                member.online = online
                room.version += 1
                changed.append(room)
        return changed
