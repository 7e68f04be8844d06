"""The SQL of logins: the failed-login delay per (name, address) and the resume tokens.

A part of ``server.store.Store`` (which supplies ``_transaction``), kept apart to keep each
module short; like the rest of the store, every statement is parameterised. Statements that
could wait on each other's locks run in separate short transactions so that concurrent
logins never deadlock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DelayPolicy:
    """The failed-login delay the database applies (see ``reserve_login_attempt``).

    After a failure brings a (name, address) pair to ``f`` failures, its next attempt waits
    ``base_ms * 2 ** (f - free_attempts)`` (none while ``f < free_attempts - 0.5``), at most
    ``cap_ms``; ``f`` halves every ``half_life_ms``.
    """

    free_attempts: int
    base_ms: int
    cap_ms: int
    half_life_ms: int


class LoginRows:
    """Login-related statements; mixed into ``Store``."""

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # pragma: no cover - Store provides it

    # --- failed-login delay ----------------------------------------------------------------

    def reserve_login_attempt(
        self, name: str, address: str, now_ms: int, policy: DelayPolicy
    ) -> bool:
        """Count one attempt for (name, address) now, before its password is checked.

        True means the attempt may be verified; False means the pair is in its delay and
        nothing was counted. The UPDATE is the one atomic step: it decays the count, adds this
        attempt, sets the next delay and refuses while a delay runs, all under the row lock,
        so N attempts sent at once are N sequential reservations (the first ``free_attempts``
        pass, the rest are refused). The same statements run for names that are no account.
        A success calls ``clear_login_attempts``; a failure has nothing left to write.
        """
        with self._transaction() as cur:  # committed alone: its shared lock must not be
            cur.execute(  # held into the UPDATE, or two attempts at once would deadlock
                "INSERT IGNORE INTO login_attempts (username, address) VALUES (%s, %s)",
                (name, address),
            )
        with self._transaction() as cur:
            # assignments run left to right: not_before_ms sees the new failures; the count
            # decays between quick attempts too, so the threshold allows half a failure
            cur.execute(
                "UPDATE login_attempts SET "
                "failures = failures * POW(0.5, GREATEST(0, %s - updated_ms) / %s) + 1, "
                "updated_ms = %s, "
                "not_before_ms = IF(failures < %s - 0.5, 0, "
                "  %s + LEAST(%s, %s * POW(2, LEAST(failures - %s, 60)))) "
                "WHERE username = %s AND address = %s AND not_before_ms <= %s",
                (
                    now_ms, max(1, policy.half_life_ms), now_ms,
                    policy.free_attempts, now_ms, policy.cap_ms, policy.base_ms,
                    policy.free_attempts, name, address, now_ms,
                ),
            )
            return bool(cur.rowcount == 1)

    def clear_login_attempts(self, name: str, address: str) -> None:
        """A correct password from this address: its failures are forgiven."""
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM login_attempts WHERE username = %s AND address = %s",
                (name, address),
            )

    def login_attempt_state(self, name: str, address: str) -> tuple[float, int] | None:
        """``(failures, not_before_ms)`` as stored (for tests and operators), or None."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT failures, not_before_ms FROM login_attempts "
                "WHERE username = %s AND address = %s",
                (name, address),
            )
            row = cur.fetchone()
        return (float(row[0]), int(row[1])) if row else None

    def sweep_login_attempts(self, idle_before_ms: int, now_ms: int, batch: int = 1_000) -> int:
        """Forget pairs untouched since ``idle_before_ms`` whose delay is over; how many."""
        return self._sweep(
            "DELETE FROM login_attempts WHERE updated_ms < %s AND not_before_ms <= %s LIMIT %s",
            (idle_before_ms, now_ms), batch,
        )

    def _sweep(self, statement: str, params: tuple[Any, ...], batch: int) -> int:
        """Run a ``DELETE ... LIMIT`` in short transactions until it deletes less than a batch."""
        total = 0
        while True:
            with self._transaction() as cur:
                cur.execute(statement, (*params, batch))
                deleted = int(cur.rowcount)
            total += deleted
            if deleted < batch:
                return total

    # --- resume tokens -------------------------------------------------------------------------

    def save_resume_token(
        self, token_hash: bytes, username: str, expires_ms: int, keep: int = 10
    ) -> None:
        """Store a token's hash; the account keeps its ``keep`` newest tokens, older ones go."""
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO resume_tokens (token_hash, username, expires_ms) VALUES (%s, %s, %s)",
                (token_hash, username, expires_ms),
            )
        with self._transaction() as cur:  # apart, so two logins at once cannot deadlock
            cur.execute(
                "DELETE FROM resume_tokens WHERE username = %s AND token_hash NOT IN ("
                " SELECT token_hash FROM (SELECT token_hash FROM resume_tokens WHERE username = %s"
                "  ORDER BY expires_ms DESC, token_hash DESC LIMIT %s) AS kept)",
                (username, username, max(1, keep)),
            )

    def consume_resume_token(self, token_hash: bytes, now_ms: int) -> str | None:
        """The token's user if it is known and unexpired; either way it can never be used again."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT username, expires_ms FROM resume_tokens WHERE token_hash = %s FOR UPDATE",
                (token_hash,),
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute("DELETE FROM resume_tokens WHERE token_hash = %s", (token_hash,))
        return row[0] if int(row[1]) >= now_ms else None

    def revoke_resume_token(self, token_hash: bytes) -> bool:
        """Delete one token (logout); True if it was still there."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM resume_tokens WHERE token_hash = %s", (token_hash,))
            return bool(cur.rowcount)

    def count_resume_tokens(self, username: str) -> int:
        with self._transaction() as cur:
            cur.execute("SELECT COUNT(*) FROM resume_tokens WHERE username = %s", (username,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def sweep_resume_tokens(self, now_ms: int, batch: int = 1_000) -> int:
        """Delete every expired token (in batches); how many."""
        return self._sweep(
            "DELETE FROM resume_tokens WHERE expires_ms < %s LIMIT %s", (now_ms,), batch
        )
