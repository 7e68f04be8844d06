"""The conversation list's rules: order, previews, badges, read marks, rooms coming and going,
and where the "New messages" line goes. Pure rules directly, the rest through the controller
with the recording view (no display, no socket)."""

from __future__ import annotations

from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.conversation_sync import MARK_READ_MS
from client.conversations import (
    PREVIEW_CHARS,
    ConversationIndex,
    is_conversation_key,
    is_room,
    ordered,
    preview_text,
)
from client.notify import Notice
from client.renderer import ConversationItem
from client.stash import Stash, StashedMessage, StashFile
from client.ui.conversation_list import badge, row_text
from common.messages import (
    ChatDelivery,
    ChatRequest,
    DirectDelivery,
    HistoryEnd,
    HistoryRequest,
    LoginResult,
)
from common.messages_rooms import (
    ConversationEntry,
    ConversationsRequest,
    ListEnd,
    MarkReadRequest,
    PeopleRequest,
    PersonEntry,
    ReadPosition,
    RoomInfo,
    RoomLeft,
    RoomRenamed,
)
from tests.unit.client_fakes import FakeSession, Harness

# --- pure rules -------------------------------------------------------------------------------


def test_lobby_first_then_newest_first_then_the_rest_by_name() -> None:
    keys = ordered([("@user3", 0), ("team", 40), ("lobby", 12), ("@user2", 41), ("alpha", 0)])
    assert keys == ["lobby", "@user2", "team", "@user3", "alpha"]
    assert ordered([]) == ["lobby"]  # always listed


def test_conversation_names() -> None:
    assert is_room("team-alpha") and not is_room("lobby") and not is_room("@user2")
    assert not is_room("Team") and not is_room("-x") and not is_room("a" * 33)
    for key in ("lobby", "team-alpha", "@user2", "@a.b-c_d"):
        assert is_conversation_key(key)
    for key in ("", "@", "@bad name", "UPPER", "#team", "@" + "a" * 33):
        assert not is_conversation_key(key)


def test_preview_is_one_short_line() -> None:
    assert preview_text("amy", "hi\nthere") == "amy: hi there"
    long = preview_text("amy", "x" * 200)
    assert len(long) == PREVIEW_CHARS and long.endswith("…")


def test_mark_read_only_beyond_what_the_server_has_or_was_sent() -> None:
    index = ConversationIndex()
    index.listed("lobby", 40, 42, "amy: hi", False)
    assert index.to_mark("lobby", 40) is None  # the server's position already
    assert index.to_mark("lobby", 39) is None  # never backwards
    assert index.to_mark("lobby", 42) == 42
    index.mark_sent("lobby", 42)
    assert index.to_mark("lobby", 42) is None  # not twice
    index.forget_sent()  # a new session: the old one's marks may be lost
    assert index.to_mark("lobby", 42) == 42
    index.read_position("lobby", 42, 0)
    assert index.to_mark("lobby", 42) is None


def test_a_listing_drops_rooms_left_while_away() -> None:
    index = ConversationIndex()
    for key in ("lobby", "team", "old-room", "@user2"):
        index.summary(key)
    index.listed("lobby", 0, None, "", False)
    index.listed("team", 0, 5, "x", False)
    assert index.listing_done() == ["old-room"]  # direct conversations never drop
    assert set(index.summaries) == {"lobby", "team", "@user2"}


def test_new_messages_threshold_is_what_was_seen_here_or_read_anywhere() -> None:
    index = ConversationIndex()
    index.saw("lobby", 10)
    index.returned("lobby")
    assert index.unseen_after["lobby"] == 10
    index.read_position("lobby", 15, 0)  # another window read further
    index.returned("lobby")
    assert index.unseen_after["lobby"] == 15
    index.left("lobby")
    assert "lobby" not in index.unseen_after
    index.returned("@user2")  # before the server's list: its read position counts when it comes
    index.listed("@user2", 7, 9, "", False)
    assert index.unseen_after["@user2"] == 7


