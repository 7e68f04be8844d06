"""Notifications in real windows: the unread total in the title, the toast for a direct
message or a mention while the window is not focused (a click opens the conversation), and
muted conversations that stay quiet. The desktop service is switched off so the toast (the
fallback every machine has) is what shows; whether the window has the focus is decided by the
test, since Xvfb without a window manager gives the focus to whichever window asked last."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from client.notify import Notice
from client.prefs import PrefsFile
from client.ui.notifier import MUTED_MARK, WindowAlerts, desktop_available
from tests.integration.gui.harness import pump_until


def token() -> str:
    return uuid.uuid4().hex[:10]


def unfocused(window: Any) -> None:
    window.view.alerts.use_desktop = False
    window.view.alerts.focused = lambda: False


def test_a_direct_message_shows_a_toast_and_a_click_opens_it(windows: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    unfocused(alice)
    bob.wait(lambda: "user1" in bob.people(), "user1 online")
    bob.open_direct("user1")
    bob.wait(lambda: bob.app.model.active == "@user1", "the direct conversation")
    text = f"are you there? {token()}"
    bob.send(text)
    alerts = alice.view.alerts
    alice.wait(lambda: alerts.toast is not None and alerts.toast.winfo_ismapped(), "a toast")
    toast = alerts.toast
    assert str(toast.heading.cget("text")) == "ding_zhen @user2"
    assert str(toast.body.cget("text")) == text
    assert str(alice.top.title()).startswith("(1) ")  # unread in the title
    assert alice.conversations()["@user2"][1] == "1"
    toast.body.event_generate("<Button-1>")
    alice.root.update()
    alice.wait(lambda: alice.app.model.active == "@user2", "the click to open the conversation")
    alice.wait(lambda: text in alice.transcript(), "the message shown")
    assert alerts.toast is None
    assert not str(alice.top.title()).startswith("(")


def test_no_toast_while_focused_but_the_title_counts(windows: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    alice.view.alerts.use_desktop = False
    alice.view.alerts.focused = lambda: True
    bob.wait(lambda: "user1" in bob.people(), "user1 online")
    bob.open_direct("user1")
    bob.wait(lambda: bob.app.model.active == "@user1", "the direct conversation")
    bob.send(f"quiet {token()}")
    alice.wait(lambda: alice.conversations().get("@user2", ("", ""))[1] == "1", "the badge")
    assert str(alice.top.title()).startswith("(1) ")
    assert alice.view.alerts.shown == [] and alice.view.alerts.toast is None


def test_a_muted_conversation_gives_no_toast_and_no_title_count(windows: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    unfocused(alice)
    alice.wait(lambda: "user2" in alice.people(), "user2 online")
    alice.open_direct("user2")
    alice.wait(lambda: alice.app.model.active == "@user2", "the direct conversation")
    assert alice.view.chat is not None
    alice.view.chat.input.focus_force()
    alice.root.update()
    alice.view.chat.input.event_generate("<Control-m>")  # mute the open conversation
    alice.root.update()
    assert alice.view.prefs.current.muted == ("@user2",)
    assert alice.conversations()["@user2"][0].endswith(MUTED_MARK)
    alice.select("lobby")
    alice.wait(lambda: alice.app.model.active == "lobby", "back in the lobby")
    bob.wait(lambda: "user1" in bob.people(), "user1 online")
    bob.open_direct("user1")
    bob.wait(lambda: bob.app.model.active == "@user1", "the direct conversation")
    text = f"muted {token()}"
    bob.send(text)
    alice.wait(lambda: alice.conversations().get("@user2", ("", ""))[1] == "1", "the badge")
    assert alice.view.alerts.shown == [] and alice.view.alerts.toast is None
    assert not str(alice.top.title()).startswith("(")  # muted: not in the title's total
    # a mention in the lobby (not muted) still notifies
    bob.select("lobby")
    bob.send(f"wang_yuan, see the DM {token()}")
    alerts = alice.view.alerts
    alice.wait(lambda: alerts.toast is not None, "a toast for the mention")
    assert alerts.shown[-1].conversation == "lobby"
    assert str(alerts.toast.heading.cget("text")) == "ding_zhen @user2 in lobby"
    alice.view.chat.input.focus_force()
    alice.root.update()
    alice.view.chat.input.event_generate("<Escape>")  # Esc in the window dismisses it
    alice.root.update()
    assert alerts.toast is None


def fake_notify_send(directory: Path, script: str) -> None:
    tool = directory / "notify-send"
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(0o755)


def test_a_click_on_the_desktop_notification_opens_the_conversation(
    top: Any, tmp_path: Path, monkeypatch: Any,
) -> None:
    """With a session bus, ``notify-send --wait`` shows it; its "default" answer is a click."""
    fake_notify_send(tmp_path, 'echo "$@" > "$(dirname "$0")/args"; echo default')
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    opened: list[str] = []
    alerts = WindowAlerts(top, PrefsFile(None), opened.append, lambda: None)
    assert alerts.use_desktop
    alerts.notify(Notice("@user2", "ding_zhen @user2", "hello"))
    pump_until(top, lambda: opened, 10, "the click to come back")
    assert opened == ["@user2"] and alerts.toast is None
    assert "--action=default=Open --wait" in (tmp_path / "args").read_text()


def test_a_failing_desktop_service_falls_back_to_the_toast(
    top: Any, tmp_path: Path, monkeypatch: Any,
) -> None:
    fake_notify_send(tmp_path, "exit 1")
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    alerts = WindowAlerts(top, PrefsFile(None), lambda _key: None, lambda: None)
    alerts.notify(Notice("@user2", "ding_zhen @user2", "hello"))
    pump_until(top, lambda: alerts.toast is not None, 10, "the toast instead")
    assert not alerts.use_desktop
    alerts.toast.dismiss()


def test_without_a_session_bus_it_is_the_toast(monkeypatch: Any) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert not desktop_available()
