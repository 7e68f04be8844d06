"""Helpers for driving real client windows under Xvfb: Xvfb itself, the server process, and
a ``ClientWindow`` that types into the real widgets and reads back what they show.

Waiting is always a poll of ``root.update()`` against a deadline, never a fixed sleep: a
condition that becomes true early passes early, and one that never does fails with a message
that says what was awaited.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import tkinter as tk
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from Crypto.PublicKey import RSA

from client.app import App
from client.prefs import PrefsFile
from client.trust import KnownServers
from client.ui.window import TkView

REPO = Path(__file__).resolve().parents[3]


def pump_until(
    root: tk.Misc, condition: Callable[[], object], timeout: float = 20.0, what: str = ""
) -> None:
    """Run the Tk loop until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        root.update()
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- Xvfb -----------------------------------------------------------------------------------


class Xvfb:
    """A private X server on the first free display number at or above 90."""

    def __init__(self, size: str = "1280x800x24") -> None:
        self.size = size
        self.process: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self) -> Xvfb:
        for number in range(90, 190):
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue
            process = subprocess.Popen(
                ["Xvfb", f":{number}", "-screen", "0", self.size, "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if Path(f"/tmp/.X11-unix/X{number}").exists():
                    self.process, self.display = process, f":{number}"
                    return self
                if process.poll() is not None:
                    break  # lost a race for this number: try the next
                time.sleep(0.05)
            else:
                process.kill()
                process.wait()
        raise RuntimeError("could not start Xvfb on any display :90-:189")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # our own PID only
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


# --- the real server ------------------------------------------------------------------------


def write_keypair(directory: Path, key: RSA.RsaKey | None = None) -> RSA.RsaKey:
    """``server_private.pem`` (0600) and ``server_public.pem`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    if key is None:
        from server.keyfile import generate_keypair  # the project's own keygen

        generate_keypair(directory)
        return RSA.import_key((directory / "server_private.pem").read_bytes())
    private = directory / "server_private.pem"
    private.write_bytes(key.export_key())
    private.chmod(0o600)
    (directory / "server_public.pem").write_bytes(key.public_key().export_key())
    return key


def db_env(db_params: Any) -> dict[str, str]:
    """The ``CHAT_DB_*`` variables for a ``server.store.DbParams``."""
    env = {
        "CHAT_DB_NAME": db_params.database,
        "CHAT_DB_USER": db_params.user,
        "CHAT_DB_PASSWORD": db_params.password,
    }
    if getattr(db_params, "unix_socket", ""):
        env["CHAT_DB_SOCKET"] = db_params.unix_socket
    if getattr(db_params, "host", ""):
        env["CHAT_DB_HOST"] = db_params.host
        env["CHAT_DB_PORT"] = str(db_params.port)
    return env


class ServerProcess:
    """``python -m server serve`` on 127.0.0.1:<port>, restartable on the same port and keys."""

    def __init__(self, key_dir: Path, db: Mapping[str, str], log_path: Path) -> None:
        self.key_dir = key_dir
        self.port = free_port()
        self.env = {
            **os.environ, **db,
            "CHAT_HOST": "127.0.0.1", "CHAT_PORT": str(self.port),
            "CHAT_KEY_DIR": str(key_dir), "PYTHONUNBUFFERED": "1",
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def public_key_path(self) -> Path:
        return self.key_dir / "server_public.pem"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve"], cwd=REPO, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"`python -m server serve` exited with {self.process.returncode}:\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.5
            ):
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the server did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        """SIGTERM our server process (by PID), SIGKILL if it does not go."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """A crash: SIGKILL, nothing flushed, no goodbye to the clients."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


# --- one client window ----------------------------------------------------------------------


class ClientWindow:
    """A real ``App`` + ``TkView`` in a ``Toplevel``, driven the way a person would."""

    def __init__(
        self,
        root: tk.Tk,
        port: int,
        config: Path,
        username: str,
        project_key: Path | None = None,
        explicit_key: RSA.RsaKey | None = None,
    ) -> None:
        self.root = root
        self.top = tk.Toplevel(root)
        self.view = TkView(self.top, PrefsFile(config))
        self.app = App(self.view, KnownServers(config), address=f"127.0.0.1:{port}",
                       username=username, explicit_key=explicit_key, project_key=project_key,
                       alerts=self.view.alerts)
        self.view.attach(self.app)
        self.app.start()

    def wait(self, condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
        pump_until(self.root, condition, timeout, what)

    def type_and_enter(self, widget: tk.Widget, text: str) -> None:
        """Type into a widget and press Enter there (key events go to the focus)."""
        if isinstance(widget, tk.Text):
            widget.insert("end", text)
        else:
            widget.delete(0, "end")  # type: ignore[attr-defined]
            widget.insert(0, text)  # type: ignore[attr-defined]
        self.focus_on(widget)
        widget.event_generate("<Return>")  # at once: nothing runs between the check and this
        self.root.update()

    def focus_on(self, widget: tk.Widget, timeout: float = 10.0) -> None:
        """Give ``widget`` the keyboard focus and see that it has it. Every window of the
        test runs in this one Tk process, and while the loop runs another may take the focus
        (its login form or chat input appearing), so a key sent after a plain ``focus_force``
        could land in the other window."""
        deadline = time.monotonic() + timeout
        while True:
            widget.focus_force()
            self.root.update()
            if str(self.root.tk.call("focus")) == str(widget):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{widget} never got the keyboard focus")
            time.sleep(0.01)

    def log_in(self, password: str = "111111") -> None:
        login = self.view.login
        assert login is not None, "the login form is not shown"
        self.type_and_enter(login.entries["password"], password)

    def log_in_and_wait(self, password: str = "111111") -> None:
        self.log_in(password)
        self.wait(lambda: self.app.phase == "online" and self.view.chat is not None,
                  f"{self.app.username} to be online")

    @property
    def login_error(self) -> str:
        return str(self.view.login.error.cget("text")) if self.view.login else ""

    def send(self, text: str) -> None:
        assert self.view.chat is not None
        self.type_and_enter(self.view.chat.input, text)

    def transcript(self) -> str:
        return self.view.chat.messages.plain_text() if self.view.chat else ""

    def status(self) -> str:
        return str(self.view.chat.status.cget("text")) if self.view.chat else ""

    def conversations(self) -> dict[str, tuple[str, str]]:
        """key -> (title, unread badge) as the list shows them (the row's first line)."""
        assert self.view.chat is not None
        tree = self.view.chat.conversations
        return {iid: (str(tree.item(iid, "text")).split("\n")[0].strip(),
                      str(tree.set(iid, "badge")))
                for iid in tree.get_children()}

    def previews(self) -> dict[str, str]:
        """key -> the preview line under the title (empty when there is none)."""
        assert self.view.chat is not None
        tree = self.view.chat.conversations
        return {iid: str(tree.item(iid, "text")).partition("\n")[2].strip()
                for iid in tree.get_children()}

    def people(self) -> list[str]:
        assert self.view.chat is not None
        return list(self.view.chat.people.get_children())

    def open_direct(self, username: str) -> None:
        """Double-click a person in the people list."""
        assert self.view.chat is not None
        tree = self.view.chat.people
        tree.see(username)
        self.root.update()
        box = tree.bbox(username)
        assert box, f"{username} is not visible in the people list"
        x, y, width, height = (int(v) for v in box)
        for _ in range(2):  # two quick clicks on the row: Tk makes it a <Double-1>
            tree.event_generate("<ButtonPress-1>", x=x + width // 2, y=y + height // 2)
            tree.event_generate("<ButtonRelease-1>", x=x + width // 2, y=y + height // 2)
        self.root.update()

    def select(self, key: str) -> None:
        assert self.view.chat is not None
        self.view.chat.conversations.selection_set(key)
        self.root.update()

    def close(self) -> None:
        """Close the window as the window manager would."""
        if not self.view.closed and self.app.session is not None:
            # a message sent just before the end may still await its ack: let it arrive, so
            # the close box closes rather than asks (the question has tests of its own)
            with contextlib.suppress(AssertionError):
                self.wait(lambda: self.app.unsent_count() == 0, "the last acks", 10)
        session = self.app.session
        if not self.view.closed:
            self.view._close_requested()
        if session is not None:
            assert session.join(5), "the session's threads did not stop"
