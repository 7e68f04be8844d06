"""The room dialogs: browse public rooms, create a room, invite people.

Each is a ``client.ui.dialogs.Dialog`` (transient, grabbed locally, never a nested loop): it
calls the controller and the controller answers through the window (``show_error``, ``done``),
so a refusal from the server appears inside the dialog that caused it, in words.

Keyboard: in every one Esc closes and Enter does the main thing; in the browse dialog Enter
joins (or opens) the selected room, Up/Down move in the list from the search box.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from client.formatting import safe_name
from client.rooms import room_name_problem
from client.ui.dialogs import Dialog
from client.ui.theme import palette_of, px
from common.messages_rooms import PublicRoomEntry

SEARCH_PAUSE_MS = 250
"""The public-room search waits this long after the last keystroke: one request per pause."""


class RoomDialog(Dialog):
    """A dialog with an error line above its buttons, closed by Esc and the close box."""

    def __init__(self, master: tk.Misc, title: str, heading: str, body: str,
                 on_close: Callable[[], None]) -> None:
        super().__init__(master, title, heading, body)
        self._on_close = on_close
        self.error = ttk.Label(self.content, text="", style="Error.TLabel",
                               wraplength=self.wrap, justify="left")
        self.error.grid(row=8, column=0, sticky="we", pady=(px(self, 8), 0))
        self.protocol("WM_DELETE_WINDOW", self.close)
        self.bind("<Escape>", lambda _e: self.close())

    def field(self, row: int, label: str, width: int = 36) -> ttk.Entry:
        box = ttk.Frame(self.content, style="Surface.TFrame")
        box.grid(row=row, column=0, sticky="we", pady=(px(self, 8), 0))
        box.columnconfigure(0, weight=1)
        ttk.Label(box, text=label, style="Surface.TLabel").grid(row=0, column=0, sticky="w")
        entry = ttk.Entry(box, width=width, font="ChatBody")
        entry.grid(row=1, column=0, sticky="we", pady=(px(self, 2), 0))
        return entry

    def show_error(self, text: str) -> None:
        self.error.configure(text=text, foreground=palette_of(self).danger)

    def done(self) -> None:
        """The server did what was asked: close."""
        self.close()

    def close(self) -> None:
        if self.winfo_exists():
            self.grab_release()
            self.destroy()
        self._on_close()


class BrowseRoomsDialog(RoomDialog):
    """Public rooms by name prefix, a page at a time; Join the selected one."""

    def __init__(self, master: tk.Misc, search: Callable[[str], None], more: Callable[[], None],
                 join: Callable[[str], None], on_close: Callable[[], None]) -> None:
        super().__init__(master, "Browse rooms", "Public rooms",
                         "Type the start of a room's name. Enter joins the selected room.",
                         on_close)
        self._search, self._more, self._join = search, more, join
        self._timer: str | None = None
        self.entry = self.field(2, "Name starts with")
        self.tree = ttk.Treeview(self.content, columns=("topic", "members", "joined"),
                                 show="headings", selectmode="browse", height=10)
        for column, text, width in (("#0", "", 0), ("topic", "Room — topic", 300),
                                    ("members", "Members", 80), ("joined", "", 70)):
            if column != "#0":
                self.tree.heading(column, text=text, anchor="w")
                self.tree.column(column, width=px(self, width), stretch=column == "topic")
        self.tree.grid(row=3, column=0, sticky="nsew", pady=(px(self, 8), 0))
        self.more_button = ttk.Button(self.content, text="Show more rooms", command=self._more)
        self.join_button = self.add_button("Join", self._join_clicked, accent=True)
        self.add_button("Close", self.close)
        self.entry.bind("<KeyRelease>", self._typed)
        for widget in (self.entry, self.tree):
            widget.bind("<Return>", self._join_selected)
            widget.bind("<KP_Enter>", self._join_selected)
        self.entry.bind("<Down>", lambda _e: self._move(1))
        self.entry.bind("<Up>", lambda _e: self._move(-1))
        self.tree.bind("<<TreeviewSelect>>", self._selected)
        self.tree.bind("<Double-1>", self._join_selected)
        self.joined: set[str] = set()
        self.present(self.join_button)
        self.entry.focus_set()
        self._search("")

    def _typed(self, event: tk.Event[tk.Misc]) -> None:
        if event.keysym in ("Return", "KP_Enter", "Up", "Down", "Escape", "Tab"):
            return
        if self._timer is not None:
            self.after_cancel(self._timer)
        self._timer = self.after(SEARCH_PAUSE_MS, self._search_now)

    def _search_now(self) -> None:
        self._timer = None
        self.show_error("")
        self._search(self.entry.get().strip().lower())

    def show(self, entries: Sequence[PublicRoomEntry], more: bool) -> None:
        """The rooms found so far (every page), the selection kept where it can be."""
        keep = (self.tree.selection() or ("",))[0]
        self.tree.delete(*self.tree.get_children())
        self.joined = {e.name for e in entries if e.joined}
        for e in entries:
            title = f"#{e.name}" + (f" — {safe_name(e.topic)}" if e.topic else "")
            self.tree.insert("", "end", iid=e.name,
                             values=(title, str(e.member_count), "joined" if e.joined else ""))
        names = [e.name for e in entries]
        if names:
            self.tree.selection_set(keep if keep in names else names[0])
        if more:
            self.more_button.grid(row=4, column=0, sticky="w", pady=(px(self, 6), 0))
        else:
            self.more_button.grid_remove()
        if not entries:
            self.show_error("No public room starts with that." if self.entry.get().strip()
                            else "There are no public rooms yet. Create one with New room.")
        self._selected()

    def rooms(self) -> list[str]:
        return list(self.tree.get_children())

    def _move(self, step: int) -> str:
        names = self.rooms()
        if names:
            here = (self.tree.selection() or (names[0],))[0]
            index = max(0, min(len(names) - 1, names.index(here) + step))
            self.tree.selection_set(names[index])
            self.tree.see(names[index])
            if index == len(names) - 1 and step > 0 and self.more_button.winfo_ismapped():
                self._more()
        return "break"

    def _selected(self, _event: object = None) -> None:
        name = (self.tree.selection() or ("",))[0]
        self.join_button.configure(text="Open" if name in self.joined else "Join")

    def _join_clicked(self) -> None:
        self._join_selected()

    def _join_selected(self, _event: object = None) -> str:
        name = (self.tree.selection() or ("",))[0]
        if name:
            self.show_error("")
            self._join(name)
        return "break"


class NewRoomDialog(RoomDialog):
    """Name (checked as typed), topic, public or private, and people to invite."""

    def __init__(self, master: tk.Misc,
                 create: Callable[[str, str, bool, str], None],
                 on_close: Callable[[], None]) -> None:
        super().__init__(master, "New room", "Create a room",
                         "The name is 1–32 of a-z, 0-9 and “-”, e.g. team-alpha.", on_close)
        self._create = create
        self.name = self.field(2, "Name")
        self.topic = self.field(3, "Topic (optional)")
        # the check box keeps its own Tcl variable: a Python ``BooleanVar`` would be deleted by
        # the garbage collector on whatever thread runs it, and Tk allows only this one
        self.private_box = ttk.Checkbutton(
            self.content, text="Private: not listed; only people invited can join")
        self.private_box.grid(row=4, column=0, sticky="w", pady=(px(self, 8), 0))
        self.set_private(False)
        self.invitees = self.field(5, "Invite (usernames, separated by commas; optional)")
        self.create_button = self.add_button("Create", self._clicked, accent=True)
        self.add_button("Cancel", self.close)
        self.name.bind("<KeyRelease>", self._check_name)
        self.bind("<Return>", self._submit)
        self.bind("<KP_Enter>", self._submit)
        self.present(self.create_button)
        self.name.focus_set()

    def set_private(self, private: bool) -> None:
        self.private_box.setvar(str(self.private_box), "1" if private else "0")

    def is_private(self) -> bool:
        return self.private_box.instate(["selected"])

    def _check_name(self, _event: object = None) -> None:
        name = self.name.get().strip()
        self.show_error(room_name_problem(name) if name else "")

    def _clicked(self) -> None:
        self._submit()

    def _submit(self, _event: object = None) -> str:
        self.show_error("")
        self._create(self.name.get().strip(), self.topic.get(), self.is_private(),
                     self.invitees.get())
        return "break"


class InviteDialog(RoomDialog):
    """Invite people to the open room by username."""

    def __init__(self, master: tk.Misc, room: str, invite: Callable[[str], None],
                 on_close: Callable[[], None]) -> None:
        super().__init__(master, "Invite people", f"Invite people to #{room}",
                         "Usernames, separated by commas.", on_close)
        self.room, self._invite = room, invite
        self.invitees = self.field(2, "Usernames")
        self.invite_button = self.add_button("Invite", self._clicked, accent=True)
        self.add_button("Cancel", self.close)
        self.bind("<Return>", self._submit)
        self.bind("<KP_Enter>", self._submit)
        self.present(self.invite_button)
        self.invitees.focus_set()

    def _clicked(self) -> None:
        self._submit()

    def _submit(self, _event: object = None) -> str:
        self.show_error("")
        self._invite(self.invitees.get())
        return "break"
