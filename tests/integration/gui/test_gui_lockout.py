"""The login form after "too many attempts": the remaining wait counts down, Log in stays
disabled (Enter too) until it reaches zero, and the wrong password is gone from the field."""

from __future__ import annotations

import tkinter as tk
from typing import Any

from client.ui.login import LoginFrame
from tests.integration.gui.harness import pump_until


def test_the_wait_counts_down_and_log_in_comes_back(top: tk.Toplevel) -> None:
    submitted: list[tuple[str, str, str]] = []
    form = LoginFrame(top, lambda *fields: submitted.append(fields))
    form.pack(fill="both", expand=True)
    form.set_values("127.0.0.1:8090", "user1")
    form.entries["password"].insert(0, "wrong")
    form.set_error("Too many failed attempts. Try again in a moment.", clear_password=True,
                   wait_s=2)
    top.update()
    assert str(form.error.cget("text")) == "Too many failed attempts. Try again in 2 seconds."
    assert form.button.instate(["disabled"]) and form.value("password") == ""
    form.entries["password"].insert(0, "111111")
    form._submit()
    assert submitted == []  # refused before it reaches the server
    pump_until(top, lambda: form.wait_left == 1, 3, "one second later")
    assert str(form.error.cget("text")) == "Too many failed attempts. Try again in 1 second."
    pump_until(top, lambda: not form.button.instate(["disabled"]), 3, "Log in again")
    assert str(form.error.cget("text")) == "Too many failed attempts. You can try again now."
    form._submit()
    assert submitted == [("127.0.0.1:8090", "user1", "111111")]


def test_a_real_lockout_shows_the_servers_wait(windows: Any) -> None:
    """Wrong passwords until the server delays this name here; its 1001 carries the wait."""
    alice = windows("user2")
    for _ in range(10):  # the delays double; one soon outlasts a round trip
        alice.log_in("wrong")
        alice.wait(lambda: alice.login_error and alice.app.phase == "login", "the refusal")
        if "Try again in" in alice.login_error:
            break
    assert "Too many failed attempts. Try again in" in alice.login_error
    login = alice.view.login
    assert login is not None and login.wait_left >= 1 and login.button.instate(["disabled"])
