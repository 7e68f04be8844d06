"""Rooms against the live server and MariaDB (PROTOCOL.md §6): three accounts, two windows of
one of them; every refusal is performed and shown to reach nobody and to leak nothing."""

from __future__ import annotations

import uuid

import pytest

from common.messages import ChatDelivery, ChatRequest, HistoryEnd, HistoryRequest
from common.messages_rooms import (
    CreateRoomRequest,
    InviteRequest,
    JoinRoomRequest,
    LeaveRoomRequest,
    ListEnd,
    MarkReadRequest,
    MemberChange,
    MemberEntry,
    MembersRequest,
    PublicRoomEntry,
    PublicRoomsRequest,
    RemoveMemberRequest,
    RenameRoomRequest,
    RoomInfo,
    RoomLeft,
    RoomRenamed,
    SetRoleRequest,
    SetTopicRequest,
)
from server.store import Store
from tests.integration.rooms_helpers import (
    expect,
    heard_in,
    never_sees,
    refusal,
    say,
    window,
)

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def history(client, room: str) -> tuple[list[ChatDelivery], object]:
    client.send(HistoryRequest(room, None, 50))
    rows: list[ChatDelivery] = []
    while True:
        got = client.recv_until(lambda m: isinstance(m, ChatDelivery | HistoryEnd)
                                or type(m).__name__ == "ErrorReply")
        if not isinstance(got, ChatDelivery):
            return rows, got
        rows.append(got)


def test_create_join_topic_members_and_delivery(chat) -> None:
    a1, a2 = window(chat, "user1"), window(chat, "user1")
    bob, carol = window(chat, "user2"), window(chat, "user3")
    a1.send(CreateRoomRequest("plans", "release\u202e planning\x07", False))
    for w in (a1, a2):  # the creator's both windows learn of it; bidi and control removed
        info = expect(w, RoomInfo, lambda m: m.name == "plans")
        assert info == RoomInfo("plans", "release planning", False, 1, "owner")
    bob.send(PublicRoomsRequest("pla", ""))
    listed = expect(bob, PublicRoomEntry)
    assert listed == PublicRoomEntry("plans", "release planning", 1, False)
    assert expect(bob, ListEnd).kind == "rooms"
    bob.send(JoinRoomRequest("plans"))
    assert expect(bob, RoomInfo).member_count == 2
    for w in (a1, a2):
        change = expect(w, MemberChange)
        assert (change.event, change.username, change.nickname) == ("join", "user2", "ding_zhen")
    a1.send(SetTopicRequest("plans", "ship friday"))
    for w in (a1, a2, bob):
        assert expect(w, RoomInfo, lambda m: m.topic == "ship friday").name == "plans"
    sent = say(bob, "plans", "hello plans")
    for w in (a1, a2, bob):
        assert heard_in(w, "plans", "hello plans").msg_id == sent.msg_id
    never_sees(carol, "hello plans")
    bob.send(MembersRequest("plans"))
    members = [expect(bob, MemberEntry), expect(bob, MemberEntry)]
    assert [(m.username, m.role, m.online) for m in members] == [
        ("user1", "owner", True), ("user2", "member", True)]
    assert expect(bob, ListEnd).kind == "members"
    rows, end = history(carol, "plans")  # a public room, but carol is not in it
    assert rows == [] and getattr(end, "code_word", None) == "forbidden"


