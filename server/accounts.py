"""Who may log in: passwords and keys (Argon2id), failed-login delays, and resume tokens.

A password login (``0001``) and a key login (``0031``, PROTOCOL.md §8) take the same path
(``_attempt``); only the check differs (``server.credentials``). ``kdf_params`` answers
``0030`` from its own per-address bucket.

Policy only; the database is the injected ``AccountStore`` and hashing the ``PasswordHasher``
(``server.ports``). What each defence promises, with its numbers, is in SECURITY.md ("Login and
accounts").

- A name that cannot be an account name (``server.names``) or an over-long password gets the
  ordinary failure before any database or hashing work, and nothing of it is remembered.
- Every other attempt is first *reserved* in the database, for the pair (name, address), in
  one atomic statement that counts the attempt before its password is checked and refuses
  while the pair's delay runs. The delay doubles with each failure past the free ones and
  decays over time; it belongs to the address, so a guesser elsewhere cannot lock the owner
  out. The same statements run whether or not the account exists, so neither the answer,
  its time, nor the delay reveals an account.
- Every attempt takes a token from the address's bucket up front (a success gives it back);
  at most ``login_hashes_per_address`` attempts of one address are between reservation and
  verdict at once (the others wait, up to the handshake deadline), and one account's
  passwords are verified one at a time.
- A resume token is 32 random bytes, handed out as urlsafe base64; the database keeps only
  its SHA-256 and an expiry. It works once, logout revokes it, an account keeps at most
  ``max_tokens_per_account``, and ``TokenSweeper`` deletes expired ones on a timer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from common.account_keys import KdfParams
from common.protocol import LoginRefusal
from server.credentials import Credentials, KeyHasher
from server.limits import KeyedBuckets
from server.names import is_username
from server.options import ServerOptions
from server.ports import AccountStore, PasswordHasher
from server.store import DelayPolicy, StoreUnavailable, UserRecord

log = logging.getLogger(__name__)

# the refusals (a code word and its text, ``common.protocol.LoginRefusal``; they are strs)
WRONG_CREDENTIALS = LoginRefusal.WRONG_CREDENTIALS
TOO_MANY_ATTEMPTS = LoginRefusal.TOO_MANY_ATTEMPTS
SERVICE_UNAVAILABLE = LoginRefusal.SERVICE_UNAVAILABLE
RESUME_FAILED = LoginRefusal.SESSION_EXPIRED
KEY_LOGIN_REQUIRED = LoginRefusal.KEY_LOGIN_REQUIRED
TOKEN_BYTES = 32
FORGET_AFTER_HALF_LIVES = 8  # an idle pair's count has decayed to 1/256: the row can go


@dataclass(frozen=True)
class Identity:
    """A successful login: who, and the fresh resume token to hand to the client."""

    username: str
    nickname: str
    resume_token: str = field(repr=False)
    token_hash: bytes = field(default=b"", repr=False)  # what logout revokes


class LockedOut(str):
    """``too_many_attempts`` while this name's failed-login delay runs here, with the whole
    seconds left (``seconds``), which the refusal tells the client. A ``str`` equal to the
    refusal's text, so every place that compares an outcome with ``TOO_MANY_ATTEMPTS`` still
    sees that refusal."""

    seconds: int

    def __new__(cls, seconds: int) -> LockedOut:
        locked = super().__new__(cls, TOO_MANY_ATTEMPTS.value)
        locked.seconds = seconds
        return locked


def hash_token(token: bytes) -> bytes:
    """What the database keeps of a resume token: its SHA-256, never the token."""
    return hashlib.sha256(token).digest()


def decode_token(text: str) -> bytes | None:
    """The 32 bytes of a urlsafe-base64 token (padding optional), or None if it is not one."""
    if not 40 <= len(text) <= 48:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == TOKEN_BYTES else None


def delay_policy(options: ServerOptions) -> DelayPolicy:
    """The failed-login delay of ``options`` in the database's units (ms)."""
    return DelayPolicy(
        free_attempts=max(1, options.account_backoff_after),
        base_ms=int(options.account_backoff_seconds * 1000),
        cap_ms=int(options.login_backoff_cap * 1000),
        half_life_ms=max(1, int(options.login_failure_half_life * 1000)),
    )


