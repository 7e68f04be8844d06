"""The room parts of the chat window, as a base of ``TkView``: the Browse rooms and New room
buttons, the open room's header and menu, the members column, and the room dialogs.

``RoomController`` is what these widgets call (``client.room_actions`` implements it);
``client.room_sync.RoomsView`` is what the controller calls here. Keys: Ctrl+Shift+B browses
public rooms, Ctrl+Shift+N creates a room, F10 or Ctrl+Shift+O opens the open room's menu.
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk
from typing import TYPE_CHECKING, Protocol

from client.room_sync import RoomPanel
from client.ui.members import MembersPanel
from client.ui.room_dialogs import BrowseRoomsDialog, InviteDialog, NewRoomDialog, RoomDialog
from client.ui.room_header import MENU_KEYS, HeaderCallbacks, RoomHeader
from client.ui.room_settings import RoomSettingsDialog, SettingsCallbacks
from client.ui.theme import char_width, px
from common.messages_rooms import PublicRoomEntry

if TYPE_CHECKING:
    from client.ui.chat import ChatFrame

logger = logging.getLogger(__name__)

BROWSE_KEYS = ("<Control-B>",)
NEW_ROOM_KEYS = ("<Control-N>",)


class RoomController(Protocol):
    """What the room widgets call on the controller (``client.room_actions.RoomActions``)."""

    def browse_rooms(self, prefix: str) -> None: ...
    def more_rooms(self) -> None: ...
    def join_room(self, name: str) -> None: ...
    def create_room(self, name: str, topic: str, private: bool, invitees: str) -> None: ...
    def invite(self, room: str, invitees: str) -> None: ...
    def leave_room(self, room: str) -> None: ...
    def set_topic(self, room: str, topic: str) -> None: ...
    def rename_room(self, room: str, new_name: str) -> None: ...
    def remove_member(self, room: str, username: str) -> None: ...
    def set_role(self, room: str, username: str, role: str) -> None: ...
    def open_direct(self, username: str) -> None: ...


class RoomParts:
    """The room widgets of ``TkView``; the attributes are ``TkView``'s own."""

    window: tk.Tk | tk.Toplevel
    chat: ChatFrame | None
    closed: bool
    room_header: RoomHeader | None = None
    members: MembersPanel | None = None
    room_dialogs: dict[str, RoomDialog]
    room_panel: RoomPanel | None = None

    @property
    def room_controller(self) -> RoomController | None:
        return getattr(self, "controller", None)

    def install_room_parts(self) -> None:
        """Add the room widgets to a fresh chat frame (after every login)."""
        chat = self.chat
        if chat is None:
            return
        self.room_dialogs, self.room_panel = {}, None
        header = chat.title.master
        bar = ttk.Frame(header)
        bar.grid(row=0, column=3, padx=(0, px(header, 8)))
        chat.logout_button.grid_configure(column=5)  # column 4: the Account button
        self.browse_button = ttk.Button(bar, text="Browse rooms", command=self.open_browse,
                                        style="Header.TButton")
        self.browse_button.grid(row=0, column=0, padx=(0, px(header, 8)))
        self.new_room_button = ttk.Button(bar, text="New room", command=self.open_new_room,
                                          style="Header.TButton")
        self.new_room_button.grid(row=0, column=1)
        centre = chat.conversation_title.master
        self.room_header = RoomHeader(centre, HeaderCallbacks(
            self.open_invite, self._leave, self.open_settings))
        self.room_header.grid(row=0, column=0, sticky="we")
        self.room_header.grid_remove()
        self.members = MembersPanel(chat.panes, self._open_member)
        top = chat.winfo_toplevel()
        handlers: tuple[tuple[tuple[str, ...], Callable[[], None]], ...] = (
            (BROWSE_KEYS, self.open_browse), (NEW_ROOM_KEYS, self.open_new_room),
            (MENU_KEYS, self._open_menu))
        for keys, handler in handlers:
            for sequence in keys:
                funcid = top.bind(sequence, _breaking(handler), add=True)
                chat._window_bindings.append((sequence, funcid))  # unbound with the frame

    def repaint_room_parts(self) -> None:
        """The theme changed: colours the style does not reach."""
        if self.members is not None and self.members.winfo_exists():
            self.members.apply_palette()

    # --- what the controller calls (client.room_sync.RoomsView) --------------------------

    def show_room(self, panel: RoomPanel | None) -> None:
        chat, header, members = self.chat, self.room_header, self.members
        if chat is None or header is None or members is None:
            return
        self.room_panel = panel
        people: tk.Widget = chat.people.master  # type: ignore[assignment]
        panes = [str(p) for p in chat.panes.panes()]  # type: ignore[no-untyped-call]
        if panel is None:
            header.grid_remove()
            chat.conversation_title.grid()
            if str(members) in panes:
                chat.panes.forget(members)
                chat.panes.add(people, weight=0)
                chat.update_idletasks()
                chat._fit_people(chat._people_labels)  # the people list's own width again
            return
        chat.conversation_title.grid_remove()
        header.show(panel)
        header.grid()
        members.show(panel.members)
        if str(people) in panes:
            chat.panes.forget(people)
            chat.panes.add(members, weight=0)
        self._fit_members()
        settings = self.room_dialogs.get("settings")
        if isinstance(settings, RoomSettingsDialog) and settings.winfo_exists():
            settings.show(panel)

    def _fit_members(self) -> None:
        """Widen the members column to its longest name, taking the room from the transcript
        but leaving it at least 40 characters (as the people list does)."""
        chat, members = self.chat, self.members
        if chat is None or members is None:
            return
        needed = members.wanted_width()
        role = int(members.tree.column("role", "width"))
        members.tree.column("#0", width=max(needed - role, px(chat, 120)))
        chat.update_idletasks()
        total = chat.panes.winfo_width()
        if total <= 1:
            return  # not laid out yet
        panes = str(chat.panes)
        left_edge = int(chat.tk.call(panes, "sashpos", 0))
        least = left_edge + char_width(chat, "ChatBody") * 40
        position = total - needed - px(chat, 12)
        current = int(chat.tk.call(panes, "sashpos", 1))
        chat.tk.call(panes, "sashpos", 1, max(least, min(current, position)))

    def show_public_rooms(self, entries: Sequence[PublicRoomEntry], more: bool) -> None:
        browse = self.room_dialogs.get("browse") if self.chat is not None else None
        if isinstance(browse, BrowseRoomsDialog) and browse.winfo_exists():
            browse.show(entries, more)

    def show_room_error(self, where: str, text: str) -> None:
        """A refusal beside what caused it: the dialog that asked, else the room's header."""
        dialog = self.room_dialogs.get(where) if self.chat is not None else None
        if dialog is not None and dialog.winfo_exists():
            dialog.show_error(text)
        elif self.room_header is not None and self.room_panel is not None:
            self.room_header.set_error(text)
        else:
            logger.info("room request refused (%s): %s", where, text)

    def room_request_done(self, where: str) -> None:
        dialog = self.room_dialogs.get(where) if self.chat is not None else None
        if dialog is not None and dialog.winfo_exists():
            dialog.done()
        elif where == "header" and self.room_header is not None:
            self.room_header.set_error("")

    # --- opening the dialogs ----------------------------------------------------------------

    def _dialog_open(self, where: str) -> bool:
        dialog = self.room_dialogs.get(where)
        if dialog is not None and dialog.winfo_exists():
            dialog.lift()
            dialog.focus_set()
            return True
        return self.chat is None or self.closed or self.room_controller is None

    def _closed(self, where: str) -> None:
        self.room_dialogs.pop(where, None)
        if self.chat is not None and self.chat.winfo_exists():
            self.chat.input.focus_set()

    def open_browse(self) -> None:
        c = self.room_controller
        if self._dialog_open("browse") or c is None:
            return
        self.room_dialogs["browse"] = BrowseRoomsDialog(
            self.window, c.browse_rooms, c.more_rooms, c.join_room,
            lambda: self._closed("browse"))

    def open_new_room(self) -> None:
        c = self.room_controller
        if self._dialog_open("new") or c is None:
            return
        self.room_dialogs["new"] = NewRoomDialog(self.window, c.create_room,
                                                 lambda: self._closed("new"))

    def open_invite(self) -> None:
        c, panel = self.room_controller, self.room_panel
        if self._dialog_open("invite") or c is None or panel is None or not panel.owner:
            return
        room = panel.name
        self.room_dialogs["invite"] = InviteDialog(
            self.window, room, lambda text: c.invite(room, text), lambda: self._closed("invite"))

    def open_settings(self) -> None:
        c, panel = self.room_controller, self.room_panel
        if self._dialog_open("settings") or c is None or panel is None or not panel.owner:
            return
        self.room_dialogs["settings"] = RoomSettingsDialog(
            self.window, panel, SettingsCallbacks(c.rename_room, c.set_topic, c.remove_member,
                                                  c.set_role),
            lambda: self._closed("settings"))

    def _leave(self) -> None:
        c, panel = self.room_controller, self.room_panel
        if c is not None and panel is not None:
            c.leave_room(panel.name)

    def _open_menu(self) -> None:
        if self.room_header is not None and self.room_panel is not None:
            with contextlib.suppress(tk.TclError):
                self.room_header.open_menu()

    def _open_member(self, username: str) -> None:
        c = self.room_controller
        if c is not None and self.chat is not None:
            self.chat.report_draft()
            c.open_direct(username)


def _breaking(handler: Callable[[], None]) -> Callable[[object], str]:
    """A key binding that runs ``handler`` and stops the key there."""

    def run(_event: object) -> str:
        handler()
        return "break"

    return run
