"""Rooms in real Tk windows under Xvfb, against the real server and MariaDB: creating a room in
its dialog and chatting there with an invitee, browsing and joining, the members column, the
room menu of an owner and of a member, removal, and refusals shown in words where they arose.

Room names carry a fresh token: the database lives for the module, so rooms of earlier tests
are still there.
"""

from __future__ import annotations

import tkinter as tk
import uuid
from typing import Any

from client.ui.room_dialogs import BrowseRoomsDialog, NewRoomDialog
from client.ui.room_settings import RoomSettingsDialog
from tests.integration.gui.harness import ClientWindow


def token() -> str:
    return uuid.uuid4().hex[:8]


def press(window: ClientWindow, widget: tk.Misc, key: str) -> None:
    widget.focus_force()
    window.root.update()
    widget.event_generate(key, when="tail")
    window.root.update()


def active(window: ClientWindow) -> str:
    model = window.app.model
    return model.active if model is not None else ""


def header(window: ClientWindow) -> str:
    h = window.view.room_header
    return str(h.title.cget("text")) if h is not None and h.winfo_ismapped() else ""


def header_error(window: ClientWindow) -> str:
    h = window.view.room_header
    return str(h.error.cget("text")) if h is not None else ""


def members(window: ClientWindow) -> list[tuple[str, str]]:
    panel = window.view.members
    return panel.rows() if panel is not None and panel.winfo_ismapped() else []


def new_room(window: ClientWindow, name: str, topic: str = "", invite: str = "",
             private: bool = False) -> NewRoomDialog:
    """Ctrl+Shift+N, fill the form, Enter."""
    assert window.view.chat is not None
    press(window, window.view.chat.input, "<Control-N>")
    dialog = window.view.room_dialogs.get("new")
    assert isinstance(dialog, NewRoomDialog), "Ctrl+Shift+N opened no New room dialog"
    dialog.topic.insert(0, topic)
    dialog.invitees.insert(0, invite)
    dialog.set_private(private)
    window.type_and_enter(dialog.name, name)
    return dialog


def two_online(windows: Any) -> tuple[ClientWindow, ClientWindow]:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    alice.wait(lambda: "user2" in alice.people(), "user2 online")
    return alice, bob


def test_create_a_room_invite_and_chat_in_it(windows: Any) -> None:
    alice, bob = two_online(windows)
    name = f"team-{token()}"
    dialog = new_room(alice, name, "release planning", "user2", private=True)
    alice.wait(lambda: active(alice) == name, "the new room to open in user1's window")
    assert not dialog.winfo_exists()
    alice.wait(lambda: header(alice) == f"#{name} · private — release planning", "the header")
    alice.wait(lambda: members(alice) == [("user2", ""), ("user1", "owner")],
               "both members, online, by name, the owner marked")
    bob.wait(lambda: name in bob.conversations(), "the room in user2's list (1010)")
    assert bob.conversations()[name][0] == f"# {name}"
    bob.select(name)
    bob.wait(lambda: header(bob).startswith(f"#{name}"), "the room header in user2's window")
    text = f"hello room {token()}"
    alice.send(text)
    bob.wait(lambda: text in bob.transcript(), "user1's room message in user2's window")
    reply = f"hello back {token()}"
    bob.send(reply)
    alice.wait(lambda: reply in alice.transcript(), "user2's reply in user1's window")
    assert text not in alice.transcript().split(reply)[1]  # once, in order


def test_browse_and_join_a_public_room_members_update(windows: Any) -> None:
    alice, bob = two_online(windows)
    name = f"open-{token()}"
    new_room(alice, name, "anyone welcome", "user3")  # user3 is offline
    alice.wait(lambda: members(alice) == [("user1", "owner"), ("user3", "")],
               "online first (user1), then the offline invitee")
    assert bob.view.chat is not None
    press(bob, bob.view.chat.input, "<Control-B>")
    browse = bob.view.room_dialogs.get("browse")
    assert isinstance(browse, BrowseRoomsDialog), "Ctrl+Shift+B opened no Browse dialog"
    browse.entry.insert(0, name[:9])
    browse.entry.event_generate("<KeyRelease>", keysym="a")
    bob.wait(lambda: browse.rooms() == [name], "the search to find exactly the room")
    assert browse.tree.set(name, "members") == "2" and browse.tree.set(name, "joined") == ""
    assert browse.tree.set(name, "topic") == f"#{name} — anyone welcome"
    press(bob, browse.entry, "<Return>")
    bob.wait(lambda: active(bob) == name, "the joined room to open in user2's window")
    bob.wait(lambda: not browse.winfo_exists(), "the dialog to close after joining")
    alice.wait(lambda: members(alice) == [("user2", ""), ("user1", "owner"), ("user3", "")],
               "user2 in user1's members column at once (1013), online first")
    bob.wait(lambda: [u for u, _ in members(bob)] == ["user2", "user1", "user3"],
             "user2's own members column")


