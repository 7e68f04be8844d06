"""The conversation list in real windows against the real server: what was received while
offline, read positions shared between an account's windows, a direct conversation with
someone offline (the "New conversation" dialog), chatting in a room, and the "New messages"
line on coming back. The other side is played by the protocol client
(``tests/support/chat_client.py``), so what the window shows is the server's doing.

Whether a window has the focus is decided by the test (Xvfb has no window manager), as in
``test_gui_notify``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from Crypto.PublicKey import RSA

from client.formatting import Line
from client.ui.jump import NEW_MESSAGES
from client.ui.messages import MessageView
from client.ui.people_dialog import PeopleDialog
from client.ui.theme import setup_fonts
from common.e2e import to_field
from common.identity import Identity, seal_backup
from common.messages_e2e import OwnKeys, PublishKeysRequest
from common.messages_rooms import CreateRoomRequest, InviteRequest, PersonEntry, RoomInfo
from tests.integration.rooms_helpers import conversations, expect, heard_in, say
from tests.support.chat_client import ChatClient


def token() -> str:
    return uuid.uuid4().hex[:8]


def badge(window: Any, key: str) -> int:
    """The unread badge of ``key`` as a number (0 when there is none or no row)."""
    shown = window.conversations().get(key, ("", ""))[1].lstrip("@")
    return int(shown) if shown else 0


def title_count(window: Any) -> int:
    """The unread total at the start of the window title."""
    title = str(window.top.title())
    return int(title[1:title.index(")")]) if title.startswith("(") else 0


def set_focus(window: Any, focused: bool) -> None:
    """The window has (or has not) the focus, and learns of the change as from Tk."""
    window.view.alerts.use_desktop = False
    window.view.alerts.focused = lambda: focused
    window.view.focus_watch.check()
    window.root.update()


@pytest.fixture
def peer(chat_server: Any) -> Iterator[Any]:
    """A factory for logged-in protocol clients (closed after the test)."""
    key = RSA.import_key(chat_server.public_key_path.read_bytes())
    made: list[ChatClient] = []

    def login(username: str) -> ChatClient:
        client = ChatClient("127.0.0.1", chat_server.port, key)
        assert client.key_login(username).ok  # as the chat's client: the master key is known
        made.append(client)
        return client

    yield login
    for client in made:
        client.close()


def test_a_direct_message_received_offline_is_listed_with_its_unread_count(
    windows: Any, peer: Any
) -> None:
    bob = peer("user2")
    text = f"while you were out {token()}"
    bob.wait_ack(bob.direct("user1", text))
    alice = windows("user1")
    alice.log_in_and_wait()
    set_focus(alice, True)
    alice.wait(lambda: alice.conversations().get("@user2", ("", ""))[1] == "1",
               "the offline direct message listed with 1 unread")
    assert alice.conversations()["@user2"][0] == "@ding_zhen"
    assert text in alice.previews()["@user2"] and "ding_zhen" in alice.previews()["@user2"]
    assert next(iter(alice.conversations())) == "lobby"  # lobby first, then newest first


def test_reading_in_one_window_clears_the_badge_in_the_other(
    windows: Any, peer: Any, tmp_path: Any
) -> None:
    first = windows("user1")
    second = windows("user1", config=tmp_path / "second")
    first.log_in_and_wait()
    second.log_in_and_wait()
    set_focus(first, False)
    set_focus(second, False)
    for window in (first, second):  # both opted in: the list has come
        window.wait(lambda w=window: w.app.model.index.lists_done > 0, "the conversation list")
    before = badge(first, "@user2")  # earlier tests of this module may have left some
    assert badge(second, "@user2") == before
    bob = peer("user2")
    bob.wait_ack(bob.direct("user1", f"read me {token()}"))
    for window in (first, second):
        window.wait(lambda w=window: badge(w, "@user2") == before + 1,
                    "one more unread in both windows")
    set_focus(first, True)
    first.select("@user2")
    first.wait(lambda: first.conversations()["@user2"][1] == "", "read here")
    second.wait(lambda: second.conversations()["@user2"][1] == "",
                "the other window's badge cleared by the read position (1018)")
    assert badge(first, "@user2") == 0


def test_a_direct_conversation_with_someone_offline_from_the_dialog(
    windows: Any, peer: Any
) -> None:
    cxk = peer("user3")  # cxk made her end-to-end keys once, then left
    identity = Identity.generate()
    assert cxk.master_key is not None
    cxk.send(PublishKeysRequest(to_field(identity.public.to_bytes()),
                                to_field(seal_backup(identity, "user3", cxk.master_key))))
    cxk.recv_until(lambda m: isinstance(m, OwnKeys))
    cxk.close()
    alice = windows("user1")
    alice.log_in_and_wait()
    alice.wait(lambda: "user3" not in alice.people(), "cxk offline")
    alice.view.chat.input.focus_force()
    alice.root.update()
    alice.top.event_generate("<Control-n>")
    alice.wait(lambda: alice.view.people_dialog is not None, "the dialog")
    dialog = alice.view.people_dialog
    dialog.query.set("user3")
    alice.wait(lambda: dialog.results.get_children() == ("user3",), "user3 found")
    assert "offline" in str(dialog.results.item("user3", "text"))
    dialog.entry.focus_force()
    alice.root.update()
    dialog.entry.event_generate("<Return>")
    alice.wait(lambda: alice.app.model.active == "@user3", "the conversation with user3")
    assert not dialog.winfo_exists()
    text = f"see this when you are back {token()}"
    alice.send(text)
    alice.wait(lambda: alice.app.unsent_count() == 0, "the message acked (sealed for her)")
    cxk = peer("user3")
    listed = conversations(cxk)
    assert listed["@user1"].unread == 1
    assert text not in listed["@user1"].preview  # end to end: the server has no preview


def test_the_dialog_closes_with_escape_and_pages_with_more(windows: Any) -> None:
    alice = windows("user1")
    alice.log_in_and_wait()
    alice.view.new_conversation()
    dialog = alice.view.people_dialog
    alice.wait(lambda: len(dialog.results.get_children()) == 2, "everyone else listed")
    assert set(dialog.results.get_children()) == {"user2", "user3"}
    assert not dialog.more_button.winfo_ismapped()  # three accounts: one page
    dialog.entry.focus_force()
    alice.root.update()
    dialog.entry.event_generate("<Escape>")
    alice.root.update()
    assert not dialog.winfo_exists()


def test_chatting_in_a_room(windows: Any, peer: Any) -> None:
    room = f"team-{token()}"
    alice = windows("user1")
    alice.log_in_and_wait()
    set_focus(alice, True)
    bob = peer("user2")
    conversations(bob)  # opt in
    bob.send(CreateRoomRequest(room, "release planning", False))
    expect(bob, RoomInfo, lambda m: m.name == room)
    bob.send(InviteRequest(room, "user1"))
    alice.wait(lambda: room in alice.conversations(), "the room appears (1010)")
    assert alice.conversations()[room][0] == f"# {room}"
    say(bob, room, "welcome aboard")
    alice.wait(lambda: alice.conversations()[room][1] == "1", "an unread room message")
    alice.select(room)
    alice.wait(lambda: "welcome aboard" in alice.transcript(), "the room's history")
    alice.send("thanks!")
    heard_in(bob, room, "thanks!")
    say(bob, room, f"user1 can you review? {token()}")
    alice.wait(lambda: "can you review" in alice.transcript(), "live in the open room")
    alice.select("lobby")
    say(bob, room, "user1 ping again")
    alice.wait(lambda: alice.conversations()[room][1] == "@1",
               "a mention in the room: the badge says so")
    assert "mention" in alice.view.chat.conversations.item(room, "tags")


def test_new_messages_line_when_switching_back(windows: Any, peer: Any) -> None:
    alice = windows("user1")
    alice.log_in_and_wait()
    set_focus(alice, True)
    bob = peer("user2")
    seen = f"already seen {token()}"
    bob.wait_ack(bob.chat(seen))
    alice.wait(lambda: seen in alice.transcript(), "the first message")
    alice.wait(lambda: alice.app.model.index.lists_done > 0, "the conversation list")
    alice.wait(lambda: alice.app.model.index.seen.get("lobby", 0) > 0, "lobby seen")
    alice.open_direct("user2")
    alice.wait(lambda: alice.app.model.active == "@user2", "away in another conversation")
    news = [f"news {i} {token()}" for i in range(2)]
    for text in news:
        bob.wait_ack(bob.chat(text))
    alice.wait(lambda: badge(alice, "lobby") == 2, "two unread in the lobby")
    alice.select("lobby")
    alice.wait(lambda: news[1] in alice.transcript(), "back in the lobby")
    lines = alice.transcript().splitlines()
    marker = next(i for i, line in enumerate(lines) if NEW_MESSAGES in line)
    assert any(seen in line for line in lines[:marker])
    assert any(news[0] in line for line in lines[marker:marker + 3])
    assert lines[:marker] and not any(news[0] in line for line in lines[:marker])


def test_a_direct_message_in_the_open_conversation_counts_while_unfocused(
    windows: Any, peer: Any
) -> None:
    alice = windows("user1")
    alice.log_in_and_wait()
    set_focus(alice, True)
    bob = peer("user2")
    first = f"hello {token()}"
    bob.wait_ack(bob.direct("user1", first))
    alice.wait(lambda: "@user2" in alice.conversations(), "the conversation")
    alice.select("@user2")
    alice.wait(lambda: first in alice.transcript(), "read")
    alice.wait(lambda: alice.app.model.index.seen.get("@user2", 0) > 0, "seen")
    set_focus(alice, False)
    others = title_count(alice)  # unread elsewhere, left by earlier tests of this module
    later = f"are you there {token()}"
    bob.wait_ack(bob.direct("user1", later))
    alice.wait(lambda: later in alice.transcript(), "shown in the open conversation")
    alice.wait(lambda: title_count(alice) == others + 1, "counted in the title although open")
    set_focus(alice, True)  # back to the window
    alice.wait(lambda: title_count(alice) == others, "the count cleared")
    lines = alice.transcript().splitlines()
    marker = next(i for i, line in enumerate(lines) if NEW_MESSAGES in line)
    assert any(later in line for line in lines[marker:marker + 3])
    assert any(first in line for line in lines[:marker])


def test_the_dialog_asks_for_the_next_page_and_adds_it(top: Any) -> None:
    """Paging without a hundred accounts: the widget alone, fed pages as the view would."""
    asked: list[tuple[str, str]] = []
    opened: list[str] = []
    dialog = PeopleDialog(top, "user1", lambda prefix, after: asked.append((prefix, after)),
                          opened.append)
    assert asked == [("", "")]  # everyone, from the start
    dialog.show((PersonEntry("user1", "wang_yuan", True), PersonEntry("user2", "ding_zhen", True)),
                "user2")
    top.update()
    assert dialog.results.get_children() == ("user2",)  # never oneself
    assert dialog.more_button.winfo_ismapped()
    dialog.more_button.invoke()
    assert asked[-1] == ("", "user2")
    dialog.show((PersonEntry("user3", "cxk", False),), "")
    top.update()
    assert dialog.results.get_children() == ("user2", "user3")
    assert not dialog.more_button.winfo_ismapped()
    dialog.entry.focus_force()
    top.update()
    dialog.entry.event_generate("<Down>")
    top.update()
    dialog.results.event_generate("<Return>")
    top.update()
    assert opened == ["user2"] and not dialog.winfo_exists()


def test_on_return_the_line_is_brought_into_view_when_many_came(top: Any) -> None:
    view = MessageView(top, setup_fonts(top), lambda: None)
    view.pack(fill="both", expand=True)
    items = [Line(f"e{i}", "message", "10:00", f"amy{i % 2}", f"message {i}") for i in range(80)]
    view.render(items, None)
    top.update()
    view.left_off.mark_before("e78")  # two new: the line is in view already, nothing moves
    top.update()
    assert view.text.yview()[1] >= 0.999 and not view.left_off.shown
    view.left_off.mark_before("e5")  # many new: reading starts at the line (only one line)
    top.update()
    assert view.plain_text().count(NEW_MESSAGES) == 1
    marker = view.text.tag_ranges("new_marker")[0]
    assert view.text.dlineinfo(marker) is not None
    assert not view.following and view.left_off.shown
    view.destroy()
