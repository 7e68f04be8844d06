"""The SQL of account management: flags, nicknames, one-time reset codes, sessions, sign-outs.

A part of ``server.store.Store`` (which supplies ``_transaction``), like ``store_logins``; every
statement is parameterised. A session is a chain of resume tokens (``resume_tokens`` rows with a
``session_id``): a resume's new token inherits its predecessor's session id and login time.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pymysql

from server.names import nickname_key


@dataclass(frozen=True)
class AccountRow:
    """One account as administration sees it (never its password hash)."""

    username: str
    nickname: str
    is_admin: bool
    disabled: bool


@dataclass(frozen=True)
class SessionRow:
    """One session of an account: the live resume token that carries it."""

    token_hash: bytes
    session_id: str
    address: str
    login_ms: int
    seen_ms: int


class NicknameTaken(ValueError):
    """Another account has this nickname, or one that looks the same."""


class AccountRows:
    """Account-management statements; mixed into ``Store``."""

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # pragma: no cover - Store provides it

    # --- accounts ------------------------------------------------------------------------------

    def account(self, username: str) -> AccountRow | None:
        with self._transaction() as cur:
            cur.execute(
                "SELECT username, nickname, is_admin, disabled FROM users WHERE username = %s",
                (username,),
            )
            row = cur.fetchone()
        return None if row is None else AccountRow(row[0], row[1], bool(row[2]), bool(row[3]))

    def accounts(self, limit: int = 10_000) -> list[AccountRow]:
        with self._transaction() as cur:
            cur.execute(
                "SELECT username, nickname, is_admin, disabled FROM users "
                "ORDER BY username LIMIT %s",
                (limit,),
            )
            return [AccountRow(r[0], r[1], bool(r[2]), bool(r[3])) for r in cur.fetchall()]

    def set_nickname(self, username: str, nickname: str) -> bool:
        """Rename; False if there is no such account, ``NicknameTaken`` if it looks taken."""
        try:
            with self._transaction() as cur:
                cur.execute(
                    "UPDATE users SET nickname = %s, nickname_key = %s WHERE username = %s",
                    (nickname, nickname_key(nickname), username),
                )
                cur.execute("SELECT 1 FROM users WHERE username = %s", (username,))
                return cur.fetchone() is not None
        except pymysql.err.IntegrityError:
            raise NicknameTaken(nickname) from None

    def set_flag(self, username: str, flag: str, value: bool) -> bool:
        """Set ``is_admin`` or ``disabled``; False if there is no such account."""
        column = {"is_admin": "is_admin", "disabled": "disabled"}[flag]  # never from input
        with self._transaction() as cur:
            cur.execute(
                f"UPDATE users SET {column} = %s WHERE username = %s", (int(value), username)
            )
            cur.execute("SELECT 1 FROM users WHERE username = %s", (username,))
            return cur.fetchone() is not None

    def delete_account(self, username: str) -> bool:
        """Remove the account and what only it used; its messages stay (shown by username)."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM resume_tokens WHERE username = %s", (username,))
            cur.execute("DELETE FROM identity_keys WHERE username = %s", (username,))
            cur.execute(
                "DELETE FROM memberships WHERE username = %s AND room_id IS NULL", (username,)
            )
            cur.execute("DELETE FROM users WHERE username = %s", (username,))
            return bool(cur.rowcount)

    # --- one-time reset codes ------------------------------------------------------------------

    def set_reset_code(self, username: str, code_hash: bytes, expires_ms: int) -> bool:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE users SET reset_code_hash = %s, reset_expires_ms = %s WHERE username = %s",
                (code_hash, expires_ms, username),
            )
            cur.execute("SELECT 1 FROM users WHERE username = %s", (username,))
            return cur.fetchone() is not None

    def take_reset_code(self, username: str, code_hash: bytes, now_ms: int) -> bool:
        """Spend the account's reset code if it is ``code_hash`` and unexpired (atomically)."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE users SET reset_code_hash = NULL, reset_expires_ms = 0 "
                "WHERE username = %s AND reset_code_hash = %s AND reset_expires_ms >= %s",
                (username, code_hash, now_ms),
            )
            return bool(cur.rowcount == 1)

    def clear_reset_code(self, username: str) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE users SET reset_code_hash = NULL, reset_expires_ms = 0 "
                "WHERE username = %s",
                (username,),
            )

    # --- sessions ------------------------------------------------------------------------------

    def session_of(self, token_hash: bytes) -> SessionRow | None:
        """The session a resume token carries (read before the resume spends it)."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT token_hash, session_id, address, login_ms, seen_ms FROM resume_tokens "
                "WHERE token_hash = %s",
                (token_hash,),
            )
            row = cur.fetchone()
        return None if row is None else _session(row)

    def label_session(
        self, token_hash: bytes, session_id: str, address: str, login_ms: int, seen_ms: int
    ) -> None:
        """Say which session a freshly saved token carries, and from where it was used."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE resume_tokens SET session_id = %s, address = %s, login_ms = %s, "
                "seen_ms = %s WHERE token_hash = %s",
                (session_id, address, login_ms, seen_ms, token_hash),
            )

    def touch_session(self, token_hash: bytes, seen_ms: int) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE resume_tokens SET seen_ms = %s WHERE token_hash = %s",
                (seen_ms, token_hash),
            )

    def sessions(self, username: str, now_ms: int) -> list[SessionRow]:
        with self._transaction() as cur:
            cur.execute(
                "SELECT token_hash, session_id, address, login_ms, seen_ms FROM resume_tokens "
                "WHERE username = %s AND expires_ms >= %s ORDER BY login_ms, token_hash",
                (username, now_ms),
            )
            return [_session(row) for row in cur.fetchall()]

    def revoke_sessions(self, username: str, keep: bytes = b"") -> int:
        """Delete every resume token of the account but ``keep``; how many went."""
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM resume_tokens WHERE username = %s AND token_hash <> %s",
                (username, keep),
            )
            return int(cur.rowcount)

    # --- sign-outs decided outside the servers (the command line) ------------------------------

    def record_signout(self, username: str, reason: str, now_ms: int) -> None:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO account_signouts (username, reason, created_ms) VALUES (%s, %s, %s)",
                (username, reason, now_ms),
            )

    def signouts_after(self, after_id: int) -> list[tuple[int, str, str]]:
        """``(id, username, reason)`` of the rows above ``after_id``, oldest first."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT id, username, reason FROM account_signouts WHERE id > %s "
                "ORDER BY id LIMIT 1000",
                (after_id,),
            )
            return [(int(r[0]), r[1], r[2]) for r in cur.fetchall()]

    def last_signout_id(self) -> int:
        with self._transaction() as cur:
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM account_signouts")
            row = cur.fetchone()
        return int(row[0]) if row else 0


def _session(row: Any) -> SessionRow:
    return SessionRow(bytes(row[0]), row[1], row[2], int(row[3]), int(row[4]))
