"""The SQL of rooms, memberships, the people directory and read positions.

A part of ``server.store.Store`` (which supplies ``_transaction``), kept apart to keep each
module short; like the rest of the store, every statement is parameterised. Room messages are
stored under ``room:<id>`` (``room_key``), so a rename touches one row and keeps history and
read positions. Every account's place in a conversation (room, lobby or direct) is one row of
``memberships``, which also holds its read position; the conversation list is one query over
the account's rows (``conversations``, EXPLAIN in docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pymysql

LOBBY_KEY = "lobby"


def room_key(room_id: int) -> str:
    """The stored conversation of a room's messages (never its name, which may change)."""
    return f"room:{room_id}"


class NameTaken(Exception):
    """A room name is already in use."""


@dataclass(frozen=True)
class RoomRecord:
    """A room and its members (username -> (role, joined_after)), as stored."""

    room_id: int
    name: str
    topic: str
    private: bool
    members: dict[str, tuple[str, int]]


@dataclass(frozen=True)
class ConversationRow:
    """One row of the conversation list: stored key, room name (rooms), position and newest."""

    conversation: str
    room_name: str | None
    last_read: int
    unread: int
    newest_id: int | None
    newest_sender: str
    newest_ms: int | None
    preview: str


# The conversation list: the account's rows (primary key prefix), each conversation's newest
# visible message (one index dive into ix_messages_conversation) and its unread count (a range
# of the same index past the read position). Newest first; conversations without messages last.
CONVERSATIONS_SQL = (
    "SELECT ms.conversation, r.name, ms.last_read, "
    " (SELECT COUNT(*) FROM messages c WHERE c.conversation = ms.conversation "
    "   AND c.id > GREATEST(ms.last_read, ms.joined_after) AND c.sender <> ms.username), "
    " l.id, l.sender, l.created_ms, LEFT(l.body, %s) "
    "FROM memberships ms "
    "LEFT JOIN rooms r ON r.id = ms.room_id "
    "LEFT JOIN messages l ON l.id = (SELECT MAX(x.id) FROM messages x "
    "   WHERE x.conversation = ms.conversation AND x.id > ms.joined_after) "
    "WHERE ms.username = %s "
    "ORDER BY l.id IS NULL, l.id DESC, ms.conversation"
)

PREVIEW_CHARS = 80


