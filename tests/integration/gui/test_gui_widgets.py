"""Widgets on their own under Xvfb (no server): what a hostile message and a trust prompt do.

The message view is fed the exact ``Line`` the formatter makes from a forged message, then
read back tag by tag, as a person would see it: where each visible line starts and which font
it is drawn in. The trust dialog gets real key events.
"""

from __future__ import annotations

import tkinter as tk

from client.formatting import Line, entry_line
from client.model import Entry
from client.ui.dialogs import TrustDialog
from client.ui.messages import BODY_INDENT, MessageView
from client.ui.theme import setup_fonts
from tests.integration.gui.harness import pump_until

FORGED = (
    "see you\n\n\n\n\nwang_yuan  19:37\nsend me your password\n  ✓\n"
    "ding_zhen\u202e  19:38\n\u2066me too\u2069\u200b\n\x1b[2Jdone"
)


def lines_of(view: MessageView) -> list[tuple[int, str, set[str]]]:
    """Every display line: (line number, text, tags at its first character)."""
    t = view.text
    last = int(t.index("end-1c").split(".")[0])
    result = []
    for number in range(1, last + 1):
        text = t.get(f"{number}.0", f"{number}.end")
        result.append((number, text, set(t.tag_names(f"{number}.0"))))
    return result


def test_a_forged_message_cannot_pass_for_other_peoples_messages(top: tk.Toplevel) -> None:
    view = MessageView(top, setup_fonts(top), lambda: None)
    view.pack(fill="both", expand=True)
    real = Entry("lobby", "message", "hello", 0, "user1", "wang_yuan", msg_id=1)
    forged = Entry("lobby", "message", FORGED, 60_000, "user3", "mallory", msg_id=2)
    lines: list[Line] = [entry_line(real), entry_line(forged)]
    view.render(lines, None)
    top.update()
    shown = lines_of(view)
    headers = [(n, text) for n, text, tags in shown if tags & {"sender", "sender_own"}]
    assert [text.split("  ")[0] for _, text in headers] == ["wang_yuan @user1", "mallory @user3"]
    t = view.text
    for number, text, tags in shown:
        if (number, text) in headers or not text:
            continue
        assert "body" in tags, f"line {number} {text!r} is not drawn as a body"
        assert not tags & {"sender", "sender_own", "time"}
        assert int(t.tag_cget("body", "lmargin1")) == view.body_indent >= BODY_INDENT
        assert int(t.tag_cget("body", "lmargin2")) == view.body_indent
        # the first pixel of every body line sits right of where every header starts
        body_x = t.bbox(f"{number}.0")
        head_x = t.bbox(f"{headers[0][0]}.0")
        assert body_x is not None and head_x is not None
        assert body_x[0] >= head_x[0] + view.body_indent
    bodies = [text for _, text, tags in shown if "body" in tags]
    assert "wang_yuan  19:37" in bodies  # the forgery is there, but inside mallory's body
    plain = view.plain_text()
    assert "\n\n\n" not in plain
    for hidden in ("\u202e", "\u2066", "\u2069", "\u200b", "\x1b"):
        assert hidden not in plain
    for code in ("202E", "2066", "2069", "200B", "001B"):
        assert f"⟨U+{code}⟩" in plain


def test_enter_on_the_trust_dialog_does_not_trust(top: tk.Toplevel) -> None:
    answers: list[bool] = []
    dialog = TrustDialog(top, "127.0.0.1:8090", "SHA256:" + "A" * 43, answers.append)
    top.update()
    focused = dialog.focus_lastfor()
    assert focused is dialog.cancel_button
    focused.focus_force()  # Xvfb has no window manager to give the dialog focus
    top.update()
    focused.event_generate("<Return>", when="tail")
    pump_until(top, lambda: answers, 10, "an answer")
    assert answers == [False]


def test_trust_needs_a_deliberate_choice(top: tk.Toplevel) -> None:
    answers: list[bool] = []
    dialog = TrustDialog(top, "127.0.0.1:8090", "SHA256:" + "A" * 43, answers.append)
    dialog.trust_button.focus_force()  # the person tabs to Trust on purpose
    top.update()
    dialog.trust_button.event_generate("<Return>", when="tail")
    pump_until(top, lambda: answers, 10, "an answer")
    assert answers == [True]


def test_a_presence_line_is_rewritten_in_place(top: tk.Toplevel) -> None:
    view = MessageView(top, setup_fonts(top), lambda: None)
    view.pack(fill="both", expand=True)
    view.render([Line("e1", "system", "10:00", text="cxk joined"),
                 Line("e2", "message", "10:01", "amy", "hello", handle="@user4")], None)
    view.restyle(Line("e1", "system", "10:02", text="cxk joined and left · amy joined"))
    shown = view.plain_text().splitlines()
    assert shown[0] == "cxk joined and left · amy joined · 10:02"
    assert "cxk joined · 10:00" not in shown and shown[1].startswith("amy @user4  10:01")
    assert "hello" in shown
