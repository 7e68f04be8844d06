"""The chat window's body: conversations on the left, the transcript and input in the centre,
people online on the right, and a status line. Widgets only; the controller calls in through
``TkView`` and gets called back through the ``ChatCallbacks`` given at construction.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import ttk

from client.formatting import Line, counter_text
from client.renderer import ConversationItem, Person, StatusLevel
from client.ui.messages import MessageView
from client.ui.theme import PALETTE, Fonts
from common.protocol import MAX_TEXT

STATUS_COLOURS = {"ok": PALETTE.ok, "busy": PALETTE.busy, "stalled": PALETTE.danger,
                  "error": PALETTE.danger}
PEOPLE_HEADINGS = {False: "PEOPLE ONLINE", True: "LAST KNOWN · OFFLINE"}
RECONNECT_KEYS = ("<Control-r>", "<Control-R>")
"""The keyboard shortcut of "Reconnect now" (it does nothing while connected)."""


@dataclass(frozen=True)
class ChatCallbacks:
    """What the widgets report to the controller."""

    send: Callable[[str], bool]
    select: Callable[[str], None]
    open_direct: Callable[[str], None]
    load_older: Callable[[], None]
    logout: Callable[[], None]
    draft: Callable[[str, str], None]  # (conversation, what the input box holds now)
    reconnect: Callable[[], None] = lambda: None  # "Reconnect now" while waiting to reconnect


class ChatFrame(ttk.Frame):
    """Everything inside the window after login."""

    def __init__(self, master: tk.Misc, fonts: Fonts, callbacks: ChatCallbacks) -> None:
        super().__init__(master)
        self.callbacks = callbacks
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)
        self._build_header(fonts)
        panes = ttk.PanedWindow(self, orient="horizontal")
        panes.grid(row=1, column=0, sticky="nsew")
        left, self.conversations = self._sidebar(
            panes, "CONVERSATIONS", self._conversation_picked, 44)
        centre = ttk.Frame(panes, style="Surface.TFrame")
        right, self.people = self._sidebar(panes, PEOPLE_HEADINGS[False], None, 0)
        self.people_heading: ttk.Label = right.grid_slaves(row=0, column=0)[0]  # type: ignore[assignment]
        self.people.bind("<Double-1>", self._person_opened)
        self.people.bind("<Return>", self._person_opened)
        panes.add(left, weight=0)
        panes.add(centre, weight=1)
        panes.add(right, weight=0)
        centre.columnconfigure(0, weight=1)
        centre.rowconfigure(1, weight=1)
        self.conversation_title = ttk.Label(centre, text="# lobby", style="Surface.TLabel",
                                            font=fonts.bold, padding=(18, 10, 18, 6))
        self.conversation_title.grid(row=0, column=0, sticky="we")
        self.messages = MessageView(centre, fonts, callbacks.load_older)
        self.messages.grid(row=1, column=0, sticky="nsew")
        self._build_input(centre, fonts)
        self._build_status(fonts)
        self._conversation_keys: list[str] = []
        self._updating = False
        self.draft_key = ""  # whose draft the input box holds

    # --- construction -----------------------------------------------------------------------

    def _build_header(self, fonts: Fonts) -> None:
        header = ttk.Frame(self, padding=(16, 10, 12, 10))
        header.grid(row=0, column=0, sticky="we")
        header.columnconfigure(0, weight=1)
        self.title = ttk.Label(header, text="", style="Title.TLabel")
        self.title.grid(row=0, column=0, sticky="w")
        ttk.Button(header, text="Log out", command=self.callbacks.logout).grid(row=0, column=1)

    def _sidebar(
        self,
        panes: ttk.PanedWindow,
        heading: str,
        on_pick: Callable[[object], None] | None,
        badge_width: int,
    ) -> tuple[ttk.Frame, ttk.Treeview]:
        frame = ttk.Frame(panes, style="Sidebar.TFrame", padding=(0, 10, 0, 0))
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(1, weight=1)
        ttk.Label(frame, text=heading, style="Heading.TLabel", padding=(14, 0, 0, 6)).grid(
            row=0, column=0, sticky="w")
        tree = ttk.Treeview(frame, show="tree", columns=("badge",), selectmode="browse")
        tree.column("#0", width=176 - badge_width, stretch=True)
        tree.column("badge", width=badge_width, minwidth=0, anchor="e", stretch=False)
        tree.tag_configure("unread", font="ChatBold")
        tree.tag_configure("me", foreground=PALETTE.muted)
        tree.tag_configure("last_known", foreground=PALETTE.muted)
        tree.grid(row=1, column=0, sticky="nsew", padx=(6, 6))
        if on_pick is not None:
            tree.bind("<<TreeviewSelect>>", on_pick)
        return frame, tree

    def _build_input(self, parent: ttk.Frame, fonts: Fonts) -> None:
        box = ttk.Frame(parent, style="Surface.TFrame", padding=(14, 6, 14, 10))
        box.grid(row=2, column=0, sticky="we")
        box.columnconfigure(0, weight=1)
        p = PALETTE
        self.input = tk.Text(
            box, height=3, wrap="word", font=fonts.body, relief="flat", borderwidth=0,
            highlightthickness=1, highlightbackground=p.border, highlightcolor=p.accent,
            background=p.surface, foreground=p.text, insertbackground=p.text, padx=10, pady=8,
            undo=True,
        )
        self.input.grid(row=0, column=0, sticky="we")
        self.send_button = ttk.Button(box, text="Send", style="Accent.TButton", command=self._send)
        self.send_button.grid(row=0, column=1, sticky="se", padx=(8, 0))
        hints = ttk.Frame(box, style="Surface.TFrame")
        hints.grid(row=1, column=0, columnspan=2, sticky="we", pady=(4, 0))
        hints.columnconfigure(0, weight=1)
        ttk.Label(hints, text="Enter to send · Shift+Enter for a new line",
                  style="SurfaceMuted.TLabel").grid(row=0, column=0, sticky="w")
        self.counter = ttk.Label(hints, text=f"0/{MAX_TEXT}", style="SurfaceMuted.TLabel")
        self.counter.grid(row=0, column=1, sticky="e")
        self.input.bind("<Return>", self._send)
        self.input.bind("<KP_Enter>", self._send)
        self.input.bind("<Shift-Return>", self._newline)
        self.input.bind("<<Modified>>", self._edited)

    def _build_status(self, fonts: Fonts) -> None:
        bar = ttk.Frame(self, padding=(12, 4))
        bar.grid(row=2, column=0, sticky="we")
        bar.columnconfigure(1, weight=1)
        self.status_dot = tk.Canvas(bar, width=10, height=10, highlightthickness=0,
                                    background=PALETTE.window)
        self.status_dot.grid(row=0, column=0, padx=(0, 6))
        self._dot = self.status_dot.create_oval(1, 1, 9, 9, fill=PALETTE.busy, outline="")
        self.status = ttk.Label(bar, text="", style="Status.TLabel")
        self.status.grid(row=0, column=1, sticky="w")
        self.reconnect_button = ttk.Button(bar, text="Reconnect now (Ctrl+R)",
                                           command=self._reconnect_now)
        self.reconnect_button.grid(row=0, column=2, sticky="e")
        self.reconnect_button.grid_remove()  # shown only while waiting to reconnect
        for sequence in RECONNECT_KEYS:
            self.winfo_toplevel().bind(sequence, self._reconnect_now)

    # --- input ------------------------------------------------------------------------------

    def input_text(self) -> str:
        return self.input.get("1.0", "end-1c")

    def _newline(self, _event: object = None) -> str:
        self.input.insert("insert", "\n")
        self.input.see("insert")
        return "break"

    def _send(self, _event: object = None) -> str:
        text = self.input_text()
        if len(text) > MAX_TEXT:
            self.bell()
        elif self.callbacks.send(text):
            self.input.delete("1.0", "end")
            self.input.edit_reset()
        return "break"

    def _edited(self, _event: object = None) -> None:
        if self.input.edit_modified():
            self.input.edit_modified(False)
            self.refresh_counter()
            self.report_draft()

    def report_draft(self) -> None:
        """Tell the controller what the box holds for its conversation (before any switch:
        ``<<Modified>>`` is queued, so a click may be handled before the last keystroke's)."""
        if self.draft_key:
            self.callbacks.draft(self.draft_key, self.input_text())

    def show_draft(self, key: str, text: str) -> None:
        """The box now belongs to conversation ``key``: show its draft, with a fresh undo."""
        if key == self.draft_key and text == self.input_text():
            return
        self.draft_key = key
        self.input.delete("1.0", "end")
        self.input.insert("1.0", text)
        self.input.edit_reset()
        self.refresh_counter()

    def refresh_counter(self) -> None:
        """The live ``n/4000``; over the limit it turns red and Send is disabled."""
        text, over = counter_text(len(self.input_text()))
        self.counter.configure(text=text, foreground=PALETTE.danger if over else PALETTE.muted)
        self.send_button.state(["disabled"] if over else ["!disabled"])

    # --- painting ---------------------------------------------------------------------------

    def set_conversations(self, items: Sequence[ConversationItem], active: str) -> None:
        tree = self.conversations
        self._updating = True
        try:
            tree.delete(*tree.get_children())
            for item in items:
                badge = str(item.unread) if item.unread else ""
                tree.insert("", "end", iid=item.key, text=f"  {item.title}", values=(badge,),
                            tags=("unread",) if item.unread else ())
                if item.key == active:
                    self.conversation_title.configure(text=item.title)
            if active in tree.get_children():
                tree.selection_set(active)
                tree.see(active)
        finally:
            self._updating = False

    def set_people(self, people: Sequence[Person]) -> None:
        tree = self.people
        tree.delete(*tree.get_children())
        stale = any(person.last_known for person in people)
        self.people_heading.configure(text=PEOPLE_HEADINGS[stale])
        for person in people:
            label = f"  {person.label}" + ("  (you)" if person.me else "")
            tags = ("last_known",) if person.last_known else ("me",) if person.me else ()
            tree.insert("", "end", iid=person.username, text=label, values=("",), tags=tags)

    def offer_reconnect(self, offered: bool) -> None:
        """Show the "Reconnect now" button while the window waits to reconnect."""
        if offered:
            self.reconnect_button.grid()
        else:
            self.reconnect_button.grid_remove()

    def _reconnect_now(self, _event: object = None) -> str:
        if self.winfo_exists():
            self.callbacks.reconnect()
        return "break"

    def set_status(self, text: str, level: StatusLevel) -> None:
        self.status.configure(text=text)
        self.status_dot.itemconfigure(self._dot, fill=STATUS_COLOURS.get(level, PALETTE.muted))

    def render(self, lines: Sequence[Line], anchor: str | None) -> None:
        self.messages.render(lines, anchor)

    def append(self, lines: Sequence[Line]) -> None:
        self.messages.append(lines)

    def restyle(self, line: Line) -> None:
        self.messages.restyle(line)

    # --- clicks -----------------------------------------------------------------------------

    def _conversation_picked(self, _event: object = None) -> None:
        if self._updating:
            return
        selection = self.conversations.selection()
        if selection:
            self.report_draft()
            self.callbacks.select(selection[0])
            self.input.focus_set()

    def _person_opened(self, _event: object = None) -> None:
        focus = self.people.focus() or (self.people.selection() or ("",))[0]
        if focus:
            self.report_draft()
            self.callbacks.open_direct(focus)
            self.input.focus_set()
