"""The Account dialog: nickname, password, sessions, and the admin panel for administrators.

``AccountPanel`` implements ``client.account_actions.AccountView`` for ``TkView``; its widgets
report to the controller (``client.ui.window.Controller``) and are changed only from the Tk
main thread (the controller calls it from its pump). Like the other dialogs it is a
``Toplevel`` that never blocks the event loop; everything is reachable with Tab, Enter and
Esc, and sizes come from font metrics (``px``).
"""

from __future__ import annotations

import contextlib
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Protocol

from client.account_actions import AccountState
from client.ui.dialogs import ConfirmDialog
from client.ui.theme import palette_of, px

ADMIN_BUTTONS = (
    ("Disable", "disable"), ("Enable", "enable"), ("Reset password", "reset"),
    ("Make admin", "make_admin"), ("Remove admin", "remove_admin"), ("Delete…", "delete"),
    ("New invitation", "invite"),
)


class AccountController(Protocol):
    """The controller's account methods (part of ``client.ui.window.Controller``)."""

    def change_nickname(self, nickname: str) -> None: ...
    def change_password(self, current: str, new: str, again: str) -> None: ...
    def refresh_sessions(self) -> None: ...
    def sign_out_others(self) -> None: ...
    def admin_action(self, action: str, username: str) -> None: ...
    def create_invitation(self) -> None: ...
    def reset_with_code(self, address: str, username: str, code: str, new: str,
                        again: str) -> None: ...


def when(ms: int) -> str:
    """Unix ms as local date and time for a person (``-`` for none)."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms > 0 else "-"


def add_account_button(header: tk.Misc, command: Callable[[], None]) -> ttk.Button:
    """The chat header's "Account…" button (left of Log out; the room buttons are column 3)."""
    button = ttk.Button(header, text="Account…", command=command, style="Header.TButton")
    button.grid(row=0, column=4, padx=(0, px(header, 8)))
    return button


def add_code_button(card: tk.Misc, command: Callable[[], None]) -> ttk.Button:
    """The login form's "Set a new password with a one-time code…" (below its error line)."""
    button = ttk.Button(card, text="Have a one-time code?", command=command)
    button.grid(row=40, column=0, sticky="w", pady=(px(card, 10), 0))
    return button


