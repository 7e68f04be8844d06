"""What the rooms and the conversation list ask the database (``server.store_rooms`` is the
implementation; unit tests use an in-memory fake)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.store_rooms import ConversationRow, RoomRecord


class RoomStore(Protocol):
    """Rooms, memberships, the directory and read positions."""

    def user_exists(self, username: str) -> bool: ...

    def create_room(self, name: str, topic: str, private: bool, owner: str, now_ms: int) -> int:
        """The new room's id; ``NameTaken`` if the name is in use."""
        ...

    def load_room(self, name: str) -> RoomRecord | None: ...

    def rooms_of(self, username: str) -> int: ...

    def add_member(self, room_id: int, username: str, history_from_now: bool,
                   now_ms: int) -> int: ...

    def remove_member(self, room_id: int, username: str) -> None: ...

    def set_role(self, room_id: int, username: str, role: str) -> None: ...

    def set_topic(self, room_id: int, topic: str) -> None: ...

    def rename_room(self, room_id: int, new_name: str) -> None: ...

    def public_rooms(
        self, prefix: str, after: str, limit: int, username: str
    ) -> list[tuple[str, str, int, bool]]: ...

    def people(self, prefix: str, after: str, limit: int) -> list[tuple[str, str]]: ...

    def nicknames(self, usernames: Sequence[str]) -> dict[str, str]: ...

    def conversations(self, username: str) -> list[ConversationRow]: ...

    def mark_read(
        self, username: str, conversation: str, msg_id: int
    ) -> tuple[int, int] | None: ...
