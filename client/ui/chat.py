"""The chat window's body: conversations on the left, the transcript and input in the centre,
people online on the right, and a status line. Widgets only; the controller calls in through
``TkView`` and gets called back through the ``ChatCallbacks`` given at construction.

Keyboard: Enter sends, Shift+Enter makes a new line, Tab and Shift+Tab leave the input box
(Ctrl+Tab too, as everywhere in Tk), Ctrl+A selects all of it, Ctrl+K and Ctrl+Shift+K switch
to the next and previous conversation, Ctrl+N starts a new one (``people_dialog``), Ctrl+F
searches the open conversation (Enter: next match, Shift+Enter: previous, Esc: close). Every
control that takes focus shows it.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import ttk

from client.formatting import Line, counter_text
from client.renderer import ConversationItem, Person, StatusLevel
from client.ui.conversation_list import fill_list, style_list
from client.ui.keys import focus_next, focus_previous
from client.ui.messages import MessageView
from client.ui.search import SearchBar
from client.ui.theme import PALETTE, Fonts, Palette, char_width, linespace, palette_of, px
from common.protocol import MAX_TEXT

HINT = "Enter to send · Shift+Enter for a new line · Ctrl+K next conversation · Ctrl+F search"


def status_colour(p: Palette, level: str) -> str:
    """The status dot's colour for ``level`` in palette ``p``."""
    return {"ok": p.ok, "busy": p.busy, "stalled": p.danger, "error": p.danger}.get(
        level, p.muted)


STATUS_COLOURS = {
    level: status_colour(PALETTE, level) for level in ("ok", "busy", "stalled", "error")
}
"""The light theme's status colours (``status_colour`` follows the theme in use)."""
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
    toggle_theme: Callable[[], None] | None = None
    reconnect: Callable[[], None] = lambda: None  # "Reconnect now" while waiting to reconnect


