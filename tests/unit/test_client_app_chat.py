"""The controller once logged in: sending, receiving, unread counts, people online, history
pages and the outbox retried after "unavailable". Fakes: ``client_fakes``.
"""

from __future__ import annotations

import pytest

from client import formatting
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    DirectDelivery,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    LoginResult,
    PresenceEvent,
    RosterUpdate,
)
from tests.unit.client_fakes import Harness


def test_message_pending_then_sent(h: Harness) -> None:
    session = h.online()
    assert h.app.send_text("hello 你好\n")
    (request,) = session.of(ChatRequest)
    assert request.text == "hello 你好" and len(request.client_msg_id) == 32
    assert h.view.messages() == [("wang_yuan", "hello 你好", "pending")]
    session.deliver(Ack(request.client_msg_id, 7, int(h.clock.now * 1000)))
    h.pump()
    assert h.view.messages() == [("wang_yuan", "hello 你好", "sent")]
    assert not h.app.send_text("   ") and not h.app.send_text("x" * 4001)
    assert len(session.of(ChatRequest)) == 1


def test_incoming_messages_and_unread(h: Harness) -> None:
    session = h.online()
    session.deliver(ChatDelivery(3, "lobby", "user2", "ding_zhen", 1000, "hi all"))
    session.deliver(DirectDelivery(4, "user2", "ding_zhen", "user1", 1001, "psst"))
    h.pump()
    assert h.view.messages() == [("ding_zhen", "hi all", "")]
    assert h.view.unread() == {"lobby": 0, "@user2": 1}
    assert [item.title for item in h.view.conversations] == ["# lobby", "@ding_zhen"]
    h.app.select_conversation("@user2")
    assert session.of(HistoryRequest)[-1] == HistoryRequest("@user2", None, 50)
    assert h.view.unread() == {"lobby": 0, "@user2": 0}
    assert h.view.messages() == [("ding_zhen", "[not end-to-end encrypted] psst", "")]
    h.app.send_text("back at you")
    assert session.of(ChatRequest) == []
    assert h.app.model is not None  # sealed once the keys are known (test_client_e2e)
    assert [r.to_username for r in h.app.model.outbox.requests()] == ["user2"]


def test_roster_and_presence(h: Harness) -> None:
    session = h.online()
    assert [p.username for p in h.view.people] == ["user1", "user2"]
    assert h.view.people[0].me
    session.deliver(PresenceEvent("join", "user3", "cxk", ))
    h.pump()
    assert [p.nickname for p in h.view.people] == ["wang_yuan", "cxk", "ding_zhen"]
    assert [ln.text for ln in h.view.lines if ln.kind == "system"] == ["cxk joined"]
    session.deliver(PresenceEvent("leave", "user2", "ding_zhen"))
    h.pump()
    assert "user2" not in [p.username for p in h.view.people]
    h.app.open_direct("user1")  # oneself: nothing
    assert h.app.model is not None and h.app.model.active == "lobby"
    h.app.open_direct("user3")
    assert h.app.model.active == "@user3"


def test_unavailable_keeps_the_message_and_retries(h: Harness) -> None:
    session = h.online()
    h.app.send_text("while the database is down")
    session.deliver(ErrorReply("unavailable", "database unavailable"))
    h.pump()
    assert len(session.of(ChatRequest)) == 1
    h.advance(4.5)
    assert len(session.of(ChatRequest)) == 2
    assert session.of(ChatRequest)[0] == session.of(ChatRequest)[1]


def test_an_outage_shows_on_the_pending_messages_and_clears_with_their_acks(h: Harness) -> None:
    """The database is down: each pending message says "retrying…" as soon as the server says
    so, and once they go through nothing is left behind (no notice line above them)."""
    session = h.online()
    h.app.send_text("first")
    h.app.send_text("second")
    assert [m[2] for m in h.view.messages()] == ["pending", "pending"]
    session.deliver(ErrorReply("unavailable", "database unavailable"))
    h.pump()
    assert [m[2] for m in h.view.messages()] == ["retrying", "retrying"]
    assert [ln for ln in h.view.lines if ln.kind == "system"] == []
    h.advance(4.5)  # the retry goes out; the database is back
    first, second = session.of(ChatRequest)[:2]
    session.deliver(Ack(first.client_msg_id, 8, 1_700_000_001_000),
                    Ack(second.client_msg_id, 9, 1_700_000_001_500))
    h.pump()
    assert [m[2] for m in h.view.messages()] == ["sent", "sent"]
    assert [ln for ln in h.view.lines if ln.kind == "system"] == []
    h.app.send_text("third")
    assert h.view.messages()[-1][2] == "pending"  # a new message is not "retrying"


