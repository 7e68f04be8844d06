"""``TkView``: the ``View`` the controller talks to, built from the login form and chat frame.

One window per user: it shows the login form, then the chat in the same window (resized), and
the login form again after logging out. The window is either the ``Tk`` root (the app) or a
``Toplevel`` (tests run several users in one Tk process).
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import messagebox
from typing import Literal, Protocol

from client.formatting import Line
from client.renderer import ConversationItem, Person, StatusLevel
from client.ui.chat import ChatCallbacks, ChatFrame
from client.ui.dialogs import (
    CloseChoice,
    KeyFileDialog,
    NoticeDialog,
    ReplaceKeyDialog,
    TrustDialog,
    UnsentDialog,
)
from client.ui.login import LoginFrame
from client.ui.theme import Fonts, setup_fonts, setup_style

logger = logging.getLogger(__name__)

LOGIN_SIZE = (460, 560)
CHAT_SIZE = (960, 640)
CHAT_MIN = (720, 480)


class Controller(Protocol):
    """What the widgets call on ``client.app.App`` (the person's actions)."""

    def login(self, address: str, username: str, password: str) -> None: ...
    def logout(self) -> None: ...
    def quit(self, unsent: Literal["keep", "discard"] = "keep") -> None: ...
    def quit_when_sent(self) -> None: ...
    def unsent_count(self) -> int: ...
    def set_draft(self, key: str, text: str) -> None: ...
    def send_text(self, text: str) -> bool: ...
    def select_conversation(self, key: str) -> None: ...
    def open_direct(self, username: str) -> None: ...
    def load_older(self) -> None: ...
    def reconnect_now(self) -> None: ...


class TkView:
    """Implements ``client.renderer.View`` with Tk widgets in ``window``."""

    def __init__(self, window: tk.Tk | tk.Toplevel) -> None:
        self.window = window
        self.fonts: Fonts = setup_fonts(window)
        setup_style(window)
        window.configure(background="#f3f4f6")
        self.controller: Controller | None = None
        self.login: LoginFrame | None = None
        self.chat: ChatFrame | None = None
        self.dialogs: list[tk.Toplevel] = []
        self.closed = False
        window.protocol("WM_DELETE_WINDOW", self._close_requested)

    def attach(self, controller: Controller) -> None:
        """Give the widgets someone to report to (the controller needs the view first)."""
        self.controller = controller

    # --- scheduling -------------------------------------------------------------------------

    def after(self, ms: int, callback: Callable[[], None]) -> object:
        return self.window.after(ms, callback)

    def after_cancel(self, token: object) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.after_cancel(token)  # type: ignore[arg-type]

    # --- screens ----------------------------------------------------------------------------

    def show_login(self, address: str, username: str, error: str) -> None:
        if self.chat is not None:
            self.chat.destroy()
            self.chat = None
        if self.login is None:
            self.login = LoginFrame(self.window, self._submit)
            self.login.pack(fill="both", expand=True)
        self.window.title("Chat — log in")
        self.window.minsize(380, 460)
        self.window.geometry("{}x{}".format(*LOGIN_SIZE))
        self.login.set_values(address, username)
        self.login.set_busy(False, "")
        if error:
            self.login.set_error(error)

    def set_login_busy(self, busy: bool, note: str) -> None:
        if self.login is not None:
            self.login.set_busy(busy, note)

    def show_login_error(self, text: str, clear_password: bool = False) -> None:
        if self.login is not None:
            self.login.set_error(text, clear_password)

    def show_chat(self, title: str) -> None:
        if self.login is not None:
            self.login.destroy()
            self.login = None
        c = self.controller
        assert c is not None, "attach() the controller before it shows the chat"
        self.chat = ChatFrame(self.window, self.fonts, ChatCallbacks(
            send=c.send_text, select=c.select_conversation, open_direct=c.open_direct,
            load_older=c.load_older, logout=self._logout_requested, draft=c.set_draft,
            reconnect=c.reconnect_now,
        ))
        self.chat.pack(fill="both", expand=True)
        self.chat.title.configure(text=title.split(" — ")[0])
        self.window.title(title)
        self.window.minsize(*CHAT_MIN)
        self.window.geometry("{}x{}".format(*CHAT_SIZE))
        self.chat.input.focus_set()

    # --- chat -------------------------------------------------------------------------------

    def set_status(self, text: str, level: StatusLevel) -> None:
        if self.chat is not None:
            self.chat.set_status(text, level)

    def offer_reconnect(self, offered: bool) -> None:
        if self.chat is not None:
            self.chat.offer_reconnect(offered)

    def set_conversations(self, items: Sequence[ConversationItem], active: str) -> None:
        if self.chat is not None:
            self.chat.set_conversations(items, active)

    def render_messages(self, lines: Sequence[Line], anchor: str | None) -> None:
        if self.chat is not None:
            self.chat.render(lines, anchor)

    def append_messages(self, lines: Sequence[Line]) -> None:
        if self.chat is not None:
            self.chat.append(lines)

    def update_message(self, line: Line) -> None:
        if self.chat is not None:
            self.chat.restyle(line)

    def set_people(self, people: Sequence[Person]) -> None:
        if self.chat is not None:
            self.chat.set_people(people)

    def show_draft(self, conversation: str, text: str) -> None:
        if self.chat is not None:
            self.chat.show_draft(conversation, text)

    # --- dialogs ----------------------------------------------------------------------------

    def ask_trust(self, server: str, fingerprint: str, on_answer: Callable[[bool], None]) -> None:
        self._later(lambda: TrustDialog(self.window, server, fingerprint, on_answer))

    def ask_key_file(
        self, server: str, reason: str, on_answer: Callable[[str | None], None]
    ) -> None:
        self._later(lambda: KeyFileDialog(self.window, server, reason, on_answer))

    def ask_replace_key(
        self, server: str, recorded: str, offered: str, text: str,
        on_answer: Callable[[str | None], None],
    ) -> None:
        self._later(lambda: ReplaceKeyDialog(self.window, server, recorded, offered, text,
                                             on_answer))

    def show_key_changed(self, text: str) -> None:
        heading = "The server's key has changed" if "different key" in text else (
            "The server could not prove its identity")
        self._later(lambda: NoticeDialog(self.window, "Server key problem", heading, text))

    def _later(self, make: Callable[[], tk.Toplevel]) -> None:
        """Open dialogs from the idle loop, never inside the controller's event pump."""

        def open_dialog() -> None:
            if not self.closed:
                self.dialogs.append(make())

        self.window.after_idle(open_dialog)

    # --- closing ----------------------------------------------------------------------------

    def _submit(self, address: str, username: str, password: str) -> None:
        if self.controller is not None:
            self.controller.login(address, username, password)

    def _logout_requested(self) -> None:
        unsent = self.controller.unsent_count() if self.controller else 0
        if unsent and not messagebox.askyesno(
            "Log out?", f"{unsent} message(s) have not reached the server yet and will be lost "
            "if you log out now. Log out anyway?", parent=self.window,
        ):
            return
        if self.controller is not None:
            self.controller.logout()

    def _close_requested(self) -> None:
        """The close box: with messages unsent, ask (our own dialog, no nested loop)."""
        if self.controller is None:
            self.close()
            return
        if self.chat is not None:
            self.chat.report_draft()  # the last keystroke's <<Modified>> may still be queued
        unsent = self.controller.unsent_count()
        if not unsent:
            self.controller.quit()
        elif not any(isinstance(d, UnsentDialog) and d.winfo_exists() for d in self.dialogs):
            self.dialogs.append(UnsentDialog(self.window, unsent, self._close_answered))

    def _close_answered(self, choice: CloseChoice) -> None:
        if self.controller is None:
            return
        if choice == "wait":
            self.controller.quit_when_sent()
        else:
            self.controller.quit(choice)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(tk.TclError):
            self.window.destroy()
