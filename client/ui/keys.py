"""Key handlers shared by the chat's widgets: moving focus out of a ``Text`` and selecting all.

Tk's ``Text`` takes Tab as a character and binds Ctrl+A to the line's start (Emacs style); a
chat input box wants Tab to move on and Ctrl+A to select everything, as every other app does.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk


def focus_next(event: tk.Event[tk.Misc]) -> str:
    """Tab leaves the input box (Tk's Text would insert a tab character)."""
    following = event.widget.tk_focusNext()
    if following is not None:
        following.focus_set()
    return "break"


def focus_previous(event: tk.Event[tk.Misc]) -> str:
    previous = event.widget.tk_focusPrev()
    if previous is not None:
        previous.focus_set()
    return "break"


def select_all_entry(event: tk.Event[tk.Misc]) -> str:
    entry = event.widget
    if isinstance(entry, ttk.Entry):
        entry.select_range(0, "end")
        entry.icursor("end")
    return "break"
