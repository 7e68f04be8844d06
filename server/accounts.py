"""Who may log in: passwords (Argon2id), back-off, throttling, and single-use resume tokens.

Policy only; the database is the injected ``AccountStore`` and hashing the ``PasswordHasher``
(``server.ports``).

- Every wrong password or unknown name answers ``wrong username or password``. Unknown names
  cost the same Argon2id work (the pool's dummy verify) and keep the same failure book (in
  memory, bounded), so neither the text, nor the time, nor the back-off reveals an account.
- After ``account_backoff_after`` failures an account is locked for ``account_backoff_seconds``
  (kept in the database, so a restart does not reset it); during the lock even the right
  password gets ``too many attempts, try again later`` and no hash is computed.
- Failed logins and failed resumes also drain a per-address bucket with a generous burst: a
  script guessing from one address is slowed, an office behind one NAT is not locked out,
  and a successful login costs nothing.
- A resume token is 32 random bytes, handed out as urlsafe base64; the database keeps only
  its SHA-256 and an expiry. It works once: every login or resume returns a fresh one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from server.limits import KeyedBuckets
from server.options import ServerOptions
from server.ports import AccountStore, PasswordHasher
from server.store import StoreUnavailable, UserRecord

log = logging.getLogger(__name__)

WRONG_CREDENTIALS = "wrong username or password"
TOO_MANY_ATTEMPTS = "too many attempts, try again later"
SERVICE_UNAVAILABLE = "service unavailable"
RESUME_FAILED = "session expired, log in again"
TOKEN_BYTES = 32


@dataclass(frozen=True)
class Identity:
    """A successful login: who, and the fresh resume token to hand to the client."""

    username: str
    nickname: str
    resume_token: str = field(repr=False)


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


def _who(user: UserRecord | None) -> str:
    """A name for log lines: the account, or a placeholder (never what was typed).

    A person who types their password into the username field must not find it in the log.
    """
    return user.username if user is not None else "<unknown user>"


class _FailureMemo:
    """``(failures, locked_until_ms)`` of names that are not accounts; bounded LRU."""

    def __init__(self, max_keys: int) -> None:
        self._items: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._max = max(1, max_keys)
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[int, int]:
        with self._lock:
            return self._items.get(name, (0, 0))

    def put(self, name: str, count: int, locked_until_ms: int) -> None:
        with self._lock:
            self._items[name] = (count, locked_until_ms)
            self._items.move_to_end(name)
            while len(self._items) > self._max:
                self._items.popitem(last=False)


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
    ) -> None:
        self._store, self._hasher, self._options = store, hasher, options
        self._wall = wall_clock
        self._address_failures = KeyedBuckets(
            options.login_rate, options.login_burst, options.rate_limit_keys, clock
        )
        self._unknown = _FailureMemo(options.rate_limit_keys)

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    def login(self, address: str, peer: str, username: str, password: str) -> Identity | str:
        """Check a password; never says whether the account exists."""
        opts = self._options
        if not self._address_failures.allows(address):
            log.warning("login from %s throttled: too many failures from this address", peer)
            return TOO_MANY_ATTEMPTS
        plausible = 0 < len(username) <= opts.max_username and len(password) <= opts.max_password
        try:
            user = self._store.get_user(username) if plausible else None
            now = self._now_ms()
            failures, locked_until = (
                (user.failed_logins, user.locked_until_ms) if user else self._unknown.get(username)
            )
            if locked_until > now:
                log.warning("login for %s from %s refused: account back-off", _who(user), peer)
                return TOO_MANY_ATTEMPTS
            stored_hash = user.password_hash if user else None
            if not self._hasher.verify(stored_hash, password[: opts.max_password]) or not user:
                return self._failed(address, peer, username, user, failures, now)
            if user.failed_logins or user.locked_until_ms:
                self._store.reset_login_failures(user.username)
            self._maybe_rehash(user, password)
            return self._identity(user)
        except StoreUnavailable as exc:
            log.warning("login from %s: database unavailable (%s)", peer, exc)
            return SERVICE_UNAVAILABLE

    def _failed(
        self, address: str, peer: str, name: str, user: UserRecord | None, failures: int, now: int
    ) -> str:
        opts = self._options
        self._address_failures.charge(address)
        lock_until = 0
        if failures + 1 >= opts.account_backoff_after:
            lock_until = now + int(opts.account_backoff_seconds * 1000)
        if user is None:
            self._unknown.put(name, failures + 1, lock_until)
        else:
            self._store.record_login_failure(user.username, lock_until)
        backoff = "; account back-off starts" if lock_until else ""
        log.warning("login failed for %s from %s%s", _who(user), peer, backoff)
        return WRONG_CREDENTIALS

    def _maybe_rehash(self, user: UserRecord, password: str) -> None:
        """Upgrade a hash made with weaker parameters, now that we know the password."""
        if self._hasher.needs_rehash(user.password_hash):
            self._store.set_password_hash(user.username, self._hasher.hash(password))
            log.info("password hash of %s upgraded", user.username)

    def resume(self, address: str, peer: str, username: str, token: str) -> Identity | str:
        """Trade a resume token (single use) for a session and a fresh token."""
        if not self._address_failures.allows(address):
            log.warning("resume from %s throttled: too many failures from this address", peer)
            return TOO_MANY_ATTEMPTS
        raw = decode_token(token)
        try:
            owner = None
            if raw is not None:
                owner = self._store.consume_resume_token(hash_token(raw), self._now_ms())
            user = self._store.get_user(owner) if owner == username else None
            if user is None:
                self._address_failures.charge(address)
                log.warning("resume failed from %s: unknown, used or expired token", peer)
                return RESUME_FAILED
            return self._identity(user)
        except StoreUnavailable as exc:
            log.warning("resume from %s: database unavailable (%s)", peer, exc)
            return SERVICE_UNAVAILABLE

    def _identity(self, user: UserRecord) -> Identity:
        """Issue the next single-use resume token (its hash is stored before it is sent)."""
        token = secrets.token_bytes(TOKEN_BYTES)
        expires = self._now_ms() + int(self._options.resume_token_ttl * 1000)
        self._store.save_resume_token(hash_token(token), user.username, expires)
        text = base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")
        return Identity(user.username, user.nickname, text)
