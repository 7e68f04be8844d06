"""The window tells the truth about the connection, against a real server process: a server
paused with SIGSTOP (its socket stays open) shows "not responding" within seconds and recovers
on SIGCONT; while the server is down the people list is "last known" and "Reconnect now"
brings the window back as soon as it is up again.
"""

from __future__ import annotations

import os
import signal
import uuid
from typing import Any


def token() -> str:
    return uuid.uuid4().hex[:10]


def test_a_paused_server_shows_not_responding_then_recovers(
    windows: Any, chat_server: Any
) -> None:
    alice = windows("user1")
    alice.log_in_and_wait()
    assert alice.view.chat is not None
    pid = chat_server.process.pid
    os.kill(pid, signal.SIGSTOP)  # hung, not closed: no reset, no FIN
    try:
        text = f"sent to a paused server {token()}"
        alice.send(text)
        alice.wait(lambda: alice.status().startswith("not responding"),
                   "\"not responding\" while the server is paused", 15)
        assert alice.app.phase == "online"  # not given up yet: it may come back
        assert f"sending…\n{text}" in alice.transcript()
    finally:
        os.kill(pid, signal.SIGCONT)
    alice.wait(lambda: f"✓\n{text}" in alice.transcript(), "the ack once it resumes", 30)
    alice.wait(lambda: alice.status().startswith("connected"), "green again", 30)


def test_offline_people_are_last_known_and_reconnect_now_works(
    windows: Any, chat_server: Any
) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    alice.wait(lambda: "user2" in alice.people(), "user2 in the people list")
    chat = alice.view.chat
    assert chat is not None
    assert not chat.reconnect_button.winfo_ismapped()
    before = presence_lines(alice.transcript())  # "ding_zhen joined", from logging in
    chat_server.kill()
    alice.wait(lambda: "reconnecting" in alice.status(), "user1 to notice the server is gone")
    assert "LAST KNOWN" in str(chat.people_heading.cget("text"))
    assert "user2" in alice.people()
    assert "last_known" in chat.people.item("user2", "tags")
    alice.wait(lambda: chat.reconnect_button.winfo_ismapped(), "the Reconnect now button")
    chat_server.start()
    chat.reconnect_button.invoke()
    alice.wait(lambda: alice.app.phase == "online", "user1 back online at once", 15)
    assert not chat.reconnect_button.winfo_ismapped() or alice.app.phase != "waiting"
    alice.wait(lambda: str(chat.people_heading.cget("text")) == "PEOPLE ONLINE",
               "the people list live again")
    bob.wait(lambda: bob.app.phase == "online", "user2 back", 60)
    alice.wait(lambda: "user2" in alice.people(), "user2 listed again", 30)
    assert presence_lines(alice.transcript()) == before  # their return is not news


def presence_lines(transcript: str) -> list[str]:
    return [ln for ln in transcript.splitlines() if " joined" in ln or " left" in ln]


def test_a_database_outage_shows_on_the_pending_message_and_leaves_nothing(
    windows: Any, chat_server: Any, db_control: Any
) -> None:
    alice = windows("user1")
    alice.log_in_and_wait()
    db_control.stop()
    try:
        text = f"typed during the outage {token()}"
        alice.send(text)
        alice.wait(lambda: f"retrying…\n{text}" in alice.transcript(),
                   "\"retrying…\" on the pending message", 30)
        assert "cannot store" not in alice.transcript()
    finally:
        db_control.start()
    alice.wait(lambda: f"✓\n{text}" in alice.transcript(), "the message stored once back", 60)
    shown = alice.transcript()
    assert "retrying" not in shown and "cannot store" not in shown  # nothing left behind
    assert shown.count(text) == 1
