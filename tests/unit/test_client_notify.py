"""The attention rules: which live messages notify, and the unread total in the title."""

from __future__ import annotations

import json
from pathlib import Path

from client.model import ChatModel
from client.notify import (
    PREVIEW_CHARS,
    is_live,
    mentions,
    notice_for,
    unread_total,
    window_title,
)
from client.prefs import PrefsFile
from common.messages import ChatDelivery, DirectDelivery


def direct(msg_id: int, text: str = "hello", sender: str = "user2") -> DirectDelivery:
    return DirectDelivery(msg_id, sender, "Bob", "user1", 1000, text)


def room(msg_id: int, text: str, sender: str = "user2") -> ChatDelivery:
    return ChatDelivery(msg_id, "lobby", sender, "Bob", 1000, text)


def test_a_direct_message_notifies_while_unfocused_and_opens_its_conversation() -> None:
    model = ChatModel("user1", "Alice")
    notice = notice_for(model, direct(5), focused=False, muted=False)
    assert notice is not None
    assert notice.conversation == "@user2" and "Bob" in notice.title and notice.body == "hello"


def test_no_notice_while_focused_muted_or_from_oneself() -> None:
    model = ChatModel("user1", "Alice")
    assert notice_for(model, direct(5), focused=True, muted=False) is None
    assert notice_for(model, direct(5), focused=False, muted=True) is None
    own = DirectDelivery(6, "user1", "Alice", "user2", 1000, "mine")
    assert notice_for(model, own, focused=False, muted=False) is None


def test_a_room_message_notifies_only_when_it_names_me() -> None:
    model = ChatModel("user1", "Alice")
    assert notice_for(model, room(1, "hi all"), focused=False, muted=False) is None
    by_name = notice_for(model, room(2, "@user1: look"), focused=False, muted=False)
    by_nick = notice_for(model, room(3, "thanks alice!"), focused=False, muted=False)
    assert by_name is not None and by_name.conversation == "lobby"
    assert by_nick is not None


def test_a_mention_is_a_whole_word() -> None:
    assert mentions("ping user1.", ["user1"])
    assert not mentions("user10 and superuser1", ["user1"])
    assert not mentions("anything", ["", ""])


def test_a_long_message_is_cut_in_the_notice() -> None:
    notice = notice_for(ChatModel("user1"), direct(1, "x" * 1000), focused=False, muted=False)
    assert notice is not None and len(notice.body) == PREVIEW_CHARS


def test_history_and_repeats_are_not_live() -> None:
    model = ChatModel("user1")
    assert is_live(model, direct(10))
    model.receive(direct(10))
    assert not is_live(model, direct(10))  # the same message again (a resend)
    assert not is_live(model, direct(9))  # older: a history page
    conv = model.conversation("@user2")
    conv.history_inflight = True
    assert not is_live(model, direct(11))  # arriving inside a history page


def test_the_title_total_leaves_muted_conversations_out() -> None:
    unread = [("lobby", 3), ("@user2", 2), ("@user3", 0)]
    assert unread_total(unread, ()) == 5
    assert unread_total(unread, ("lobby",)) == 2
    assert window_title("Chat — user1", 2) == "(2) Chat — user1"
    assert window_title("Chat — user1", 0) == "Chat — user1"


def test_muted_conversations_are_kept_and_bad_entries_dropped(tmp_path: Path) -> None:
    prefs = PrefsFile(tmp_path)
    prefs.update(muted=("lobby", "@user2"))
    assert PrefsFile(tmp_path).current.muted == ("@user2", "lobby")
    (tmp_path / "prefs.json").write_text(json.dumps({"muted": ["lobby", 3, ""]}))
    assert PrefsFile(tmp_path).current.muted == ("lobby",)
    (tmp_path / "prefs.json").write_text(json.dumps({"muted": "lobby"}))
    assert PrefsFile(tmp_path).current.muted == ()