def test_a_rename_moves_everything() -> None:
    index = ConversationIndex()
    index.listed("team", 3, 5, "amy: x", True)
    index.saw("team", 5)
    index.rename("team", "team-a")
    assert "team" not in index.summaries and index.summaries["team-a"].key == "team-a"
    assert index.seen["team-a"] == 5 and index.summaries["team-a"].mentioned


def test_row_badges_and_text() -> None:
    plain = ConversationItem("team", "# team", 3, "amy: hi")
    mention = ConversationItem("team", "# team", 2, "amy: user1?", mentioned=True)
    assert badge(plain) == "3" and badge(mention) == "@2"  # not by colour alone
    assert badge(ConversationItem("lobby", "# lobby", 0)) == ""
    assert row_text(plain) == "  # team\n  amy: hi"
    assert row_text(ConversationItem("@u", "@u", 0)) == "  @u"


def test_the_stash_keeps_room_messages(tmp_path: Path) -> None:
    stash = StashFile(tmp_path, "127.0.0.1", 8090, "user1")
    stash.save(Stash([StashedMessage("team-a", "c1", "hi", 1)], {"team-a": "draft"}))
    loaded = stash.load()
    assert loaded.messages[0].request() == ChatRequest("team-a", "c1", "hi")
    assert loaded.drafts == {"team-a": "draft"}


# --- through the controller -------------------------------------------------------------------


class FakeAlerts:
    def __init__(self) -> None:
        self.has_focus = True
        self.notices: list[Notice] = []

    def focused(self) -> bool:
        return self.has_focus

    def muted(self, conversation: str) -> bool:
        return False

    def notify(self, notice: Notice) -> None:
        self.notices.append(notice)


@pytest.fixture
def alerts() -> FakeAlerts:
    return FakeAlerts()


@pytest.fixture
def hc(tmp_path: Path, key: RSA.RsaKey, alerts: FakeAlerts) -> Harness:
    return Harness(tmp_path, key, alerts=alerts)


def listing(session: FakeSession, *entries: ConversationEntry) -> None:
    session.deliver(*entries, ListEnd("conversations", ""))


def test_login_opts_in_and_lists_an_offline_direct_message(hc: Harness) -> None:
    session = hc.online()
    assert session.of(ConversationsRequest) == [ConversationsRequest()]
    listing(session,
            ConversationEntry("@user3", 2, 0, 42, "user3", 1000, "see you at 5"),
            ConversationEntry("team", 0, 30, 30, "user2", 900, "done"),
            ConversationEntry("lobby", 0, 12, 12, "user2", 800, "hi"))
    hc.pump()
    items = {item.key: item for item in hc.view.conversations}
    assert [item.key for item in hc.view.conversations] == ["lobby", "@user3", "team"]
    assert items["@user3"].unread == 2 and items["@user3"].preview == "user3: see you at 5"
    assert items["team"].title == "# team" and items["team"].unread == 0


def test_resume_opts_in_again(hc: Harness) -> None:
    session = hc.online()
    session.drop()
    hc.advance(1.1)
    again = hc.session
    assert again is not session
    again.handshake()
    hc.pump()
    again.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    hc.pump()
    assert again.of(ConversationsRequest) == [ConversationsRequest()]


def test_read_in_another_window_clears_the_badge(hc: Harness) -> None:
    session = hc.online()
    listing(session, ConversationEntry("@user3", 2, 0, 42, "user3", 1000, "user1 there?"))
    hc.pump()
    assert hc.view.unread()["@user3"] == 2
    session.deliver(ReadPosition("@user3", 42, 0))
    hc.pump()
    assert hc.view.unread()["@user3"] == 0


