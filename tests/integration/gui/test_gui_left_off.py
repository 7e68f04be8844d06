"""Where the reader left off: messages arriving while scrolled up get a "New messages" line
and a "Jump to latest" button (Ctrl+End too); at the bottom nothing of that appears."""

from __future__ import annotations

import tkinter as tk

from client.formatting import Line
from client.ui.jump import NEW_MESSAGES
from client.ui.messages import MessageView
from client.ui.theme import setup_fonts


def lines(start: int, count: int) -> list[Line]:
    return [Line(f"e{i}", "message", "10:00", f"amy{i % 2}", f"message {i}")
            for i in range(start, start + count)]


def test_new_messages_while_scrolled_up_are_marked_and_one_key_jumps(top: tk.Toplevel) -> None:
    view = MessageView(top, setup_fonts(top), lambda: None)
    view.pack(fill="both", expand=True)
    view.render(lines(0, 80), None)
    top.update()
    view.text.yview_moveto(0.2)  # reading older messages
    view._note_position()
    top.update()
    assert not view.following
    view.append(lines(80, 2))
    top.update()
    text = view.plain_text().splitlines()
    marker = next(i for i, line in enumerate(text) if NEW_MESSAGES in line)
    assert "message 80" in text[marker + 1:marker + 3] and "message 79" in text[:marker]
    assert view.left_off.shown and view.text.yview()[1] < 0.999  # not moved, but offered
    view.append(lines(82, 1))  # more arrive: still one line, where the reader left off
    assert view.plain_text().count(NEW_MESSAGES) == 1
    top.focus_force()
    top.update()
    top.event_generate("<Control-End>")
    top.update()
    assert view.text.yview()[1] >= 0.999 and not view.left_off.shown
    view.render(lines(0, 3), None)  # another conversation: a fresh transcript
    assert NEW_MESSAGES not in view.plain_text()
    view.destroy()


def test_at_the_bottom_new_messages_just_follow(top: tk.Toplevel) -> None:
    view = MessageView(top, setup_fonts(top), lambda: None)
    view.pack(fill="both", expand=True)
    view.render(lines(0, 80), None)
    top.update()
    view.append(lines(80, 2))
    top.update()
    assert NEW_MESSAGES not in view.plain_text() and not view.left_off.shown
    assert view.text.yview()[1] >= 0.999
    view.destroy()


def test_the_button_scrolls_to_the_newest(top: tk.Toplevel) -> None:
    view = MessageView(top, setup_fonts(top), lambda: None)
    view.pack(fill="both", expand=True)
    view.render(lines(0, 80), None)
    top.update()
    view.text.yview_moveto(0.0)
    view._note_position()
    view.append(lines(80, 1))
    top.update()
    view.left_off.button.invoke()
    top.update()
    assert view.text.yview()[1] >= 0.999 and not view.left_off.shown and view.following
    view.destroy()
