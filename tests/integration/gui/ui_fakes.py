"""A stand-in controller for driving ``TkView`` alone (no server): it records what it is told."""

from __future__ import annotations

from typing import Literal


class RecordingController:
    """Implements ``client.ui.window.Controller`` and remembers each call."""

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

    def search_people(self, prefix: str, after: str) -> None:
        self.calls.append(("search_people", (prefix, after)))

    def window_focus(self, focused: bool) -> None:
        self.calls.append(("window_focus", focused))

    def reading_newest(self) -> None:
        self.calls.append(("reading_newest", None))

    def named(self, name: str) -> list[object]:
        return [value for called, value in self.calls if called == name]
