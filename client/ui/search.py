"""Ctrl+F: a find bar over the open conversation's loaded messages.

Typing highlights every match (``MessageView.find``) and shows how many; Enter goes to the next
one, Shift+Enter to the previous, Esc closes the bar and gives the focus back. Widgets only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from client.ui.keys import select_all_entry
from client.ui.messages import MessageView
from client.ui.theme import px


class SearchBar(ttk.Frame):
    """The find bar; hidden until ``open``. ``on_close`` gets the focus back to the input."""

    def __init__(
        self, parent: tk.Misc, messages: MessageView, on_close: Callable[[], None]
    ) -> None:
        super().__init__(parent, style="Surface.TFrame",
                         padding=(px(parent, 14), 0, px(parent, 14), px(parent, 6)))
        self._messages, self._on_close = messages, on_close
        self.columnconfigure(1, weight=1)
        ttk.Label(self, text="Find", style="Surface.TLabel").grid(row=0, column=0,
                                                                  padx=(0, px(self, 6)))
        self.entry = ttk.Entry(self)
        self.entry.grid(row=0, column=1, sticky="we")
        self.count = ttk.Label(self, text="", style="SurfaceMuted.TLabel")
        self.count.grid(row=0, column=2, padx=(px(self, 8), 0))
        e = self.entry
        e.bind("<KeyRelease>", self._typed)
        e.bind("<Return>", lambda _e: self._step(True))
        e.bind("<KP_Enter>", lambda _e: self._step(True))
        e.bind("<Shift-Return>", lambda _e: self._step(False))
        e.bind("<Escape>", lambda _e: self.close())
        e.bind("<Control-a>", select_all_entry)

    def open(self, row: int) -> str:
        """Show the bar at ``row`` of its parent's grid, focused, searching what it holds."""
        self.grid(row=row, column=0, columnspan=2, sticky="we")
        self.entry.focus_set()
        self.entry.select_range(0, "end")
        self._typed()
        return "break"

    def close(self) -> str:
        self._messages.clear_search()
        self.grid_remove()
        self.count.configure(text="")
        self._on_close()
        return "break"

    def _typed(self, _event: object = None) -> None:
        pattern = str(self.entry.get())
        found = self._messages.find(pattern)
        self.count.configure(
            text="" if not pattern else "no matches" if not found else f"{found} found")
        if found:
            self._messages.next_match(True)

    def _step(self, forward: bool) -> str:
        self._messages.next_match(forward)
        return "break"
