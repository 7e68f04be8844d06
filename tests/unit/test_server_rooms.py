"""The rules of rooms with in-memory fakes: names, topics, ownership, membership checks, and
that room traffic reaches only members' opted-in connections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from common.messages import SERVER_MESSAGES, decode_message
from common.messages_rooms import (
    CreateRoomRequest,
    InviteRequest,
    JoinRoomRequest,
    LeaveRoomRequest,
    RemoveMemberRequest,
    SetRoleRequest,
)
from server.connection_state import ConnectionState
from server.options import ServerOptions
from server.room_rules import clean_topic, is_room_name, next_owner
from server.room_traffic import RoomTraffic
from server.rooms import Rooms
from server.store import StoredMessage
from server.store_rooms import NameTaken, RoomRecord, room_key


class Sink:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def put(self, line: bytes) -> None:
        self.lines.append(line)

    def put_lines(self, lines: tuple[bytes, ...]) -> None:
        self.lines.extend(lines)

    def decoded(self) -> list[object]:
        return [decode_message(line, SERVER_MESSAGES) for line in self.lines]


class FakeHub:
    def __init__(self) -> None:
        self.sinks: dict[str, list[Sink]] = {}
        self.changed: list[tuple[int, str]] = []

    def connections_of(self, usernames: Iterable[str], exclude: object = None) -> list[Sink]:
        return [s for u in set(usernames) for s in self.sinks.get(u, []) if s is not exclude]

    def relay(self, audience: frozenset[str], lines: tuple[bytes, ...]) -> None:
        pass

    def room_changed(self, room_id: int, name: str) -> None:
        self.changed.append((room_id, name))


class FakeRoomStore:
    """Rooms and members in dicts, as ``server.store_rooms`` keeps them in tables."""

    def __init__(self) -> None:
        self.rooms: dict[int, list[object]] = {}  # id -> [name, topic, private]
        self.members: dict[int, dict[str, tuple[str, int]]] = {}
        self.users = {"user1": "wang_yuan", "user2": "ding_zhen", "user3": "cxk"}

    def user_exists(self, username: str) -> bool:
        return username in self.users

    def create_room(self, name: str, topic: str, private: bool, owner: str, now_ms: int) -> int:
        if any(r[0] == name for r in self.rooms.values()):
            raise NameTaken(name)
        room_id = len(self.rooms) + 1
        self.rooms[room_id] = [name, topic, private]
        self.members[room_id] = {owner: ("owner", 0)}
        return room_id

    def load_room(self, name: str) -> RoomRecord | None:
        for room_id, (rname, topic, private) in self.rooms.items():
            if rname == name:
                return RoomRecord(room_id, name, str(topic), bool(private),
                                  dict(self.members[room_id]))
        return None

    def rooms_of(self, username: str) -> int:
        return sum(username in m for m in self.members.values())

    def add_member(self, room_id: int, username: str, history_from_now: bool,
                   now_ms: int) -> int:
        self.members[room_id][username] = ("member", 7 if history_from_now else 0)
        return 7 if history_from_now else 0

    def remove_member(self, room_id: int, username: str) -> None:
        del self.members[room_id][username]

    def set_role(self, room_id: int, username: str, role: str) -> None:
        self.members[room_id][username] = (role, self.members[room_id][username][1])

    def set_topic(self, room_id: int, topic: str) -> None:
        self.rooms[room_id][1] = topic

    def rename_room(self, room_id: int, new_name: str) -> None:
        self.rooms[room_id][0] = new_name

    def nicknames(self, usernames: Sequence[str]) -> dict[str, str]:
        return {u: self.users[u] for u in usernames if u in self.users}


@pytest.fixture()
def world() -> tuple[Rooms, RoomTraffic, FakeHub]:
    hub = FakeHub()
    audience = RoomTraffic(hub)  # type: ignore[arg-type]
    rooms = Rooms(FakeRoomStore(), audience, ServerOptions(), lambda: 0)  # type: ignore[arg-type]
    return rooms, audience, hub


def connect(hub: FakeHub, audience: RoomTraffic, username: str, opted: bool = True
            ) -> ConnectionState:
    sink = Sink()
    hub.sinks.setdefault(username, []).append(sink)
    if opted:
        audience.opt_in(sink)
    return ConnectionState("127.0.0.1", "peer", sink, username, username)


def stored(room_id: int, text: str) -> StoredMessage:
    return StoredMessage(99, room_key(room_id), "user1", "wang_yuan", None, "c", text, 0)


def test_room_names_are_slugs() -> None:
    for good in ("a", "team-alpha", "9lives", "x" * 32):
        assert is_room_name(good)
    for bad in ("", "-lead", "Team", "a b", "#a", "@user1", "x" * 33, "a_b", "caf\u00e9"):
        assert not is_room_name(bad), bad


def test_topics_lose_control_and_bidi_characters() -> None:
    assert clean_topic("  a\u202eb\u2066c\x00d\x1b[31m \u200b ") == "abcd[31m"
    assert clean_topic("\u202e") == ""


def test_the_first_joined_member_inherits_ownership() -> None:
    assert next_owner({"b": "member", "c": "member"}) == "b"
    assert next_owner({"b": "member", "c": "owner"}) is None
    assert next_owner({}) is None


def test_outsiders_are_refused_with_the_same_bytes_whether_the_room_exists(world) -> None:
    rooms, audience, hub = world
    alice, carol = connect(hub, audience, "user1"), connect(hub, audience, "user3")
    rooms.create(alice, CreateRoomRequest("hidden", "", True))
    rooms.join(carol, JoinRoomRequest("hidden"))
    rooms.join(carol, JoinRoomRequest("absent"))
    first, second = carol.outbox.lines  # type: ignore[attr-defined]
    assert first == second and first.startswith(b"1009|forbidden|")
    assert rooms.conversation_of("user3", "hidden") is None
    assert rooms.history_source("user3", "hidden") is None


def test_room_lines_reach_only_members_opted_in_connections(world) -> None:
    rooms, audience, hub = world
    alice = connect(hub, audience, "user1")
    old_window = connect(hub, audience, "user1", opted=False)
    carol = connect(hub, audience, "user3")
    rooms.create(alice, CreateRoomRequest("team", "", False))
    line, members = rooms.delivery(stored(1, "hi"))
    sinks = rooms.opted_in(hub.connections_of(members))
    assert members == {"user1"} and sinks == [alice.outbox] and b"|team|" in line
    assert old_window.outbox.lines == [] and carol.outbox not in sinks  # type: ignore[attr-defined]


def test_removal_and_leaving_stop_delivery_at_once(world) -> None:
    rooms, audience, hub = world
    alice, bob, carol = (connect(hub, audience, u) for u in ("user1", "user2", "user3"))
    rooms.create(alice, CreateRoomRequest("team", "", False))
    rooms.join(bob, JoinRoomRequest("team"))
    rooms.join(carol, JoinRoomRequest("team"))
    rooms.remove(alice, RemoveMemberRequest("team", "user2"))
    rooms.leave(carol, LeaveRoomRequest("team"))
    _, members = rooms.delivery(stored(1, "after"))
    assert members == {"user1"}
    assert rooms.opted_in(hub.connections_of(members)) == [alice.outbox]
    assert rooms.conversation_of("user2", "team") is None
    assert b"1011|team|removed|user1" in bob.outbox.lines  # type: ignore[attr-defined]


def test_only_owners_invite_remove_and_change_roles(world) -> None:
    rooms, audience, hub = world
    alice, bob, _ = (connect(hub, audience, u) for u in ("user1", "user2", "user3"))
    rooms.create(alice, CreateRoomRequest("team", "", True))
    rooms.invite(alice, InviteRequest("team", "user2"))
    for attempt in (InviteRequest("team", "user3"), RemoveMemberRequest("team", "user1"),
                    SetRoleRequest("team", "user2", "owner")):
        bob.outbox.lines.clear()  # type: ignore[attr-defined]
        if isinstance(attempt, InviteRequest):
            rooms.invite(bob, attempt)
        elif isinstance(attempt, RemoveMemberRequest):
            rooms.remove(bob, attempt)
        else:
            rooms.set_role(bob, attempt)
        assert bob.outbox.lines[0].startswith(b"1009|forbidden|"), attempt  # type: ignore[attr-defined]
    assert rooms.conversation_of("user3", "team") is None
    assert rooms.history_source("user2", "team") == (room_key(1), 7)  # from the invitation


def test_the_last_owner_leaving_hands_the_room_on(world) -> None:
    rooms, audience, hub = world
    alice, bob = connect(hub, audience, "user1"), connect(hub, audience, "user2")
    rooms.create(alice, CreateRoomRequest("team", "", False))
    rooms.join(bob, JoinRoomRequest("team"))
    rooms.leave(alice, LeaveRoomRequest("team"))
    assert bob.outbox.lines[-1] == b"1010|team||0|1|owner"  # type: ignore[attr-defined]


def test_a_change_made_elsewhere_is_seen_after_invalidation(world) -> None:
    rooms, audience, hub = world
    alice = connect(hub, audience, "user1")
    rooms.create(alice, CreateRoomRequest("team", "", False))
    store = rooms._store  # another process adds bob behind this one's cache
    store.add_member(1, "user2", False, 0)  # type: ignore[attr-defined]
    assert rooms.conversation_of("user2", "team") is None  # the stale cache
    rooms.invalidate(1, "team")
    assert rooms.conversation_of("user2", "team") == room_key(1)


def test_every_membership_change_tells_the_other_processes(world) -> None:
    rooms, audience, hub = world
    alice, bob = connect(hub, audience, "user1"), connect(hub, audience, "user2")
    rooms.create(alice, CreateRoomRequest("team", "", False))
    rooms.join(bob, JoinRoomRequest("team"))
    rooms.leave(bob, LeaveRoomRequest("team"))
    assert hub.changed == [(1, "team"), (1, "team")]