def test_a_member_has_no_settings_and_a_refusal_is_shown_in_words(windows: Any) -> None:
    alice, bob = two_online(windows)
    name = f"menu-{token()}"
    new_room(alice, name, "", "user2")
    alice.wait(lambda: active(alice) == name, "the room open")
    assert alice.view.room_header is not None
    assert alice.view.room_header.menu_labels() == ["Invite people…", "Settings…",
                                                    f"Leave #{name}"]
    bob.wait(lambda: name in bob.conversations(), "the room in user2's list")
    bob.select(name)
    bob.wait(lambda: header(bob).startswith(f"#{name}"), "the header in user2's window")
    bob.wait(lambda: bool(members(bob)), "the members in user2's window")
    assert bob.view.room_header is not None
    labels = bob.view.room_header.menu_labels()
    assert "Settings…" not in labels and f"Leave #{name}" in labels
    bob.view.open_settings()  # even asked for directly, a member gets no settings
    assert "settings" not in bob.view.room_dialogs
    # a second room of the same name: the server's refusal in words, in the dialog
    dialog = new_room(alice, name)
    alice.wait(lambda: "taken" in str(dialog.error.cget("text")), "the refusal in the dialog")
    assert str(dialog.error.cget("text")).startswith("That name is taken by another room")
    dialog.close()
    # a member asking an owner's thing directly: refused, said under the header
    bob.app.set_topic(name, "hijacked")
    bob.wait(lambda: "only an owner" in header_error(bob), "the refusal under user2's header")
    assert "hijacked" not in header(alice)


def test_removing_a_member_closes_the_room_in_their_window(windows: Any) -> None:
    alice, bob = two_online(windows)
    name = f"crew-{token()}"
    new_room(alice, name, "", "user2")
    bob.wait(lambda: name in bob.conversations(), "the room in user2's list")
    bob.select(name)
    bob.wait(lambda: active(bob) == name, "user2 in the room")
    alice.wait(lambda: len(members(alice)) == 2, "two members in user1's column")
    alice.view.open_settings()
    settings = alice.view.room_dialogs.get("settings")
    assert isinstance(settings, RoomSettingsDialog)
    assert settings.member_names() == ["user2", "user1"]
    settings.tree.selection_set("user2")
    alice.root.update()
    assert settings.remove_button.instate(["!disabled"])
    settings.remove_button.invoke()
    bob.wait(lambda: name not in bob.conversations(), "the room gone from user2's list")
    assert active(bob) == "lobby" and header(bob) == ""
    bob.wait(lambda: f"user1 removed you from #{name}." in bob.transcript(),
             "the line in words in user2's window")
    alice.wait(lambda: settings.member_names() == ["user1"], "the settings dialog updated")
    alice.wait(lambda: members(alice) == [("user1", "owner")], "user1's column updated")
    settings.close()


def test_owner_settings_topic_role_and_a_refused_rename(windows: Any) -> None:
    alice, bob = two_online(windows)
    name, other = f"desk-{token()}", f"taken-{token()}"
    alice.app.create_room(other, "", False, "")
    alice.wait(lambda: active(alice) == other, "the first room open")
    new_room(alice, name, "old topic", "user2")
    alice.wait(lambda: active(alice) == name, "the second room open")
    bob.wait(lambda: name in bob.conversations(), "the room in user2's list")
    bob.select(name)
    bob.wait(lambda: header(bob) == f"#{name} — old topic", "user2's header")
    alice.wait(lambda: len(members(alice)) == 2, "both members in user1's column")
    alice.view.open_settings()
    settings = alice.view.room_dialogs.get("settings")
    assert isinstance(settings, RoomSettingsDialog)
    settings.topic.delete(0, "end")
    alice.type_and_enter(settings.topic, "new topic")
    bob.wait(lambda: header(bob) == f"#{name} — new topic", "the new topic in user2's header")
    settings.tree.selection_set("user2")
    alice.root.update()
    settings.owner_button.invoke()
    bob.wait(lambda: bob.view.room_header is not None
             and "Settings…" in bob.view.room_header.menu_labels(), "user2's menu as an owner")
    alice.wait(lambda: members(alice) == [("user2", "owner"), ("user1", "owner")],
               "both marked owner in user1's column")
    settings.name.delete(0, "end")
    alice.type_and_enter(settings.name, other)
    alice.wait(lambda: "taken" in str(settings.error.cget("text")), "the refused rename")
    assert active(alice) == name
    settings.close()
