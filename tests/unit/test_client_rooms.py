"""The controller's rooms: requests fenced by pings so each refusal lands beside what caused
it, invitees looked up before anything is created, the members column's order and live
updates, removal and renaming. Fakes: ``client_fakes`` (a view given the room methods here).
"""

from __future__ import annotations

from typing import Any

import pytest

from client.room_sync import RoomPanel
from client.rooms import room_name_problem, usernames_in
from common.messages import ChatRequest, ErrorReply, PingRequest, Pong, PresenceEvent
from common.messages_rooms import (
    ConversationEntry,
    CreateRoomRequest,
    InviteRequest,
    ListEnd,
    MemberChange,
    MemberEntry,
    MembersRequest,
    PeopleRequest,
    PersonEntry,
    PublicRoomEntry,
    PublicRoomsRequest,
    RoomInfo,
    RoomLeft,
    RoomRenamed,
)
from server.room_rules import is_new_room_name
from tests.unit.client_fakes import FakeSession, Harness


class RoomParts:
    """What the window's room parts were told."""

    def __init__(self) -> None:
        self.panels: list[RoomPanel | None] = []
        self.errors: list[tuple[str, str]] = []
        self.done: list[str] = []
        self.public: list[tuple[list[str], bool]] = []

    def show_room(self, panel: RoomPanel | None) -> None:
        self.panels.append(panel)

    def show_public_rooms(self, entries: Any, more: bool) -> None:
        self.public.append(([e.name for e in entries], more))

    def show_room_error(self, where: str, text: str) -> None:
        self.errors.append((where, text))

    def room_request_done(self, where: str) -> None:
        self.done.append(where)


@pytest.fixture
def parts(h: Harness) -> RoomParts:
    recorder = RoomParts()
    for name in ("show_room", "show_public_rooms", "show_room_error", "room_request_done"):
        setattr(h.view, name, getattr(recorder, name))
    return recorder


def answer_fence(session: FakeSession, *messages: Any) -> None:
    """The server's answer to the newest fenced batch: its pongs around ``messages``."""
    start, end = session.of(PingRequest)[-2:]
    session.deliver(Pong(start.nonce), *messages, Pong(end.nonce))


def sent_after_last_ping(session: FakeSession) -> list[Any]:
    pings = [i for i, m in enumerate(session.sent) if isinstance(m, PingRequest)]
    return session.sent[pings[-2] + 1:pings[-1]]


@pytest.mark.parametrize("name", ["team", "a", "team-alpha", "x" * 32, "x" * 33, "Team", "-x",
                                  "a b", "lobby", "", "ça", "9lives", "a_b", "@a"])
def test_the_name_check_agrees_with_the_server(name: str) -> None:
    assert (room_name_problem(name) == "") == is_new_room_name(name)


def test_invitees_are_split_and_checked() -> None:
    assert usernames_in("user2, @user3 user2;  bad!name") == (["user2", "user3"], ["bad!name"])


def test_create_looks_up_invitees_then_creates_and_opens_the_room(
        h: Harness, parts: RoomParts) -> None:
    session = h.online()
    h.app.create_room("team", " plans ", False, "user2")
    assert sent_after_last_ping(session) == [PeopleRequest("user2", "")]
    answer_fence(session, PersonEntry("user2", "ding_zhen", True), ListEnd("people", ""))
    h.pump()
    assert sent_after_last_ping(session) == [CreateRoomRequest("team", "plans", False),
                                             InviteRequest("team", "user2")]
    answer_fence(session, RoomInfo("team", "plans", False, 1, "owner"),
                 MemberChange("team", "join", "user2", "ding_zhen", "member"))
    h.pump()
    assert parts.done == ["new"] and parts.errors == []
    assert h.app.model is not None and h.app.model.active == "team"
    assert "team" in h.view.unread()
    assert session.of(MembersRequest) == [MembersRequest("team")]


def test_an_unknown_invitee_stops_the_creation_with_words(h: Harness, parts: RoomParts) -> None:
    session = h.online()
    h.app.create_room("team", "", True, "user2 nobody")
    answer_fence(session, PersonEntry("user2", "ding_zhen", True), ListEnd("people", ""),
                 PersonEntry("nobody2", "n", False), ListEnd("people", ""))
    h.pump()
    assert parts.errors == [("new", "No account is called “nobody”.")]
    assert session.of(CreateRoomRequest) == []


def test_a_bad_name_is_explained_before_anything_is_sent(h: Harness, parts: RoomParts) -> None:
    session = h.online()
    before = len(session.sent)
    h.app.create_room("Team Alpha", "", False, "")
    assert len(session.sent) == before
    assert parts.errors == [("new", "A room name is made of a-z, 0-9 and “-” only (no spaces).")]


def test_a_refusal_inside_the_fence_goes_to_the_dialog_not_the_transcript(
        h: Harness, parts: RoomParts) -> None:
    session = h.online()
    h.app.create_room("team", "", False, "")
    answer_fence(session, ErrorReply("name_taken", "that room name is taken"))
    h.pump()
    assert parts.errors == [("new", "That name is taken by another room; choose another. "
                                    "(that room name is taken)")]
    assert parts.done == []
    assert not any(line.kind == "system" for line in h.view.lines)


def test_a_refusal_outside_any_fence_is_still_a_line(h: Harness, parts: RoomParts) -> None:
    session = h.online()
    session.deliver(ErrorReply("too_long", "message is longer than 4000 characters"))
    h.pump()
    assert parts.errors == []
    assert any(line.kind == "system" for line in h.view.lines)


