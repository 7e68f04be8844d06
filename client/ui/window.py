"""``TkView``: the ``View`` the controller talks to, built from the login form and chat frame.

One window per user: it shows the login form, then the chat in the same window (resized), and
the login form again after logging out. The window is either the ``Tk`` root (the app) or a
``Toplevel`` (tests run several users in one Tk process).

Window sizes follow the screen: the defaults below are for a 96 DPI screen and are multiplied
by ``ui_scale``, never smaller than what the widgets ask for, never larger than the screen. The
chat window's size and place, and the theme, are remembered in the preferences file.
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from client.formatting import Line
from client.notify import unread_total, window_title
from client.prefs import GEOMETRY, PrefsFile
from client.renderer import ConversationItem, Person, StatusLevel
from client.ui.account_dialog import AccountPanel, add_account_button, add_code_button
from client.ui.chat import ChatCallbacks, ChatFrame
from client.ui.controller import Controller
from client.ui.conversation_list import FocusWatch
from client.ui.dialogs import (
    CloseChoice,
    ConfirmDialog,
    KeyFileDialog,
    NoticeDialog,
    ReplaceKeyDialog,
    TrustDialog,
    UnsentDialog,
)
from client.ui.login import LoginFrame
from client.ui.notifier import MUTE_KEYS, MUTED_MARK, WindowAlerts
from client.ui.people_dialog import NEW_CONVERSATION_KEYS, PeopleDialog
from client.ui.room_view import RoomParts
from client.ui.theme import PALETTES, Fonts, px, setup_fonts, setup_style, ui_scale
from client.ui.verify_dialog import SecurityBar, VerifyDialog
from common.messages_rooms import PersonEntry

if TYPE_CHECKING:
    from client.e2e_view import SafetyView, SecurityNote

logger = logging.getLogger(__name__)

LOGIN_SIZE = (460, 560)
LOGIN_MIN = (380, 460)
CHAT_SIZE = (960, 640)
CHAT_MIN = (720, 480)
"""At 96 DPI; ``TkView._size`` scales them to the screen."""


class TkView(RoomParts):
    """Implements ``client.renderer.View`` with Tk widgets in ``window``."""

    def __init__(self, window: tk.Tk | tk.Toplevel, prefs: PrefsFile | None = None) -> None:
        self.window = window
        self.prefs = prefs if prefs is not None else PrefsFile(None)
        self.fonts: Fonts = setup_fonts(window)
        self.palette = PALETTES[self.prefs.current.theme]
        setup_style(window, self.palette)
        window.configure(background=self.palette.window)
        self.controller: Controller | None = None
        self.account = AccountPanel(window, lambda: self.controller)  # the Account dialog
        self.login: LoginFrame | None = None
        self.chat: ChatFrame | None = None
        self.security: SecurityBar | None = None  # the open conversation's lock marker
        self.dialogs: list[tk.Toplevel] = []
        self.closed = False
        window.protocol("WM_DELETE_WINDOW", self._close_requested)
        self.alerts = WindowAlerts(window, self.prefs, self._open_notified, self._repaint_list)
        self._title_base = ""
        self._listed: tuple[Sequence[ConversationItem], str] = ((), "")
        for sequence in MUTE_KEYS:
            window.bind(sequence, self._mute_active, add=True)
        for sequence in NEW_CONVERSATION_KEYS:
            window.bind(sequence, self.new_conversation, add=True)
        self.people_dialog: PeopleDialog | None = None
        self.focus_watch = FocusWatch(window, lambda: self.alerts.focused(), self._focus_changed)

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

    def _size(self, wanted: tuple[int, int], least: tuple[int, int] = (0, 0)) -> tuple[int, int]:
        """``wanted`` (96 DPI pixels) on this screen: scaled, at least ``least`` (what the
        widgets ask for), at most the screen."""
        scale = ui_scale(self.window)
        screen = (self.window.winfo_screenwidth(), self.window.winfo_screenheight())
        return (min(screen[0], max(round(wanted[0] * scale), least[0])),
                min(screen[1], max(round(wanted[1] * scale), least[1])))

    def _fit_login(self) -> None:
        """Grow the login window to what its card asks for (an error below it, a big font)."""
        self.window.update_idletasks()
        asks = (self.window.winfo_reqwidth(), self.window.winfo_reqheight())
        self.window.minsize(*self._size(LOGIN_MIN, asks))
        now = (self.window.winfo_width(), self.window.winfo_height())
        if now[0] < asks[0] or now[1] < asks[1]:
            self.window.geometry("{}x{}".format(*self._size((0, 0), (max(now[0], asks[0]),
                                                                      max(now[1], asks[1])))))

    def remember_geometry(self) -> None:
        """Keep the chat window's size and place for the next login and the next start."""
        geometry = str(self.window.wm_geometry())
        if self.chat is not None and GEOMETRY.match(geometry):
            self.prefs.update(chat_geometry=geometry)

    def _chat_geometry(self) -> str:
        """The remembered size and place if they still fit this screen, else the default."""
        least = self._size(CHAT_MIN)
        match = GEOMETRY.match(self.prefs.current.chat_geometry)
        if match:
            width, height = int(match[1]), int(match[2])
            x, y = int(match[3].lstrip("+")), int(match[4].lstrip("+"))
            screen = (self.window.winfo_screenwidth(), self.window.winfo_screenheight())
            if (least[0] <= width <= screen[0] and least[1] <= height <= screen[1]
                    and -width // 2 < x < screen[0] - 40 and 0 <= y < screen[1] - 40):
                return self.prefs.current.chat_geometry
        return "{}x{}".format(*self._size(CHAT_SIZE))

    def show_login(self, address: str, username: str, error: str) -> None:
        self.account.close()
        if self.chat is not None:
            self.remember_geometry()
            self.chat.destroy()
            self.chat = None
        if self.login is None:
            self.login = LoginFrame(self.window, self._submit, self._register)
            self.login.pack(fill="both", expand=True)
            add_code_button(self.login.card, lambda: self.account.open_code_dialog(
                *(self.login.value(n) if self.login else "" for n in ("address", "username"))))
        self.window.title("Chat — log in")
        self.window.update_idletasks()
        asks = (self.window.winfo_reqwidth(), self.window.winfo_reqheight())
        self.window.minsize(*self._size(LOGIN_MIN, asks))
        self.window.geometry("{}x{}".format(*self._size(LOGIN_SIZE, asks)))
        self.login.set_values(address, username)
        self.login.set_busy(False, "")
        if error:
            self.login.set_error(error)
            self._fit_login()

    def set_login_busy(self, busy: bool, note: str) -> None:
        if self.login is not None:
            self.login.set_busy(busy, note)

    def show_login_error(
        self, text: str, clear_password: bool = False, wait_s: int | None = None
    ) -> None:
        if self.login is not None:
            self.login.set_error(text, clear_password, wait_s)
            self._fit_login()

    def show_chat(self, title: str) -> None:
        if self.login is not None:
            self.login.destroy()
            self.login = None
        c = self.controller
        assert c is not None, "attach() the controller before it shows the chat"
        self.chat = ChatFrame(self.window, self.fonts, ChatCallbacks(
            send=c.send_text, select=c.select_conversation, open_direct=c.open_direct,
            load_older=c.load_older, logout=self._logout_requested, draft=c.set_draft,
            toggle_theme=self.toggle_theme,
            reconnect=c.reconnect_now,
        ))
        self.chat.pack(fill="both", expand=True)
        add_account_button(self.chat.title.master, lambda: c.open_account())
        self.chat.messages.on_newest = c.reading_newest
        self.chat.title.configure(text=title.split(" — ")[0])
        self._title_base = title
        self.window.title(title)
        tree = self.chat.conversations
        for sequence in ("<Button-3>", "<Shift-F10>", "<App>", "<Menu>"):
            with contextlib.suppress(tk.TclError):  # not every keyboard has a Menu key
                tree.bind(sequence, lambda e, t=tree: self.alerts.context_menu(t, e))
        self.window.minsize(*self._size(CHAT_MIN))
        self.window.geometry(self._chat_geometry())
        self.install_room_parts()
        self.chat.input.focus_set()

    def toggle_theme(self) -> None:
        """Switch between the light and dark palettes, and remember the choice."""
        self.palette = PALETTES["light" if self.palette.name == "dark" else "dark"]
        self.prefs.update(theme=self.palette.name)
        setup_style(self.window, self.palette)
        self.window.configure(background=self.palette.window)
        if self.chat is not None:
            self.chat.apply_palette(self.palette)
            self.repaint_room_parts()

    # --- chat -------------------------------------------------------------------------------

    def set_status(self, text: str, level: StatusLevel) -> None:
        if self.chat is not None:
            self.chat.set_status(text, level)

    def offer_reconnect(self, offered: bool) -> None:
        if self.chat is not None:
            self.chat.offer_reconnect(offered)

    def set_conversations(self, items: Sequence[ConversationItem], active: str) -> None:
        """The list (muted ones marked) and the unread total of the others in the title."""
        self._listed = (items, active)
        if self.chat is None:
            return
        muted = self.prefs.current.muted
        self.chat.set_conversations(
            [replace(i, title=i.title + MUTED_MARK) if i.key in muted else i for i in items],
            active)
        total = unread_total(((i.key, i.unread) for i in items), muted)
        self.window.title(window_title(self._title_base, total))

    def _repaint_list(self) -> None:
        self.set_conversations(*self._listed)

    def _mute_active(self, _event: object = None) -> str:
        """Ctrl+M: mute or unmute the open conversation."""
        if self.chat is not None and self._listed[1]:
            self.alerts.toggle_mute(self._listed[1])
        return "break"

    def _open_notified(self, conversation: str) -> None:
        if self.controller is not None and self.chat is not None and not self.closed:
            self.controller.select_conversation(conversation)

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

    def set_security(self, note: SecurityNote) -> None:
        if self.chat is None or self.controller is None:
            return
        if self.security is None or not self.security.winfo_exists():
            title = self.chat.conversation_title
            self.security = SecurityBar(title.master, self.controller.open_verify)
            self.security.grid(row=0, column=1, sticky="e", padx=(0, px(title, 14)))
        self.security.show(note)

    def mark_unseen(self, entry_id: str) -> None:
        if self.chat is not None:
            self.chat.messages.left_off.mark_before(entry_id)

    def at_newest(self) -> bool:
        """The transcript's end is in view (read afresh: ``following`` lags a resize)."""
        return self.chat is not None and self.chat.messages.text.yview()[1] >= 0.999

    def show_directory(self, people: Sequence[PersonEntry], more: str) -> None:
        if self.people_dialog is not None and self.people_dialog.winfo_exists():
            self.people_dialog.show(people, more)

    def new_conversation(self, _event: object = None) -> str:
        """Ctrl+N: the "New conversation" dialog (one at a time)."""
        c = self.controller
        if self.chat is None or c is None or self.closed:
            return "break"
        if self.people_dialog is not None and self.people_dialog.winfo_exists():
            self.people_dialog.lift()
        else:
            self.people_dialog = PeopleDialog(self.window, c.username, c.search_people,
                                              c.open_direct)
        return "break"

    def _focus_changed(self, focused: bool) -> None:
        if self.controller is not None and self.chat is not None and not self.closed:
            self.controller.window_focus(focused)

    # --- dialogs ----------------------------------------------------------------------------

    def show_safety(self, safety: SafetyView) -> None:
        c = self.controller
        if c is not None:
            self._later(lambda: VerifyDialog(self.window, safety, c.mark_verified,
                                             c.accept_key_change))

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

    def _register(self, address: str, code: str, username: str, nickname: str, password: str,
                  again: str) -> None:
        if self.controller is not None:
            self.controller.register(address, code, username, nickname, password, again)

    def _logout_requested(self) -> None:
        """Log out; with messages unsent, ask first (our own dialog, Cancel by default)."""
        if self.chat is not None:
            self.chat.report_draft()
        unsent = self.controller.unsent_count() if self.controller else 0
        if not unsent:
            self._logout_answered(True)
        elif not any(isinstance(d, ConfirmDialog) and d.winfo_exists() for d in self.dialogs):
            noun = "message has" if unsent == 1 else "messages have"
            self.dialogs.append(ConfirmDialog(
                self.window, "Log out?", f"{unsent} {noun} not reached the server yet",
                "They will be lost if you log out now. Your drafts are kept.",
                "Log out anyway", self._logout_answered))

    def _logout_answered(self, confirmed: bool) -> None:
        if confirmed and self.controller is not None and not self.closed:
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
            self.remember_geometry()
            self.window.destroy()
