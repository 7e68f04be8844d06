"""Nothing typed is lost, seen through the real widgets under Xvfb: the close dialog, one
draft per conversation in the input box, unsent messages kept across a closed window and
delivered once at the next login, and code shown in a monospace block with its indentation.

Client files live under a temporary ``XDG_CONFIG_HOME``, never the real one.
"""

from __future__ import annotations

import json
import stat
import tkinter as tk
import tkinter.font as tkfont
import uuid
from pathlib import Path
from typing import Any

import pytest

from client.formatting import Line
from client.renderer import Person
from client.stash import STASH_SUBDIR, stash_name
from client.ui.chat import ChatCallbacks, ChatFrame
from client.ui.dialogs import CloseChoice, UnsentDialog
from client.ui.messages import MessageView
from client.ui.theme import PALETTE, setup_fonts
from tests.integration.gui.harness import pump_until


def token() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def config(xdg: Path) -> Path:
    """The client's config directory (under the temporary XDG_CONFIG_HOME of ``xdg``)."""
    return xdg


# --- widgets alone ---------------------------------------------------------------------------


def answer_with(top: tk.Toplevel, key: str, focus: str = "") -> list[CloseChoice]:
    answers: list[CloseChoice] = []
    dialog = UnsentDialog(top, 2, answers.append)
    top.update()
    assert dialog.focus_lastfor() is dialog.keep_button  # the default loses nothing
    button = {"discard": dialog.discard_button, "wait": dialog.wait_button}.get(
        focus, dialog.keep_button)
    button.focus_force()  # Xvfb has no window manager to give the dialog focus
    top.update()
    button.event_generate(key, when="tail")
    pump_until(top, lambda: answers, 10, "an answer")
    return answers


def test_the_close_dialog_keeps_messages_unless_discarding_is_chosen(top: tk.Toplevel) -> None:
    assert answer_with(top, "<Escape>") == ["keep"]
    assert answer_with(top, "<Return>") == ["keep"]
    assert answer_with(top, "<Escape>", focus="discard") == ["keep"]  # Esc is always safe
    assert answer_with(top, "<Return>", focus="wait") == ["wait"]
    assert answer_with(top, "<Return>", focus="discard") == ["discard"]


def test_the_close_dialog_says_what_each_choice_does(top: tk.Toplevel) -> None:
    dialog = UnsentDialog(top, 3, lambda _choice: None)
    body = str(dialog.body.cget("text"))
    assert "discarded and never sent" in body and "next time you log in" in body
    assert "Quit anyway" in str(dialog.discard_button.cget("text"))
    dialog.destroy()


def test_fenced_code_is_monospace_and_keeps_its_indentation(top: tk.Toplevel) -> None:
    view = MessageView(top, setup_fonts(top), lambda: None)
    view.pack(fill="both", expand=True)
    text = "look:\n```python\ndef f(x):\n    return x\n```\n  indented prose"
    view.render([Line("e1", "message", "10:00", "amy", text, own=True, state="pending")], None)
    top.update()
    shown = view.plain_text().splitlines()
    assert shown[1:] == ["look:", "def f(x):", "    return x", "  indented prose"]
    t = view.text
    code_lines = [n for n in range(1, len(shown) + 1) if "code" in t.tag_names(f"{n}.0")]
    assert code_lines == [3, 4]
    assert "body" in t.tag_names("4.0")  # still indented and banded as part of the body
    mono = tkfont.nametofont(str(t.tag_cget("code", "font")), root=top)
    assert mono.metrics("fixed") == 1
    assert tkfont.nametofont("ChatBody", root=top).metrics("fixed") == 0
    assert str(t.tag_cget("code", "background")) == PALETTE.code_background
    # the code's background is drawn over the own-message band
    assert t.tag_names("4.0").index("code") > t.tag_names("4.0").index("own_body")


# --- against the real server -----------------------------------------------------------------


def input_of(window: Any) -> str:
    assert window.view.chat is not None
    return str(window.view.chat.input.get("1.0", "end-1c"))


def type_into(window: Any, text: str) -> None:
    assert window.view.chat is not None
    window.view.chat.input.focus_force()
    window.view.chat.input.insert("end", text)


def test_each_conversation_has_its_own_draft(windows: Any, config: Path) -> None:
    alice, bob = windows("user1", config=config), windows("user2", config=config)
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    alice.wait(lambda: "user2" in alice.people(), "user2 online")
    room = f"  for the whole room {token()}"
    type_into(alice, room)  # no update: the switch comes before <<Modified>> is handled
    alice.open_direct("user2")
    alice.wait(lambda: alice.app.model.active == "@user2", "the direct conversation")
    assert input_of(alice) == ""  # the room's draft cannot go to user2 by accident
    private = f"only for you {token()}"
    type_into(alice, private)
    alice.select("lobby")
    alice.wait(lambda: input_of(alice) == room, "the room's draft back in the box")
    alice.select("@user2")
    alice.wait(lambda: input_of(alice) == private, "the private draft back in the box")
    alice.view.chat.input.event_generate("<Return>")
    bob.wait(lambda: "@user1" in bob.conversations(), "the direct message")
    alice.select("lobby")
    alice.wait(lambda: input_of(alice) == room, "the room's draft still there")
    assert room.strip() not in bob.transcript()