def test_a_pending_message_shows_no_time_until_the_server_gives_it(h: Harness) -> None:
    session = h.online()
    session.deliver(ChatDelivery(3, "lobby", "user2", "ding_zhen", 1_699_999_000_000, "before"))
    h.pump()
    h.clock.now += 3600  # the local clock is an hour ahead of the server's
    h.app.send_text("mine")
    line = h.view.lines[-1]
    assert (line.text, line.time, line.state) == ("mine", "", "pending")
    renders = h.view.renders
    (request,) = session.of(ChatRequest)
    session.deliver(Ack(request.client_msg_id, 4, 1_699_999_060_000))
    h.pump()
    line = h.view.lines[-1]
    assert (line.text, line.state) == ("mine", "sent")
    assert line.time == formatting.clock(1_699_999_060_000)  # the server's time, not local
    assert h.view.renders == renders  # updated in place: it kept its position
    assert [m[1] for m in h.view.messages()] == ["before", "mine"]


@pytest.mark.parametrize(("code_word", "shown"), [
    ("too_long", "longer than 4000 characters"),
    ("rate_limited", "sending too fast"),
    ("unavailable", "cannot store messages"),
    ("no_such_user", "no such user"),
    ("forbidden", "refused that request"),
])
def test_errors_are_shown_by_their_code_word(h: Harness, code_word: str, shown: str) -> None:
    session = h.online()
    session.deliver(ErrorReply(code_word, "ganz andere Worte"))  # the English may change
    h.pump()
    system = [ln.text for ln in h.view.lines if ln.kind == "system"]
    assert any(shown in text for text in system), system
    assert not any("ganz andere Worte" in text for text in system)


def test_an_unknown_error_code_word_shows_the_servers_text(h: Harness) -> None:
    session = h.online()
    session.deliver(ErrorReply("quota_exceeded", "your quota is used up"))
    h.pump()
    assert "your quota is used up" in [ln.text for ln in h.view.lines if ln.kind == "system"]


def test_unavailable_in_other_words_still_retries(h: Harness) -> None:
    session = h.online()
    h.app.send_text("retry me")
    session.deliver(ErrorReply("unavailable", "Datenbank weg"))
    h.pump()
    h.advance(4.5)
    assert len(session.of(ChatRequest)) == 2  # the code word decides, not the text


def test_history_older_pages_and_scroll(h: Harness) -> None:
    session = h.login()
    session.deliver(LoginResult(True, "wang_yuan", "user1", "t"))
    h.pump()
    session.deliver(*[ChatDelivery(i, "lobby", "user2", "ding_zhen", 1000 + i, f"m{i}")
                      for i in range(51, 101)], HistoryEnd("lobby", 51, True))
    h.pump()
    assert len(h.view.messages()) == 50 and h.view.unread() == {"lobby": 0}
    h.app.load_older()
    h.app.load_older()  # one page at a time
    assert session.of(HistoryRequest)[1:] == [HistoryRequest("lobby", 51, 50)]
    renders = h.view.renders
    session.deliver(*[ChatDelivery(i, "lobby", "user2", "ding_zhen", 1000 + i, f"m{i}")
                      for i in range(1, 51)], HistoryEnd("lobby", 1, False))
    h.pump()
    assert h.view.renders == renders + 1
    assert [m[1] for m in h.view.messages()] == [f"m{i}" for i in range(1, 101)]
    h.app.load_older()
    assert len(session.of(HistoryRequest)) == 2  # nothing older


