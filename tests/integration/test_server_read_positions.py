"""Read positions kept by the server and the conversation list (PROTOCOL.md §6), live."""

from __future__ import annotations

import pytest

from common.messages_rooms import (
    CreateRoomRequest,
    InviteRequest,
    ListEnd,
    MarkReadRequest,
    PeopleRequest,
    PersonEntry,
    ReadPosition,
    RoomInfo,
)
from tests.integration.rooms_helpers import (
    conversations,
    expect,
    heard_in,
    refusal,
    say,
    window,
)
from tests.integration.test_independent_client import Wire

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def test_an_offline_recipient_finds_its_direct_conversation_at_login(chat) -> None:
    bob = chat.login("user2")  # an old-contract window is enough to send
    first = bob.direct("user3", "are you there?")
    bob.wait_ack(first)
    last = bob.wait_ack(bob.direct("user3", "see you at 5"))
    carol = chat.login("user3")  # carol was offline for both
    entries = conversations(carol)
    dm = entries["@user2"]
    assert (dm.unread, dm.last_read_msg_id, dm.newest_msg_id) == (2, 0, last.msg_id)
    assert (dm.newest_sender, dm.preview) == ("user2", "see you at 5")
    assert next(iter(entries)) == "@user2" and "lobby" in entries  # newest first
    assert conversations(bob)["@user3"].unread == 0  # one's own messages are never unread


def test_reading_in_one_window_clears_the_count_in_the_others_and_after_login(chat) -> None:
    alice = window(chat, "user1")
    c1, c2 = window(chat, "user3"), window(chat, "user3")
    alice.send(CreateRoomRequest("reading", "", True))
    expect(alice, RoomInfo)
    alice.send(InviteRequest("reading", "user3"))
    expect(c1, RoomInfo)
    expect(c2, RoomInfo)
    acks = [say(alice, "reading", f"news {i}") for i in range(3)]
    for w in (c1, c2):
        heard_in(w, "reading", "news 2")
    assert conversations(c1)["reading"].unread == 3
    c1.send(MarkReadRequest("reading", acks[1].msg_id))
    for w in (c1, c2):  # the reading window and the other one
        assert expect(w, ReadPosition) == ReadPosition("reading", acks[1].msg_id, 1)
    c2.send(MarkReadRequest("reading", 10**12))  # past the newest: taken as the newest
    for w in (c1, c2):
        assert expect(w, ReadPosition) == ReadPosition("reading", acks[2].msg_id, 0)
    c1.send(MarkReadRequest("reading", 1))  # backwards changes nothing
    assert expect(c1, ReadPosition).last_read_msg_id == acks[2].msg_id
    chat.close_clients()
    later = window(chat, "user3")  # a new login: the count stays cleared
    entry = conversations(later)["reading"]
    assert (entry.unread, entry.last_read_msg_id, entry.preview) == (0, acks[2].msg_id, "news 2")


def test_a_private_room_lists_nothing_from_before_one_joined(chat) -> None:
    alice, bob = window(chat, "user1"), window(chat, "user2")
    alice.send(CreateRoomRequest("before-you", "", True))
    expect(alice, RoomInfo)
    say(alice, "before-you", "not for bob")
    alice.send(InviteRequest("before-you", "user2"))
    expect(bob, RoomInfo)
    entry = conversations(bob)["before-you"]
    assert (entry.unread, entry.newest_msg_id, entry.preview) == (0, None, "")


def test_the_people_directory_lists_everyone_online_or_not(chat) -> None:
    alice = window(chat, "user1")
    alice.send(PeopleRequest("user", ""))
    people = [expect(alice, PersonEntry) for _ in range(3)]
    assert (people[0].username, people[0].online) == ("user1", True)
    assert {p.username for p in people} == {"user1", "user2", "user3"}
    assert expect(alice, ListEnd) == ListEnd("people", "")
    alice.send(PeopleRequest("user2", "user2"))  # after the last name: an empty page
    assert expect(alice, ListEnd) == ListEnd("people", "")


def test_the_old_contract_client_still_logs_in_and_chats_in_the_lobby(chat) -> None:
    alice = window(chat, "user1")
    alice.send(CreateRoomRequest("old-peers", "", False))
    expect(alice, RoomInfo)
    wire = Wire(chat.host, chat.port, chat.public_key)
    try:
        assert wire.login("user2").startswith("1001|1|ding_zhen|user2|")
        wire.send_line("0002|lobby|spec-1|from the contract")
        assert wire.wait_for("1007|spec-1|")
        heard_in(alice, "lobby", "from the contract")
        wire.send_line("0004|lobby||5")
        assert wire.wait_for("1004|lobby|")
    finally:
        wire.close()


def test_marking_read_names_a_conversation_of_ones_own(chat) -> None:
    alice, carol = window(chat, "user1"), window(chat, "user3")
    alice.send(CreateRoomRequest("not-carols", "", False))
    expect(alice, RoomInfo)
    for name, code in (("#bad", "bad_request"), ("@bad name", "bad_request"),
                       ("not-carols", "forbidden"), ("nowhere", "forbidden")):
        carol.send(MarkReadRequest(name, 1))
        assert refusal(carol).code_word == code, name
    carol.send(MarkReadRequest("@user1", 5))  # no message with user1 yet
    assert expect(carol, ReadPosition) == ReadPosition("@user1", 0, 0)


def test_init_db_gives_direct_conversations_stored_before_memberships_their_rows(
    chat, demo_db, mariadb
) -> None:
    from server import provision
    from server.store import NewMessage, Store

    store = Store(demo_db)
    try:
        store.insert_messages([NewMessage("dm:user1:user3", "user1", "user3", "old-1", "from an "
                                          "older server", 1)])
        with store._transaction() as cur:  # as a database made before memberships had it
            cur.execute("DELETE FROM memberships WHERE conversation = 'dm:user1:user3'")
        assert not any(
            row.conversation == "dm:user1:user3" for row in store.conversations("user3"))
        provision.apply_schema(mariadb.admin_params(), demo_db.database)
        assert any(row.conversation == "dm:user1:user3" for row in store.conversations("user3"))
        assert any(row.conversation == "dm:user1:user3" for row in store.conversations("user1"))
    finally:
        store.close()
