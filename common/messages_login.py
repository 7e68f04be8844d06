"""The codes of key login and registration (PROTOCOL.md §8): the password stays on the client.

Kept apart from ``common.messages`` (which registers them into its tables) so the feature
reads in one place. A client first asks for the account's key-derivation parameters
(``0030`` → ``1030``), derives the authentication key from the password itself
(``common.account_keys``) and proves only that key (``0031``, answered ``1001`` exactly as
``0001``). Binary values (salts, keys) travel as canonical unpadded base64url.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from common.account_keys import AccountKeys, KdfParams, derive_account_keys
from common.e2e import from_field, to_field

# --- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class KdfParamsRequest:
    """``0030``: the Argon2id parameters and salt the account's keys are derived with.

    Allowed before login; a name that is no account gets stable, plausible parameters too."""

    CODE: ClassVar[str] = "0030"
    username: str


@dataclass(frozen=True)
class KeyLoginRequest:
    """``0031``: log in with the authentication key derived on the client (never the password)."""

    CODE: ClassVar[str] = "0031"
    username: str
    auth_key: str

    def __repr__(self) -> str:
        return f"KeyLoginRequest(username={self.username!r}, auth_key=<hidden>)"


@dataclass(frozen=True)
class RegisterRequest:
    """``0032``: create an account with an invitation code (empty: open registration) and log in.

    The parameters are those the server announced with ``1030`` for the new name; the salt is
    the client's own (16 random bytes)."""

    CODE: ClassVar[str] = "0032"
    code: str
    username: str
    nickname: str
    auth_key: str
    memory_kib: int
    time_cost: int
    parallelism: int
    salt: str

    def __repr__(self) -> str:
        return (f"RegisterRequest(username={self.username!r}, nickname={self.nickname!r}, "
                "code=<hidden>, auth_key=<hidden>)")


@dataclass(frozen=True)
class InviteRequest:
    """``0033``: an administrator asks for a new invitation code (``uses``, valid ``ttl_s``)."""

    CODE: ClassVar[str] = "0033"
    uses: int
    ttl_s: int


# --- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class KdfParamsReply:
    """``1030``: answer to ``0030``; ``salt`` is unpadded base64url (16 bytes)."""

    CODE: ClassVar[str] = "1030"
    memory_kib: int
    time_cost: int
    parallelism: int
    salt: str


@dataclass(frozen=True)
class Invitation:
    """``1031``: a new invitation code, its uses, and when it expires (unix ms)."""

    CODE: ClassVar[str] = "1031"
    code: str
    uses: int
    expires_ms: int

    def __repr__(self) -> str:
        return f"Invitation(code=<hidden>, uses={self.uses}, expires_ms={self.expires_ms})"


def params_of(reply: KdfParamsReply) -> KdfParams:
    """The parameters of a ``1030`` (``ValueError`` if the salt field is not base64url)."""
    return KdfParams(reply.memory_kib, reply.time_cost, reply.parallelism, from_field(reply.salt))


def registration(
    code: str, username: str, nickname: str, password: str, reply: KdfParamsReply, salt: bytes
) -> tuple[RegisterRequest, AccountKeys]:
    """The ``0032`` for a new account (the parameters of the name's ``1030``, the client's own
    random ``salt``), and the keys it derives; the password goes no further than here."""
    params = KdfParams(reply.memory_kib, reply.time_cost, reply.parallelism, salt)
    keys = derive_account_keys(password, params)
    request = RegisterRequest(code, username, nickname, to_field(keys.auth_key),
                              params.memory_kib, params.time_cost, params.parallelism,
                              to_field(salt))
    return request, keys


SignInRequest = KdfParamsRequest | KeyLoginRequest | RegisterRequest | InviteRequest
SignInEvent = KdfParamsReply | Invitation
SIGNIN_CLIENT_MESSAGES = (KdfParamsRequest, KeyLoginRequest, RegisterRequest, InviteRequest)
SIGNIN_SERVER_MESSAGES = (KdfParamsReply, Invitation)
