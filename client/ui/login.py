"""The login form: server address, username, password, Login. Enter submits from any field.

Errors appear inline under the form in full sentences (the controller chooses the words), and
the form stays usable while a login is under way only in the sense that it shows progress;
the fields are disabled so a second click cannot start a second connection.

"Create account" turns the same card into the registration form: an invitation code, a
nickname and the password twice, with its strength (``client.password_policy``, zxcvbn) shown
as it is typed; the controller judges the password again before anything is sent.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from client.password_policy import STRENGTH_WORDS, strength
from client.ui.theme import char_width, palette_of, px

FIELDS = (  # name, label, hidden text, only when creating an account
    ("address", "Server", "", False), ("code", "Invitation code", "", True),
    ("username", "Username", "", False), ("nickname", "Nickname", "", True),
    ("password", "Password", "•", False), ("again", "Password again", "•", True),
)
Register = Callable[[str, str, str, str, str, str], None]


class LoginFrame(ttk.Frame):
    """A centred card with the three fields; ``on_submit(address, username, password)``."""

    def __init__(self, master: tk.Misc, on_submit: Callable[[str, str, str], None],
                 on_register: Register | None = None) -> None:
        super().__init__(master, padding=px(master, 24))
        s = px
        self._on_submit, self._on_register = on_submit, on_register
        self.registering = False
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self.rowconfigure(2, weight=1)
        card = ttk.Frame(self, style="Card.TFrame", padding=(s(self, 28), s(self, 24)))
        card.grid(row=1, column=0)
        self.column = char_width(self, "TkDefaultFont") * 34
        card.columnconfigure(0, weight=1, minsize=self.column)
        self.card = card
        ttk.Label(card, text="Chat", style="CardTitle.TLabel").grid(row=0, column=0, sticky="w")
        ttk.Label(card, text="AES-256-GCM encrypted · pinned server key",
                  style="CardMuted.TLabel").grid(row=1, column=0, sticky="w", pady=(0, s(self, 14)))
        self.entries: dict[str, ttk.Entry] = {}
        self._joining: list[tk.Widget] = []  # shown only when creating an account
        row = 2
        for name, label, show, joining in FIELDS:
            caption = ttk.Label(card, text=label, style="Card.TLabel")
            caption.grid(row=row, column=0, sticky="w")
            entry = ttk.Entry(card, show=show, width=32)  # no StringVar: see value()
            entry.grid(row=row + 1, column=0, sticky="we", pady=(s(self, 2), s(self, 10)))
            entry.bind("<Return>", self._submit)
            entry.bind("<KP_Enter>", self._submit)
            self.entries[name] = entry
            if joining:
                self._joining += [caption, entry]
            row += 2
        self.strength = ttk.Label(card, text="", style="CardMuted.TLabel", wraplength=self.column,
                                  justify="left")
        self.strength.grid(row=row, column=0, sticky="we", pady=(0, s(self, 8)))
        self._joining.append(self.strength)
        for name in ("password", "username", "nickname"):
            self.entries[name].bind("<KeyRelease>", self._judge, add=True)
        self.button = ttk.Button(card, text="Log in", style="Accent.TButton", command=self._submit)
        self.button.grid(row=row + 1, column=0, sticky="we", pady=(s(self, 4), 0),
                         ipady=s(self, 2))
        self.switch = ttk.Button(card, text="Create account…", command=self.toggle_mode)
        self.switch.grid(row=row + 2, column=0, sticky="we", pady=(s(self, 6), 0))
        self.switch.bind("<Return>", self._switch_key)
        if on_register is None:
            self.switch.grid_remove()
        row += 2
        for widget in self._joining:
            widget.grid_remove()
        self.progress = ttk.Progressbar(card, mode="indeterminate", length=s(self, 120))
        self.note = ttk.Label(card, text="", style="CardMuted.TLabel")
        self.error = ttk.Label(card, text="", style="Error.TLabel", wraplength=self.column,
                               justify="left")
        self.progress.grid(row=row + 1, column=0, sticky="we", pady=(s(self, 12), 0))
        self.note.grid(row=row + 2, column=0, sticky="w", pady=(s(self, 4), 0))
        self.error.grid(row=row + 3, column=0, sticky="we", pady=(s(self, 10), 0))
        for widget in (self.progress, self.note, self.error):
            widget.grid_remove()  # shown only when they have something to say
        self._busy = False
        self._wait_timer: str | None = None
        self.wait_left = 0  # seconds until the server takes a login again (0: now)
        self._wait_reason = ""

    def set_values(self, address: str, username: str) -> None:
        """Prefill the form and put the cursor where typing is needed next."""
        self._put("address", address)
        self._put("username", username)
        self._put("password", "")
        self.focus_first_empty()

    def value(self, name: str) -> str:
        """A field's text. Entries hold their own text rather than a ``StringVar``, whose
        ``__del__`` would call Tk from whichever thread the garbage collector runs in."""
        return str(self.entries[name].get())

    def _put(self, name: str, text: str) -> None:
        entry = self.entries[name]
        disabled = entry.instate(["disabled"])
        entry.state(["!disabled"])
        entry.delete(0, "end")
        entry.insert(0, text)
        if disabled:
            entry.state(["disabled"])

    def toggle_mode(self) -> None:
        """Between logging in and creating an account (the same card, more fields)."""
        if self._busy:
            return
        self.registering = not self.registering
        for widget in self._joining:
            _show(widget, self.registering)
        self.button.configure(text="Create account" if self.registering else "Log in")
        self.switch.configure(text="Back to log in" if self.registering else "Create account…")
        self._show_error("")
        self._judge()
        self.focus_first_empty()

    def _switch_key(self, _event: object = None) -> str:
        self.toggle_mode()
        return "break"

    def _judge(self, _event: object = None) -> None:
        """The password's strength as it is typed (registration only)."""
        password = self.value("password")
        if not self.registering or not password:
            self.strength.configure(text="")
            return
        score, advice = strength(password, self.value("username"), self.value("nickname"))
        text = f"Strength: {STRENGTH_WORDS[score]}." + (f" {advice}" if advice else "")
        self.strength.configure(text=text)

    def _visible(self) -> list[str]:
        return [name for name, _, _, joining in FIELDS if self.registering or not joining]

    def focus_first_empty(self) -> None:
        for name in self._visible():
            if not self.entries[name].get():
                self.entries[name].focus_set()
                return
        self.entries["password"].focus_set()

    def set_busy(self, busy: bool, note: str) -> None:
        """Disable the form while connecting and say what is happening."""
        self._busy = busy
        state = ["disabled"] if busy else ["!disabled"]
        for entry in self.entries.values():
            entry.state(state)
        self.button.state(state)
        self.switch.state(state)
        self.note.configure(text=note)
        _show(self.note, bool(note))
        if busy:
            self._show_error("")
            self.progress.grid()
            self.progress.start(12)
        else:
            self.progress.stop()
            self.progress.grid_remove()

    def set_error(self, text: str, clear_password: bool = False,
                  wait_s: int | None = None) -> None:
        """Show why the login did not work; ``clear_password`` (any refusal by the server)
        empties the password field, so a retry is typed afresh, never appended to the old one.
        ``wait_s``: the server refuses logins for that long; the text counts down and Log in
        stays disabled until it may work (a click before would only restart the delay)."""
        self._stop_wait()
        self.set_busy(False, "")
        self._show_error(text)
        if clear_password:
            self._put("password", "")
            self._put("again", "")
            self._judge()
        if wait_s:
            self._wait_reason, self.wait_left = text.split(" Try again")[0], wait_s
            self._tick()
        self.focus_first_empty()

    def _tick(self) -> None:
        """One second of the countdown: the remaining wait, then Log in again."""
        self._wait_timer = None
        if self.wait_left <= 0:
            self.button.state(["!disabled"])
            self._show_error(f"{self._wait_reason} You can try again now.")
            return
        self.button.state(["disabled"])
        unit = "second" if self.wait_left == 1 else "seconds"
        self._show_error(f"{self._wait_reason} Try again in {self.wait_left} {unit}.")
        self._wait_timer = self.after(1000, self._second_passed)

    def _second_passed(self) -> None:
        self.wait_left -= 1
        self._tick()

    def _stop_wait(self) -> None:
        if self._wait_timer is not None:
            self.after_cancel(self._wait_timer)
            self._wait_timer = None
        self.wait_left = 0

    def destroy(self) -> None:
        self._stop_wait()
        super().destroy()

    def _show_error(self, text: str) -> None:
        self.error.configure(text=text, foreground=palette_of(self).danger)
        _show(self.error, bool(text))

    def _submit(self, _event: object = None) -> str:
        if self._busy or self.wait_left:
            return "break"
        if self.registering and self._on_register is not None:
            self._on_register(*(self.value(name) for name in (
                "address", "code", "username", "nickname", "password", "again")))
        else:
            self._on_submit(self.value("address"), self.value("username"), self.value("password"))
        return "break"


def _show(widget: tk.Widget, visible: bool) -> None:
    """Show a gridded widget, or hide it while keeping its grid options for later."""
    if visible:
        widget.grid()
    else:
        widget.grid_remove()