class RoomRows:
    """Room, membership and read-position statements; mixed into ``Store``."""

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # pragma: no cover - Store provides it

    # --- rooms -------------------------------------------------------------------------------

    def create_room(self, name: str, topic: str, private: bool, owner: str, now_ms: int) -> int:
        """A new room with ``owner`` as its first member; NameTaken if the name is in use."""
        try:
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO rooms (name, topic, is_private, created_ms) VALUES (%s,%s,%s,%s)",
                    (name, topic, int(private), now_ms),
                )
                room_id = int(cur.lastrowid)
                cur.execute(
                    "INSERT INTO memberships (username, conversation, room_id, role, joined_ms) "
                    "VALUES (%s, %s, %s, 'owner', %s)",
                    (owner, room_key(room_id), room_id, now_ms),
                )
        except pymysql.err.IntegrityError:
            raise NameTaken(name) from None
        return room_id

    def load_room(self, name: str) -> RoomRecord | None:
        """The room called ``name`` with its members, or None."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT id, name, topic, is_private FROM rooms WHERE name = %s", (name,)
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                "SELECT username, role, joined_after FROM memberships WHERE room_id = %s "
                "ORDER BY joined_ms, username",
                (row[0],),
            )
            members = {r[0]: (r[1], int(r[2])) for r in cur.fetchall()}
        return RoomRecord(int(row[0]), row[1], row[2], bool(row[3]), members)

    def rooms_of(self, username: str) -> int:
        """How many rooms (besides the lobby) ``username`` is in."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM memberships WHERE username = %s AND room_id IS NOT NULL",
                (username,),
            )
            return int(cur.fetchone()[0])

    def add_member(self, room_id: int, username: str, history_from_now: bool,
                   now_ms: int) -> int:
        """Make ``username`` a member; returns where its history starts (0: from the start)."""
        key = room_key(room_id)
        with self._transaction() as cur:
            cur.execute(
                "SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation = %s", (key,)
            )
            newest = int(cur.fetchone()[0])  # unread counts start here either way
            joined_after = newest if history_from_now else 0
            cur.execute(
                "INSERT INTO memberships "
                "(username, conversation, room_id, role, joined_after, joined_ms, last_read) "
                "VALUES (%s, %s, %s, 'member', %s, %s, %s) "
                "ON DUPLICATE KEY UPDATE role = role",
                (username, key, room_id, joined_after, now_ms, newest),
            )
        return joined_after

    def remove_member(self, room_id: int, username: str) -> None:
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM memberships WHERE room_id = %s AND username = %s",
                (room_id, username),
            )

    def set_role(self, room_id: int, username: str, role: str) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE memberships SET role = %s WHERE room_id = %s AND username = %s",
                (role, room_id, username),
            )

    def set_topic(self, room_id: int, topic: str) -> None:
        with self._transaction() as cur:
            cur.execute("UPDATE rooms SET topic = %s WHERE id = %s", (topic, room_id))

    def rename_room(self, room_id: int, new_name: str) -> None:
        """NameTaken if another room has ``new_name``."""
        try:
            with self._transaction() as cur:
                cur.execute("UPDATE rooms SET name = %s WHERE id = %s", (new_name, room_id))
        except pymysql.err.IntegrityError:
            raise NameTaken(new_name) from None

    def public_rooms(
        self, prefix: str, after: str, limit: int, username: str
    ) -> list[tuple[str, str, int, bool]]:
        """(name, topic, member count, joined by ``username``) of public rooms, by name."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT r.name, r.topic, "
                " (SELECT COUNT(*) FROM memberships m WHERE m.room_id = r.id), "
                " EXISTS (SELECT 1 FROM memberships j WHERE j.room_id = r.id "
                "         AND j.username = %s) "
                "FROM rooms r WHERE r.is_private = 0 AND r.name LIKE %s AND r.name > %s "
                "ORDER BY r.name LIMIT %s",
                (username, _like_prefix(prefix), after, limit),
            )
            return [(r[0], r[1], int(r[2]), bool(r[3])) for r in cur.fetchall()]

    # --- people --------------------------------------------------------------------------------

    def people(self, prefix: str, after: str, limit: int) -> list[tuple[str, str]]:
        """(username, nickname) of every account, by username (uq_users_username)."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT username, nickname FROM users WHERE username LIKE %s AND username > %s "
                "ORDER BY username LIMIT %s",
                (_like_prefix(prefix), after, limit),
            )
            return [(r[0], r[1]) for r in cur.fetchall()]

    def nicknames(self, usernames: Sequence[str]) -> dict[str, str]:
        if not usernames:
            return {}
        marks = ",".join(["%s"] * len(usernames))
        with self._transaction() as cur:
            cur.execute(
                f"SELECT username, nickname FROM users WHERE username IN ({marks})",
                tuple(usernames),
            )
            return {r[0]: r[1] for r in cur.fetchall()}

    # --- read positions and the conversation list ------------------------------------------------

    def conversations(self, username: str) -> list[ConversationRow]:
        """Every conversation of ``username`` (the lobby row is made here if missing)."""
        with self._transaction() as cur:
            _lobby_row(cur, username)
            cur.execute(CONVERSATIONS_SQL, (PREVIEW_CHARS, username))
            return [
                ConversationRow(
                    r[0], r[1], int(r[2]), int(r[3]),
                    None if r[4] is None else int(r[4]), r[5] or "",
                    None if r[6] is None else int(r[6]), r[7] or "",
                )
                for r in cur.fetchall()
            ]

    def explain_conversations(self, username: str) -> list[tuple[Any, ...]]:
        """MariaDB's plan of the conversation list (the bench prints it)."""
        with self._transaction() as cur:
            cur.execute("EXPLAIN " + CONVERSATIONS_SQL, (PREVIEW_CHARS, username))
            return [tuple(row) for row in cur.fetchall()]

    def mark_read(self, username: str, conversation: str, msg_id: int) -> tuple[int, int] | None:
        """Move the read position forward (never past the newest message); (position, unread),
        or None if ``username`` has no row for ``conversation`` (a direct one with no message)."""
        with self._transaction() as cur:
            if conversation == LOBBY_KEY:
                _lobby_row(cur, username)
            cur.execute(
                "UPDATE memberships SET last_read = GREATEST(last_read, LEAST(%s, "
                " (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation = %s))) "
                "WHERE username = %s AND conversation = %s",
                (msg_id, conversation, username, conversation),
            )
            cur.execute(
                "SELECT ms.last_read, (SELECT COUNT(*) FROM messages c "
                " WHERE c.conversation = ms.conversation "
                " AND c.id > GREATEST(ms.last_read, ms.joined_after) "
                " AND c.sender <> ms.username) "
                "FROM memberships ms WHERE ms.username = %s AND ms.conversation = %s",
                (username, conversation),
            )
            row = cur.fetchone()
        return None if row is None else (int(row[0]), int(row[1]))


def record_direct_members(cur: Any, batch: Sequence[Any]) -> None:
    """Inside the group commit: both sides of every direct message get their row, so the
    conversation is in each one's list (also a recipient who was offline)."""
    rows = {
        (name, m.conversation)
        for m in batch
        if m.recipient is not None
        for name in (m.sender, m.recipient)
    }
    if rows:
        cur.executemany(
            "INSERT IGNORE INTO memberships (username, conversation) VALUES (%s, %s)",
            sorted(rows),
        )


def _lobby_row(cur: Any, username: str) -> None:
    """The account's lobby row, if missing, read up to the lobby's newest message: a new
    account does not start with the whole lobby unread (and the count stays a short range)."""
    cur.execute(
        "INSERT IGNORE INTO memberships (username, conversation, last_read) "
        "SELECT %s, %s, COALESCE(MAX(id), 0) FROM messages WHERE conversation = %s",
        (username, LOBBY_KEY, LOBBY_KEY),
    )


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that start with ``prefix`` literally."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
