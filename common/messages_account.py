"""The codes of one's own account and of administration (PROTOCOL.md §9).

Kept apart from ``common.messages`` (which registers them into its tables) so the feature reads
in one place. A "secret" is what proves the person: the password on servers that allow legacy
login, the authentication key of the key login where that is used, or a one-time reset code an
administrator handed out. The codec never prints one (``__repr__``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

ADMIN_ACTIONS = (
    "list", "disable", "enable", "reset", "delete", "make_admin", "remove_admin",
)
"""The actions of ``0038`` (``list`` takes an empty username)."""

SIGN_OUT_REASONS = ("password_changed", "signed_out", "disabled", "deleted")
"""The code words of ``1039``: why the server is closing this connection."""


# --- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeSecretRequest:
    """``0034``: replace the account's secret; ``old_secret`` is the current one or a one-time
    reset code. Allowed before login too (a person who forgot the password has a code)."""

    CODE: ClassVar[str] = "0034"
    username: str
    old_secret: str
    new_secret: str

    def __repr__(self) -> str:
        return f"ChangeSecretRequest(username={self.username!r}, secrets=<hidden>)"


@dataclass(frozen=True)
class ChangeNicknameRequest:
    """``0035``: the name everyone sees for this account from now on."""

    CODE: ClassVar[str] = "0035"
    nickname: str


@dataclass(frozen=True)
class SessionsRequest:
    """``0036``: the account's sessions (one per resume token), as ``1033`` rows."""

    CODE: ClassVar[str] = "0036"


@dataclass(frozen=True)
class SignOutOthersRequest:
    """``0037``: end every other session of this account (tokens revoked, windows closed)."""

    CODE: ClassVar[str] = "0037"


@dataclass(frozen=True)
class AdminRequest:
    """``0038``: an administrator's action on an account (``ADMIN_ACTIONS``)."""

    CODE: ClassVar[str] = "0038"
    action: str
    username: str


@dataclass(frozen=True)
class AccountInfoRequest:
    """``0039``: who am I to the server (nickname, administrator or not), answered ``1037``."""

    CODE: ClassVar[str] = "0039"


# --- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class NicknameChanged:
    """``1032``: an account's nickname changed; sent to every connection online."""

    CODE: ClassVar[str] = "1032"
    username: str
    nickname: str


@dataclass(frozen=True)
class SessionEntry:
    """``1033``: one session of the asking account; ``current``: the asking connection's."""

    CODE: ClassVar[str] = "1033"
    session_id: str
    address: str
    login_ms: int
    seen_ms: int
    current: bool


@dataclass(frozen=True)
class AccountEntry:
    """``1034``: one account, for an administrator's list."""

    CODE: ClassVar[str] = "1034"
    username: str
    nickname: str
    admin: bool
    disabled: bool
    online: bool


@dataclass(frozen=True)
class AccountListEnd:
    """``1035``: the end of a ``1033`` (``sessions``) or ``1034`` (``accounts``) list."""

    CODE: ClassVar[str] = "1035"
    kind: str


@dataclass(frozen=True)
class AccountDone:
    """``1036``: a request of ``0034``-``0038`` succeeded: the action, whom it concerned, and
    a detail (the new resume token after a password change, the one-time code after a reset,
    the number of sessions ended by ``0037``, else empty)."""

    CODE: ClassVar[str] = "1036"
    action: str
    username: str
    detail: str

    def __repr__(self) -> str:
        return f"AccountDone(action={self.action!r}, username={self.username!r}, detail=<hidden>)"


@dataclass(frozen=True)
class AccountInfo:
    """``1037``: answer to ``0039``."""

    CODE: ClassVar[str] = "1037"
    username: str
    nickname: str
    admin: bool


@dataclass(frozen=True)
class SignedOut:
    """``1039``: the server ends this connection now (``SIGN_OUT_REASONS``) and it cannot
    resume; a client shows the reason and goes back to its login form."""

    CODE: ClassVar[str] = "1039"
    reason: str
    text: str


AccountRequest = (
    ChangeSecretRequest | ChangeNicknameRequest | SessionsRequest | SignOutOthersRequest
    | AdminRequest | AccountInfoRequest
)
AccountEvent = (
    NicknameChanged | SessionEntry | AccountEntry | AccountListEnd | AccountDone | AccountInfo
    | SignedOut
)
ACCOUNT_REQUESTS: tuple[type[AccountRequest], ...] = (
    ChangeSecretRequest, ChangeNicknameRequest, SessionsRequest, SignOutOthersRequest,
    AdminRequest, AccountInfoRequest,
)
ACCOUNT_EVENTS: tuple[type[AccountEvent], ...] = (
    NicknameChanged, SessionEntry, AccountEntry, AccountListEnd, AccountDone, AccountInfo,
    SignedOut,
)
