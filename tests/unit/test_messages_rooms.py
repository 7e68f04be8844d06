"""The rooms codes (PROTOCOL.md §6): every example of the tables, byte for byte, both ways."""

from __future__ import annotations

import pytest

from common.messages import CLIENT_MESSAGES, SERVER_MESSAGES, decode_message, encode_message
from common.messages_rooms import (
    ConversationEntry,
    ConversationsRequest,
    CreateRoomRequest,
    InviteRequest,
    JoinRoomRequest,
    LeaveRoomRequest,
    ListEnd,
    MarkReadRequest,
    MemberChange,
    MemberEntry,
    MembersRequest,
    PeopleRequest,
    PersonEntry,
    PublicRoomEntry,
    PublicRoomsRequest,
    ReadPosition,
    RemoveMemberRequest,
    RenameRoomRequest,
    RoomInfo,
    RoomLeft,
    RoomRenamed,
    SetRoleRequest,
    SetTopicRequest,
)

CLIENT_EXAMPLES = [
    ("0009|team-alpha|release planning|0", CreateRoomRequest("team-alpha", "release planning",
                                                             False)),
    ("0010|team-alpha", JoinRoomRequest("team-alpha")),
    ("0011|team-alpha", LeaveRoomRequest("team-alpha")),
    ("0012|team-alpha|user3", InviteRequest("team-alpha", "user3")),
    ("0013|team-alpha|ship 2.1 friday", SetTopicRequest("team-alpha", "ship 2.1 friday")),
    ("0014|team-alpha|team-a", RenameRoomRequest("team-alpha", "team-a")),
    ("0015|team-alpha|user3", RemoveMemberRequest("team-alpha", "user3")),
    ("0016|team-alpha|user2|owner", SetRoleRequest("team-alpha", "user2", "owner")),
    ("0017|team|", PublicRoomsRequest("team", "")),
    ("0018|team-alpha", MembersRequest("team-alpha")),
    ("0019|us|user1", PeopleRequest("us", "user1")),
    ("0020|team-alpha|412", MarkReadRequest("team-alpha", 412)),
    ("0021", ConversationsRequest()),
]
SERVER_EXAMPLES = [
    ("1010|team-alpha|release planning|0|3|owner",
     RoomInfo("team-alpha", "release planning", False, 3, "owner")),
    ("1011|team-alpha|removed|user1", RoomLeft("team-alpha", "removed", "user1")),
    ("1012|team-alpha|team-a|user1", RoomRenamed("team-alpha", "team-a", "user1")),
    ("1013|team-alpha|join|user3|cxk|member",
     MemberChange("team-alpha", "join", "user3", "cxk", "member")),
    ("1014|team-alpha|release planning|3|1",
     PublicRoomEntry("team-alpha", "release planning", 3, True)),
    ("1015|team-alpha|user1|wang_yuan|owner|1",
     MemberEntry("team-alpha", "user1", "wang_yuan", "owner", True)),
    ("1016|user2|ding_zhen|0", PersonEntry("user2", "ding_zhen", False)),
    ("1017|@user2|2|40|42|user2|1763830000000|see you at 5",
     ConversationEntry("@user2", 2, 40, 42, "user2", 1763830000000, "see you at 5")),
    ("1017|lobby|0|0||||", ConversationEntry("lobby", 0, 0, None, "", None, "")),
    ("1018|team-alpha|412|0", ReadPosition("team-alpha", 412, 0)),
    ("1019|people|user3", ListEnd("people", "user3")),
]


@pytest.mark.parametrize(("wire", "message"), CLIENT_EXAMPLES)
def test_client_examples(wire: str, message: object) -> None:
    assert encode_message(message) == wire  # type: ignore[arg-type]
    assert decode_message(wire.encode(), CLIENT_MESSAGES) == message


@pytest.mark.parametrize(("wire", "message"), SERVER_EXAMPLES)
def test_server_examples(wire: str, message: object) -> None:
    assert encode_message(message) == wire  # type: ignore[arg-type]
    assert decode_message(wire.encode(), SERVER_MESSAGES) == message


def test_a_topic_with_separators_travels_escaped() -> None:
    wire = encode_message(SetTopicRequest("r", "a|b\nc"))
    assert wire == "0013|r|a%7Cb%0Ac"
    assert decode_message(wire.encode(), CLIENT_MESSAGES) == SetTopicRequest("r", "a|b\nc")