class ChatFrame(ttk.Frame):
    """Everything inside the window after login."""

    def __init__(self, master: tk.Misc, fonts: Fonts, callbacks: ChatCallbacks) -> None:
        super().__init__(master)
        self.callbacks = callbacks
        self.fonts = fonts
        self._level = "busy"
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)
        self._build_header()
        panes = ttk.PanedWindow(self, orient="horizontal")
        panes.grid(row=1, column=0, sticky="nsew")
        self.panes = panes
        self._people_labels: list[str] = []
        panes.bind("<Configure>", lambda _e: self._fit_people(self._people_labels), add=True)
        left, self.conversations = self._sidebar(panes, "CONVERSATIONS", self._conversation_picked)
        centre = ttk.Frame(panes, style="Surface.TFrame")
        right, self.people = self._sidebar(panes, PEOPLE_HEADINGS[False], None)
        self.people_heading: ttk.Label = right.grid_slaves(row=0, column=0)[0]  # type: ignore[assignment]
        self.people.bind("<Double-1>", self._person_opened)
        self.people.bind("<Return>", self._person_opened)
        panes.add(left, weight=0)
        panes.add(centre, weight=1)
        panes.add(right, weight=0)
        centre.columnconfigure(0, weight=1)
        centre.rowconfigure(2, weight=1)
        self.conversation_title = ttk.Label(
            centre, text="# lobby", style="Surface.TLabel", font=fonts.bold,
            padding=(px(self, 18), px(self, 10), px(self, 18), px(self, 6)))
        self.conversation_title.grid(row=0, column=0, sticky="we")
        self.messages = MessageView(centre, fonts, callbacks.load_older)
        self.messages.grid(row=2, column=0, columnspan=2, sticky="nsew")  # column 1: the lock
        self.search_bar = SearchBar(centre, self.messages, lambda: self.input.focus_set())
        self.search_entry, self.search_count = self.search_bar.entry, self.search_bar.count
        self._build_input(centre)
        self._build_status()
        self._conversation_keys: list[str] = []
        self._updating = False
        self.draft_key = ""  # whose draft the input box holds
        self._window_bindings: list[tuple[str, str]] = []
        top = self.winfo_toplevel()
        for sequence, handler in (
            ("<Control-k>", lambda _e: self.cycle_conversation(1)),
            ("<Control-K>", lambda _e: self.cycle_conversation(-1)),
            ("<Control-f>", lambda _e: self.open_search()),
        ):
            self._window_bindings.append((sequence, top.bind(sequence, handler, add=True)))
        self.apply_palette(palette_of(self))

    def destroy(self) -> None:
        """Leave no key bindings on the window behind (the login form comes back in it)."""
        top = self.winfo_toplevel()
        for sequence, _funcid in self._window_bindings:
            top.unbind(sequence)
        self._window_bindings = []
        super().destroy()

    # --- construction -----------------------------------------------------------------------

    def _build_header(self) -> None:
        s = px
        header = ttk.Frame(self, padding=(s(self, 16), s(self, 10), s(self, 12), s(self, 10)))
        header.grid(row=0, column=0, sticky="we")
        header.columnconfigure(0, weight=1)
        self.title = ttk.Label(header, text="", style="Title.TLabel")
        self.title.grid(row=0, column=0, sticky="w")
        self.theme_button = ttk.Button(header, text="", command=self._toggle_theme,
                                       style="Header.TButton")
        if self.callbacks.toggle_theme is not None:
            self.theme_button.grid(row=0, column=1, padx=(0, s(self, 8)))
        self.logout_button = ttk.Button(header, text="Log out", command=self.callbacks.logout,
                                        style="Header.TButton")
        self.logout_button.grid(row=0, column=2)

    def _sidebar(
        self, panes: ttk.PanedWindow, heading: str, on_pick: Callable[[object], None] | None,
    ) -> tuple[ttk.Frame, ttk.Treeview]:
        frame = ttk.Frame(panes, style="Sidebar.TFrame", padding=(0, px(self, 10), 0, 0))
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(1, weight=1)
        ttk.Label(frame, text=heading, style="Heading.TLabel",
                  padding=(px(self, 14), 0, 0, px(self, 6))).grid(row=0, column=0, sticky="w")
        tree = ttk.Treeview(frame, show="tree", columns=("badge",), selectmode="browse")
        badge = px(self, 44) if on_pick is not None else 0
        tree.column("#0", width=px(self, 176) - badge, stretch=True)
        tree.column("badge", width=badge, minwidth=0, anchor="e", stretch=False)
        tree.tag_configure("unread", font="ChatBold")
        tree.tag_configure("me", foreground=PALETTE.muted)
        tree.tag_configure("last_known", foreground=PALETTE.muted)
        tree.grid(row=1, column=0, sticky="nsew", padx=(px(self, 6), px(self, 6)))
        if on_pick is not None:
            tree.bind("<<TreeviewSelect>>", on_pick)
        return frame, tree

    def _build_input(self, parent: ttk.Frame) -> None:
        s = px
        box = ttk.Frame(parent, style="Surface.TFrame",
                        padding=(s(self, 14), s(self, 6), s(self, 14), s(self, 10)))
        box.grid(row=3, column=0, columnspan=2, sticky="we")
        box.columnconfigure(0, weight=1)
        self.input = tk.Text(
            box, height=3, wrap="word", font=self.fonts.body, relief="flat", borderwidth=0,
            highlightthickness=max(2, s(self, 2)), padx=s(self, 10), pady=s(self, 8), undo=True,
        )
        self.input.grid(row=0, column=0, sticky="we")
        self.send_button = ttk.Button(box, text="Send", style="Accent.TButton", command=self._send)
        self.send_button.grid(row=0, column=1, sticky="se", padx=(s(self, 8), 0))
        hints = ttk.Frame(box, style="Surface.TFrame")
        hints.grid(row=1, column=0, columnspan=2, sticky="we", pady=(s(self, 4), 0))
        hints.columnconfigure(0, weight=1)
        self.hint = ttk.Label(hints, text=HINT, style="SurfaceMuted.TLabel", justify="left")
        self.hint.grid(row=0, column=0, sticky="nw")
        self.counter = ttk.Label(hints, text=f"0/{MAX_TEXT}", style="SurfaceMuted.TLabel")
        self.counter.grid(row=0, column=1, sticky="ne", padx=(s(self, 12), 0))
        hints.bind("<Configure>", self._wrap_hint)
        self.input.bind("<Return>", self._send)
        self.input.bind("<KP_Enter>", self._send)
        self.input.bind("<Shift-Return>", self._newline)
        self.input.bind("<Tab>", focus_next)
        self.input.bind("<Shift-Tab>", focus_previous)
        self.input.bind("<ISO_Left_Tab>", focus_previous)
        self.input.bind("<Control-a>", self._select_all)
        self.input.bind("<<Modified>>", self._edited)
        # the Text class binds Ctrl+K (delete to the line's end) before the window does
        self.input.bind("<Control-k>", lambda _e: self.cycle_conversation(1))
        self.input.bind("<Control-K>", lambda _e: self.cycle_conversation(-1))
        self.input.bind("<Control-f>", lambda _e: self.open_search())

    def _build_status(self) -> None:
        bar = ttk.Frame(self, padding=(px(self, 12), px(self, 4)))
        bar.grid(row=2, column=0, sticky="we")
        bar.columnconfigure(1, weight=1)
        size = max(8, linespace(self, "ChatSmall") // 2)
        self.status_dot = tk.Canvas(bar, width=size, height=size, highlightthickness=0)
        self.status_dot.grid(row=0, column=0, padx=(0, px(self, 6)), sticky="n",
                             pady=(max(0, (linespace(self, "ChatSmall") - size) // 2), 0))
        self._dot = self.status_dot.create_oval(1, 1, size - 1, size - 1, outline="")
        self.status = ttk.Label(bar, text="", style="Status.TLabel", justify="left")
        self.status.grid(row=0, column=1, sticky="w")
        self.reconnect_button = ttk.Button(bar, text="Reconnect now (Ctrl+R)",
                                           command=self._reconnect_now)
        self.reconnect_button.grid(row=0, column=2, sticky="e")
        self.reconnect_button.grid_remove()  # shown only while waiting to reconnect
        for sequence in RECONNECT_KEYS:
            self.winfo_toplevel().bind(sequence, self._reconnect_now)
        bar.bind("<Configure>", self._wrap_status)

    def apply_palette(self, p: Palette) -> None:
        """Colour the plain Tk widgets (the ttk ones follow ``setup_style``)."""
        self.input.configure(highlightbackground=p.control_border, highlightcolor=p.focus,
                             background=p.surface, foreground=p.text, insertbackground=p.text,
                             selectbackground=p.selection, selectforeground=p.text)
        self.status_dot.configure(background=p.window)
        self.status_dot.itemconfigure(self._dot, fill=status_colour(p, self._level))
        self.people.tag_configure("me", foreground=p.muted)
        self.people.tag_configure("last_known", foreground=p.muted)
        style_list(self.conversations, p)
        self.messages.apply_palette(p)
        self.theme_button.configure(text="Light theme" if p.name == "dark" else "Dark theme")
        self.refresh_counter()

    def _wrap_hint(self, event: tk.Event[tk.Misc]) -> None:
        """Wrap the hint beside the counter rather than run under it in a narrow window."""
        room = event.width - self.counter.winfo_reqwidth() - px(self, 12) - px(self, 4)
        self.hint.configure(wraplength=max(px(self, 80), room))

    def _wrap_status(self, event: tk.Event[tk.Misc]) -> None:
        button = self.reconnect_button
        beside = button.winfo_reqwidth() if button.winfo_ismapped() else 0
        room = event.width - self.status_dot.winfo_reqwidth() - px(self, 30) - beside
        self.status.configure(wraplength=max(px(self, 80), room))

    # --- input ------------------------------------------------------------------------------

    def input_text(self) -> str:
        return self.input.get("1.0", "end-1c")

    def _newline(self, _event: object = None) -> str:
        self.input.insert("insert", "\n")
        self.input.see("insert")
        return "break"

    def _select_all(self, _event: object = None) -> str:
        self.input.tag_add("sel", "1.0", "end-1c")
        self.input.mark_set("insert", "end-1c")
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
        p = palette_of(self)
        text, over = counter_text(len(self.input_text()))
        self.counter.configure(text=text, foreground=p.danger if over else p.muted)
        self.send_button.state(["disabled"] if over else ["!disabled"])

    # --- searching and switching ------------------------------------------------------------

    def open_search(self) -> str:
        return self.search_bar.open(row=1)

    def close_search(self) -> str:
        return self.search_bar.close()

    def cycle_conversation(self, step: int) -> str:
        """Ctrl+K: the next conversation in the list (Ctrl+Shift+K: the previous)."""
        keys = list(self.conversations.get_children())
        if keys:
            selection = self.conversations.selection()
            here = keys.index(selection[0]) if selection and selection[0] in keys else 0
            self.conversations.selection_set(keys[(here + step) % len(keys)])
        return "break"

    def _toggle_theme(self) -> None:
        if self.callbacks.toggle_theme is not None:
            self.callbacks.toggle_theme()

    # --- painting ---------------------------------------------------------------------------

    def set_conversations(self, items: Sequence[ConversationItem], active: str) -> None:
        self._updating = True
        try:
            title = fill_list(self.conversations, items, active)
            if title is not None:
                self.conversation_title.configure(text=title)
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
        self._people_labels = [f"{person.label}  (you)" for person in people]
        self._fit_people(self._people_labels)

    def _fit_people(self, labels: list[str]) -> None:
        """Widen the people list to its longest name (a bigger font, a long nickname), taking
        the room from the transcript but leaving it at least 40 characters."""
        font = tkfont.nametofont("ChatBody", root=self)
        needed = max((font.measure(label) for label in labels), default=0) + px(self, 50)
        if needed <= int(self.people.column("#0", "width")):
            return
        total = self.panes.winfo_width()
        if total <= 1:
            return  # not laid out yet: its first <Configure> fits it
        self.people.column("#0", width=needed)
        left_edge = int(self.tk.call(str(self.panes), "sashpos", 0))
        frame_padding = px(self, 12)
        position = total - needed - frame_padding
        least = left_edge + char_width(self, "ChatBody") * 40
        current = int(self.tk.call(str(self.panes), "sashpos", 1))
        self.tk.call(str(self.panes), "sashpos", 1, max(least, min(current, position)))

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
        self._level = level
        self.status.configure(text=text)
        self.status_dot.itemconfigure(self._dot, fill=status_colour(palette_of(self), level))

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
            if self.focus_get() is not self.search_entry:
                self.input.focus_set()

    def _person_opened(self, _event: object = None) -> None:
        focus = self.people.focus() or (self.people.selection() or ("",))[0]
        if focus:
            self.report_draft()
            self.callbacks.open_direct(focus)
            self.input.focus_set()

