"""Asking for attention: desktop notifications, the in-window toast, the bell, muting.

``WindowAlerts`` implements ``client.notify.Alerts`` for one ``TkView``. A notice goes to the
desktop's notification service (freedesktop, over the session bus) when there is one: the
``notify-send`` tool of libnotify, run in a short-lived thread with ``--wait`` so that a click
on "Open" comes back to the Tk thread through a queue polled with ``after()``. A library on
the bus itself would need its own event loop beside Tk's; a child process needs none. Without
a session bus or without ``notify-send`` (or when it fails: no daemon, an old version), the
notice is a ``Toast``: a small borderless window at the screen's bottom right that hides by
itself, opens the conversation on a click, and is dismissed with Esc.

Tk on X11 cannot set the window manager's urgency hint (``wm attributes`` has no
``-urgent`` there; only Windows and macOS have an equivalent), so the window asks for attention
the ways Tk has: the bell, and the unread count at the start of the window title, which task
bars show and which changes as messages arrive.

Mute: Ctrl+M mutes or unmutes the open conversation, and the conversation list's context menu
(right click, or Shift+F10 / the Menu key) does the same for the one under it; the choice is
kept in the preferences file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import subprocess
import threading
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from client.notify import Notice
from client.prefs import PrefsFile
from client.ui.theme import palette_of, px

logger = logging.getLogger(__name__)

TOAST_MS = 8000
"""How long a toast stays: long enough to read a line and reach it with the mouse."""
POLL_MS = 200
DESKTOP_WAIT_S = 120
"""A desktop notification's click is awaited this long; after it, the thread gives up."""
MUTE_KEYS = ("<Control-m>", "<Control-M>")
MUTED_MARK = " · muted"


def desktop_available() -> bool:
    """A session bus to reach a notification service on, and the tool to do it with."""
    return bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")) and bool(shutil.which("notify-send"))


class Toast(tk.Toplevel):
    """A borderless note at the bottom right of the screen; a click calls ``on_open``."""

    def __init__(self, master: tk.Misc, notice: Notice, on_open: Callable[[str], None],
                 on_close: Callable[[], None]) -> None:
        super().__init__(master)
        self.notice = notice
        self._on_open, self._on_close = on_open, on_close
        self.overrideredirect(True)
        self.attributes("-topmost", True)
        p = palette_of(master)
        frame = tk.Frame(self, background=p.surface, highlightthickness=max(1, px(self, 1)),
                         highlightbackground=p.control_border, padx=px(self, 14),
                         pady=px(self, 10), cursor="hand2")
        frame.pack(fill="both", expand=True)
        self.heading = tk.Label(frame, text=notice.title, font="ChatBold", background=p.surface,
                                foreground=p.text, anchor="w", justify="left")
        self.body = tk.Label(frame, text=notice.body, font="ChatBody", background=p.surface,
                             foreground=p.text, anchor="w", justify="left",
                             wraplength=px(self, 320))
        self.hint = tk.Label(frame, text="Click to open · Esc to dismiss", font="ChatSmall",
                             background=p.surface, foreground=p.muted, anchor="w")
        for row, label in enumerate((self.heading, self.body, self.hint)):
            label.grid(row=row, column=0, sticky="w")
        for widget in (self, frame, self.heading, self.body, self.hint):
            widget.bind("<Button-1>", self.open)
        self.bind("<Escape>", self.dismiss)
        self.update_idletasks()
        width, height = self.winfo_reqwidth(), self.winfo_reqheight()
        margin = px(self, 24)
        x = self.winfo_screenwidth() - width - margin
        y = self.winfo_screenheight() - height - margin * 2
        self.geometry(f"+{max(0, x)}+{max(0, y)}")
        self._timer: str | None = self.after(TOAST_MS, self.dismiss)

    def open(self, _event: object = None) -> str:
        key = self.notice.conversation
        self.dismiss()
        self._on_open(key)
        return "break"

    def dismiss(self, _event: object = None) -> str:
        if self._timer is not None:
            with contextlib.suppress(tk.TclError):
                self.after_cancel(self._timer)
            self._timer = None
        self._on_close()
        with contextlib.suppress(tk.TclError):
            self.destroy()
        return "break"


