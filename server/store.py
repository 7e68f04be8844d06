"""All MySQL access of the chat server, and the only module that talks SQL at runtime.

Every statement is parameterised (values never meet an f-string). Connections come from a
bounded DBUtils pool that pings before reuse, so a restarted database heals by itself; every
query has connect/read/write timeouts. Any failure to reach the database surfaces as
``StoreUnavailable`` so the service can answer "unavailable" and keep serving.

Waiting for a pooled connection is bounded too (``DbParams.timeout``): DBUtils' own blocking
pool waits without limit, so a flood of history pages or logins, each holding a connection,
could park every reader thread of the server behind it. A caller that gets no connection in
time is answered as if the database were down. The group commit does not share that pool: it
has a connection of its own (``insert_messages``), so such a flood never delays the commit
of chat messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pymysql
from dbutils.pooled_db import PooledDB

from common.account_keys import KdfParams
from server.names import nickname_key
from server.store_accounts import AccountRows
from server.store_keys import KeyRows
from server.store_logins import DelayPolicy as DelayPolicy  # re-exported for callers
from server.store_logins import LoginRows
from server.store_rooms import RoomRows, record_direct_members
from server.store_signup import SignupRows, kdf_of

log = logging.getLogger(__name__)

_CONNECTION_ERRORS = (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError)


class StoreUnavailable(Exception):
    """The database cannot be reached or timed out; the caller answers 'unavailable'."""


@dataclass(frozen=True)
class DbParams:
    """Where the database is and how to log in; built by ``__main__`` from settings."""

    database: str
    user: str
    password: str = field(repr=False)
    host: str = ""
    port: int = 3306
    unix_socket: str = ""
    pool_size: int = 8  # all connections, the group commit's own one included
    timeout: float = 5.0  # connect, read, write, and waiting for a pooled connection

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``pymysql.connect``."""
        kwargs: dict[str, Any] = {
            "user": self.user,
            "password": self.password,
            "database": self.database or None,
            "charset": "utf8mb4",
            "autocommit": False,
            "connect_timeout": max(1, int(self.timeout)),
            "read_timeout": max(1, int(self.timeout)),
            "write_timeout": max(1, int(self.timeout)),
        }
        if self.host:
            kwargs.update(host=self.host, port=self.port)
        else:
            kwargs["unix_socket"] = self.unix_socket
        return kwargs


@dataclass(frozen=True)
class UserRecord:
    username: str
    nickname: str
    password_hash: str = field(repr=False)  # of the authentication key when ``kdf`` is set
    kdf: KdfParams | None = None  # None: an account made before key login (PROTOCOL.md §8)


@dataclass(frozen=True)
class NewMessage:
    """A message to store; ``recipient`` is None in the lobby."""

    conversation: str
    sender: str
    recipient: str | None
    client_msg_id: str
    text: str = field(repr=False)
    created_ms: int
    sealed: bool = False  # an end-to-end blob, not text (common.e2e)


@dataclass(frozen=True)
class StoredMessage:
    msg_id: int
    conversation: str
    sender: str
    sender_nickname: str
    recipient: str | None
    client_msg_id: str
    text: str = field(repr=False)
    created_ms: int
    sealed: bool = False


_MESSAGE_COLUMNS = (
    "m.id, m.conversation, m.sender, COALESCE(u.nickname, m.sender), m.recipient, "
    "m.client_msg_id, m.body, m.created_ms, m.sealed"
)


