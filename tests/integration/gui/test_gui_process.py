"""``python -m client`` as a person starts it, driven with xdotool: the real entry point.

The in-process tests drive widgets directly; this one checks what they cannot: that the
command line reads ``CHAT_*`` through ``config``, trusts the set-up key of a local server,
opens a window a person can type into, and logs in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gui.harness import REPO


def xdotool(*args: str, timeout: float = 20.0) -> str:
    result = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=timeout)
    return result.stdout.strip() if result.returncode == 0 else ""


def wait_window(name: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = xdotool("search", "--name", name)
        if found:
            return found.splitlines()[0]
        time.sleep(0.1)
    raise AssertionError(f"no window named {name!r} within {timeout} s")


def test_client_process_logs_in(xvfb: str, chat_server: Any, tmp_path: Path) -> None:
    if shutil.which("xdotool") is None:
        pytest.fail("xdotool is not installed (apt-get install xdotool)")
    env = {
        **os.environ, "DISPLAY": xvfb, "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CHAT_HOST": "127.0.0.1", "CHAT_PORT": str(chat_server.port),
        "CHAT_KEY_DIR": str(chat_server.key_dir),
    }
    client = subprocess.Popen([sys.executable, "-m", "client", "--user", "user2"], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        window = wait_window("log in$")
        xdotool("windowfocus", "--sync", window)
        xdotool("type", "--delay", "20", "111111")
        xdotool("key", "Return")
        wait_window("^ding_zhen \\(user2\\)")
        known = (tmp_path / "config" / "chat-envelope" / "known_servers").read_text()
        assert f"127.0.0.1:{chat_server.port} SHA256:" in known  # the set-up key, recorded
    finally:
        client.terminate()  # our own child, by PID
        try:
            client.wait(10)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()