def test_mark_read_is_debounced_and_needs_focus_and_the_newest_in_view(
    hc: Harness, alerts: FakeAlerts
) -> None:
    session = hc.online()
    listing(session, ConversationEntry("lobby", 0, 10, 10, "user2", 1, "old"))
    hc.pump()
    for msg_id in (11, 12, 13):
        session.deliver(ChatDelivery(msg_id, "lobby", "user2", "ding_zhen", 2, f"m{msg_id}"))
    hc.pump()
    assert session.of(MarkReadRequest) == []  # not at once: after a pause
    hc.advance(MARK_READ_MS / 1000 + 0.2)
    assert session.of(MarkReadRequest) == [MarkReadRequest("lobby", 13)]  # one for the three
    alerts.has_focus = False
    session.deliver(ChatDelivery(14, "lobby", "user2", "ding_zhen", 3, "while away"))
    hc.pump()
    hc.advance(1)
    assert len(session.of(MarkReadRequest)) == 1  # nobody is looking
    assert hc.view.unread()["lobby"] == 1  # counted though it is open (the title shows it)
    hc.view.newest_in_view = False
    alerts.has_focus = True
    hc.app.window_focus(True)
    hc.advance(1)
    assert len(session.of(MarkReadRequest)) == 1  # scrolled up: the newest is not seen
    assert hc.view.unread()["lobby"] == 0  # but the person is back: no title count
    hc.view.newest_in_view = True
    hc.app.reading_newest()
    hc.advance(1)
    assert session.of(MarkReadRequest)[-1] == MarkReadRequest("lobby", 14)


def test_switching_away_before_the_pause_still_marks_what_was_read(
    hc: Harness, alerts: FakeAlerts
) -> None:
    """Read, then switched at once: the conversation left is marked, not the one opened (its
    count would otherwise come back from the server's older position)."""
    session = hc.online()
    listing(session, ConversationEntry("lobby", 0, 10, 10, "user2", 1, "old"))
    hc.pump()
    session.deliver(ChatDelivery(11, "lobby", "user2", "ding_zhen", 2, "read just now"))
    hc.pump()
    hc.app.open_direct("user2")  # before MARK_READ_MS has passed
    assert session.of(MarkReadRequest) == [MarkReadRequest("lobby", 11)]
    hc.advance(MARK_READ_MS / 1000 + 0.2)
    assert all(m.conversation == "lobby" for m in session.of(MarkReadRequest))


def test_no_mark_for_what_the_server_already_has(hc: Harness) -> None:
    session = hc.online()
    listing(session, ConversationEntry("lobby", 0, 13, 13, "user2", 1, "m13"))
    session.deliver(ChatDelivery(13, "lobby", "user2", "ding_zhen", 2, "m13"))
    hc.pump()
    hc.advance(1)
    assert session.of(MarkReadRequest) == []


def test_rooms_appear_are_chatted_in_and_go(hc: Harness) -> None:
    session = hc.online()
    session.deliver(RoomInfo("team", "planning", False, 2, "member"))
    hc.pump()
    assert "team" in hc.view.unread()
    session.deliver(ChatDelivery(20, "team", "user2", "ding_zhen", 5, "hello user1"))
    hc.pump()
    item = next(i for i in hc.view.conversations if i.key == "team")
    assert item.unread == 1 and item.mentioned and item.preview == "ding_zhen: hello user1"
    hc.app.select_conversation("team")
    assert session.of(HistoryRequest)[-1] == HistoryRequest("team", None, 50)
    hc.app.send_text("hi team")
    assert session.of(ChatRequest)[-1].room == "team"
    session.deliver(RoomRenamed("team", "team-a", "user2"))
    hc.pump()
    assert hc.app.model.active == "team-a" and "team" not in hc.view.unread()
    assert hc.app.model.outbox.entries()[0].conversation == "team-a"
    assert hc.app.model.outbox.requests()[0].room == "team-a"  # unsent: sent to the new name
    session.deliver(RoomLeft("team-a", "removed", "user2"))
    hc.pump()
    assert hc.app.model.active == "lobby" and "team-a" not in hc.view.unread()
    notes = [line.text for line in hc.view.lines if line.kind == "system"]
    assert ("user2 removed you from #team-a. 1 unsent message(s) to it could not be sent."
            in notes)
    assert len(hc.app.model.outbox) == 0  # nothing left to resend into a room one is not in