def test_a_private_room_refuses_outsiders_and_leaks_nothing(chat) -> None:
    alice, bob, carol = window(chat, "user1"), window(chat, "user2"), window(chat, "user3")
    alice.send(CreateRoomRequest("secret-x", "", True))
    expect(alice, RoomInfo)
    say(alice, "secret-x", "before bob")
    answers = []
    for probe in ("secret-x", "no-such-room"):  # the same bytes whether it exists or not
        carol.send(JoinRoomRequest(probe))
        join = refusal(carol)
        carol.send(ChatRequest(probe, uuid.uuid4().hex, "let me in"))
        send = refusal(carol)
        rows, hist = history(carol, probe)
        carol.send(MembersRequest(probe))
        members = refusal(carol)
        carol.send(MarkReadRequest(probe, 10**6))
        read = refusal(carol)
        assert rows == []
        answers.append((join, send, hist, members, read))
    assert answers[0] == answers[1]
    assert {a.code_word for a in answers[0]} == {"forbidden"}  # type: ignore[attr-defined]
    carol.send(PublicRoomsRequest("", ""))
    while not isinstance(got := expect(carol, PublicRoomEntry | ListEnd), ListEnd):
        assert got.name != "secret-x"
    never_sees(alice, "let me in")
    never_sees(bob, "let me in")
    carol.send(InviteRequest("secret-x", "user3"))  # inviting oneself from outside
    assert refusal(carol).code_word == "forbidden"
    alice.send(InviteRequest("secret-x", "user2"))
    assert expect(bob, RoomInfo) == RoomInfo("secret-x", "", True, 2, "member")
    assert expect(alice, MemberChange).username == "user2"
    rows, end = history(bob, "secret-x")  # a private room's history starts at the invitation
    assert [r.text for r in rows] == [] and isinstance(end, HistoryEnd)
    say(alice, "secret-x", "after bob")
    heard_in(bob, "secret-x", "after bob")
    rows, _ = history(bob, "secret-x")
    assert [r.text for r in rows] == ["after bob"]
    bob.send(InviteRequest("secret-x", "user3"))  # a member, not an owner
    assert refusal(bob).code_word == "forbidden"
    never_sees(carol, "secret-x")


def test_removed_and_leaving_members_get_nothing_more(chat) -> None:
    alice = window(chat, "user1")
    b1, b2 = window(chat, "user2"), window(chat, "user2")
    carol = window(chat, "user3")
    alice.send(CreateRoomRequest("ops", "", False))
    expect(alice, RoomInfo)
    for who in (b1, carol):
        who.send(JoinRoomRequest("ops"))
        expect(who, RoomInfo)
    expect(b2, RoomInfo)  # bob's other window learns of the join live
    b1.send(RemoveMemberRequest("ops", "user1"))  # a member cannot remove the owner
    assert refusal(b1).code_word == "forbidden"
    alice.send(RemoveMemberRequest("ops", "user2"))
    for w in (b1, b2):  # both of bob's windows learn it live
        assert expect(w, RoomLeft) == RoomLeft("ops", "removed", "user1")
    assert expect(carol, MemberChange, lambda m: m.event == "removed").username == "user2"
    say(alice, "ops", "after the removal")
    heard_in(carol, "ops", "after the removal")
    never_sees(b1, "after the removal")
    never_sees(b2, "after the removal")
    b1.send(ChatRequest("ops", uuid.uuid4().hex, "still here?"))  # typing the old room's name
    assert refusal(b1).code_word == "forbidden"
    never_sees(carol, "still here?")
    rows, end = history(b2, "ops")
    assert rows == [] and getattr(end, "code_word", None) == "forbidden"
    b2.send(MembersRequest("ops"))
    assert refusal(b2).code_word == "forbidden"
    carol.send(LeaveRoomRequest("ops"))
    assert expect(carol, RoomLeft) == RoomLeft("ops", "left", "user3")
    assert expect(alice, MemberChange, lambda m: m.event == "leave").username == "user3"
    say(alice, "ops", "after carol left")
    never_sees(carol, "after carol left")
    carol.send(LeaveRoomRequest("lobby"))
    assert refusal(carol).code_word == "bad_request"


