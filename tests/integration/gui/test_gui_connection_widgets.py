"""Widgets of the connection's story on their own under Xvfb (no server): a pending message
without a time that gets the server's time in place, "retrying…", the changed-key dialog's
Cancel default and typed confirmation, and "Reconnect now" with its shortcut.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Iterator

import pytest

from client.formatting import Line
from client.renderer import Person
from client.ui.chat import ChatCallbacks, ChatFrame
from client.ui.dialogs import ReplaceKeyDialog
from client.ui.messages import MessageView
from client.ui.theme import setup_fonts, setup_style
from tests.integration.gui.harness import pump_until

OFFERED = "SHA256:" + "B" * 35 + "xY3+/k9Q"
RECORDED = "SHA256:" + "A" * 43


@pytest.fixture
def top(tk_root: tk.Tk) -> Iterator[tk.Toplevel]:
    setup_style(tk_root)
    window = tk.Toplevel(tk_root)
    window.geometry("900x600")
    yield window
    window.destroy()
    tk_root.update()


def test_a_pending_message_gets_the_server_time_in_place(top: tk.Toplevel) -> None:
    view = MessageView(top, setup_fonts(top), lambda: None)
    view.pack(fill="both", expand=True)
    view.render([Line("e1", "message", "09:59", "amy", "before"),
                 Line("e2", "message", "", "wang_yuan", "mine", own=True, state="pending"),
                 Line("e3", "message", "10:02", "amy", "after")], None)
    shown = view.plain_text().splitlines()
    assert shown[2] == "wang_yuan  · sending…"  # no local time to jump from
    view.restyle(Line("e2", "message", "", "wang_yuan", "mine", own=True, state="retrying"))
    assert view.plain_text().splitlines()[2] == "wang_yuan  · retrying…"
    view.restyle(Line("e2", "message", "10:01", "wang_yuan", "mine", own=True, state="sent"))
    shown = view.plain_text().splitlines()
    assert shown == ["amy  09:59", "before", "wang_yuan  10:01  ✓", "mine", "amy  10:02", "after"]
    assert "pending" not in view.text.tag_names("4.0")


def test_the_changed_key_dialog_cancels_on_enter(top: tk.Toplevel) -> None:
    answers: list[str | None] = []
    dialog = ReplaceKeyDialog(top, "127.0.0.1:8090", RECORDED, OFFERED, "explanation",
                              answers.append)
    top.update()
    assert dialog.focus_lastfor() is dialog.cancel_button
    assert dialog.replace_button.instate(["disabled"])
    dialog.cancel_button.focus_force()
    top.update()
    dialog.cancel_button.event_generate("<Return>", when="tail")
    pump_until(top, lambda: answers, 10, "an answer")
    assert answers == [None]


@pytest.mark.parametrize(("typed", "expected"), [("xY3+/k9Q", ["xY3+/k9Q"]), ("xy3+/k9q", [])])
def test_the_changed_key_dialog_takes_only_the_exact_characters(
    top: tk.Toplevel, typed: str, expected: list[str]
) -> None:
    answers: list[str | None] = []
    dialog = ReplaceKeyDialog(top, "127.0.0.1:8090", RECORDED, OFFERED, "explanation",
                              answers.append)
    dialog.confirmation.focus_force()
    dialog.confirmation.insert(0, typed)
    top.update()
    assert dialog.replace_button.instate(["!disabled"] if expected else ["disabled"])
    dialog.confirmation.event_generate("<Return>", when="tail")
    top.update()
    assert answers == expected
    if not expected:
        dialog.destroy()


def test_reconnect_now_button_and_shortcut(top: tk.Toplevel) -> None:
    asked: list[str] = []
    chat = ChatFrame(top, setup_fonts(top), ChatCallbacks(
        send=lambda _t: True, select=lambda _k: None, open_direct=lambda _u: None,
        load_older=lambda: None, logout=lambda: None, draft=lambda _k, _t: None,
        reconnect=lambda: asked.append("now"),
    ))
    chat.pack(fill="both", expand=True)
    top.update()
    assert not chat.reconnect_button.winfo_ismapped()
    chat.offer_reconnect(True)
    top.update()
    assert chat.reconnect_button.winfo_ismapped()
    chat.reconnect_button.invoke()
    chat.input.focus_force()
    top.update()
    chat.input.event_generate("<Control-r>", when="tail")
    top.update()
    assert asked == ["now", "now"]
    chat.set_people([Person("user1", "wang_yuan", True, True), Person("user2", "amy", False, True)])
    assert str(chat.people_heading.cget("text")) == "LAST KNOWN · OFFLINE"
    assert chat.people.item("user2", "tags") == ("last_known",)
    chat.set_people([Person("user1", "wang_yuan", True)])
    assert str(chat.people_heading.cget("text")) == "PEOPLE ONLINE"
