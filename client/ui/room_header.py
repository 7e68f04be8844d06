"""The open room's header above the messages: ``#name — topic`` and the room's menu.

The menu holds Invite people… (usable by owners only, as the server allows), Leave and, for
owners only, Settings… (rename, topic, members' roles and removal). A refusal of what the
menu asked for is shown under the header in words. Keyboard: F10 or Ctrl+Shift+O opens the
menu (arrows and Enter in it, Esc closes); the menu button is also in the Tab order.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk

from client.room_sync import RoomPanel
from client.ui.theme import palette_of, px

MENU_KEYS = ("<F10>", "<Control-O>")


def header_text(panel: RoomPanel) -> str:
    """``#name — topic`` (``#name · private`` marks a private room)."""
    name = f"#{panel.name}" + (" · private" if panel.private else "")
    return f"{name} — {panel.topic}" if panel.topic else name


@dataclass(frozen=True)
class HeaderCallbacks:
    invite: Callable[[], None]
    leave: Callable[[], None]
    settings: Callable[[], None]


class RoomHeader(ttk.Frame):
    """Title, menu button and an error line; ``show()`` repaints from a ``RoomPanel``."""

    def __init__(self, master: tk.Misc, callbacks: HeaderCallbacks) -> None:
        super().__init__(master, style="Surface.TFrame",
                         padding=(px(master, 18), px(master, 8), px(master, 12), px(master, 4)))
        self.columnconfigure(0, weight=1)
        self.callbacks = callbacks
        self.title = ttk.Label(self, text="", style="Surface.TLabel", font="ChatBold",
                               wraplength=px(self, 520), justify="left")
        self.title.grid(row=0, column=0, sticky="w")
        self.menu_button = ttk.Menubutton(self, text="Room ▾", takefocus=True)
        self.menu_button.grid(row=0, column=1, sticky="e")
        self.menu = tk.Menu(self.menu_button, tearoff=False)
        self.menu_button.configure(menu=self.menu)
        self.error = ttk.Label(self, text="", style="Error.TLabel", wraplength=px(self, 560),
                               justify="left")
        self.error.grid(row=1, column=0, columnspan=2, sticky="w")
        self.error.grid_remove()
        self.panel: RoomPanel | None = None
        self.bind("<Configure>", self._wrap)

    def show(self, panel: RoomPanel) -> None:
        if self.panel is not None and self.panel.name != panel.name:
            self.set_error("")
        self.panel = panel
        self.title.configure(text=header_text(panel))
        self.menu.delete(0, "end")
        if panel.owner:
            self.menu.add_command(label="Invite people…", underline=0,
                                  command=self.callbacks.invite)
        else:  # the server lets owners alone invite: shown, so the person knows who can
            self.menu.add_command(label="Invite people… (owners only)", state="disabled")
        if panel.owner:
            self.menu.add_command(label="Settings…", underline=0, command=self.callbacks.settings)
        self.menu.add_separator()
        self.menu.add_command(label=f"Leave #{panel.name}", underline=0,
                              command=self.callbacks.leave)

    def menu_labels(self) -> list[str]:
        """The menu's entries as shown (separators left out)."""
        end = self.menu.index("end")
        return [str(self.menu.entrycget(i, "label")) for i in range(0 if end is None else end + 1)
                if self.menu.type(i) == "command"]

    def open_menu(self, _event: object = None) -> str:
        """Post the menu under its button, first entry active (the keyboard's way in)."""
        self.update_idletasks()
        x = self.menu_button.winfo_rootx()
        y = self.menu_button.winfo_rooty() + self.menu_button.winfo_height()
        self.menu.post(x, y)
        self.menu.activate(0)
        self.menu.focus_set()
        return "break"

    def set_error(self, text: str) -> None:
        self.error.configure(text=text, foreground=palette_of(self).danger)
        if text:
            self.error.grid()
        else:
            self.error.grid_remove()

    def _wrap(self, event: tk.Event[tk.Misc]) -> None:
        room = max(px(self, 160), event.width - self.menu_button.winfo_reqwidth() - px(self, 40))
        self.title.configure(wraplength=room)
        self.error.configure(wraplength=max(px(self, 160), event.width - px(self, 30)))
