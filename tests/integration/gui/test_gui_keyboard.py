"""Any keyboard, any eyes: the real widgets under Xvfb, driven with key events.

Tab leaves the input box, Ctrl+A selects all of it, every control that takes focus shows it
at 3:1, Ctrl+K switches conversations, Ctrl+F finds text in the open conversation, Esc closes
dialogs, Log out asks in the app's own dialog with Cancel as the default; messages of one
sender are grouped and long ones fold; the dark theme applies and is remembered.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Iterator
from pathlib import Path
from tkinter import ttk

import pytest

from client.formatting import Line
from client.prefs import PrefsFile
from client.renderer import ConversationItem, Person
from client.ui.dialogs import ConfirmDialog, KeyFileDialog
from client.ui.theme import DARK, LIGHT, contrast_ratio, palette_of, setup_style
from client.ui.window import TkView
from tests.integration.gui.harness import pump_until
from tests.integration.gui.ui_fakes import RecordingController


@pytest.fixture
def view(tk_root: tk.Tk, xdg: Path) -> Iterator[TkView]:
    made = TkView(tk.Toplevel(tk_root), PrefsFile(xdg))
    made.attach(RecordingController(unsent=2))
    made.show_chat("wang_yuan (user1) — Chat")
    chat = made.chat
    assert chat is not None
    chat.set_conversations([ConversationItem("lobby", "# lobby", 0),
                            ConversationItem("@user2", "@ding_zhen", 0),
                            ConversationItem("@user3", "@周杰伦", 1)], "lobby")
    chat.set_people([Person("user1", "wang_yuan", me=True), Person("user2", "ding_zhen")])
    made.window.geometry("1000x700+0+0")
    tk_root.update()
    yield made
    made.close()
    tk_root.update()
    setup_style(tk_root, LIGHT)  # the ttk styles are shared by the whole interpreter


def controller(view: TkView) -> RecordingController:
    assert isinstance(view.controller, RecordingController)
    return view.controller


def press(widget: tk.Misc, key: str) -> None:
    widget.focus_force()
    widget.update()
    widget.event_generate(key, when="tail")
    widget.update()


def test_tab_leaves_the_input_and_ctrl_a_selects_all(view: TkView) -> None:
    chat = view.chat
    assert chat is not None
    chat.input.insert("1.0", "first line\nsecond line")
    press(chat.input, "<Control-a>")
    assert chat.input.get("sel.first", "sel.last") == "first line\nsecond line"
    press(chat.input, "<Tab>")
    assert view.window.focus_get() is not chat.input
    assert "\t" not in chat.input.get("1.0", "end-1c")


def test_every_control_shows_its_focus(view: TkView) -> None:
    """Walk the Tab order from the input box once round; each stop must draw a focus mark
    (a ring, border or highlight) at 3:1 against what it sits on."""
    chat = view.chat
    assert chat is not None
    style, p = ttk.Style(view.window), palette_of(view.window)
    seen: list[str] = []
    widget: tk.Misc = chat.input
    for _ in range(20):
        seen.append(str(widget))
        if isinstance(widget, tk.Text):
            assert int(widget.cget("highlightthickness")) >= 1
            ratio = contrast_ratio(str(widget.cget("highlightcolor")), p.surface)
        elif isinstance(widget, ttk.Treeview):
            ratio = contrast_ratio(style.lookup("Treeview", "bordercolor", ["focus"]), p.sidebar)
        elif isinstance(widget, ttk.Button):
            name = str(widget.cget("style")) or "TButton"
            ring = style.lookup(name, "focuscolor", ["focus"])
            ratio = contrast_ratio(ring, style.lookup(name, "background"))
        elif isinstance(widget, ttk.Entry):
            ratio = contrast_ratio(style.lookup("TEntry", "bordercolor", ["focus"]), p.surface)
        else:
            raise AssertionError(f"no focus check for {widget.winfo_class()} {widget}")
        assert ratio >= 3.0, f"{widget} focus mark {ratio:.2f}:1"
        following = widget.tk_focusNext()
        assert following is not None
        widget = following
        if widget is chat.input:
            break
    assert len(seen) >= 5  # input, Send, and the header's buttons and lists


def test_ctrl_k_switches_conversations(view: TkView) -> None:
    chat = view.chat
    assert chat is not None
    chat.input.insert("1.0", "keep this")
    press(chat.input, "<Control-k>")
    assert chat.conversations.selection() == ("@user2",)
    assert controller(view).named("select")[-1] == "@user2"
    press(chat.input, "<Control-K>")
    assert chat.conversations.selection() == ("lobby",)
    assert chat.input.get("1.0", "end-1c") == "keep this"  # not Tk's "delete to line end"


def test_ctrl_f_finds_highlights_and_escape_closes(view: TkView) -> None:
    chat = view.chat
    assert chat is not None
    chat.render([Line(f"e{i}", "message", f"10:0{i}", "amy", text)
                 for i, text in enumerate(["an Apple a day", "pears", "apple pie, apple tart"])],
                None)
    press(chat.input, "<Control-f>")
    assert chat.search_bar.winfo_ismapped() and view.window.focus_get() is chat.search_entry
    chat.search_entry.insert(0, "apple")
    press(chat.search_entry, "<KeyRelease>")
    t = chat.messages.text
    assert len(t.tag_ranges("match")) == 2 * 3
    assert str(chat.search_count.cget("text")) == "3 found"
    first = t.index("match_current.first")
    press(chat.search_entry, "<Return>")
    second = t.index("match_current.first")
    assert second != first and t.get(second, f"{second}+5c").lower() == "apple"
    press(chat.search_entry, "<Escape>")
    assert not chat.search_bar.winfo_ismapped() and not t.tag_ranges("match")
    assert view.window.focus_get() is chat.input


def test_log_out_asks_in_our_dialog_cancel_by_default(view: TkView) -> None:
    chat = view.chat
    assert chat is not None
    chat.logout_button.invoke()
    view.window.update()
    dialog = view.dialogs[-1]
    assert isinstance(dialog, ConfirmDialog)
    assert dialog.focus_lastfor() is dialog.cancel_button
    press(dialog.cancel_button, "<Return>")  # a reflexive Enter
    assert not dialog.winfo_exists() and controller(view).named("logout") == []
    chat.logout_button.invoke()
    dialog = view.dialogs[-1]
    assert isinstance(dialog, ConfirmDialog)
    press(dialog.cancel_button, "<Escape>")
    assert controller(view).named("logout") == []
    chat.logout_button.invoke()
    dialog = view.dialogs[-1]
    assert isinstance(dialog, ConfirmDialog)
    press(dialog.confirm_button, "<Return>")  # moved to "Log out anyway" on purpose
    assert controller(view).named("logout") == [None]


def test_escape_closes_the_key_file_dialog(view: TkView) -> None:
    answers: list[str | None] = []
    dialog = KeyFileDialog(view.window, "127.0.0.1:8090", "No key.", answers.append)
    press(dialog, "<Escape>")
    pump_until(view.window, lambda: answers, 10, "an answer")
    assert answers == [None]


def test_consecutive_messages_share_a_header_and_long_ones_fold(view: TkView) -> None:
    chat = view.chat
    assert chat is not None
    long_text = "\n".join(f"row {n}" for n in range(1, 41))
    chat.render([
        Line("a", "message", "10:00", "wang_yuan", "first", handle="@user1"),
        Line("b", "message", "10:03", "wang_yuan", "second", handle="@user1"),
        Line("c", "message", "10:09", "wang_yuan", "later", handle="@user1"),
        Line("d", "message", "10:09", "ding_zhen", long_text, handle="@user2"),
        Line("e", "message", "10:10", "me", "mine", own=True, state="sent"),
        Line("f", "message", "10:11", "me", "mine again", own=True, state="pending"),
    ], None)
    shown = chat.messages.plain_text().splitlines()
    headers = [line for line in shown if line.startswith(("wang_yuan", "ding_zhen", "me "))]
    assert headers == ["wang_yuan @user1  10:00", "wang_yuan @user1  10:09",
                       "ding_zhen @user2  10:09", "me  10:10  ✓"]
    assert shown[shown.index("first") + 1] == "second"
    assert shown[shown.index("mine again") - 1].strip() == "· sending…"  # the state stays
    assert "row 20" in shown and "row 21" not in shown
    assert "Show more (20 more lines)" in shown
    chat.messages.toggle("d")
    shown = chat.messages.plain_text().splitlines()
    assert "row 40" in shown and "Show less" in shown and shown.count("row 1") == 1
    chat.messages.toggle("d")
    assert "row 40" not in chat.messages.plain_text().splitlines()
    assert chat.messages.find("ROW 40") == 1  # searching finds what the fold hid
    assert "row 40" in chat.messages.plain_text().splitlines()


def test_the_dark_theme_applies_and_is_remembered(view: TkView, xdg: Path) -> None:
    chat = view.chat
    assert chat is not None
    chat.theme_button.invoke()
    assert view.palette is DARK
    assert str(chat.input.cget("background")) == DARK.surface
    assert str(chat.messages.text.cget("background")) == DARK.surface
    assert ttk.Style(view.window).lookup("TFrame", "background") == DARK.window
    assert PrefsFile(xdg).current.theme == "dark"
    assert str(chat.theme_button.cget("text")) == "Light theme"
