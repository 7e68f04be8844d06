"""The SQL of key login and registration: account keys, invitations, the administrator flag.

A part of ``server.store.Store`` (which supplies ``_transaction``), kept apart so the feature
reads in one place; like the rest of the store, every statement is parameterised. What the
columns hold is in sql/schema.sql ("Key login and invitations").
"""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import pymysql

from common.account_keys import KdfParams
from server.names import nickname_key


class Registered(enum.StrEnum):
    """What ``register_user`` did."""

    OK = "ok"
    BAD_CODE = "bad_code"  # unknown, used up or expired: one outcome for all three
    USERNAME_TAKEN = "username_taken"
    NICKNAME_TAKEN = "nickname_taken"


@dataclass(frozen=True)
class NewAccount:
    """An account to create: its names, the hash of its authentication key and its KDF."""

    username: str
    nickname: str
    key_hash: str = field(repr=False)
    kdf: KdfParams


def kdf_of(row: Any) -> KdfParams | None:
    """The KDF of a ``users`` row's four ``kdf_*`` columns (None: a password-hash row)."""
    memory, time_cost, parallelism, salt = row
    if memory is None or time_cost is None or parallelism is None or salt is None:
        return None
    return KdfParams(int(memory), int(time_cost), int(parallelism), bytes(salt))


class SignupStore(Protocol):
    """What registration and invitations ask the database (``server.store_signup``)."""

    def register_user(
        self, account: NewAccount, code_hash: bytes | None, now_ms: int
    ) -> Registered: ...

    def add_invitation(
        self, code_hash: bytes, uses: int, expires_ms: int, created_by: str | None, now_ms: int
    ) -> None: ...

    def is_admin(self, username: str) -> bool: ...


class SignupRows:
    """Statements of key login, registration and invitations; mixed into ``Store``."""

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # pragma: no cover - Store provides it

    def set_account_key(self, username: str, key_hash: str, kdf: KdfParams) -> None:
        """Make ``username`` a key account: from now on its hash is of the authentication key."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE users SET password_hash = %s, kdf_memory_kib = %s, kdf_time_cost = %s, "
                "kdf_parallelism = %s, kdf_salt = %s WHERE username = %s",
                (key_hash, kdf.memory_kib, kdf.time_cost, kdf.parallelism, kdf.salt, username),
            )

    def register_user(
        self, account: NewAccount, code_hash: bytes | None, now_ms: int
    ) -> Registered:
        """Spend one use of the invitation (None: open registration) and create the account,
        in one transaction: a refused name gives the use back, and two registrations racing
        for a code's last use cannot both pass (the row is locked by the UPDATE)."""
        try:
            with self._transaction() as cur:
                if code_hash is not None:
                    cur.execute(
                        "UPDATE invitations SET uses_left = uses_left - 1 WHERE code_hash = %s "
                        "AND uses_left > 0 AND expires_ms > %s",
                        (code_hash, now_ms),
                    )
                    if cur.rowcount != 1:
                        return Registered.BAD_CODE
                kdf = account.kdf
                cur.execute(
                    "INSERT INTO users (username, nickname, nickname_key, password_hash, "
                    "kdf_memory_kib, kdf_time_cost, kdf_parallelism, kdf_salt) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (account.username, account.nickname, nickname_key(account.nickname),
                     account.key_hash, kdf.memory_kib, kdf.time_cost, kdf.parallelism, kdf.salt),
                )
        except pymysql.err.IntegrityError as exc:  # rolled back: the use is not spent
            if "nickname" in str(exc):
                return Registered.NICKNAME_TAKEN
            return Registered.USERNAME_TAKEN
        return Registered.OK

    def add_invitation(
        self, code_hash: bytes, uses: int, expires_ms: int, created_by: str | None, now_ms: int
    ) -> None:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO invitations (code_hash, uses_left, expires_ms, created_by, "
                "created_ms) VALUES (%s, %s, %s, %s, %s)",
                (code_hash, uses, expires_ms, created_by, now_ms),
            )

    def sweep_invitations(self, now_ms: int) -> int:
        """Forget invitations that are used up or expired; how many."""
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM invitations WHERE uses_left = 0 OR expires_ms <= %s", (now_ms,)
            )
            return int(cur.rowcount)

    def is_admin(self, username: str) -> bool:
        """True when the account may administer the chat (make invitations from the client)."""
        with self._transaction() as cur:
            cur.execute("SELECT is_admin FROM users WHERE username = %s", (username,))
            row = cur.fetchone()
        return bool(row and row[0])