def test_rooms_in_the_conversation_list_appear_and_take_room_messages(h: Harness) -> None:
    session = h.online()
    session.deliver(ConversationEntry("lobby", 0, 0, None, "", None, ""),
                    ConversationEntry("team", 2, 0, 4, "user2", 1, "hi"),
                    ConversationEntry("@user2", 0, 0, 3, "user2", 1, "yo"),
                    ListEnd("conversations", ""))
    h.pump()
    assert "team" in h.view.unread()
    h.app.select_conversation("team")
    assert h.app.send_text("hello room")
    assert session.of(ChatRequest)[-1].room == "team"


def test_members_online_first_then_by_name_and_live(h: Harness, parts: RoomParts) -> None:
    session = h.online()
    session.deliver(RoomInfo("team", "plans", False, 3, "owner"))
    h.pump()
    h.app.select_conversation("team")
    assert sent_after_last_ping(session) == [MembersRequest("team")]
    answer_fence(session, MemberEntry("team", "user1", "wang_yuan", "owner", True),
                 MemberEntry("team", "user3", "amy", "member", False),
                 MemberEntry("team", "user2", "ding_zhen", "member", True),
                 ListEnd("members", ""))
    h.pump()
    panel = parts.panels[-1]
    assert panel is not None and panel.owner and panel.topic == "plans"
    assert [(m.username, m.owner) for m in panel.members or ()] == [
        ("user2", False), ("user1", True), ("user3", False)]
    session.deliver(PresenceEvent("join", "user3", "amy"),
                    MemberChange("team", "join", "user4", "bo", "member"))
    h.pump()
    panel = parts.panels[-1]
    assert panel is not None
    assert [m.username for m in panel.members or ()] == ["user3", "user2", "user1", "user4"]
    session.deliver(MemberChange("team", "removed", "user2", "ding_zhen", ""))
    h.pump()
    panel = parts.panels[-1]
    assert panel is not None and "user2" not in [m.username for m in panel.members or ()]


def test_the_topic_of_a_room_opened_from_the_list_comes_from_the_public_list(
        h: Harness, parts: RoomParts) -> None:
    session = h.online()
    session.deliver(ConversationEntry("team", 0, 0, None, "", None, ""))
    h.pump()
    h.app.select_conversation("team")
    assert sent_after_last_ping(session) == [MembersRequest("team"), PublicRoomsRequest("team", "")]
    answer_fence(session, MemberEntry("team", "user1", "wang_yuan", "member", True),
                 ListEnd("members", ""), PublicRoomEntry("team", "plans", 1, True),
                 ListEnd("rooms", ""))
    h.pump()
    panel = parts.panels[-1]
    assert panel is not None and panel.topic == "plans" and not panel.owner


def test_removed_closes_the_room_with_a_line_in_words(h: Harness, parts: RoomParts) -> None:
    session = h.online()
    session.deliver(RoomInfo("team", "", False, 2, "member"))
    h.pump()
    h.app.select_conversation("team")
    session.deliver(RoomLeft("team", "removed", "user2"))
    h.pump()
    model = h.app.model
    assert model is not None and model.active == "lobby" and "team" not in model.conversations
    assert parts.panels[-1] is None
    assert any("user2 removed you from #team." in line.text for line in h.view.lines)


def test_a_rename_moves_the_conversation(h: Harness, parts: RoomParts) -> None:
    session = h.online()
    session.deliver(RoomInfo("team", "", False, 1, "owner"))
    h.pump()
    h.app.select_conversation("team")
    session.deliver(RoomRenamed("team", "crew", "user1"))
    h.pump()
    model = h.app.model
    assert model is not None and model.active == "crew" and "team" not in model.conversations
    panel = parts.panels[-1]
    assert panel is not None and panel.name == "crew"


def test_browse_pages_through_public_rooms(h: Harness, parts: RoomParts) -> None:
    session = h.online()
    h.app.browse_rooms("te")
    answer_fence(session, PublicRoomEntry("team", "", 3, False), ListEnd("rooms", "team"))
    h.pump()
    assert parts.public[-1] == (["team"], True)
    h.app.more_rooms()
    assert sent_after_last_ping(session) == [PublicRoomsRequest("te", "team")]
    answer_fence(session, PublicRoomEntry("tea", "", 1, True), ListEnd("rooms", ""))
    h.pump()
    assert parts.public[-1] == (["team", "tea"], False)


def test_a_topic_cannot_disguise_itself_in_the_header(h: Harness, parts: RoomParts) -> None:
    session = h.online()
    session.deliver(RoomInfo("team", "ok \u202egnp.exe", False, 1, "owner"))
    h.pump()
    h.app.select_conversation("team")
    panel = parts.panels[-1]
    assert panel is not None and panel.topic == "ok ⟨U+202E⟩gnp.exe"


def test_an_earlier_sends_refusal_is_never_taken_for_the_rooms(
        h: Harness, parts: RoomParts) -> None:
    """A send's ``1009`` that arrives after a room request left, but answers the send before
    it, stays a line in the conversation: only what comes after the batch's first pong is the
    batch's (without that first ping the dialog would show the send's refusal)."""
    session = h.online()
    h.app.send_text("hello")
    h.app.browse_rooms("")
    session.deliver(ErrorReply("rate_limited", "slow down"))  # the send's, before the fence
    h.pump()
    answer_fence(session, PublicRoomEntry("team", "", 1, False), ListEnd("rooms", ""))
    h.pump()
    assert parts.errors == [] and parts.public[-1] == (["team"], False)
    assert any(line.state == "retrying" for line in h.view.lines)