class _Slots:
    """At most ``limit`` holders per key; others wait their turn, up to a deadline.

    Keys without holders take no memory.
    """

    def __init__(self, limit: int) -> None:
        self._limit = max(1, limit)
        self._held: dict[str, int] = {}
        self._changed = threading.Condition()

    def enter(self, key: str, timeout: float) -> bool:
        """Take a slot of ``key``, waiting up to ``timeout`` s; False if none came free."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._held.get(key, 0) < self._limit, timeout):
                return False
            self._held[key] = self._held.get(key, 0) + 1
            return True

    def leave(self, key: str) -> None:
        with self._changed:
            held = self._held.pop(key, 1) - 1
            if held > 0:
                self._held[key] = held
            self._changed.notify_all()


class _Turns:
    """One holder at a time per key (waiting, not refused); idle keys take no memory."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class Accounts:
    """Password login and token resume; each returns an ``Identity`` or a failure text."""

    def __init__(
        self,
        store: AccountStore,
        hasher: PasswordHasher,
        options: ServerOptions,
        *,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        key_hasher: KeyHasher | None = None,
        salt_secret: bytes = b"",
    ) -> None:
        self._store, self._hasher, self._options = store, hasher, options
        self._wall = wall_clock
        self._policy = delay_policy(options)
        self.credentials = Credentials(store, hasher, key_hasher or hasher, options, salt_secret)
        self._address_attempts = KeyedBuckets(
            options.login_rate, options.login_burst, options.rate_limit_keys, clock
        )
        self._kdf_asks = KeyedBuckets(
            options.prelogin_rate, options.prelogin_burst, options.rate_limit_keys, clock
        )
        self._address_slots = _Slots(options.login_hashes_per_address)
        self._account_turns = _Turns()

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    def login(self, address: str, peer: str, username: str, password: str) -> Identity | str:
        """Check a password (``0001``); never says whether the account exists."""
        if not self._options.legacy_password_login:
            log.warning("password login from %s refused: this server takes keys only", peer)
            return KEY_LOGIN_REQUIRED
        return self._attempt(
            address, peer, username, len(password) <= self._options.max_password,
            lambda user: self.credentials.check_password(username, user, password),
        )

    def key_login(
        self, address: str, peer: str, username: str, auth_key: bytes | None
    ) -> Identity | str:
        """Check an authentication key (``0031``; None: not a key); exactly as ``login``."""
        return self._attempt(
            address, peer, username, auth_key is not None,
            lambda user: auth_key is not None and self.credentials.check_key(user, auth_key),
        )

    def kdf_params(self, address: str, peer: str, username: str) -> KdfParams | str:
        """``0030``: the name's parameters (stand-ins for a name that is no account)."""
        if not self._kdf_asks.take(address):
            log.warning("parameter requests from %s throttled", peer)
            return TOO_MANY_ATTEMPTS
        try:
            user = self._store.get_user(username) if is_username(username) else None
        except StoreUnavailable as exc:
            log.warning("parameters for %s: database unavailable (%s)", peer, exc)
            return SERVICE_UNAVAILABLE
        return self.credentials.announced(username, user)

    def _attempt(
        self, address: str, peer: str, username: str, plausible: bool,
        check: Callable[[UserRecord | None], bool],
    ) -> Identity | str:
        """The path of every login: address bucket, cheap refusals, slots, reservation, check."""
        if not self._address_attempts.take(address):
            log.warning("login from %s throttled: too many attempts from this address", peer)
            return TOO_MANY_ATTEMPTS
        if not is_username(username) or not plausible:
            log.warning("login failed from %s: not an account name or password", peer)
            return WRONG_CREDENTIALS
        # a crowd behind one address waits its turn; only a login that cannot start before
        # the connection's own login deadline is refused
        if not self._address_slots.enter(address, self._options.handshake_timeout):
            log.warning("login from %s refused: too many logins in progress", peer)
            return TOO_MANY_ATTEMPTS
        try:
            return self._reserved_login(address, peer, username, check)
        except StoreUnavailable as exc:
            log.warning("login from %s: database unavailable (%s)", peer, exc)
            return SERVICE_UNAVAILABLE
        finally:
            self._address_slots.leave(address)

    def _reserved_login(
        self, address: str, peer: str, username: str, check: Callable[[UserRecord | None], bool]
    ) -> Identity | str:
        """Reserve, then verify; the same statements run for accounts and unknown names."""
        if not self._store.reserve_login_attempt(username, address, self._now_ms(), self._policy):
            log.warning("login from %s refused: failed-login delay of this name here", peer)
            return self._locked_out(username, address)
        user = self._store.get_user(username)
        with self._account_turns.hold(username):
            ok = check(user)
        if not ok or user is None:
            log.warning("login failed for %s from %s", _who(user), peer)
            return WRONG_CREDENTIALS
        self._address_attempts.refund(address)
        self._store.clear_login_attempts(username, address)
        return self._identity(user)

    def _locked_out(self, username: str, address: str) -> LockedOut:
        """The refusal while the pair's delay runs, saying how long is left (at least 1 s)."""
        state = self._store.login_attempt_state(username, address)
        left_ms = state[1] - self._now_ms() if state is not None else 0
        return LockedOut(max(1, -(-left_ms // 1000)))

    def resume(self, address: str, peer: str, username: str, token: str) -> Identity | str:
        """Trade a resume token (single use) for a session and a fresh token."""
        if not self._address_attempts.allows(address):
            log.warning("resume from %s throttled: too many failures from this address", peer)
            return TOO_MANY_ATTEMPTS
        raw = decode_token(token) if is_username(username) else None
        try:
            owner = None
            if raw is not None:
                owner = self._store.consume_resume_token(hash_token(raw), self._now_ms())
            user = self._store.get_user(owner) if owner == username else None
            if user is None:
                self._address_attempts.charge(address)
                log.warning("resume failed from %s: unknown, used or expired token", peer)
                return RESUME_FAILED
            return self._identity(user)
        except StoreUnavailable as exc:
            log.warning("resume from %s: database unavailable (%s)", peer, exc)
            return SERVICE_UNAVAILABLE

    def logout(self, token_hash: bytes) -> None:
        """Revoke the token the connection was given: it cannot resume any more."""
        if not token_hash:
            return
        try:
            self._store.revoke_resume_token(token_hash)
        except StoreUnavailable as exc:
            log.warning("resume token not revoked: database unavailable (%s)", exc)

    def take_attempt(self, address: str) -> bool:
        """One token of the address's login bucket, for a check of a secret outside login."""
        return self._address_attempts.take(address)

    def refund_attempt(self, address: str) -> None:
        self._address_attempts.refund(address)

    def reissue(self, user: UserRecord) -> Identity:
        """A fresh token for a connection whose tokens were all revoked (its password change)."""
        return self._identity(user)

    def sweep(self) -> int:
        """Delete expired tokens, long-idle failed-login rows and spent or expired
        invitations; how many rows went."""
        now = self._now_ms()
        idle_before = now - FORGET_AFTER_HALF_LIVES * self._policy.half_life_ms
        return (self._store.sweep_resume_tokens(now)
                + self._store.sweep_login_attempts(idle_before, now)
                + self._store.sweep_invitations(now))

    def issue(self, user: UserRecord) -> Identity:
        """A session for an account that has just been created (``0032``)."""
        return self._identity(user)

    def _identity(self, user: UserRecord) -> Identity:
        """Issue the next single-use resume token (its hash is stored before it is sent)."""
        token = secrets.token_bytes(TOKEN_BYTES)
        digest = hash_token(token)
        expires = self._now_ms() + int(self._options.resume_token_ttl * 1000)
        self._store.save_resume_token(
            digest, user.username, expires, keep=self._options.max_tokens_per_account
        )
        text = base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")
        return Identity(user.username, user.nickname, text, digest)


def _who(user: UserRecord | None) -> str:
    """A name for log lines: the account, or a placeholder (never what was typed).

    A person who types their password into the username field must not find it in the log.
    """
    return user.username if user is not None else "<unknown user>"


class TokenSweeper:
    """A daemon thread calling ``Accounts.sweep`` every ``interval`` seconds until ``stop``."""

    def __init__(self, accounts: Accounts, interval: float) -> None:
        self._accounts, self._interval = accounts, max(1.0, interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="token-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                swept = self._accounts.sweep()
            except StoreUnavailable as exc:
                log.warning("token sweep skipped: database unavailable (%s)", exc)
                continue
            except Exception:  # keep sweeping; a bug here must not end the thread silently
                log.exception("token sweep failed")
                continue
            if swept:
                log.info("swept %d expired tokens and idle failed-login rows", swept)
