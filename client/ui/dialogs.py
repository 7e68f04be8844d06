"""Small dialogs that never freeze the window: a ``Toplevel`` with callbacks, not a nested loop.

The old client blocked its whole UI in a modal box; here a dialog is transient to the chat
window and grabs input locally, but the Tk event loop keeps running (the network queue is still
drained) and the answer comes back through a callback.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from tkinter import filedialog, ttk
from typing import Literal

from client.trust import CONFIRM_CHARS
from client.ui.theme import palette_of, px


class Dialog(tk.Toplevel):
    """A transient, locally grabbed window with a message and buttons."""

    def __init__(self, master: tk.Misc, title: str, heading: str, body: str) -> None:
        super().__init__(master, background=palette_of(master).surface)
        self.withdraw()
        self.title(title)
        self.transient(master.winfo_toplevel())
        self.resizable(False, False)
        wrap = px(self, 480)
        self.wrap = wrap
        frame = ttk.Frame(self, style="Surface.TFrame", padding=(px(self, 22), px(self, 18)))
        frame.pack(fill="both", expand=True)
        frame.columnconfigure(0, weight=1)
        ttk.Label(frame, text=heading, style="CardTitle.TLabel", wraplength=wrap).grid(
            row=0, column=0, sticky="w", pady=(0, 8))
        self.body = ttk.Label(frame, text=body, style="Surface.TLabel", wraplength=wrap,
                              justify="left")
        self.body.grid(row=1, column=0, sticky="we")
        self.content = frame
        self.buttons = ttk.Frame(frame, style="Surface.TFrame")
        self.buttons.grid(row=9, column=0, sticky="e", pady=(px(self, 16), 0))
        self.result_text = body

    def add_button(
        self, text: str, command: Callable[[], None], accent: bool = False
    ) -> ttk.Button:
        button = ttk.Button(self.buttons, text=text, command=command,
                            style="Accent.TButton" if accent else "TButton")
        button.pack(side="left", padx=(px(self, 8), 0))
        return button

    def present(self, default: ttk.Button) -> None:
        """Centre over the parent, show, grab locally and focus the default button."""
        self.update_idletasks()
        parent = self.master.winfo_toplevel()
        x = parent.winfo_rootx() + max(0, (parent.winfo_width() - self.winfo_reqwidth()) // 2)
        y = parent.winfo_rooty() + max(0, (parent.winfo_height() - self.winfo_reqheight()) // 3)
        self.geometry(f"+{x}+{y}")
        self.deiconify()
        self.lift()
        with contextlib.suppress(tk.TclError):  # another window's grab is active: fine
            self.grab_set()
        default.focus_set()


class SafeQuestion(Dialog):
    """A yes-or-no question whose safe answer (Cancel) is the default: Esc, the close box and
    a reflexive Enter all cancel; only Enter on the other button, or a click, confirms.
    Subclasses add their widgets in ``build_content``, above the buttons."""

    def __init__(
        self, master: tk.Misc, title: str, heading: str, body: str, confirm: str,
        on_answer: Callable[[bool], None], *, cancel_first: bool = False,
    ) -> None:
        super().__init__(master, title, heading, body)
        self._on_answer = on_answer
        self.build_content()
        if cancel_first:
            self.cancel_button = self.add_button("Cancel", lambda: self._answer(False), True)
        self.confirm_button = self.add_button(confirm, lambda: self._answer(True))
        if not cancel_first:
            self.cancel_button = self.add_button("Cancel", lambda: self._answer(False), True)
        self.cancel_button.configure(default="active")
        self.protocol("WM_DELETE_WINDOW", lambda: self._answer(False))
        self.bind("<Escape>", lambda _e: self._answer(False))
        self.bind("<Return>", self._enter)
        self.present(self.cancel_button)

    def build_content(self) -> None:
        """Widgets between the body and the buttons (none by default)."""

    def _enter(self, event: tk.Event[tk.Misc]) -> None:
        """Enter presses the focused button; only a person who moved to confirm confirms."""
        self._answer(event.widget is self.confirm_button)

    def _answer(self, confirmed: bool) -> None:
        self.grab_release()
        self.destroy()
        self._on_answer(confirmed)


class TrustDialog(SafeQuestion):
    """First connection to a server: show its fingerprint, trust only on a click (accept-new).
    Cancel is the default: a reflexive Enter must never pin a key nobody compared."""

    def __init__(
        self, master: tk.Misc, server: str, fingerprint: str, on_answer: Callable[[bool], None]
    ) -> None:
        self.fingerprint = fingerprint
        super().__init__(
            master, "Trust this server?", f"First connection to {server}",
            "The client has never seen this server's key before. Its fingerprint is:",
            "Trust and connect", on_answer, cancel_first=True,
        )
        self.trust_button = self.confirm_button

    def build_content(self) -> None:
        fingerprint = self.fingerprint
        field = ttk.Entry(self.content, width=len(fingerprint) + 2, font="ChatBody")
        field.insert(0, fingerprint)
        field.state(["readonly"])
        field.grid(row=2, column=0, sticky="we", pady=(px(self, 8), px(self, 8)))
        self.field = field
        ttk.Label(self.content, style="SurfaceMuted.TLabel", wraplength=self.wrap, justify="left",
                  text="Compare it with the fingerprint the server's administrator gave you "
                       "(`python -m server keygen` prints it). Trust it only if they match: the "
                       "key is then remembered, and a different key later is refused.").grid(
            row=3, column=0, sticky="we")


class ReplaceKeyDialog(Dialog):
    """The server's key changed: both fingerprints, and replacing it only by typing the last
    ``CONFIRM_CHARS`` characters of the new one. Cancel is the default; Enter, Esc and the
    close box cancel unless the confirmation field holds exactly the right characters."""

    def __init__(
        self, master: tk.Misc, server: str, recorded: str, offered: str, text: str,
        on_answer: Callable[[str | None], None],
    ) -> None:
        super().__init__(master, "Server key changed", f"The key of {server} has changed", text)
        self._on_answer = on_answer
        self.offered = offered
        for row, (label, value) in enumerate((("Recorded", recorded), ("Offered", offered)), 2):
            line = ttk.Frame(self.content, style="Surface.TFrame")
            line.grid(row=row, column=0, sticky="we", pady=(px(self, 6), 0))
            ttk.Label(line, text=f"{label}:", style="Surface.TLabel", width=10).pack(side="left")
            field = ttk.Entry(line, width=len(value) + 2, font="ChatBody")
            field.insert(0, value)
            field.state(["readonly"])
            field.pack(side="left", fill="x", expand=True)
        ttk.Label(self.content, style="Surface.TLabel", wraplength=self.wrap, justify="left",
                  text=f"To accept the new key, type the last {CONFIRM_CHARS} characters of "
                       "the offered fingerprint:").grid(
            row=4, column=0, sticky="w", pady=(px(self, 10), px(self, 2)))
        self.confirmation = ttk.Entry(self.content, width=CONFIRM_CHARS + 4, font="ChatBody",
                                      validate="key")
        self.confirmation.configure(validatecommand=(self.register(self._typed), "%P"))
        self.confirmation.grid(row=5, column=0, sticky="w")
        self.cancel_button = self.add_button("Cancel", lambda: self._answer(None), accent=True)
        self.replace_button = self.add_button("Replace the key and connect", self._replace)
        self.cancel_button.configure(default="active")
        self.replace_button.state(["disabled"])
        self.protocol("WM_DELETE_WINDOW", lambda: self._answer(None))
        self.bind("<Escape>", lambda _e: self._answer(None))
        self.bind("<Return>", self._enter)
        self.present(self.cancel_button)

    def typed(self) -> str:
        return str(self.confirmation.get())

    def _matches(self, text: str | None = None) -> bool:
        typed = self.typed() if text is None else text
        return typed.strip() == self.offered[-CONFIRM_CHARS:]

    def _typed(self, proposed: str) -> bool:
        """Every edit of the field (typed or pasted): Replace is enabled only on a match."""
        self.replace_button.state(["!disabled"] if self._matches(proposed) else ["disabled"])
        return True

    def _enter(self, event: tk.Event[tk.Misc]) -> None:
        """Enter replaces only from the filled-in field or the Replace button, else cancels."""
        if event.widget in (self.confirmation, self.replace_button) and self._matches():
            self._replace()
        elif event.widget is not self.confirmation:
            self._answer(None)

    def _replace(self) -> None:
        if self._matches():
            self._answer(self.typed())

    def _answer(self, typed: str | None) -> None:
        self.grab_release()
        self.destroy()
        self._on_answer(typed)


class NoticeDialog(Dialog):
    """An explanation with one OK button (a changed server key, an identity failure)."""

    def __init__(self, master: tk.Misc, title: str, heading: str, text: str) -> None:
        super().__init__(master, title, heading, text)
        ok = self.add_button("OK", self.close, accent=True)
        self.protocol("WM_DELETE_WINDOW", self.close)
        self.bind("<Escape>", lambda _e: self.close())
        self.bind("<Return>", lambda _e: self.close())
        self.present(ok)

    def close(self) -> None:
        self.grab_release()
        self.destroy()


class KeyFileDialog(Dialog):
    """The server did not send its key: ask for the public key file received out of band."""

    def __init__(
        self, master: tk.Misc, server: str, reason: str, on_answer: Callable[[str | None], None]
    ) -> None:
        super().__init__(
            master, "Server key needed", f"No key for {server}",
            f"{reason}\n\nChoose the server's public key file (server_public.pem) that you "
            "received from its administrator. Its fingerprint is shown before anything is sent.",
        )
        self._on_answer = on_answer
        self.add_button("Cancel", lambda: self._done(None))
        default = self.add_button("Choose file…", self._choose, accent=True)
        self.protocol("WM_DELETE_WINDOW", lambda: self._done(None))
        self.bind("<Escape>", lambda _e: self._done(None))
        self.present(default)

    def _choose(self) -> None:
        path = filedialog.askopenfilename(
            parent=self, title="Server public key",
            filetypes=[("PEM public key", "*.pem"), ("All files", "*")],
        )
        self._done(path or None)

    def _done(self, path: str | None) -> None:
        self.grab_release()
        self.destroy()
        self._on_answer(path)


CloseChoice = Literal["wait", "discard", "keep"]


class UnsentDialog(Dialog):
    """Closing the window with messages not yet acked: wait, quit anyway, or keep them.

    Keeping them for the next login is the default and what Esc, Enter and the close box do:
    it loses nothing whether or not the server comes back. Discarding is never the default.
    """

    def __init__(
        self, master: tk.Misc, count: int, on_answer: Callable[[CloseChoice], None]
    ) -> None:
        noun = "message has" if count == 1 else "messages have"
        super().__init__(
            master, "Messages not sent yet", f"{count} {noun} not reached the server yet",
            "Keep them: they are saved on this computer and sent the next time you log in to "
            "this server with this account.\nWait: the window stays open and closes once they "
            "are sent.\nQuit anyway: they are discarded and never sent.",
        )
        self._on_answer = on_answer
        self.count = count
        self.discard_button = self.add_button("Quit anyway (discard)",
                                              lambda: self._answer("discard"))
        self.wait_button = self.add_button("Wait until sent", lambda: self._answer("wait"))
        self.keep_button = self.add_button("Keep for next time", lambda: self._answer("keep"),
                                           accent=True)
        self.keep_button.configure(default="active")
        self.protocol("WM_DELETE_WINDOW", lambda: self._answer("keep"))
        self.bind("<Escape>", lambda _e: self._answer("keep"))
        self.bind("<Return>", self._enter)
        self.present(self.keep_button)

    def _enter(self, event: tk.Event[tk.Misc]) -> None:
        """Enter presses the focused button, so discarding takes moving to it first."""
        choice: CloseChoice = "keep"
        if event.widget is self.discard_button:
            choice = "discard"
        elif event.widget is self.wait_button:
            choice = "wait"
        self._answer(choice)

    def _answer(self, choice: CloseChoice) -> None:
        self.grab_release()
        self.destroy()
        self._on_answer(choice)


class ConfirmDialog(SafeQuestion):
    """An ordinary yes-or-no question (log out with messages unsent), Cancel by default."""