def test_owners_rename_share_and_hand_over(chat) -> None:
    alice, bob = window(chat, "user1"), window(chat, "user2")
    alice.send(CreateRoomRequest("old-name", "", False))
    expect(alice, RoomInfo)
    bob.send(JoinRoomRequest("old-name"))
    expect(bob, RoomInfo)
    say(bob, "old-name", "kept across the rename")
    heard_in(alice, "old-name", "kept across the rename")
    bob.send(RenameRoomRequest("old-name", "bobs"))
    assert refusal(bob).code_word == "forbidden"
    alice.send(SetRoleRequest("old-name", "user1", "member"))  # the last owner
    assert refusal(alice).code_word == "bad_request"
    alice.send(SetRoleRequest("old-name", "user2", "owner"))
    assert expect(bob, RoomInfo, lambda m: m.role == "owner").name == "old-name"
    alice.send(SetRoleRequest("old-name", "user1", "member"))  # handing over
    assert expect(alice, RoomInfo, lambda m: m.role == "member").name == "old-name"
    alice.send(RenameRoomRequest("old-name", "taken-by-none"))
    assert refusal(alice).code_word == "forbidden"
    bob.send(RenameRoomRequest("old-name", "lobby"))
    assert refusal(bob).code_word == "name_taken"
    bob.send(RenameRoomRequest("old-name", "new-name"))
    for w in (alice, bob):
        assert expect(w, RoomRenamed) == RoomRenamed("old-name", "new-name", "user2")
    rows, _ = history(alice, "new-name")
    assert [r.text for r in rows] == ["kept across the rename"]
    assert rows[0].room == "new-name"
    rows, end = history(alice, "old-name")
    assert getattr(end, "code_word", None) == "forbidden"
    bob.send(CreateRoomRequest("new-name", "", False))
    assert refusal(bob).code_word == "name_taken"
    bob.send(CreateRoomRequest("Bad Name", "", False))
    assert refusal(bob).code_word == "bad_request"


def test_connections_that_never_opted_in_see_only_the_old_contract(chat) -> None:
    alice = window(chat, "user1")
    old = chat.login("user2")  # never sends a rooms code
    bob = window(chat, "user2")
    alice.send(CreateRoomRequest("quiet", "", False))
    expect(alice, RoomInfo)
    bob.send(JoinRoomRequest("quiet"))
    expect(bob, RoomInfo)
    say(alice, "quiet", "rooms traffic")
    heard_in(bob, "quiet", "rooms traffic")
    for message in old.collect(0.4):  # no 1002 of the room, no 1010-1019
        assert not (type(message).__module__.endswith("messages_rooms"))
        assert not (isinstance(message, ChatDelivery) and message.room != "lobby")
    old.chat_acked("lobby as ever")
    heard_in(alice, "lobby", "lobby as ever")


def test_room_limits_are_settings(make_server, demo_db) -> None:
    store = Store(demo_db)  # earlier tests of this module put user1 in some rooms already
    try:
        already = store.rooms_of("user1")
    finally:
        store.close()
    server = make_server(max_rooms_per_account=already + 2, max_room_members=2, max_topic=10)
    alice, bob, carol = (window(server, u) for u in ("user1", "user2", "user3"))
    for name in ("lim-a", "lim-b"):
        alice.send(CreateRoomRequest(name, "", False))
        expect(alice, RoomInfo, lambda m, name=name: m.name == name)
    alice.send(CreateRoomRequest("lim-c", "", False))  # a third room for alice
    assert refusal(alice).code_word == "limit_reached"
    bob.send(JoinRoomRequest("lim-a"))
    expect(bob, RoomInfo)
    carol.send(JoinRoomRequest("lim-a"))  # a third member
    assert refusal(carol).code_word == "limit_reached"
    alice.send(SetTopicRequest("lim-a", "x" * 11))
    assert refusal(alice).code_word == "too_long"
    alice.send(SetTopicRequest("lim-a", "x" * 10 + "\u202e\u2066"))  # stripped, then it fits
    assert expect(alice, RoomInfo, lambda m: m.topic == "x" * 10).name == "lim-a"
