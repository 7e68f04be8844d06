"""A stand-in controller for driving ``TkView`` alone (no server): it records what it is told."""

from __future__ import annotations

from typing import Literal


class RecordingController:
    """Implements ``client.ui.window.Controller`` (room actions included) and remembers each
    call."""

    def __init__(self, unsent: int = 0) -> None:
        self.username = "user1"
        self.unsent = unsent
        self.calls: list[tuple[str, object]] = []

    def login(self, address: str, username: str, password: str) -> None:
        self.calls.append(("login", (address, username)))

    def logout(self) -> None:
        self.calls.append(("logout", None))

    def quit(self, unsent: Literal["keep", "discard"] = "keep") -> None:
        self.calls.append(("quit", unsent))

    def quit_when_sent(self) -> None:
        self.calls.append(("quit_when_sent", None))

    def unsent_count(self) -> int:
        return self.unsent

    def set_draft(self, key: str, text: str) -> None:
        self.calls.append(("draft", (key, text)))

    def send_text(self, text: str) -> bool:
        self.calls.append(("send", text))
        return True

    def select_conversation(self, key: str) -> None:
        self.calls.append(("select", key))

    def open_direct(self, username: str) -> None:
        self.calls.append(("open_direct", username))

    def load_older(self) -> None:
        self.calls.append(("load_older", None))

    def reconnect_now(self) -> None:
        self.calls.append(("reconnect_now", None))

    def open_account(self) -> None:
        self.calls.append(("open_account", None))

    def change_nickname(self, nickname: str) -> None:
        self.calls.append(("change_nickname", nickname))

    def change_password(self, current: str, new: str, again: str) -> None:
        self.calls.append(("change_password", None))  # never the passwords

    def refresh_sessions(self) -> None:
        self.calls.append(("refresh_sessions", None))

    def sign_out_others(self) -> None:
        self.calls.append(("sign_out_others", None))

    def admin_action(self, action: str, username: str) -> None:
        self.calls.append(("admin_action", (action, username)))

    def create_invitation(self) -> None:
        self.calls.append(("create_invitation", None))

    # --- rooms (client.ui.room_view.RoomController) ----------------------------------------

    def browse_rooms(self, prefix: str) -> None:
        self.calls.append(("browse_rooms", prefix))

    def more_rooms(self) -> None:
        self.calls.append(("more_rooms", None))

    def join_room(self, name: str) -> None:
        self.calls.append(("join_room", name))

    def create_room(self, name: str, topic: str, private: bool, invitees: str) -> None:
        self.calls.append(("create_room", (name, topic, private, invitees)))

    def invite(self, room: str, invitees: str) -> None:
        self.calls.append(("invite", (room, invitees)))

    def leave_room(self, room: str) -> None:
        self.calls.append(("leave_room", room))

    def set_topic(self, room: str, topic: str) -> None:
        self.calls.append(("set_topic", (room, topic)))

    def rename_room(self, room: str, new_name: str) -> None:
        self.calls.append(("rename_room", (room, new_name)))

    def remove_member(self, room: str, username: str) -> None:
        self.calls.append(("remove_member", (room, username)))

    def set_role(self, room: str, username: str, role: str) -> None:
        self.calls.append(("set_role", (room, username, role)))

    def open_verify(self) -> None:
        self.calls.append(("open_verify", None))

    def mark_verified(self, username: str) -> None:
        self.calls.append(("mark_verified", username))

    def accept_key_change(self, username: str) -> None:
        self.calls.append(("accept_key_change", username))

    def reset_with_code(self, address: str, username: str, code: str, new: str,
                        again: str) -> None:
        self.calls.append(("reset_with_code", (address, username)))  # never the secrets

    def search_people(self, prefix: str, after: str) -> None:
        self.calls.append(("search_people", (prefix, after)))

    def window_focus(self, focused: bool) -> None:
        self.calls.append(("window_focus", focused))

    def reading_newest(self) -> None:
        self.calls.append(("reading_newest", None))

    def named(self, name: str) -> list[object]:
        return [value for called, value in self.calls if called == name]
