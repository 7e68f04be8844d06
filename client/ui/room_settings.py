"""An owner's settings of the open room: rename it, set its topic, and for each member make
them an owner or a member again, or remove them.

The dialog stays open while the person works: every change the server accepts comes back as
room events that repaint it (``show``), and every refusal appears in its error line, in words.
Keyboard: Enter in the name or topic box saves that box; Tab reaches the member list and its
buttons; Esc closes.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk

from client.room_sync import RoomPanel
from client.ui.members import member_label
from client.ui.room_dialogs import RoomDialog
from client.ui.theme import palette_of, px


@dataclass(frozen=True)
class SettingsCallbacks:
    rename: Callable[[str, str], None]  # (room, new name)
    set_topic: Callable[[str, str], None]  # (room, topic)
    remove: Callable[[str, str], None]  # (room, username)
    set_role: Callable[[str, str, str], None]  # (room, username, "owner" | "member")


class RoomSettingsDialog(RoomDialog):
    """Rename, topic and members of one room (its owners only see the menu entry)."""

    def __init__(self, master: tk.Misc, panel: RoomPanel, callbacks: SettingsCallbacks,
                 on_close: Callable[[], None]) -> None:
        super().__init__(master, "Room settings", f"Settings of #{panel.name}",
                         "Changes are seen by every member at once.", on_close)
        self.callbacks, self.panel = callbacks, panel
        self.name = self._row(2, "Name", panel.name, "Rename", self._rename)
        self.topic = self._row(3, "Topic", panel.topic, "Set topic", self._set_topic)
        ttk.Label(self.content, text="Members", style="Surface.TLabel").grid(
            row=4, column=0, sticky="w", pady=(px(self, 10), 0))
        self.tree = ttk.Treeview(self.content, columns=("role",), show="tree",
                                 selectmode="browse", height=8)
        self.tree.column("#0", width=px(self, 300), stretch=True)
        self.tree.column("role", width=px(self, 80), anchor="e", stretch=False)
        self.tree.grid(row=5, column=0, sticky="nsew", pady=(px(self, 4), 0))
        actions = ttk.Frame(self.content, style="Surface.TFrame")
        actions.grid(row=6, column=0, sticky="w", pady=(px(self, 6), 0))
        self.owner_button = ttk.Button(actions, text="Make owner",
                                       command=lambda: self._role("owner"))
        self.member_button = ttk.Button(actions, text="Make member",
                                        command=lambda: self._role("member"))
        self.remove_button = ttk.Button(actions, text="Remove from room", command=self._remove)
        for column, button in enumerate((self.owner_button, self.member_button,
                                         self.remove_button)):
            button.grid(row=0, column=column, padx=(0, px(self, 6)))
        self.tree.bind("<<TreeviewSelect>>", self._selected)
        self.close_button = self.add_button("Close", self.close, accent=True)
        self.show(panel)
        self.present(self.close_button)
        self.name.focus_set()

    def _row(self, row: int, label: str, value: str, action: str,
             command: Callable[[], None]) -> ttk.Entry:
        box = ttk.Frame(self.content, style="Surface.TFrame")
        box.grid(row=row, column=0, sticky="we", pady=(px(self, 8), 0))
        box.columnconfigure(0, weight=1)
        ttk.Label(box, text=label, style="Surface.TLabel").grid(row=0, column=0, sticky="w")
        entry = ttk.Entry(box, width=36, font="ChatBody")
        entry.insert(0, value)
        entry.grid(row=1, column=0, sticky="we", pady=(px(self, 2), 0))
        ttk.Button(box, text=action, command=command).grid(row=1, column=1,
                                                          padx=(px(self, 8), 0))
        def enter(_event: object) -> str:
            command()
            return "break"

        entry.bind("<Return>", enter)
        entry.bind("<KP_Enter>", enter)
        return entry

    def show(self, panel: RoomPanel) -> None:
        """The room as it is now (a rename, a topic, members coming and going)."""
        if panel.name != self.panel.name:
            self.title(f"Room settings — #{panel.name}")
        self.panel = panel
        keep = (self.tree.selection() or ("",))[0]
        self.tree.delete(*self.tree.get_children())
        for row in panel.members or ():
            self.tree.insert("", "end", iid=row.username, text=member_label(row),
                             values=("owner" if row.owner else "",))
        if keep in self.tree.get_children():
            self.tree.selection_set(keep)
        self._selected()

    def member_names(self) -> list[str]:
        return list(self.tree.get_children())

    def done(self) -> None:
        """Accepted: say so and stay open for the next change."""
        self.error.configure(text="Done.", foreground=palette_of(self).ok)

    def _selected(self, _event: object = None) -> None:
        chosen = (self.tree.selection() or ("",))[0]
        rows = {row.username: row for row in self.panel.members or ()}
        row = rows.get(chosen)
        me = row is not None and row.me
        for button, usable in ((self.owner_button, row is not None and not row.owner),
                               (self.member_button, row is not None and row.owner),
                               (self.remove_button, row is not None and not row.owner and not me)):
            button.state(["!disabled"] if usable else ["disabled"])

    def selected(self) -> str:
        return (self.tree.selection() or ("",))[0]

    def _rename(self) -> None:
        self.show_error("")
        self.callbacks.rename(self.panel.name, self.name.get().strip())

    def _set_topic(self) -> None:
        self.show_error("")
        self.callbacks.set_topic(self.panel.name, self.topic.get())

    def _role(self, role: str) -> None:
        if self.selected():
            self.show_error("")
            self.callbacks.set_role(self.panel.name, self.selected(), role)

    def _remove(self) -> None:
        if self.selected():
            self.show_error("")
            self.callbacks.remove(self.panel.name, self.selected())
