"""The end-to-end widgets: the open conversation's lock marker and the verify dialog.

``SecurityBar`` sits at the right of the conversation header: "🔒 end-to-end" on direct
conversations (with their verification state and a Verify button), "encrypted in transit"
on the room, whose messages the server can read. Ctrl+I opens the verify dialog anywhere in
the window.

``VerifyDialog`` shows the safety number (``common.safety``): 60 digits in twelve groups of
five, in three rows so two people can read them to each other. It offers "Mark as verified"
for a contact not verified yet, and, when a verified contact's key changed, the new number and
"Accept the new key" (which releases the held messages). Close is the default button, so a
reflexive Enter never marks anyone verified.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from client.e2e_view import SafetyView, SecurityNote
from client.ui.dialogs import Dialog
from client.ui.theme import palette_of, px

VERIFY_KEYS = ("<Control-i>", "<Control-I>")


def number_rows(number: str) -> str:
    """Twelve groups of five as three rows of four groups."""
    groups = number.split()
    return "\n".join("   ".join(groups[at : at + 4]) for at in range(0, len(groups), 4))


class SecurityBar(ttk.Frame):
    """The lock marker and Verify button of the open conversation."""

    def __init__(self, master: tk.Misc, on_verify: Callable[[], None]) -> None:
        super().__init__(master, style="Surface.TFrame")
        self.label = ttk.Label(self, text="", style="SurfaceMuted.TLabel")
        self.label.grid(row=0, column=0, sticky="e")
        ttk.Style(self).configure("Verify.TButton", font="ChatSmall",
                                  padding=(px(self, 6), px(self, 1)))
        self.verify_button = ttk.Button(self, text="Verify (Ctrl+I)", command=on_verify,
                                        style="Verify.TButton")
        self.verify_button.grid(row=0, column=1, padx=(px(self, 8), 0))
        self.note: SecurityNote | None = None
        top = self.winfo_toplevel()
        self._bindings = [(seq, top.bind(seq, lambda _e: self._verify(on_verify), add=True))
                          for seq in VERIFY_KEYS]

    def _verify(self, on_verify: Callable[[], None]) -> str:
        if self.winfo_exists() and self.verify_button.winfo_ismapped():
            on_verify()
        return "break"

    def show(self, note: SecurityNote) -> None:
        self.note = note
        p = palette_of(self)
        colour = {"warning": p.danger, "verified": p.ok}.get(note.level, p.muted)
        self.label.configure(text=note.text, foreground=colour)
        if note.level == "transit":
            self.verify_button.grid_remove()
        else:
            self.verify_button.grid()

    def destroy(self) -> None:
        top = self.winfo_toplevel()
        for sequence, _funcid in self._bindings:
            top.unbind(sequence)
        super().destroy()


class VerifyDialog(Dialog):
    """The safety number of one direct conversation, and what the person can do about it."""

    def __init__(
        self, master: tk.Misc, safety: SafetyView, on_verified: Callable[[str], None],
        on_accept: Callable[[str], None],
    ) -> None:
        who = safety.username
        if safety.new_number:
            heading = f"⚠ {who}'s keys changed"
            body = (f"{who} has new security keys since you verified them. Messages to them "
                    "are held. Compare the NEW safety number below with them (in person or "
                    "on a call you trust) before accepting it.")
        else:
            heading = f"Safety number with {who}"
            body = (f"Compare these 60 digits with {who}, in person or on a call you trust. "
                    "If they match, your direct messages can be read by the two of you only.")
        super().__init__(master, "Verify end-to-end encryption", heading, body)
        self.safety = safety
        shown = safety.new_number or safety.number
        self.number = ttk.Label(self.content, text=number_rows(shown), font="ChatMono",
                                style="Surface.TLabel", justify="center")
        self.number.grid(row=2, column=0, pady=(px(self, 14), px(self, 10)))
        state = ("key changed: not verified" if safety.new_number else
                 "✓ verified" if safety.verified else "not verified yet")
        p = palette_of(self)
        colour = p.danger if safety.new_number else p.ok if safety.verified else p.muted
        self.state_label = ttk.Label(self.content, text=f"Status: {state}", foreground=colour,
                                     style="Surface.TLabel")
        self.state_label.grid(row=3, column=0, sticky="w")
        self.accept_button: ttk.Button | None = None
        self.verified_button: ttk.Button | None = None
        if safety.new_number:
            self.accept_button = self.add_button(
                "Accept the new key", lambda: self._then(on_accept))
        elif not safety.verified:
            self.verified_button = self.add_button(
                "Mark as verified", lambda: self._then(on_verified))
        self.close_button = self.add_button("Close", self.close, accent=True)
        self.close_button.configure(default="active")
        self.protocol("WM_DELETE_WINDOW", self.close)
        self.bind("<Escape>", lambda _e: self.close())
        self.bind("<Return>", self._enter)
        self.present(self.close_button)

    def _enter(self, event: tk.Event[tk.Misc]) -> None:
        """Enter presses the focused button (Close unless the person moved to another)."""
        widget = event.widget
        if isinstance(widget, ttk.Button):
            widget.invoke()
        else:
            self.close()

    def _then(self, action: Callable[[str], None]) -> None:
        self.close()
        action(self.safety.username)

    def close(self) -> None:
        self.grab_release()
        self.destroy()
