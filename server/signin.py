"""Key login, registration and invitations (PROTOCOL.md §8): the codes ``0030``–``0033``.

The service hands these requests here (``ChatService.on_message``); the checks of a login
itself are ``server.accounts`` (buckets, delays, equal work) and ``server.credentials``.
Before login a connection may ask for parameters (``0030``), log in with a key (``0031``) or
register (``0032``); ``0033`` needs a logged-in administrator (``is_admin`` in the store).

Registration refuses with one ``bad_code`` for an invitation that is unknown, used up or
expired, so a refusal does not tell a guesser which codes once existed; each ``0032`` takes a
token of its address's bucket (``CHAT_LOGIN_RATE``/``_BURST``) before anything is checked, and
a code has 120 random bits, so guessing one is hopeless. Names are checked only once the
code has been accepted: only invited people learn that a name is taken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.account_keys import SALT_BYTES, KdfParams
from common.e2e import from_field, to_field
from common.messages_login import (
    Invitation,
    InviteRequest,
    KdfParamsReply,
    KdfParamsRequest,
    KeyLoginRequest,
    RegisterRequest,
)
from server.accounts import SERVICE_UNAVAILABLE, TOO_MANY_ATTEMPTS, Accounts, Identity
from server.admission import Admission
from server.connection_state import ConnectionState
from server.credentials import announced_kdf
from server.invitations import code_hash, new_code
from server.limits import KeyedBuckets
from server.names import is_username, nickname_problem
from server.options import ServerOptions
from server.store import StoreUnavailable, UserRecord
from server.store_signup import NewAccount, Registered, SignupStore

log = logging.getLogger(__name__)

KEY_BYTES = 32
BAD_CODE_TEXT = "the invitation code is not valid (unknown, used or expired)"


Admit = Callable[[ConnectionState, Identity | str, str], bool]


def decode_key(text: str) -> bytes | None:
    """The 32 bytes of an authentication-key field, or None if it is not one."""
    try:
        key = from_field(text)
    except ValueError:
        return None
    return key if len(key) == KEY_BYTES else None


class SignIn:
    """Answers ``0030``–``0033``; ``admit`` is the service's ``1001`` and roster step."""

    def __init__(
        self, accounts: Accounts, admission: Admission, store: SignupStore, admit: Admit,
        options: ServerOptions, now_ms: Callable[[], int],
    ) -> None:
        self._accounts, self._admission, self._store = accounts, admission, store
        self._admit, self._options, self._now_ms = admit, options, now_ms
        self._registrations = KeyedBuckets(
            options.login_rate, options.login_burst, options.rate_limit_keys
        )

    def before_login(
        self, conn: ConnectionState, message: KdfParamsRequest | KeyLoginRequest | RegisterRequest
    ) -> bool:
        """``0030`` at any time; ``0031`` and ``0032`` only before login."""
        if isinstance(message, KdfParamsRequest):
            return self._kdf_params(conn, message.username)
        if conn.logged_in:
            conn.error("bad_request", "already logged in")
            return True
        if isinstance(message, KeyLoginRequest):
            return self._key_login(conn, message)
        return self._register(conn, message)

    def _kdf_params(self, conn: ConnectionState, username: str) -> bool:
        outcome = self._accounts.kdf_params(conn.address, conn.peer, username)
        if outcome == TOO_MANY_ATTEMPTS:
            conn.error("rate_limited", "too many requests, try again later")
        elif isinstance(outcome, str):
            conn.error("unavailable", "the database is unavailable; try again")
        else:
            conn.send(KdfParamsReply(outcome.memory_kib, outcome.time_cost, outcome.parallelism,
                                     to_field(outcome.salt)))
        return True

    def _key_login(self, conn: ConnectionState, request: KeyLoginRequest) -> bool:
        if not self._admission.may_log_in(request.username, conn.address):
            return self._admit(conn, TOO_MANY_ATTEMPTS, "key")
        outcome = self._accounts.key_login(
            conn.address, conn.peer, request.username, decode_key(request.auth_key)
        )
        return self._admit(conn, outcome, "key")

    # --- registration ----------------------------------------------------------------------

    def _register(self, conn: ConnectionState, request: RegisterRequest) -> bool:
        if not self._registrations.take(conn.address):
            conn.error("rate_limited", "too many registrations from this address; wait")
            return True
        hashed = code_hash(request.code) if request.code else None
        if hashed is None and not (self._options.open_registration and not request.code):
            log.warning("registration from %s refused: bad invitation code", conn.peer)
            conn.error("bad_code", BAD_CODE_TEXT)
            return True
        problem, account = self._new_account(request)
        if account is None:
            conn.error("bad_request", problem)
            return True
        try:
            outcome = self._store.register_user(account, hashed, self._now_ms())
        except StoreUnavailable as exc:
            log.warning("registration from %s: database unavailable (%s)", conn.peer, exc)
            conn.error("unavailable", "the database is unavailable; try again")
            return True
        if outcome is not Registered.OK:
            log.warning("registration from %s refused: %s", conn.peer, outcome.value)
            conn.error(*_REFUSALS[outcome])
            return True
        log.info("account %s registered from %s", account.username, conn.peer)
        user = UserRecord(account.username, account.nickname, account.key_hash, account.kdf)
        try:
            identity: Identity | str = self._accounts.issue(user)
        except StoreUnavailable:
            identity = SERVICE_UNAVAILABLE  # created; the client logs in with 0031 later
        return self._admit(conn, identity, "registration")

    def _new_account(self, request: RegisterRequest) -> tuple[str, NewAccount | None]:
        """The account ``request`` asks for, or why it cannot be (``bad_request``'s text)."""
        if not is_username(request.username):
            return "usernames are 1-32 of A-Z a-z 0-9 _ . -", None
        problem = nickname_problem(request.nickname)
        if problem:
            return problem, None
        key = decode_key(request.auth_key)
        try:
            salt = from_field(request.salt)
        except ValueError:
            salt = b""
        kdf = KdfParams(request.memory_kib, request.time_cost, request.parallelism, salt)
        if key is None or len(salt) != SALT_BYTES:
            return "the key or salt is malformed", None
        if kdf != announced_kdf(self._options, salt):
            return "the key derivation parameters are not this server's (ask 0030 again)", None
        key_hash = self._accounts.credentials.key_hash(key)
        return "", NewAccount(request.username, request.nickname, key_hash, kdf)

    # --- invitations -----------------------------------------------------------------------

    def invite(self, conn: ConnectionState, request: InviteRequest) -> bool:
        """``0033``: a new code for a logged-in administrator, answered ``1031``."""
        assert conn.username is not None
        opts = self._options
        try:
            allowed = self._store.is_admin(conn.username)
        except StoreUnavailable:
            conn.error("unavailable", "the database is unavailable; try again")
            return True
        if not allowed:
            log.warning("%s (%s) asked for an invitation: not an administrator",
                        conn.peer, conn.username)
            conn.error("forbidden", "only administrators make invitations")
            return True
        if not (1 <= request.uses <= opts.max_invite_uses
                and 60 <= request.ttl_s <= opts.max_invite_ttl):
            conn.error("bad_request", f"uses 1..{opts.max_invite_uses}, "
                                      f"valid 60..{int(opts.max_invite_ttl)} seconds")
            return True
        code = new_code()
        hashed = code_hash(code)
        assert hashed is not None
        now = self._now_ms()
        expires = now + request.ttl_s * 1000
        try:
            self._store.add_invitation(hashed, request.uses, expires, conn.username, now)
        except StoreUnavailable:
            conn.error("unavailable", "the database is unavailable; try again")
            return True
        log.info("%s made an invitation for %d use(s)", conn.username, request.uses)
        conn.send(Invitation(code, request.uses, expires))
        return True


_REFUSALS = {
    Registered.BAD_CODE: ("bad_code", BAD_CODE_TEXT),
    Registered.USERNAME_TAKEN: ("name_taken", "that username is taken"),
    Registered.NICKNAME_TAKEN: ("name_taken", "that nickname is taken (or one like it)"),
}
