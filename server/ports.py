"""The interfaces the rules depend on: the store, the password hasher, the group committer.

``ChatService`` and ``Accounts`` are written against these Protocols, not against
``server.store.Store``, ``server.passwords.PasswordHasherPool`` or
``server.commit.GroupCommitter``: ``server.serve.build`` plugs the real ones in, and the unit
tests plug in small in-memory fakes, so the rules can be tested without a database.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from common.account_keys import KdfParams
from server.ports_accounts import AccountChangeStore
from server.ports_rooms import RoomStore
from server.store import DelayPolicy, NewMessage, StoredMessage, UserRecord
from server.store_keys import KeySet
from server.store_signup import SignupStore

OriginT = TypeVar("OriginT", contravariant=True)


class AccountStore(Protocol):
    """Accounts, failed-login attempts and resume tokens (what ``server.accounts`` needs)."""

    def get_user(self, username: str) -> UserRecord | None: ...

    def set_password_hash(self, username: str, password_hash: str) -> None: ...

    def set_account_key(self, username: str, key_hash: str, kdf: KdfParams) -> None:
        """Make the account a key account (PROTOCOL.md §8): its hash is of the key now."""
        ...

    def reserve_login_attempt(
        self, name: str, address: str, now_ms: int, policy: DelayPolicy
    ) -> bool:
        """Count one attempt for (name, address) before its password is checked, atomically;
        False (nothing counted) while the pair's delay runs."""
        ...

    def login_attempt_state(self, name: str, address: str) -> tuple[float, int] | None:
        """``(failures, not_before_ms)`` of the pair, or None: how long its delay still runs."""
        ...

    def clear_login_attempts(self, name: str, address: str) -> None:
        """A correct password from this address: its failures are forgiven."""
        ...

    def sweep_login_attempts(self, idle_before_ms: int, now_ms: int, batch: int = 1_000) -> int:
        ...

    def save_resume_token(
        self, token_hash: bytes, username: str, expires_ms: int, keep: int = 10
    ) -> None:
        """Store a token's hash; the account keeps only its ``keep`` newest tokens."""
        ...

    def revoke_resume_token(self, token_hash: bytes) -> bool: ...

    def sweep_resume_tokens(self, now_ms: int, batch: int = 1_000) -> int: ...

    def sweep_invitations(self, now_ms: int) -> int: ...

    def consume_resume_token(self, token_hash: bytes, now_ms: int) -> str | None:
        """The token's user if it is known and unexpired; it can never be used again."""
        ...


class KeyStore(Protocol):
    """The end-to-end key directory (``server.store_keys.KeyRows``, used by ``server.e2e``)."""

    def publish_keys(self, keys: KeySet) -> bool:
        """Store a key set; True if the account had not published it before."""
        ...

    def key_set(self, username: str, key_id: bytes | None) -> KeySet | None:
        """The account's set ``key_id``, or its newest if None."""
        ...


class ChatStore(AccountStore, RoomStore, KeyStore, SignupStore, AccountChangeStore, Protocol):
    """Everything the service asks the database, besides the group commit's inserts."""

    def user_exists(self, username: str) -> bool: ...

    def history(
        self, conversation: str, before_id: int | None, limit: int
    ) -> tuple[list[StoredMessage], bool]:
        """Up to ``limit`` messages older than ``before_id`` (newest if None), oldest first,
        and whether older ones exist."""
        ...


class PasswordHasher(Protocol):
    """Argon2id hashing (``server.passwords.PasswordHasherPool``)."""

    def hash(self, password: str | bytes) -> str: ...

    def verify(self, stored_hash: str | None, password: str | bytes) -> bool:
        """True if ``password`` matches; None (an unknown user) costs the same and is False."""
        ...

    def needs_rehash(self, stored_hash: str) -> bool: ...


class Committer(Protocol[OriginT]):
    """Queues a message for the group commit (``server.commit.GroupCommitter``)."""

    def submit(self, message: NewMessage, origin: OriginT) -> bool:
        """Queue ``message``; its outcome reaches the service with ``origin``. False: closed."""
        ...