class WindowAlerts:
    """``client.notify.Alerts`` for ``window``; ``open_conversation(key)`` shows a chat."""

    def __init__(self, window: tk.Tk | tk.Toplevel, prefs: PrefsFile,
                 open_conversation: Callable[[str], None],
                 on_mute_change: Callable[[], None]) -> None:
        self.window, self.prefs = window, prefs
        self._open_conversation, self._on_mute_change = open_conversation, on_mute_change
        self.toast: Toast | None = None
        self.shown: list[Notice] = []  # every notice, in order (what tests and logs look at)
        self.use_desktop = desktop_available()
        self._clicks: queue.Queue[tuple[str, Notice]] = queue.Queue()
        self._waiting = 0  # desktop notifications whose thread is still running
        window.bind("<Escape>", self._escape, add=True)

    # --- client.notify.Alerts ---------------------------------------------------------------

    def focused(self) -> bool:
        """The keyboard focus is in this window (not another program, not another window)."""
        try:
            focus = str(self.window.tk.call("focus"))
        except tk.TclError:
            return False
        here = str(self.window)
        return bool(focus) and (here == "." or focus == here or focus.startswith(here + "."))

    def muted(self, conversation: str) -> bool:
        return conversation in self.prefs.current.muted

    def notify(self, notice: Notice) -> None:
        """Ring, and show the notice on the desktop or as a toast."""
        logger.info("notifying about a message in %s", notice.conversation)
        self.shown.append(notice)
        with contextlib.suppress(tk.TclError):
            self.window.bell()
        if self.use_desktop:
            self._desktop(notice)
        else:
            self.show_toast(notice)

    # --- muting -----------------------------------------------------------------------------

    def toggle_mute(self, conversation: str) -> bool:
        """Mute ``conversation``, or unmute it; True when it is muted now."""
        muted = set(self.prefs.current.muted)
        now = conversation not in muted
        if now:
            muted.add(conversation)
        else:
            muted.discard(conversation)
        self.prefs.update(muted=tuple(sorted(muted)))
        self._on_mute_change()
        return now

    def context_menu(self, tree: ttk.Treeview, event: tk.Event[tk.Misc] | None) -> str:
        """The conversation list's menu for the row under the pointer (or the focused row)."""
        key = tree.identify_row(event.y) if event is not None and event.y >= 0 else ""
        key = key or tree.focus()
        if not key:
            return "break"
        menu = tk.Menu(tree, tearoff=False)
        label = "Unmute notifications" if self.muted(key) else "Mute notifications"
        menu.add_command(label=f"{label} (Ctrl+M)", command=lambda: self.toggle_mute(key))
        x = event.x_root if event is not None and event.x_root > 0 else tree.winfo_rootx()
        y = event.y_root if event is not None and event.y_root > 0 else tree.winfo_rooty()
        menu.tk_popup(x, y)
        return "break"

    # --- delivery ---------------------------------------------------------------------------

    def show_toast(self, notice: Notice) -> None:
        if self.toast is not None:
            self.toast.dismiss()
        self.toast = Toast(self.window, notice, self.open, self._toast_closed)

    def _toast_closed(self) -> None:
        self.toast = None

    def _escape(self, _event: object = None) -> None:
        if self.toast is not None:
            self.toast.dismiss()

    def open(self, conversation: str) -> None:
        """A click on a notice: bring the window up and show the conversation."""
        with contextlib.suppress(tk.TclError):
            self.window.deiconify()
            self.window.lift()
            self.window.focus_force()
        self._open_conversation(conversation)

    def _desktop(self, notice: Notice) -> None:
        self._waiting += 1
        threading.Thread(target=self._run_notify_send, args=(notice,), daemon=True,
                         name="notify-send").start()
        if self._waiting == 1:
            self.window.after(POLL_MS, self._poll)

    def _run_notify_send(self, notice: Notice) -> None:
        """In a thread: show it, wait for a click; never touches Tk (the queue does)."""
        command = ["notify-send", "--app-name=Chat", "--action=default=Open", "--wait",
                   f"--expire-time={TOAST_MS}", notice.title, notice.body]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False,
                                  timeout=DESKTOP_WAIT_S)
            outcome = "open" if done.stdout.strip() == "default" else (
                "closed" if done.returncode == 0 else "failed")
        except subprocess.TimeoutExpired:
            outcome = "closed"
        except OSError:
            outcome = "failed"
        self._clicks.put((outcome, notice))

    def _poll(self) -> None:
        while True:
            try:
                outcome, notice = self._clicks.get_nowait()
            except queue.Empty:
                break
            self._waiting -= 1
            if outcome == "open":
                self.open(notice.conversation)
            elif outcome == "failed":  # no service after all: the toast from now on
                logger.info("desktop notifications failed; using the in-window toast")
                self.use_desktop = False
                self.show_toast(notice)
        if self._waiting > 0:
            with contextlib.suppress(tk.TclError):
                self.window.after(POLL_MS, self._poll)