def test_presence_noise_is_folded_and_reconnects_are_silent(h: Harness) -> None:
    session = h.online()
    for event, user, nick in (("join", "user3", "cxk"), ("leave", "user3", "cxk"),
                              ("join", "user4", "amy"), ("leave", "user2", "ding_zhen"),
                              ("join", "user2", "ding_zhen")):
        session.deliver(PresenceEvent(event, user, nick))
        h.pump()
    assert [ln.text for ln in h.view.lines if ln.kind == "system"] == [
        "cxk joined and left · amy joined"]
    h.session.drop()  # our own reconnect: the roster comes back, no line about anyone
    h.pump()
    h.advance(2)
    again = h.session
    again.handshake()
    h.pump()
    again.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"),
                  RosterUpdate((("user1", "wang_yuan"), ("user2", "ding_zhen"))),
                  PresenceEvent("leave", "user1", "wang_yuan"),  # another window of ours
                  PresenceEvent("join", "user1", "wang_yuan"))
    h.pump()
    assert h.app.phase == "online"
    assert [ln.text for ln in h.view.lines if ln.kind == "system"] == [
        "cxk joined and left · amy joined"]


def test_people_show_the_username_beside_a_nickname(h: Harness) -> None:
    session = h.online()
    session.deliver(PresenceEvent("join", "user9", "ding_zhen"),  # a colliding nickname
                    PresenceEvent("join", "user5", "user5"))
    h.pump()
    assert [p.label for p in h.view.people] == [
        "wang_yuan @user1", "ding_zhen @user2", "ding_zhen @user9", "user5"]
    session.deliver(ChatDelivery(40, "lobby", "user9", "ding_zhen", 1_700_000_000_000, "hi"))
    h.pump()
    message = [ln for ln in h.view.lines if ln.kind == "message"][-1]
    assert (message.sender, message.handle) == ("ding_zhen", "@user9")


def test_people_are_last_known_while_offline(h: Harness) -> None:
    session = h.online()
    assert not any(p.last_known for p in h.view.people)
    session.drop()
    h.pump()
    assert h.app.phase == "waiting"
    assert [p.username for p in h.view.people] == ["user1", "user2"]  # kept, but as last known
    assert all(p.last_known for p in h.view.people)
    while h.app.phase == "waiting":
        h.advance(0.5)
    h.session.handshake()
    h.pump()
    h.session.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"),
                      RosterUpdate((("user1", "wang_yuan"),)))
    h.pump()
    assert [(p.username, p.last_known) for p in h.view.people] == [("user1", False)]


def test_people_coming_back_after_the_same_outage_are_not_announced(h: Harness) -> None:
    """A server restart: we reconnect first, the others a few seconds later. Their joins are
    not news (they were there before the outage); a newcomer's join is."""
    session = h.online()
    session.drop()
    h.pump()
    while h.app.phase == "waiting":
        h.advance(0.5)
    again = h.session
    again.handshake()
    h.pump()
    again.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"),
                  RosterUpdate((("user1", "wang_yuan"),)))
    h.pump()
    h.advance(3)
    again.deliver(PresenceEvent("join", "user2", "ding_zhen"),
                  PresenceEvent("join", "user3", "cxk"))
    h.pump()
    assert [p.username for p in h.view.people] == ["user1", "user3", "user2"]
    assert [ln.text for ln in h.view.lines if ln.kind == "system"] == ["cxk joined"]
    again.deliver(PresenceEvent("leave", "user2", "ding_zhen"))  # later news is news again
    h.pump()
    again.deliver(PresenceEvent("join", "user2", "ding_zhen"))
    h.pump()
    assert [ln.text for ln in h.view.lines if ln.kind == "system"] == ["cxk joined"]
    again.deliver(PresenceEvent("leave", "user3", "cxk"))
    h.pump()
    assert [ln.text for ln in h.view.lines if ln.kind == "system"] == ["cxk joined and left"]


def test_returns_are_quiet_only_for_a_while(h: Harness) -> None:
    session = h.online()
    session.drop()
    h.pump()
    while h.app.phase == "waiting":
        h.advance(0.5)
    h.session.handshake()
    h.pump()
    h.session.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"),
                      RosterUpdate((("user1", "wang_yuan"),)))
    h.pump()
    h.clock.now += 61  # (no timers fired: the connection stays as it is)
    h.session.deliver(PresenceEvent("join", "user2", "ding_zhen"))
    h.pump()
    assert [ln.text for ln in h.view.lines if ln.kind == "system"] == ["ding_zhen joined"]
