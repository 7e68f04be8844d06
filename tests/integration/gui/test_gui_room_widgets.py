"""The room widgets alone (no server): a ``TkView`` with a recording controller, driven with
key events under Xvfb. The browse dialog by keyboard (Ctrl+Shift+B, arrows, Enter, Esc), the
new-room dialog's checks as typed, refusals shown inside the dialog that caused them, the
header and the members column taking the people list's place only while a room is open.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.prefs import PrefsFile
from client.renderer import ConversationItem, Person
from client.room_sync import MemberRow, RoomPanel
from client.ui.room_dialogs import BrowseRoomsDialog, NewRoomDialog
from client.ui.theme import DARK, LIGHT, contrast_ratio
from client.ui.window import TkView
from common.messages_rooms import PublicRoomEntry
from tests.integration.gui.ui_fakes import RecordingController


@pytest.fixture
def view(tk_root: tk.Tk, xdg: Path) -> Iterator[TkView]:
    made = TkView(tk.Toplevel(tk_root), PrefsFile(xdg))
    made.attach(RecordingController())
    made.show_chat("wang_yuan (user1) — Chat")
    assert made.chat is not None
    made.chat.set_conversations([ConversationItem("lobby", "# lobby", 0),
                                 ConversationItem("team", "# team", 0)], "lobby")
    made.chat.set_people([Person("user1", "wang_yuan", me=True)])
    made.window.geometry("1000x700+0+0")
    tk_root.update()
    yield made
    made.close()
    tk_root.update()


def calls(view: TkView, name: str) -> list[object]:
    assert isinstance(view.controller, RecordingController)
    return view.controller.named(name)


def press(widget: tk.Misc, key: str) -> None:
    widget.focus_force()
    widget.update()
    widget.event_generate(key, when="tail")
    widget.update()


PANEL = RoomPanel("team", "ship friday", False, True, (
    MemberRow("user2", "ding_zhen", False, True, False),
    MemberRow("user1", "wang_yuan", True, True, True),
    MemberRow("user3", "amy", False, False, False),
))


def test_browse_by_keyboard(view: TkView) -> None:
    assert view.chat is not None
    press(view.chat.input, "<Control-B>")
    dialog = view.room_dialogs.get("browse")
    assert isinstance(dialog, BrowseRoomsDialog)
    assert calls(view, "browse_rooms") == [""]
    view.show_public_rooms([PublicRoomEntry("alpha", "first", 3, True),
                            PublicRoomEntry("beta", "", 1, False)], True)
    view.window.update()
    assert dialog.rooms() == ["alpha", "beta"] and dialog.tree.selection() == ("alpha",)
    assert dialog.join_button.cget("text") == "Open"  # already a member: Enter opens it
    assert dialog.more_button.winfo_ismapped()
    press(dialog.entry, "<Down>")
    assert dialog.tree.selection() == ("beta",)
    assert calls(view, "more_rooms") == [None]  # the end of the list asks for the next page
    assert dialog.join_button.cget("text") == "Join"
    press(dialog.entry, "<Return>")
    assert calls(view, "join_room") == ["beta"]
    view.show_room_error("browse", "The server refused.")
    assert dialog.error.cget("text") == "The server refused."
    press(dialog.entry, "<Escape>")
    assert not dialog.winfo_exists() and "browse" not in view.room_dialogs


def test_new_room_checks_the_name_as_typed_and_shows_refusals(view: TkView) -> None:
    assert view.chat is not None
    press(view.chat.input, "<Control-N>")
    dialog = view.room_dialogs.get("new")
    assert isinstance(dialog, NewRoomDialog)
    dialog.name.insert(0, "Team")
    dialog.name.event_generate("<KeyRelease>", keysym="m")
    view.window.update()
    assert "lower-case" in str(dialog.error.cget("text"))
    dialog.name.delete(0, "end")
    dialog.name.insert(0, "team")
    dialog.topic.insert(0, "plans")
    dialog.invitees.insert(0, "user2, user3")
    dialog.private_box.invoke()  # as a click or Space would
    assert dialog.is_private()
    press(dialog.invitees, "<Return>")
    assert calls(view, "create_room") == [("team", "plans", True, "user2, user3")]
    view.show_room_error("new", "That name is taken by another room; choose another.")
    assert str(dialog.error.cget("text")).startswith("That name is taken")
    view.room_request_done("new")
    assert not dialog.winfo_exists()


def test_the_header_and_members_replace_the_title_and_people_while_a_room_is_open(
        view: TkView) -> None:
    chat, header, members = view.chat, view.room_header, view.members
    assert chat is not None and header is not None and members is not None
    view.show_room(PANEL)
    view.window.update()
    assert header.winfo_ismapped() and not chat.conversation_title.winfo_ismapped()
    assert header.title.cget("text") == "#team — ship friday"
    assert members.winfo_ismapped() and not chat.people.winfo_ismapped()
    assert members.rows() == [("user2", ""), ("user1", "owner"), ("user3", "")]
    assert "(you)" in str(members.tree.item("user1", "text"))
    assert header.menu_labels() == ["Invite people…", "Settings…", "Leave #team"]
    view.show_room(RoomPanel("team", "", False, False, PANEL.members))
    assert header.menu_labels() == ["Invite people… (owners only)", "Leave #team"]
    view.show_room_error("header", "The server refused. (only an owner of the room may do that)")
    view.window.update()
    assert header.error.winfo_ismapped()
    view.room_request_done("header")
    view.show_room(None)
    view.window.update()
    assert not header.winfo_ismapped() and chat.conversation_title.winfo_ismapped()
    assert chat.people.winfo_ismapped() and not members.winfo_ismapped()


def test_offline_members_are_greyed_at_readable_contrast() -> None:
    for palette in (LIGHT, DARK):
        assert contrast_ratio(palette.muted, palette.sidebar) >= 4.5
        assert contrast_ratio(palette.danger, palette.surface) >= 4.5
