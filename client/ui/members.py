"""The members column: who is in the open room, online first, then by name, owners marked.

Shown in place of the people-online list while a room is open (the lobby's members are
everyone, and a direct conversation has two), painted from ``client.room_sync.RoomPanel``.
Double-click or Enter on a member opens a direct conversation with them.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Sequence
from tkinter import ttk

from client.formatting import person_label
from client.room_sync import MemberRow
from client.ui.theme import palette_of, px

OWNER_MARK = "owner"


def member_label(row: MemberRow) -> str:
    """``nickname @username`` (as the people list), ``(you)`` for oneself."""
    return person_label(row.nickname, row.username) + ("  (you)" if row.me else "")


class MembersPanel(ttk.Frame):
    """A heading with the count and a list of members; offline ones greyed."""

    def __init__(self, master: tk.Misc, on_open: Callable[[str], None]) -> None:
        super().__init__(master, style="Sidebar.TFrame", padding=(0, px(master, 10), 0, 0))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)
        self.heading = ttk.Label(self, text="MEMBERS", style="Heading.TLabel",
                                 padding=(px(self, 14), 0, 0, px(self, 6)))
        self.heading.grid(row=0, column=0, sticky="w")
        self.tree = ttk.Treeview(self, show="tree", columns=("role",), selectmode="browse")
        role = px(self, 56)
        self.tree.column("#0", width=px(self, 176) - role, stretch=True)
        self.tree.column("role", width=role, minwidth=0, anchor="e", stretch=False)
        self.tree.grid(row=1, column=0, sticky="nsew", padx=(px(self, 6), px(self, 6)))
        self._on_open = on_open
        self.tree.bind("<Double-1>", self._opened)
        self.tree.bind("<Return>", self._opened)
        self.apply_palette()

    def apply_palette(self) -> None:
        p = palette_of(self)
        self.tree.tag_configure("offline", foreground=p.muted)
        self.tree.tag_configure("owner", font="ChatBold")

    def show(self, rows: Sequence[MemberRow] | None) -> None:
        """The members in the order given (``None``: still being asked for)."""
        tree = self.tree
        tree.delete(*tree.get_children())
        if rows is None:
            self.heading.configure(text="MEMBERS · …")
            return
        online = sum(1 for row in rows if row.online)
        self.heading.configure(text=f"MEMBERS · {len(rows)} · {online} ONLINE")
        for row in rows:
            tags = ("offline",) if not row.online else ()
            tree.insert("", "end", iid=row.username, text=f"  {member_label(row)}",
                        values=(OWNER_MARK if row.owner else "",),
                        tags=(*tags, "owner") if row.owner else tags)

    def wanted_width(self) -> int:
        """Pixels the list needs to show its longest name and the owner mark uncut."""
        font = tkfont.nametofont("ChatBody", root=self)
        names = [str(self.tree.item(iid, "text")) for iid in self.tree.get_children()]
        longest = max((font.measure(name) for name in names), default=0)
        return longest + int(self.tree.column("role", "width")) + px(self, 40)

    def rows(self) -> list[tuple[str, str]]:
        """(username, role mark) in the order shown (for tests and screen readers)."""
        return [(iid, str(self.tree.set(iid, "role"))) for iid in self.tree.get_children()]

    def _opened(self, _event: object = None) -> str:
        focus = self.tree.focus() or (self.tree.selection() or ("",))[0]
        if focus:
            self._on_open(focus)
        return "break"
