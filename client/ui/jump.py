"""Where the reader left off: a "New messages" line and a "Jump to latest ↓" button.

When messages arrive while the reader has scrolled up to read older ones, the transcript does
not move (``MessageView.append``); this marks the first of them with a line across the column
and shows a button over the transcript's bottom right that scrolls to the newest message.
The button goes away once the newest message is in view; Ctrl+End does the same as the button
from anywhere in the window. The line stays where it is until the conversation is painted
again (another conversation, or this one reopened), so the place one left off stays findable.
The same line is put above the first unseen message when the person comes back to a
conversation (``mark_before``; which message is ``client.conversations``' rule).
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from client.ui.theme import Palette, px

NEW_MESSAGES = "New messages"
JUMP_TEXT = "Jump to latest ↓ (Ctrl+End)"
MARKER_TAG = "new_marker"
JUMP_KEYS = ("<Control-End>", "<Control-KP_End>")


class LeftOff:
    """The marker line and the jump button of one ``tk.Text`` transcript."""

    def __init__(self, text: tk.Text, on_jump: Callable[[], None]) -> None:
        self.text = text
        self.marked = False
        self._on_jump = on_jump
        self.button = ttk.Button(text.master, text=JUMP_TEXT, command=self.jump,
                                 style="Accent.TButton")
        top = text.winfo_toplevel()
        self._bindings = [(seq, top.bind(seq, self._jump_key, add=True)) for seq in JUMP_KEYS]

    def apply_palette(self, p: Palette) -> None:
        self.text.tag_configure(MARKER_TAG, justify="center", foreground=p.danger,
                                font="ChatSmall", spacing1=px(self.text, 8),
                                spacing3=px(self.text, 4))

    @property
    def shown(self) -> bool:
        return bool(self.button.winfo_ismapped())

    def arrived_unseen(self) -> None:
        """Messages arrived below what the reader sees: mark the first (once), offer the jump.

        Call before inserting them (the line goes at the current end)."""
        if not self.marked:
            self.marked = True
            self.text.insert("end", f"──── {NEW_MESSAGES} ────\n", (MARKER_TAG,))
        self._offer_jump()

    def _offer_jump(self) -> None:
        margin = px(self.text, 16)
        self.button.place(in_=self.text, relx=1.0, rely=1.0, x=-margin, y=-margin, anchor="se")
        self.button.lift()

    def mark_before(self, entry_id: str) -> None:
        """The person came back to the conversation: the line goes above ``entry_id``, the
        first message they have not seen (any earlier line goes)."""
        t = self.text
        ranges = t.tag_ranges(entry_id)
        if not ranges:
            return
        state = t.cget("state")
        t.configure(state="normal")
        old = t.tag_ranges(MARKER_TAG)
        if old:
            t.delete(old[0], old[1])
            ranges = t.tag_ranges(entry_id)
        where = t.index(f"{ranges[0]} linestart")
        at_end = t.yview()[1] >= 0.999
        t.insert(where, f"──── {NEW_MESSAGES} ────\n", (MARKER_TAG,))
        t.configure(state=state)
        self.marked = True
        t.update_idletasks()
        if t.dlineinfo(where) is None and t.compare(where, "<", "@0,0"):
            t.yview(where)  # more came than fits: start reading at the line, jump offered
            self._offer_jump()
            self._on_jump()  # the view moved: the transcript notes it no longer follows
        elif at_end:
            t.see("end")  # the line made the text longer: still at the newest

    def repainted(self) -> None:
        """The transcript was painted afresh: no line, no button."""
        self.marked = False
        self.button.place_forget()

    def at_bottom(self) -> None:
        """The newest message is in view: the button has done its work."""
        self.button.place_forget()

    def jump(self) -> None:
        self.text.see("end")
        self.button.place_forget()
        self._on_jump()

    def _jump_key(self, _event: object = None) -> str | None:
        with contextlib.suppress(tk.TclError):
            if self.text.winfo_exists() and self.shown:
                self.jump()
                return "break"
        return None

    def forget_keys(self) -> None:
        """Leave no binding on the window (the login form comes back in it)."""
        top = self.text.winfo_toplevel()
        for sequence, funcid in self._bindings:
            with contextlib.suppress(tk.TclError):
                top.unbind(sequence, funcid)
        self._bindings = []
