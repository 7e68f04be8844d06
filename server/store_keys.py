"""The SQL of the end-to-end key directory: each account's identity key sets.

A part of ``server.store.Store`` (which supplies ``_transaction``), like ``store_logins``.
The server stores what it is given and cannot check more than the sizes: the public bundle
(its key id is computed from it) and the private keys sealed under the account's master key.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KeySet:
    """One published identity key set of an account."""

    username: str
    key_id: bytes
    bundle: bytes
    backup: bytes = field(repr=False)
    created_ms: int


class KeyRows:
    """Key-directory statements; mixed into ``Store``."""

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # pragma: no cover - Store provides it

    def publish_keys(self, keys: KeySet) -> bool:
        """Store ``keys``; True if it is a set the account had not published before.

        The same set again only replaces its backup (a password change re-wraps the same
        private keys) and keeps its time, so it stays as current as it was."""
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO identity_keys (username, key_id, bundle, backup, created_ms) "
                "VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE backup = VALUES(backup)",
                (keys.username, keys.key_id, keys.bundle, keys.backup, keys.created_ms),
            )
            return bool(cur.rowcount == 1)  # 1 inserted, 2 updated, 0 unchanged

    def key_set(self, username: str, key_id: bytes | None) -> KeySet | None:
        """The account's set ``key_id``, or its current (newest) one if None."""
        query = "SELECT username, key_id, bundle, backup, created_ms FROM identity_keys " \
            "WHERE username = %s"
        params: tuple[Any, ...] = (username,)
        if key_id is not None:
            query, params = query + " AND key_id = %s", (username, key_id)
        with self._transaction() as cur:
            cur.execute(query + " ORDER BY created_ms DESC, key_id LIMIT 1", params)
            row = cur.fetchone()
        if row is None:
            return None
        return KeySet(row[0], bytes(row[1]), bytes(row[2]), bytes(row[3]), int(row[4]))
