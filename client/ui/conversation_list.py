"""The conversation list's rows, and the window's focus as the conversation list needs it.

Each row is two lines: the title (``# room`` or ``@nickname``) with its unread badge, and the
newest message's preview (``sender: text…``), in a ``ttk.Treeview`` whose rows are two lines of
the body font high. A row whose unread messages name the person is highlighted with the theme's
``mention_row`` colour (checked for WCAG contrast in both themes) and its badge starts with
``@``, so the mention does not depend on colour alone.

``FocusWatch`` reports when the window gains or loses the keyboard focus: a person coming back
to the window is "returning" to the open conversation (the "New messages" line, mark read).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from client.formatting import safe_text
from client.renderer import ConversationItem
from client.ui.theme import Palette, linespace, px

LIST_STYLE = "Conversations.Treeview"


def style_list(tree: ttk.Treeview, p: Palette) -> None:
    """Two-line rows, and the tags' colours of palette ``p`` (at start and on a theme change)."""
    style = ttk.Style(tree)
    style.configure(LIST_STYLE, rowheight=2 * linespace(tree) + px(tree, 10))
    tree.configure(style=LIST_STYLE)
    tree.tag_configure("unread", font="ChatBold")
    tree.tag_configure("mention", background=p.mention_row, foreground=p.text)


def badge(item: ConversationItem) -> str:
    """The unread count; ``@3`` when the unread messages mention the person."""
    if not item.unread:
        return ""
    return f"@{item.unread}" if item.mentioned else str(item.unread)


def row_text(item: ConversationItem) -> str:
    """The title, and under it the preview (when the conversation has a message)."""
    if not item.preview:
        return f"  {item.title}"
    return f"  {item.title}\n  {safe_text(item.preview)}"


def fill_list(tree: ttk.Treeview, items: Sequence[ConversationItem], active: str) -> str | None:
    """Show ``items`` in order, select ``active``; returns its title (None if not listed)."""
    tree.delete(*tree.get_children())
    title = None
    for item in items:
        tags = ["unread"] if item.unread else []
        if item.mentioned and item.unread:
            tags.append("mention")
        tree.insert("", "end", iid=item.key, text=row_text(item), values=(badge(item),),
                    tags=tuple(tags))
        if item.key == active:
            title = item.title
    if active in tree.get_children():
        tree.selection_set(active)
        tree.focus(active)
        tree.see(active)
    return title


class FocusWatch:
    """Calls ``on_change(focused)`` when the window gains or loses the keyboard focus.

    ``<FocusIn>``/``<FocusOut>`` fire for every widget inside as focus moves within the
    window, so the real state is read once things settle (``after_idle``) and only a change
    is reported."""

    def __init__(self, window: tk.Misc, focused: Callable[[], bool],
                 on_change: Callable[[bool], None]) -> None:
        self._window, self._focused, self._on_change = window, focused, on_change
        self.state = focused()
        self._pending = False
        for sequence in ("<FocusIn>", "<FocusOut>"):
            window.bind(sequence, self._changed, add=True)

    def _changed(self, _event: object = None) -> None:
        if not self._pending:
            self._pending = True
            self._window.after_idle(self.check)

    def check(self) -> None:
        self._pending = False
        now = self._focused()
        if now != self.state:
            self.state = now
            self._on_change(now)