class AccountPanel:
    """The dialog, made on first ``show_account`` and refreshed in place afterwards."""

    def __init__(self, window: tk.Misc, controller: Callable[[], AccountController | None]):
        self._window, self._controller = window, controller
        self.dialog: tk.Toplevel | None = None
        self._admin_frame: ttk.Frame | None = None
        self.code_dialog: tk.Toplevel | None = None

    # --- AccountView ------------------------------------------------------------------------

    def show_account(self, state: AccountState) -> None:
        if self.dialog is None or not self.dialog.winfo_exists():
            self._build()
        self.heading.configure(text=f"Account of {state.username}" if state.username
                               else "Account")
        if state.nickname and not self.nickname.get():
            self.nickname.insert(0, state.nickname)
        self._fill(self.sessions, [
            (s.session_id, (s.address, when(s.login_ms), when(s.seen_ms),
                            "this window" if s.current else ""))
            for s in state.sessions])
        if state.admin:
            self._show_admin()
            self._fill(self.accounts, [
                (a.username, (a.nickname, "yes" if a.admin else "", "yes" if a.disabled else "",
                              "yes" if a.online else ""))
                for a in state.accounts])

    def account_notice(self, text: str, error: bool) -> None:
        if self.dialog is None or not self.dialog.winfo_exists():
            return
        self.notice.configure(text=text, style="Error.TLabel" if error else "Surface.TLabel")

    def code_notice(self, text: str, error: bool) -> None:
        if self.code_dialog is not None and self.code_dialog.winfo_exists():
            self.code_note.configure(text=text, style="Error.TLabel" if error
                                     else "Surface.TLabel")

    def close(self) -> None:
        for dialog in (self.dialog, self.code_dialog):
            if dialog is not None and dialog.winfo_exists():
                dialog.destroy()
        self.dialog = self.code_dialog = None

    # --- the login form's one-time code -----------------------------------------------------

    def open_code_dialog(self, address: str, username: str) -> None:
        """Username, code and a new password, for an account an administrator reset."""
        if self.code_dialog is not None and self.code_dialog.winfo_exists():
            self.code_dialog.lift()
            return
        top = tk.Toplevel(self._window, background=palette_of(self._window).surface)
        top.title("Set a new password")
        top.transient(self._window.winfo_toplevel())
        self.code_dialog = top
        frame = ttk.Frame(top, style="Surface.TFrame", padding=(px(top, 20), px(top, 16)))
        frame.pack(fill="both", expand=True)
        frame.columnconfigure(1, weight=1)
        ttk.Label(frame, text="Set a new password with a one-time code", wraplength=px(top, 420),
                  style="CardTitle.TLabel").grid(row=0, column=0, columnspan=2, sticky="w")
        self.code_fields = {
            name: self._field(row, label, secret, frame)
            for row, (name, label, secret) in enumerate((
                ("address", "Server", False), ("username", "Username", False),
                ("code", "One-time code", False), ("new", "New password", True),
                ("again", "New password again", True)), start=1)
        }
        self.code_fields["address"].insert(0, address)
        self.code_fields["username"].insert(0, username)
        self.code_note = ttk.Label(frame, text="", style="Surface.TLabel",
                                   wraplength=px(top, 420))
        self.code_note.grid(row=6, column=0, columnspan=2, sticky="we", pady=px(top, 8))
        buttons = ttk.Frame(frame, style="Surface.TFrame")
        buttons.grid(row=7, column=0, columnspan=2, sticky="e")
        self.code_button = ttk.Button(buttons, text="Set password", style="Accent.TButton",
                                      command=self._reset_with_code)
        self.code_button.pack(side="left")
        ttk.Button(buttons, text="Close", command=top.destroy).pack(side="left",
                                                                   padx=(px(top, 8), 0))
        self.code_fields["again"].bind("<Return>", lambda _e: self._reset_with_code())
        top.bind("<Escape>", lambda _e: top.destroy())
        self.code_fields["code" if username else "username"].focus_set()

    def _reset_with_code(self) -> None:
        values = {name: entry.get() for name, entry in self.code_fields.items()}
        for name in ("new", "again"):
            self.code_fields[name].delete(0, "end")
        self._call(lambda c: c.reset_with_code(values["address"], values["username"],
                                               values["code"], values["new"],
                                               values["again"]))()

    # --- construction -----------------------------------------------------------------------

    def _build(self) -> None:
        top = tk.Toplevel(self._window, background=palette_of(self._window).surface)
        top.title("Account")
        top.transient(self._window.winfo_toplevel())
        top.bind("<Escape>", lambda _e: self.close())
        self.dialog, self._admin_frame = top, None
        frame = ttk.Frame(top, style="Surface.TFrame", padding=(px(top, 20), px(top, 16)))
        frame.pack(fill="both", expand=True)
        frame.columnconfigure(1, weight=1)
        self.frame = frame
        self.heading = ttk.Label(frame, text="Account", style="CardTitle.TLabel")
        self.heading.grid(row=0, column=0, columnspan=3, sticky="w", pady=(0, px(top, 10)))
        self.nickname = self._field(1, "Nickname")
        self.nickname_button = ttk.Button(frame, text="Change nickname",
                                          command=self._change_nickname)
        self.nickname_button.grid(row=1, column=2, padx=(px(top, 8), 0), sticky="we")
        self.nickname.bind("<Return>", lambda _e: self._change_nickname())
        self.current = self._field(2, "Current password", secret=True)
        self.new = self._field(3, "New password", secret=True)
        self.again = self._field(4, "New password again", secret=True)
        self.password_button = ttk.Button(frame, text="Change password",
                                          command=self._change_password)
        self.password_button.grid(row=4, column=2, padx=(px(top, 8), 0), sticky="we")
        self.again.bind("<Return>", lambda _e: self._change_password())
        self.notice = ttk.Label(frame, text="", style="Surface.TLabel", wraplength=px(top, 560))
        self.notice.grid(row=5, column=0, columnspan=3, sticky="we", pady=px(top, 8))
        ttk.Label(frame, text="Sessions", style="Surface.TLabel", font="ChatBold").grid(
            row=6, column=0, sticky="w")
        self.sessions = self._table(7, ("Address", "Logged in", "Last seen", ""), "Session")
        row = ttk.Frame(frame, style="Surface.TFrame")
        row.grid(row=8, column=0, columnspan=3, sticky="e", pady=(px(top, 6), 0))
        self.refresh_button = ttk.Button(row, text="Refresh", command=self._call(
            lambda c: c.refresh_sessions()))
        self.refresh_button.pack(side="left")
        self.sign_out_button = ttk.Button(row, text="Sign out everywhere else",
                                          command=self._call(lambda c: c.sign_out_others()))
        self.sign_out_button.pack(side="left", padx=(px(top, 8), 0))
        self.close_button = ttk.Button(frame, text="Close", command=self.close)
        self.close_button.grid(row=20, column=2, sticky="e", pady=(px(top, 12), 0))
        top.protocol("WM_DELETE_WINDOW", self.close)
        self.nickname.focus_set()

    def _field(self, row: int, label: str, secret: bool = False,
               frame: ttk.Frame | None = None) -> ttk.Entry:
        frame = frame or self.frame
        ttk.Label(frame, text=label, style="Surface.TLabel").grid(
            row=row, column=0, sticky="w", padx=(0, px(frame, 10)), pady=px(frame, 3))
        entry = ttk.Entry(frame, show="•" if secret else "", width=28)
        entry.grid(row=row, column=1, sticky="we", pady=px(frame, 3))
        return entry

    def _table(self, row: int, columns: tuple[str, ...], first: str) -> ttk.Treeview:
        names = tuple(f"c{i}" for i in range(len(columns)))
        table = ttk.Treeview(self.frame, columns=names, height=4, selectmode="browse")
        table.heading("#0", text=first)
        table.column("#0", width=px(self.frame, 140))
        for name, title in zip(names, columns, strict=True):
            table.heading(name, text=title)
            table.column(name, width=px(self.frame, 120))
        table.grid(row=row, column=0, columnspan=3, sticky="nsew")
        return table

    def _show_admin(self) -> None:
        if self._admin_frame is not None:
            return
        frame = self.frame
        ttk.Label(frame, text="Administration", style="Surface.TLabel", font="ChatBold").grid(
            row=9, column=0, sticky="w", pady=(px(frame, 12), 0))
        self.accounts = self._table(10, ("Nickname", "Admin", "Disabled", "Online"), "Username")
        buttons = ttk.Frame(frame, style="Surface.TFrame")
        buttons.grid(row=11, column=0, columnspan=3, sticky="e", pady=(px(frame, 6), 0))
        self.admin_buttons: dict[str, ttk.Button] = {}
        for text, action in (("List accounts", "list"), *ADMIN_BUTTONS):
            button = ttk.Button(buttons, text=text, command=self._admin_command(action))
            button.pack(side="left", padx=(px(frame, 4), 0))
            self.admin_buttons[action] = button
        self._admin_frame = buttons
        self._admin("list")

    # --- actions ----------------------------------------------------------------------------

    def _call(self, action: Callable[[AccountController], None]) -> Callable[[], None]:
        def run() -> None:
            controller = self._controller()
            if controller is not None:
                action(controller)
        return run

    def _change_nickname(self) -> None:
        self._call(lambda c: c.change_nickname(self.nickname.get()))()

    def _change_password(self) -> None:
        current, new, again = self.current.get(), self.new.get(), self.again.get()
        for entry in (self.current, self.new, self.again):
            entry.delete(0, "end")  # never left on screen
        self._call(lambda c: c.change_password(current, new, again))()

    def _admin_command(self, action: str) -> Callable[[], None]:
        return lambda: self._admin(action)

    def _admin(self, action: str) -> None:
        if action == "invite":  # not about the selected account
            self._call(lambda c: c.create_invitation())()
            return
        selected = self.accounts.selection() if self._admin_frame is not None else ()
        username = str(selected[0]) if selected else ""
        if action == "delete" and username:
            def answered(yes: bool) -> None:
                if yes:
                    self._call(lambda c: c.admin_action("delete", username))()

            ConfirmDialog(self.dialog or self._window, "Delete account", f"Delete {username}?",
                          "The account cannot log in again; its messages stay.", "Delete",
                          answered)
            return
        self._call(lambda c: c.admin_action(action, username))()

    @staticmethod
    def _fill(table: ttk.Treeview, rows: list[tuple[str, tuple[str, ...]]]) -> None:
        selected = table.selection()
        table.delete(*table.get_children())
        for key, values in rows:
            with contextlib.suppress(tk.TclError):  # a duplicate id: shown once
                table.insert("", "end", iid=key, text=key, values=values)
        keep = [s for s in selected if table.exists(s)]
        if keep:
            table.selection_set(keep)
