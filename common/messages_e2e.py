"""The codes of end-to-end direct messages and of the key directory (PROTOCOL.md §7).

Kept apart from ``common.messages`` (which registers them into its tables) so the feature
reads in one place. Binary values (public bundles, key backups, sealed blobs, key ids) travel
as canonical unpadded base64url in one field each (``common.e2e.to_field``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

# --- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishKeysRequest:
    """``0040``: store my public key bundle and my private keys sealed under my master key.

    The same key set again (a password change re-wraps the backup) replaces the backup; a new
    key set (after an administrator's password reset) becomes current and is announced."""

    CODE: ClassVar[str] = "0040"
    bundle: str
    backup: str

    def __repr__(self) -> str:
        return f"PublishKeysRequest(bundle={self.bundle!r}, backup=<sealed>)"


@dataclass(frozen=True)
class OwnKeysRequest:
    """``0041``: my current key set and its backup (every window of the account opens it)."""

    CODE: ClassVar[str] = "0041"


@dataclass(frozen=True)
class KeyLookupRequest:
    """``0042``: an account's public keys; ``key_id`` empty = its current set."""

    CODE: ClassVar[str] = "0042"
    username: str
    key_id: str


@dataclass(frozen=True)
class SealedDirectRequest:
    """``0043``: an end-to-end sealed direct message; ``blob`` as in PROTOCOL.md §7."""

    CODE: ClassVar[str] = "0043"
    to_username: str
    client_msg_id: str
    blob: str


# --- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnKeys:
    """``1040``: answer to ``0040``/``0041``; all empty and ``created_ms`` None: no keys yet."""

    CODE: ClassVar[str] = "1040"
    bundle: str
    backup: str
    created_ms: int | None

    def __repr__(self) -> str:
        return f"OwnKeys(bundle={self.bundle!r}, created_ms={self.created_ms})"


@dataclass(frozen=True)
class PublicKeys:
    """``1041``: an account's public keys, in answer to ``0042`` (bundle empty: none), and
    unasked to everyone online when an account publishes a new key set."""

    CODE: ClassVar[str] = "1041"
    username: str
    bundle: str
    created_ms: int | None


@dataclass(frozen=True)
class SealedDirectDelivery:
    """``1043``: a sealed direct message, live or from history (as ``1003`` for clear ones)."""

    CODE: ClassVar[str] = "1043"
    msg_id: int
    sender: str
    sender_nickname: str
    recipient: str
    sent_ms: int
    blob: str


E2eRequest = PublishKeysRequest | OwnKeysRequest | KeyLookupRequest | SealedDirectRequest
E2eEvent = OwnKeys | PublicKeys | SealedDirectDelivery
E2E_CLIENT_MESSAGES = (PublishKeysRequest, OwnKeysRequest, KeyLookupRequest, SealedDirectRequest)
E2E_SERVER_MESSAGES = (OwnKeys, PublicKeys, SealedDirectDelivery)
