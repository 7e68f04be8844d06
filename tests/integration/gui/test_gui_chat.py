"""Real Tk windows under Xvfb against the real server and the real MariaDB.

Each test opens client windows in one Tk process (one ``Toplevel`` per user, each with its own
``App`` and session), types into the real widgets, presses Enter, and reads back what a person
would see. Texts carry a fresh token so messages left by earlier tests in the same database
(shown as history) can never satisfy a check by accident.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from typing import Any

from Crypto.PublicKey import RSA

from client.trust import KnownServers


def token() -> str:
    return uuid.uuid4().hex[:10]


def clock_now() -> set[str]:
    """HH:MM now and a few seconds ago (a test may straddle a minute)."""
    now = time.time()
    return {datetime.fromtimestamp(t).strftime("%H:%M") for t in (now - 30, now, now + 5)}


def test_two_users_chat_in_the_lobby(windows: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    assert "wang_yuan (user1)" in str(alice.top.title())
    assert alice.status().startswith("connected · AES-256-GCM · X25519 + RSA-3072 · SHA256:")
    alice.wait(lambda: "user2" in alice.people(), "user2 in user1's people list")
    assert alice.view.chat is not None
    assert str(alice.view.chat.people.item("user2", "text")).strip() == "ding_zhen @user2"
    text = f"hello from user1 {token()}"
    alice.send(text)
    assert alice.view.chat is not None and alice.view.chat.input.get("1.0", "end-1c") == ""
    bob.wait(lambda: text in bob.transcript(), "the message in user2's window")
    lines = bob.transcript().splitlines()
    header = lines[lines.index(text) - 1]
    sender, _, stamp = header.partition("  ")
    assert sender == "wang_yuan @user1"  # the nickname, and the unique username beside it
    assert stamp.strip() in clock_now()
    alice.wait(lambda: f"✓\n{text}" in alice.transcript(), "the ack tick in user1's window")
    assert alice.transcript().count(text) == 1 and bob.transcript().count(text) == 1


def test_direct_message(windows: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    alice.wait(lambda: "user2" in alice.people(), "user2 online")
    alice.open_direct("user2")
    alice.wait(lambda: alice.conversations().get("@user2", ("",))[0] == "@ding_zhen",
               "the direct conversation to open")
    text = f"just between us {token()}"
    alice.send(text)
    bob.wait(lambda: "@user1" in bob.conversations(), "the direct conversation in user2's list")
    bob.wait(lambda: bob.conversations()["@user1"][1] == "1", "an unread count of 1")
    assert text not in bob.transcript()  # user2 is still looking at the lobby
    bob.select("@user1")
    bob.wait(lambda: text in bob.transcript(), "the direct message once opened")
    assert bob.conversations()["@user1"] == ("@wang_yuan", "")


def test_wrong_password_is_explained(windows: Any) -> None:
    alice = windows("user1")
    alice.log_in("not-the-password")
    alice.wait(lambda: alice.login_error, "a login error")
    assert alice.login_error == "Wrong username or password."
    assert alice.app.phase == "login" and alice.view.chat is None


def test_every_refusal_clears_the_password_even_a_lockout(windows: Any) -> None:
    """Typing the right password after a lockout must not append it to the refused one
    ("bad5" + "111111"): the field is empty after any refusal, whatever its wording."""
    ghost = windows("gui_lockout_probe")  # a possible name: delayed like an account
    seen: list[str] = []
    for attempt in range(12):  # the delays double: a refusal comes within a few tries
        login = ghost.view.login
        assert login is not None
        login.entries["password"].focus_force()
        login.entries["password"].insert("end", f"bad{attempt}")  # typed, not replaced
        ghost.root.update()
        login.entries["password"].event_generate("<Return>")
        ghost.wait(lambda: ghost.login_error and ghost.app.phase == "login", "a refusal")
        seen.append(ghost.login_error)
        assert ghost.view.login is not None and ghost.view.login.value("password") == ""
        if ghost.login_error != "Wrong username or password.":
            break
    # the server says how long the delay still runs: the form counts it down
    assert re.fullmatch(r"Too many failed attempts\. Try again in \d+ seconds?\.", seen[-1])


def test_changed_server_key_is_refused(windows: Any, chat_server: Any, tmp_path: Any) -> None:
    config = tmp_path / "seen-before"
    KnownServers(config).remember("127.0.0.1", chat_server.port, RSA.generate(2048).public_key())
    alice = windows("user1", config=config)
    alice.log_in()
    alice.wait(lambda: alice.view.dialogs, "the changed-key dialog")
    dialog = alice.view.dialogs[-1]
    explanation = str(dialog.body.cget("text"))
    assert "man-in-the-middle" in explanation and "known_servers" in explanation
    assert alice.app.session is None  # nothing is sent while the person decides
    dialog.focus_force()
    alice.root.update()
    dialog.event_generate("<Return>")  # Enter is Cancel
    alice.wait(lambda: alice.login_error, "the refusal")
    assert "key has changed" in alice.login_error and alice.app.session is None


def test_a_changed_key_is_accepted_by_typing_the_end_of_its_fingerprint(
    windows: Any, chat_server: Any, tmp_path: Any
) -> None:
    config = tmp_path / "recloned"
    old = RSA.generate(2048).public_key()
    KnownServers(config).remember("127.0.0.1", chat_server.port, old)
    alice = windows("user1", config=config)
    alice.log_in()
    alice.wait(lambda: alice.view.dialogs, "the changed-key dialog")
    dialog = alice.view.dialogs[-1]
    assert dialog.replace_button.instate(["disabled"])
    dialog.confirmation.insert(0, dialog.offered[-7:])  # one character short
    alice.root.update()
    assert dialog.replace_button.instate(["disabled"])
    dialog.confirmation.delete(0, "end")
    dialog.confirmation.insert(0, dialog.offered[-8:])
    alice.root.update()
    assert dialog.replace_button.instate(["!disabled"])
    dialog.replace_button.invoke()
    alice.wait(lambda: alice.app.phase == "online", "user1 online with the new key")
    assert KnownServers(config).lookup("127.0.0.1", chat_server.port) == dialog.offered


def test_wrong_pinned_key_fails_the_identity_check(windows: Any) -> None:
    alice = windows("user1", explicit_key=RSA.generate(2048).public_key())
    alice.log_in()
    alice.wait(lambda: alice.login_error, "the identity failure")
    assert alice.login_error.startswith("The server could not prove its identity")
    assert alice.view.chat is None


def test_cjk_and_emoji_round_trip(windows: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    text = f"你好，世界！中文消息测试 {token()} 😀|%0A|"
    bob.send(text)
    alice.wait(lambda: text in alice.transcript(), "the Chinese message")
    bob.wait(lambda: f"✓\n{text}" in bob.transcript(), "the ack")
    multi = f"第一行 {token()}\n第二行"
    alice.view.chat.input.focus_force()  # Shift+Enter makes a new line, Enter sends
    alice.view.chat.input.insert("end", multi.split("\n")[0])
    alice.view.chat.input.event_generate("<Shift-Return>")
    alice.view.chat.input.insert("end", multi.split("\n")[1])
    alice.view.chat.input.event_generate("<Return>")
    bob.wait(lambda: multi in bob.transcript(), "the two-line message")


def test_restart_while_pending_delivers_exactly_once(windows: Any, chat_server: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    in_flight = f"sent as the server died {token()}"
    alice.send(in_flight)
    chat_server.kill()  # SIGKILL at once: stored or not, the ack may never arrive
    alice.wait(lambda: "reconnecting" in alice.status(), "user1 to notice the server is gone")
    offline = f"typed while the server was down {token()}"
    alice.send(offline)
    alice.wait(lambda: f"sending…\n{offline}" in alice.transcript(), "the message shown pending")
    chat_server.start()
    for text in (in_flight, offline):
        alice.wait(lambda t=text: f"✓\n{t}" in alice.transcript(), "delivery after reconnect", 60)
    for text in (in_flight, offline):
        bob.wait(lambda t=text: t in bob.transcript(), "user2 to receive it", 60)
    bob.wait(lambda: bob.status().startswith("connected"), "user2 reconnected", 60)
    settle = time.monotonic() + 2
    alice.wait(lambda: time.monotonic() > settle, "late duplicates, if any")
    late = windows("user3")  # a third window reads history: what was stored
    late.log_in_and_wait()
    late.wait(lambda: offline in late.transcript(), "the messages in history")
    for text in (in_flight, offline):
        assert alice.transcript().count(text) == 1
        assert late.transcript().count(text) == 1
        assert bob.transcript().count(text) == 1


def test_input_limit_is_enforced_visibly(windows: Any) -> None:
    alice = windows("user1")
    alice.log_in_and_wait()
    chat = alice.view.chat
    assert chat is not None
    chat.input.insert("1.0", "x" * 4001)
    alice.root.update()
    assert str(chat.counter.cget("text")) == "4001/4000"
    assert chat.send_button.instate(["disabled"])
    chat.input.focus_force()
    chat.input.event_generate("<Return>")
    alice.root.update()
    assert chat.input.get("1.0", "end-1c") == "x" * 4001  # nothing was sent or lost
    chat.input.delete("1.0", "1.1")
    alice.root.update()
    assert str(chat.counter.cget("text")) == "4000/4000" and chat.send_button.instate(["!disabled"])


def test_scrolling_to_the_top_loads_older_history(windows: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    tag = token()
    texts = [f"history {tag} #{i:02d}" for i in range(55)]
    for text in texts:
        alice.send(text)
    alice.wait(lambda: f"✓\n{texts[-1]}" in alice.transcript(), "all 55 acked")
    bob.log_in_and_wait()
    bob.wait(lambda: texts[-1] in bob.transcript(), "the newest page of history")
    assert texts[0] not in bob.transcript()  # one page is 50 messages
    view = bob.view.chat.messages.text
    view.yview_moveto(0.0)
    view.event_generate("<Button-4>")  # the mouse wheel, upwards, at the top
    bob.wait(lambda: texts[0] in bob.transcript(), "the older page")
    shown = bob.transcript()
    assert [shown.index(t) for t in texts] == sorted(shown.index(t) for t in texts)
    assert all(shown.count(t) == 1 for t in texts)
