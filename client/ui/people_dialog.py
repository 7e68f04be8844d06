"""The "New conversation" dialog: find anyone in the people directory and open a direct
conversation with them, online or not.

Ctrl+N opens it. Typing searches usernames by prefix (``0019`` through the controller, after a
short pause so each keystroke does not cost a request); the results come back through
``TkView.show_directory`` one page at a time, and "More results" asks for the next page
(``1019|people|<next>``). Enter opens the selected person (the first result when none is
selected), Down moves from the search box into the results, double-click opens too, and Esc or
the close box closes. Widgets only: the search and the opening are the controller's.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from client.formatting import person_label
from client.ui.dialogs import Dialog
from client.ui.theme import px
from common.messages_rooms import PersonEntry

SEARCH_PAUSE_MS = 250
NEW_CONVERSATION_KEYS = ("<Control-n>",)  # Ctrl+Shift+N: a new room (room_view)


class PeopleDialog(Dialog):
    """Search the directory (``search(prefix, after)``) and open someone (``open(username)``)."""

    def __init__(self, master: tk.Misc, me: str, search: Callable[[str, str], None],
                 open_direct: Callable[[str], None]) -> None:
        super().__init__(master, "New conversation", "Start a conversation",
                         "Search everyone by username, online or not; Enter opens.")
        self._me, self._ask, self._open = me, search, open_direct
        self._first_page = True  # the next page answers a new search (it replaces the list)
        self._timer: str | None = None
        self._next = ""
        self._prefix = ""
        self.query = tk.StringVar(self)
        self.entry = ttk.Entry(self.content, textvariable=self.query)
        self.entry.grid(row=2, column=0, sticky="we", pady=(px(self, 10), px(self, 6)))
        self.results = ttk.Treeview(self.content, show="tree", selectmode="browse",
                                    height=8)
        self.results.column("#0", width=px(self, 360))
        self.results.grid(row=3, column=0, sticky="nsew")
        self.more_button = ttk.Button(self.content, text="More results",
                                      command=self.more)
        self.more_button.grid(row=4, column=0, sticky="w", pady=(px(self, 6), 0))
        self.more_button.grid_remove()
        self.open_button = self.add_button("Open", self._open_clicked, accent=True)
        self.add_button("Close", self.close)
        self.query.trace_add("write", lambda *_: self._typed())
        self.entry.bind("<Return>", lambda _e: self.open_selected())
        self.entry.bind("<Down>", self._into_results)
        self.results.bind("<Return>", lambda _e: self.open_selected())
        self.results.bind("<Double-1>", lambda _e: self.open_selected())
        self.bind("<Escape>", lambda _e: self.close())
        self.protocol("WM_DELETE_WINDOW", self.close)
        self.present(self.open_button)
        self.entry.focus_set()
        self._search("", "")

    # --- what the view calls ----------------------------------------------------------------

    def show(self, people: Sequence[PersonEntry], more: str) -> None:
        """A page of results: the first replaces the list, later ones are added below."""
        if self._first_page:
            self._first_page = False
            self.results.delete(*self.results.get_children())
        for person in people:
            if person.username == self._me or self.results.exists(person.username):
                continue
            where = "online" if person.online else "offline"
            label = f"  {person_label(person.nickname, person.username)} · {where}"
            self.results.insert("", "end", iid=person.username, text=label)
        self._next = more
        if more:
            self.more_button.grid()
        else:
            self.more_button.grid_remove()

    # --- actions ----------------------------------------------------------------------------

    def _search(self, prefix: str, after: str) -> None:
        self._first_page = not after
        self._ask(prefix, after)

    def more(self) -> None:
        if self._next:
            self._search(self._prefix, self._next)

    def open_selected(self) -> str:
        chosen = self.results.selection() or self.results.get_children()[:1]
        if chosen:
            username = str(chosen[0])
            self.close()
            self._open(username)
        return "break"

    def _open_clicked(self) -> None:
        self.open_selected()

    def close(self) -> None:
        if self._timer is not None:
            self.after_cancel(self._timer)
            self._timer = None
        self.grab_release()
        self.destroy()

    def _typed(self) -> None:
        if self._timer is not None:
            self.after_cancel(self._timer)
        self._timer = self.after(SEARCH_PAUSE_MS, self._run_search)

    def _run_search(self) -> None:
        self._timer = None
        self._prefix = self.query.get().strip()
        self._search(self._prefix, "")

    def _into_results(self, _event: object = None) -> str:
        children = self.results.get_children()
        if children:
            self.results.focus_set()
            self.results.selection_set(children[0])
            self.results.focus(children[0])
        return "break"