def test_closing_with_unsent_messages_keeps_them_for_the_next_login(
    windows: Any, chat_server: Any, config: Path
) -> None:
    alice = windows("user1", config=config)
    alice.log_in_and_wait()
    chat_server.kill()
    alice.wait(lambda: "reconnecting" in alice.status(), "user1 to notice the server is gone")
    kept = f"    indented, typed offline {token()}\n      and more"
    alice.send(kept)
    alice.wait(lambda: f"sending…\n{kept}" in alice.transcript(), "the message shown pending")
    draft = f"half a thought {token()}"
    type_into(alice, draft)
    alice.view._close_requested()  # the close box
    alice.wait(lambda: any(isinstance(d, UnsentDialog) for d in alice.view.dialogs),
               "the question about the unsent message")
    dialog = next(d for d in alice.view.dialogs if isinstance(d, UnsentDialog))
    assert not alice.view.closed  # nothing closes before the person answers
    dialog.keep_button.focus_force()
    alice.root.update()
    dialog.keep_button.event_generate("<Escape>", when="tail")
    alice.wait(lambda: alice.view.closed, "the window to close")
    path = config / STASH_SUBDIR / stash_name("127.0.0.1", chat_server.port, "user1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [m["text"] for m in json.loads(path.read_text(encoding="utf-8"))["messages"]] == [kept]

    chat_server.start()
    again = windows("user1", config=config)
    again.log_in_and_wait()
    again.wait(lambda: f"✓\n{kept}" in again.transcript(), "the kept message delivered")
    again.wait(lambda: input_of(again) == draft, "the draft back in the box")
    again.wait(lambda: not path.exists() or "messages\": []" in path.read_text(encoding="utf-8"),
               "the stash to forget the delivered message")
    reader = windows("user3", config=config)  # history: what the server stored
    reader.log_in_and_wait()
    reader.wait(lambda: kept in reader.transcript(), "the message in history, indented")
    assert reader.transcript().count(kept) == 1 and again.transcript().count(kept) == 1


def test_waiting_keeps_the_window_open_until_the_message_is_sent(
    windows: Any, chat_server: Any, config: Path
) -> None:
    alice = windows("user1", config=config)
    alice.log_in_and_wait()
    chat_server.kill()
    alice.wait(lambda: "reconnecting" in alice.status(), "user1 to notice the server is gone")
    text = f"wait for me {token()}"
    alice.send(text)
    alice.view._close_requested()
    alice.wait(lambda: any(isinstance(d, UnsentDialog) for d in alice.view.dialogs),
               "the question about the unsent message")
    dialog = next(d for d in alice.view.dialogs if isinstance(d, UnsentDialog))
    dialog.wait_button.focus_force()
    alice.root.update()
    dialog.wait_button.event_generate("<Return>", when="tail")
    alice.wait(lambda: "closing once 1" in alice.status(), "the window to say it waits")
    assert not alice.view.closed
    chat_server.start()
    alice.wait(lambda: alice.view.closed, "the window to close once the message is acked", 60)
    reader = windows("user2", config=config)
    reader.log_in_and_wait()
    reader.wait(lambda: text in reader.transcript(), "the message stored")
    path = config / STASH_SUBDIR / stash_name("127.0.0.1", chat_server.port, "user1")
    assert not path.exists()


def test_a_keystroke_just_before_a_switch_stays_with_its_conversation(top: tk.Toplevel) -> None:
    """``<<Modified>>`` is queued, and opening a person is handled at once: the box
    must report its text for the old conversation before the switch replaces it."""
    drafts: dict[str, str] = {"lobby": "", "@user2": "earlier private draft"}
    frame: ChatFrame | None = None

    def select(key: str) -> None:
        assert frame is not None
        frame.show_draft(key, drafts[key])

    def draft(key: str, text: str) -> None:
        drafts[key] = text

    frame = ChatFrame(top, setup_fonts(top), ChatCallbacks(
        send=lambda _t: True, select=select, open_direct=lambda u: select("@" + u),
        load_older=lambda: None, logout=lambda: None, draft=draft))
    frame.pack(fill="both", expand=True)
    frame.set_people([Person("user1", "wang_yuan", me=True), Person("user2", "ding_zhen")])
    frame.show_draft("lobby", "")
    top.update()
    frame.input.insert("end", "typed for the room")  # its <<Modified>> is still queued
    frame.people.focus("user2")
    frame.people.focus_force()
    frame.people.event_generate("<Return>")  # opening a person is handled now, ahead of it
    top.update()
    assert frame.draft_key == "@user2"
    assert frame.input.get("1.0", "end-1c") == "earlier private draft"
    assert drafts == {"lobby": "typed for the room", "@user2": "earlier private draft"}
