"""What a login proves, checked with equal work for every kind of row: passwords and keys.

Since key login (PROTOCOL.md §8) an account's ``password_hash`` is an Argon2id hash of its
*authentication key*, which the client derives from the password (``common.account_keys``);
the server never needs the password. Accounts made before keep a hash of the password
(``UserRecord.kdf`` is None) until their next password login (``0001``), which turns them
into key rows: the server derives the authentication key from that password once, with the
parameters it has announced for the name all along (``announced``), so the account's ``1030``
answer does not change when it is migrated.

Equal work, so that the answer's time tells nothing:

- ``0031`` (a key): one verify of the key hash, against a dummy when the row is unknown or
  not yet migrated.
- ``0001`` (a password): one verify of a password hash (the row's or a dummy), one client
  derivation with the row's (or the announced) parameters, one verify of a key hash (the
  row's or a dummy), whatever the row is.
- ``0030``: the stand-in salt of a name (``salt_for_name``) is computed for every name,
  whether it is returned or not.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from typing import Protocol

from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF
from Crypto.PublicKey import RSA

from common.account_keys import (
    SALT_BYTES,
    AccountKeys,
    KdfParams,
    derive_account_keys,
    salt_for_name,
)
from server.options import ServerOptions
from server.passwords import PasswordHasherPool
from server.store import UserRecord
from server.store_signup import NewAccount

log = logging.getLogger(__name__)

SALT_SECRET_LABEL = b"chat server v1 salt secret"
DUMMY_KEY = bytes(32)


class KeyHasher(Protocol):
    """Argon2id over a password or an authentication key (``server.passwords``)."""

    def hash(self, password: str | bytes) -> str: ...

    def verify(self, stored_hash: str | None, password: str | bytes) -> bool: ...

    def needs_rehash(self, stored_hash: str) -> bool: ...


class KeyRowStore(Protocol):
    def set_account_key(self, username: str, key_hash: str, kdf: KdfParams) -> None: ...


def salt_secret(private_key: RSA.RsaKey) -> bytes:
    """The secret behind the stand-in salts, from the server's RSA key.

    Every process of a cluster holds the same key, so they all answer the same salt for a
    name; no further secret has to be made, copied or backed up.
    """
    secret = HKDF(private_key.export_key(format="DER"), 32, b"", SHA256,
                  context=SALT_SECRET_LABEL)
    assert isinstance(secret, bytes)
    return secret


def announced_kdf(options: ServerOptions, salt: bytes) -> KdfParams:
    """The server's current client-side parameters with ``salt``."""
    return KdfParams(options.kdf_memory_kib, options.kdf_time_cost, options.kdf_parallelism, salt)


class Credentials:
    """Checks passwords (``0001``) and authentication keys (``0031``); migrates old rows."""

    def __init__(
        self,
        store: KeyRowStore,
        password_hasher: KeyHasher,
        key_hasher: KeyHasher,
        options: ServerOptions,
        secret: bytes,
        derive: Callable[[str, KdfParams], AccountKeys] = derive_account_keys,
    ) -> None:
        self._store, self._passwords, self._keys = store, password_hasher, key_hasher
        self._options, self._secret, self._derive = options, secret, derive
        # a derivation takes kdf_memory_kib (64 MiB) while it runs: bound them like hashes
        self._derivations = threading.BoundedSemaphore(max(1, options.argon2_workers))

    def announced(self, username: str, user: UserRecord | None) -> KdfParams:
        """The parameters ``1030`` gives for ``username``: the account's, or stand-ins that
        are the same on every ask and look like an account's."""
        stand_in = announced_kdf(self._options, salt_for_name(self._secret, username))
        return user.kdf if user is not None and user.kdf is not None else stand_in

    def key_hash(self, auth_key: bytes) -> str:
        """What the database keeps of an authentication key."""
        return self._keys.hash(auth_key)

    def check_key(self, user: UserRecord | None, auth_key: bytes) -> bool:
        """``0031``: the key matches the account's key hash (unknown and old rows: a dummy)."""
        stored = user.password_hash if user is not None and user.kdf is not None else None
        ok = self._keys.verify(stored, auth_key)
        if ok and user is not None and self._keys.needs_rehash(user.password_hash):
            assert user.kdf is not None
            self._store.set_account_key(user.username, self.key_hash(auth_key), user.kdf)
            log.info("key hash of %s upgraded", user.username)
        return ok and stored is not None

    def check_password(self, username: str, user: UserRecord | None, password: str) -> bool:
        """``0001``: the same three steps for every row (see the module docstring); a correct
        password of an old row makes it a key row."""
        old_row = user is not None and user.kdf is None
        password_ok = self._passwords.verify(user.password_hash if old_row and user else None,
                                             password)
        kdf = self.announced(username, user)
        with self._derivations:
            auth_key = self._derive(password, kdf).auth_key
        key_ok = self.check_key(None if old_row else user, auth_key)
        if user is None:
            return False
        if old_row and password_ok:
            self._store.set_account_key(user.username, self.key_hash(auth_key), kdf)
            log.info("account %s now logs in with a key", user.username)
        return password_ok if old_row else key_ok


def key_hasher_of(options: ServerOptions, workers: int = 1) -> PasswordHasherPool:
    """The Argon2id of authentication keys (``CHAT_AUTH_HASH_*``): cheap, because the key is
    32 random bytes that cost the client the expensive derivation."""
    return PasswordHasherPool(workers, time_cost=options.auth_hash_time_cost,
                              memory_cost=options.auth_hash_memory_kib, parallelism=1)


def new_key_account(
    username: str, nickname: str, password: str, options: ServerOptions,
    key_hasher: KeyHasher | None = None,
) -> NewAccount:
    """An account whose password the operator typed (``add-user``, ``init-db --demo``): the
    client's derivation runs here once, with a fresh salt, and only the key's hash is kept."""
    kdf = announced_kdf(options, secrets.token_bytes(SALT_BYTES))
    auth_key = derive_account_keys(password, kdf).auth_key
    hasher = key_hasher or key_hasher_of(options)
    return NewAccount(username, nickname, hasher.hash(auth_key), kdf)