def _message(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(
        int(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], int(row[7]), bool(row[8])
    )


def _key(sender: str, client_msg_id: str) -> tuple[str, str]:
    """A message's idempotency key as the unique index compares it.

    The columns' ``utf8mb4_bin`` collation is PAD SPACE: trailing spaces do not count, so
    ``"id "`` is a resend of ``"id"``. Matching in Python must agree, or a row found by the
    database would be missed here.
    """
    return sender.rstrip(" "), client_msg_id.rstrip(" ")


def _keys_clause(count: int) -> str:
    """``WHERE`` text matching ``count`` (sender, client_msg_id) pairs on the unique key."""
    return " OR ".join(["(m.sender = %s AND m.client_msg_id = %s)"] * count)


def _key_params(items: Sequence[NewMessage]) -> list[str]:
    return [value for m in items for value in (m.sender, m.client_msg_id)]


class _Pool:
    """A DBUtils pool of ``size`` connections whose callers wait at most ``wait`` seconds.

    The semaphore admits at most ``size`` callers, so the pool itself (non-blocking) always has
    a connection for an admitted one.
    """

    def __init__(self, params: DbParams, size: int, name: str) -> None:
        self.name = name
        self._wait = max(0.0, params.timeout)
        self._turns = threading.BoundedSemaphore(size)
        self._pool = PooledDB(
            creator=pymysql,
            mincached=0,
            maxcached=size,
            maxconnections=size,
            blocking=False,
            ping=1,  # check a connection whenever it is taken from the pool
            **params.connect_kwargs(),
        )

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection for the ``with`` block; ``StoreUnavailable`` if none frees up in time."""
        if not self._turns.acquire(timeout=self._wait):
            log.warning("no %s database connection free within %.1f s", self.name, self._wait)
            raise StoreUnavailable(f"every {self.name} database connection is busy")
        try:
            try:
                conn = self._pool.connection()
            except _CONNECTION_ERRORS as exc:
                raise StoreUnavailable(
                    f"database unreachable: {exc.__class__.__name__}"
                ) from exc
            try:
                yield conn
            finally:
                try:
                    conn.close()  # back to the pool
                except Exception:  # pragma: no cover - the pool discards broken connections
                    pass
        finally:
            self._turns.release()

    def close(self) -> None:
        self._pool.close()


class Store(LoginRows, RoomRows, KeyRows, SignupRows, AccountRows):
    """Pooled, parameterised access to users and messages; login rows come from ``LoginRows``."""

    def __init__(self, params: DbParams) -> None:
        self._params = params
        self._pool = _Pool(params, max(1, params.pool_size - 1), "shared")
        self._commit_pool = _Pool(params, 1, "group-commit")  # insert_messages alone

    @contextmanager
    def _transaction(self, pool: _Pool | None = None) -> Iterator[Any]:
        with (pool or self._pool).connection() as conn:
            try:
                with conn.cursor() as cursor:
                    yield cursor
                conn.commit()
            except _CONNECTION_ERRORS as exc:
                self._rollback_quietly(conn)
                raise StoreUnavailable(f"database error: {exc.__class__.__name__}") from exc
            except BaseException:
                self._rollback_quietly(conn)
                raise

    @staticmethod
    def _rollback_quietly(conn: Any) -> None:
        try:
            conn.rollback()
        except Exception:
            pass

    # --- users ---------------------------------------------------------------------------------

    def get_user(self, username: str) -> UserRecord | None:
        with self._transaction() as cur:
            cur.execute(
                "SELECT username, nickname, password_hash, kdf_memory_kib, kdf_time_cost, "
                "kdf_parallelism, kdf_salt FROM users WHERE username = %s",
                (username,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return UserRecord(row[0], row[1], row[2], kdf_of(row[3:7]))

    def user_exists(self, username: str) -> bool:
        with self._transaction() as cur:
            cur.execute("SELECT 1 FROM users WHERE username = %s", (username,))
            return cur.fetchone() is not None

    def add_user(self, username: str, nickname: str, password_hash: str) -> None:
        """Create an account; ValueError if the name or a look-alike nickname is taken."""
        try:
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO users (username, nickname, nickname_key, password_hash) "
                    "VALUES (%s, %s, %s, %s)",
                    (username, nickname, nickname_key(nickname), password_hash),
                )
        except pymysql.err.IntegrityError as exc:
            if "nickname" in str(exc):
                raise ValueError(f"nickname {nickname!r} is taken (or one like it)") from None
            raise ValueError(f"user {username!r} already exists") from None

    def set_password_hash(self, username: str, password_hash: str) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE users SET password_hash = %s WHERE username = %s",
                (password_hash, username),
            )

    # --- messages ------------------------------------------------------------------------------

    def insert_messages(self, batch: Sequence[NewMessage]) -> list[tuple[StoredMessage, bool]]:
        """Store a batch in ONE transaction (group commit); resends return the original row.

        For each item: ``(row, True)`` if it was new, ``(original_row, False)`` if the same
        sender already stored that ``client_msg_id`` (before, or earlier in this batch).

        Round trips per batch, not per message: one multi-row INSERT, then one SELECT for the
        new ids (the sender's nickname comes with it). A duplicate key makes the INSERT fail
        as a whole; the transaction is then rolled back and done again, this time looking up
        the rows that exist first (resends are rare, so the common batch does not pay for it).
        """
        if not batch:
            return []
        unique: dict[tuple[str, str], NewMessage] = {}
        for item in batch:
            unique.setdefault(_key(item.sender, item.client_msg_id), item)
        try:
            rows, new_keys = self._insert_unique(list(unique.values()), look_first=False)
        except pymysql.err.IntegrityError:
            rows, new_keys = self._insert_unique(list(unique.values()), look_first=True)
        results: list[tuple[StoredMessage, bool]] = []
        for item in batch:
            key = _key(item.sender, item.client_msg_id)
            results.append((rows[key], key in new_keys))
            new_keys.discard(key)  # a second copy in the same batch is a resend
        return results

    def _insert_unique(
        self, items: list[NewMessage], look_first: bool
    ) -> tuple[dict[tuple[str, str], StoredMessage], set[tuple[str, str]]]:
        """Insert ``items`` (distinct keys) in one transaction: rows by key, and the new keys."""
        rows: dict[tuple[str, str], StoredMessage] = {}
        with self._transaction(self._commit_pool) as cur:
            if look_first:
                cur.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM messages m "
                    "LEFT JOIN users u ON u.username = m.sender WHERE " + _keys_clause(len(items)),
                    _key_params(items),
                )
                for found in cur.fetchall():
                    row = _message(found)
                    rows[_key(row.sender, row.client_msg_id)] = row
            fresh = [m for m in items if _key(m.sender, m.client_msg_id) not in rows]
            if fresh:
                # PyMySQL sends this as ONE multi-row INSERT (split only past ~1 MB)
                cur.executemany(
                    "INSERT INTO messages "
                    "(conversation, sender, recipient, client_msg_id, body, created_ms, sealed) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (m.conversation, m.sender, m.recipient, m.client_msg_id, m.text,
                         m.created_ms, m.sealed)
                        for m in fresh
                    ],
                )
                record_direct_members(cur, fresh)
                cur.execute(
                    "SELECT m.id, m.sender, m.client_msg_id, COALESCE(u.nickname, m.sender) "
                    "FROM messages m LEFT JOIN users u ON u.username = m.sender WHERE "
                    + _keys_clause(len(fresh)),
                    _key_params(fresh),
                )
                stored = {_key(r[1], r[2]): (int(r[0]), r[3]) for r in cur.fetchall()}
                for m in fresh:
                    found = stored.get(_key(m.sender, m.client_msg_id))
                    if found is None:
                        raise ValueError(f"message {m.client_msg_id!r} could not be stored")
                    msg_id, nickname = found
                    rows[_key(m.sender, m.client_msg_id)] = StoredMessage(
                        msg_id, m.conversation, m.sender, nickname, m.recipient,
                        m.client_msg_id, m.text, m.created_ms, m.sealed,
                    )
        return rows, {_key(m.sender, m.client_msg_id) for m in fresh}

    def history(
        self, conversation: str, before_id: int | None, limit: int
    ) -> tuple[list[StoredMessage], bool]:
        """Up to ``limit`` messages older than ``before_id`` (newest if None), oldest first."""
        limit = max(1, limit)
        with self._transaction() as cur:
            cur.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages m "
                "LEFT JOIN users u ON u.username = m.sender "
                "WHERE m.conversation = %s AND m.id < %s ORDER BY m.id DESC LIMIT %s",
                (conversation, before_id if before_id is not None else 2**63 - 1, limit + 1),
            )
            rows = [_message(r) for r in cur.fetchall()]
        more = len(rows) > limit
        return list(reversed(rows[:limit])), more

    def messages_after(self, after_id: int, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` messages of every conversation with an id above ``after_id``,
        oldest first: what a node of a cluster reads to catch up after missing pub/sub."""
        with self._transaction() as cur:
            cur.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages m "
                "LEFT JOIN users u ON u.username = m.sender "
                "WHERE m.id > %s ORDER BY m.id LIMIT %s",
                (after_id, max(1, limit)),
            )
            return [_message(r) for r in cur.fetchall()]

    def last_message_id(self) -> int:
        """The highest message id stored (0 when there is none)."""
        with self._transaction() as cur:
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM messages")
            row = cur.fetchone()
        return int(row[0]) if row else 0

    # --- health --------------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            with self._transaction() as cur:
                cur.execute("SELECT 1")
            return True
        except StoreUnavailable:
            return False

    def close(self) -> None:
        self._pool.close()
        self._commit_pool.close()
