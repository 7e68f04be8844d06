"""Render docs/screenshots/*.png (login, chat, chat-dark, notification, safety-number,
key-change, room, chat-2x) under Xvfb.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Everything is real and private to this run: the project's MariaDB (started if needed) with a
throw-away database and the demo accounts, a fresh server key pair, ``python -m server serve``
on a free port, a private Xvfb display, and three client windows in one Tk process that log in
and chat; the chat is captured in the light and the dark theme and with a notification
(a direct message while the window is not focused), then the safety-number dialog of a
direct conversation and the warning of a contact's key change (``scripts/screenshots_e2e``),
then a room with its header and members column, then a fourth window logs in
at Tk scaling 2x (a HiDPI screen) and is captured at its minimum size. The database is
dropped and every process this script started is stopped by PID at the end, so the person's
own chat history is never touched.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from config import Settings  # noqa: E402
from scripts.screenshots_e2e import e2e_shots  # noqa: E402
from server import provision  # noqa: E402
from server.__main__ import admin_params  # noqa: E402
from tests.integration.gui.harness import (  # noqa: E402
    ClientWindow,
    ServerProcess,
    Xvfb,
    pump_until,
    write_keypair,
)

log = logging.getLogger("screenshots")

CHAT_SIZE = (960, 640)
HIDPI = 2.0
SCRIPT = (
    ("user1", "Morning all! Is the new build up?"),
    ("user2", "Yes, deployed ten minutes ago. 早上好 👋"),
    ("join", "user3"),
    ("user3", "Looks good here. The reconnect after the server restart was seamless."),
    ("user1", "Great, I'll write it up: https://example.com/releases/chat-envelope/notes"),
    ("user3", "周末愉快！"),
)
NOTIFY = "wang_yuan, the release notes are ready for your review 📝"
DIRECT = ("Can you review my patch later?", "没问题的话我就合并了。")


def setup_database(name: str) -> bool:
    """The private MariaDB and a fresh database with the demo accounts.

    Returns True when this script started MariaDB (so it stops it again at the end).
    """
    db_sh = str(REPO / "scripts" / "db.sh")
    running = subprocess.run([db_sh, "status"], cwd=REPO, stdout=subprocess.DEVNULL).returncode == 0
    if not running:
        subprocess.run([db_sh, "start"], check=True, cwd=REPO)
    env = {**os.environ, "CHAT_DB_NAME": name}
    subprocess.run([sys.executable, "-m", "server", "init-db", "--demo"], check=True, cwd=REPO,
                   env=env, stdout=subprocess.DEVNULL)
    return not running


def capture(path: Path, size: tuple[int, int], display: str) -> None:
    """Grab the top-left ``size`` of the screen, where the window was placed (a palette PNG:
    a flat UI needs few colours, and the files stay small)."""
    width, height = size
    subprocess.run(["import", "-display", display, "-window", "root", "-crop",
                    f"{width}x{height}+0+0", "+repage", "-strip", "-dither", "None",
                    "-colors", "128", f"png8:{path}"], check=True)
    log.info("wrote %s", path)


def settle(window: ClientWindow, seconds: float = 0.6) -> None:
    end = time.monotonic() + seconds
    pump_until(window.root, lambda: time.monotonic() > end, seconds + 5, "the window to settle")


def stage(out: Path, port: int, key: Path, config: Path, display: str) -> None:
    root = tk.Tk()
    root.withdraw()
    windows = {u: ClientWindow(root, port, config, u, project_key=key)
               for u in ("user1", "user2", "user3")}
    me = windows["user1"]
    for other in ("user2", "user3"):
        windows[other].top.geometry("+1000+0")  # off to the side of what is captured
    me.top.geometry("+0+0")
    me.top.lift()
    login = me.view.login
    assert login is not None
    login.entries["password"].insert(0, "111111")
    settle(me)
    capture(out / "login.png", (me.top.winfo_width(), me.top.winfo_height()), display)

    def say(user: str, text: str, lobby: bool = True) -> None:
        window = windows[user]
        window.send(text)
        window.wait(lambda: f"✓\n{text}" in window.transcript(), f"{user}'s message acked")
        if lobby:
            me.wait(lambda: text in me.transcript(), "user1 to see it")

    def seen_online(user: str) -> None:
        me.wait(lambda: user in me.people(), f"{user} in the people list")

    me.log_in_and_wait()
    windows["user2"].log_in_and_wait()
    for who, text in SCRIPT:
        if who == "join":
            windows[text].log_in_and_wait()
            seen_online(text)
        else:
            say(who, text)
    bob = windows["user2"]
    bob.open_direct("user1")
    bob.wait(lambda: "@user1" in bob.conversations(), "the direct conversation")
    for text in DIRECT:
        say("user2", text, lobby=False)
    me.wait(lambda: me.conversations().get("@user2", ("", ""))[1] == "2", "two unread")
    for other in ("user2", "user3"):
        windows[other].top.withdraw()
    chat = me.view.chat
    assert chat is not None
    chat.input.insert("1.0", "Sure, I'll send comments this afternoon")
    chat.refresh_counter()
    me.top.geometry("{}x{}+0+0".format(*CHAT_SIZE))
    settle(me, 1.0)
    capture(out / "chat.png", CHAT_SIZE, display)
    me.view.toggle_theme()
    settle(me, 0.5)
    capture(out / "chat-dark.png", CHAT_SIZE, display)
    me.view.toggle_theme()
    notification(me, windows["user3"], out, display)
    e2e_shots(me, windows["user2"], out, CHAT_SIZE,
              lambda path: capture(path, CHAT_SIZE, display), settle)
    room(me, windows["user2"], out, display)
    me.top.withdraw()
    hidpi(root, out, port, key, config, display)
    for window in windows.values():
        window.close()
    root.destroy()


def notification(me: ClientWindow, carol: ClientWindow, out: Path, display: str) -> None:
    """A direct message from user3 while user1's window is not focused: the toast (the
    fallback for a desktop without a notification service) over the chat, and the unread
    total in the title, which the log prints (Xvfb has no window manager to draw a title)."""
    alerts = me.view.alerts
    alerts.use_desktop = False
    alerts.focused = lambda: False  # type: ignore[method-assign]
    if alerts.toast is not None:  # one from user2's messages above, shown off to the side
        alerts.toast.dismiss()
    carol.app.open_direct("user1")
    carol.app.send_text(NOTIFY)
    me.wait(lambda: alerts.toast is not None and alerts.shown[-1].body == NOTIFY, "the toast")
    toast = alerts.toast
    assert toast is not None
    settle(me, 0.3)
    margin = round(24 * me.top.winfo_fpixels("1i") / 96)
    x = CHAT_SIZE[0] - toast.winfo_width() - margin
    toast.geometry(f"+{x}+{CHAT_SIZE[1] - toast.winfo_height() - margin * 4}")
    settle(me, 0.5)
    log.info("window title with the notification: %s", me.top.title())
    capture(out / "notification.png", CHAT_SIZE, display)
    toast.dismiss()


def room(me: ClientWindow, bob: ClientWindow, out: Path, display: str) -> None:
    """A room user1 creates with user2 and user3 in it: the header with its topic and menu
    button, and the members column (online first, the owner marked) where the people were."""
    if me.view.alerts.toast is not None:
        me.view.alerts.toast.dismiss()
    me.app.create_room("design", "the new login screen, ships Friday", False, "user2 user3")
    me.wait(lambda: me.app.model is not None and me.app.model.active == "design", "the room")
    bob.wait(lambda: "design" in bob.conversations(), "the room in user2's list")
    bob.app.select_conversation("design")
    for window, text in ((me, "Mock-ups are in the shared folder, comments welcome"),
                         (bob, "The spacing on the password field looks much better 👍")):
        window.app.send_text(text)  # user2's window is withdrawn: no keys reach it
        me.wait(lambda t=text: t in me.transcript(), "the room message")  # type: ignore[misc]
    members = me.view.members
    me.wait(lambda: members is not None and len(members.rows()) == 3, "three members")
    settle(me, 0.6)
    capture(out / "room.png", CHAT_SIZE, display)


def hidpi(root: tk.Tk, out: Path, port: int, key: Path, config: Path, display: str) -> None:
    """user1 again in a new window at Tk scaling 2x, at the chat's minimum size there."""
    from client.ui.theme import BASE_SCALING, setup_fonts
    from client.ui.window import CHAT_MIN

    root.tk.call("tk", "scaling", BASE_SCALING * HIDPI)
    setup_fonts(root)
    big = ClientWindow(root, port, config, "user1", project_key=key)
    big.top.geometry("+0+0")
    big.log_in_and_wait()
    big.wait(lambda: "周末愉快" in big.transcript(), "the history at 2x")
    size = (round(CHAT_MIN[0] * HIDPI), round(CHAT_MIN[1] * HIDPI))
    big.top.geometry("{}x{}+0+0".format(*size))
    settle(big, 1.0)
    capture(out / "chat-2x.png", size, display)
    big.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env()
    db_name = f"chat_screens_{os.getpid()}"
    xvfb = Xvfb("1600x1000x24")
    with tempfile.TemporaryDirectory(prefix="chat-screens-") as tmp:
        tmp_path = Path(tmp)
        server: ServerProcess | None = None
        started_db = False
        try:
            started_db = setup_database(db_name)
            write_keypair(tmp_path / "keys")
            xvfb.start()
            os.environ["DISPLAY"] = xvfb.display
            server = ServerProcess(tmp_path / "keys", {"CHAT_DB_NAME": db_name},
                                   tmp_path / "server.log").start()
            stage(args.out, server.port, server.public_key_path, tmp_path / "config",
                  xvfb.display)
        finally:
            if server is not None:
                server.stop()
            xvfb.stop()
            try:
                provision.drop_database(admin_params(settings), db_name)
            except Exception as exc:  # cleanup must not hide the real error
                log.warning("could not drop %s: %s", db_name, exc)
            if started_db:
                subprocess.run([str(REPO / "scripts" / "db.sh"), "stop"], cwd=REPO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
