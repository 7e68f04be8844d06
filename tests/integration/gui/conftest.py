"""Fixtures for the GUI tests: Xvfb, one Tk root, the real server on real MariaDB, demo users.

``db_params`` (a ``server.store.DbParams``: a fresh database per test module on the private
test MariaDB) comes from ``tests/conftest.py``. The server runs as a subprocess exactly as a
person would start it (``python -m server serve``), with its own key pair in a temporary
directory.
"""

from __future__ import annotations

import os
import shutil
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.trust import config_dir
from client.ui.theme import setup_fonts, setup_style
from tests.integration.gui.harness import ClientWindow, ServerProcess, Xvfb, db_env, write_keypair


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/gui" in str(item.fspath):
            item.add_marker(pytest.mark.gui)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """A private X display for the whole session; DISPLAY points at it while it runs."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (apt-get install xvfb): the GUI tests need it")
    server = Xvfb("1920x1200x24").start()  # room for a 2x window
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = server.display
    try:
        yield server.display
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous


@pytest.fixture(scope="session")
def tk_root(xvfb: str) -> Iterator[tk.Tk]:
    """One Tk interpreter; every client window is a Toplevel of it (one thread, one loop)."""
    root = tk.Tk()
    root.withdraw()
    yield root
    root.destroy()


@pytest.fixture(scope="module")
def demo_users(db_params: Any) -> tuple[tuple[str, str], ...]:
    """user1..3 with password 111111, as key accounts (``init-db --demo`` makes them so).

    The same accounts as ``conftest_server.demo_db``, but derived at the default cost: the
    server here is a separate process with default settings. (Imported here, not at the top,
    so that the modules registering ``conftest_server`` as a plugin still get it
    assertion-rewritten.)
    """
    from server.options import ServerOptions
    from tests.integration.conftest_server import DEMO_USERS, seed_demo_users

    seed_demo_users(db_params, "", key_options=ServerOptions())  # the client logs in with keys
    return DEMO_USERS


@pytest.fixture(scope="session")
def server_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("server-keys")
    write_keypair(directory)
    return directory


@pytest.fixture
def chat_server(
    db_params: Any, demo_users: Any, server_keys: Path, tmp_path: Path
) -> Iterator[ServerProcess]:
    """A fresh server process per test (the restart test stops and starts its own)."""
    server = ServerProcess(server_keys, db_env(db_params), tmp_path / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def windows(
    tk_root: tk.Tk, chat_server: ServerProcess, tmp_path: Path
) -> Iterator[Any]:
    """A factory for client windows; every window is closed (logout, threads joined) after."""
    opened: list[ClientWindow] = []

    def open_window(username: str, **options: Any) -> ClientWindow:
        options.setdefault("project_key", chat_server.public_key_path)
        config = options.pop("config", tmp_path / "config")
        window = ClientWindow(tk_root, chat_server.port, config, username, **options)
        opened.append(window)
        return window

    yield open_window
    for window in opened:
        window.close()
    tk_root.update()


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The client's config directory under a temporary XDG_CONFIG_HOME, never the real one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    directory = config_dir()
    assert directory.is_relative_to(tmp_path)
    return directory


@pytest.fixture
def top(tk_root: tk.Tk) -> Iterator[tk.Toplevel]:
    """A styled window for widget tests (the named fonts made too), destroyed after."""
    setup_fonts(tk_root)
    setup_style(tk_root)
    window = tk.Toplevel(tk_root)
    window.geometry("700x500")
    yield window
    window.destroy()
    tk_root.update()