def test_a_room_left_while_away_is_dropped_from_the_list(hc: Harness) -> None:
    session = hc.online()
    session.deliver(RoomInfo("gone", "", False, 2, "member"))
    hc.pump()
    listing(session, ConversationEntry("lobby", 0, 0, None, "", None, ""))
    hc.pump()
    assert list(hc.view.unread()) == ["lobby"]


def test_new_messages_line_goes_above_the_first_unseen_on_return(hc: Harness) -> None:
    session = hc.online()
    session.deliver(ChatDelivery(5, "lobby", "user2", "ding_zhen", 1, "seen"))
    hc.pump()
    hc.advance(1)  # read: the mark goes, "seen" moves
    hc.app.select_conversation("@user2")
    session.deliver(HistoryEnd("@user2", None, False))
    session.deliver(ChatDelivery(6, "lobby", "user2", "ding_zhen", 2, "new one"),
                    ChatDelivery(7, "lobby", "user2", "ding_zhen", 3, "new two"))
    hc.pump()
    hc.view.unseen_marks.clear()
    hc.app.select_conversation("lobby")
    first_new = next(ln for ln in hc.view.lines if ln.text == "new one")
    assert hc.view.unseen_marks == [first_new.entry_id]


def test_the_directory_pages_go_to_the_dialog(hc: Harness) -> None:
    session = hc.online()
    hc.app.search_people("us", "")
    assert session.of(PeopleRequest) == [PeopleRequest("us", "")]
    people = (PersonEntry("user2", "ding_zhen", True), PersonEntry("user3", "cxk", False))
    session.deliver(*people, ListEnd("people", "user3"))
    hc.pump()
    assert hc.view.directory == [(people, "user3")]
    hc.app.open_direct("user3")
    assert hc.app.model.active == "@user3"


def test_a_direct_message_in_the_open_conversation_counts_while_unfocused(
    hc: Harness, alerts: FakeAlerts
) -> None:
    session = hc.online()
    hc.app.select_conversation("@user2")
    session.deliver(HistoryEnd("@user2", None, False))
    alerts.has_focus = False
    session.deliver(DirectDelivery(9, "user2", "ding_zhen", "user1", 1, "psst"))
    hc.pump()
    assert hc.view.unread()["@user2"] == 1
    alerts.has_focus = True
    hc.app.window_focus(True)
    assert hc.view.unread()["@user2"] == 0


def test_a_preview_cannot_hide_or_reorder_text_in_the_list() -> None:
    """A message (or a hostile server's ``1017``) with a bidi override or a zero-width
    character: the row shows the code point instead of obeying it."""
    row = row_text(ConversationItem("@mallory", "@mallory", 1, "mallory: pay \u202eevil\u200b"))
    assert "\u202e" not in row and "\u200b" not in row
    assert "U+202E" in row and "U+200B" in row


def test_a_read_position_older_than_a_shown_message_does_not_lose_it(hc: Harness) -> None:
    """``1018`` counted before a message this window already shows: the badge keeps it."""
    session = hc.online()
    hc.app.select_conversation("@user2")
    session.deliver(HistoryEnd("@user2", None, False))
    session.deliver(ChatDelivery(20, "lobby", "user2", "ding_zhen", 1, "one"))
    hc.pump()
    assert hc.view.unread()["lobby"] == 1
    session.deliver(ReadPosition("lobby", 19, 0))  # the server's count predates message 20
    session.deliver(ChatDelivery(21, "lobby", "user2", "ding_zhen", 2, "two"))
    hc.pump()
    assert hc.view.unread()["lobby"] == 2
    session.deliver(ReadPosition("lobby", 21, 0))  # read in another window
    hc.pump()
    assert hc.view.unread()["lobby"] == 0
