"""Keys a client derives from a password, so the password itself never leaves the device.

One memory-hard Argon2id run (argon2-cffi) over the password and the account's salt gives a
root secret; HKDF-SHA256 (pycryptodome) splits it under two distinct labels into two
independent keys. The *authentication key* is what a client proves at login (the server keeps
only an Argon2id hash of it); the *master key* never leaves the client. Knowing one of the two
keys tells nothing about the other, because each is an HKDF output under its own label.

The parameters come from the server per account (``KdfParams``) so they can be raised later.
Sans-I/O: no sockets, no files, no clocks.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from argon2.low_level import Type, hash_secret_raw
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF

KEY_BYTES = 32
SALT_BYTES = 16
AUTH_LABEL = b"chat account v1 authentication key"
MASTER_LABEL = b"chat account v1 master key"
UNKNOWN_SALT_LABEL = b"chat account v1 salt of a name"


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost and salt of one account, as the server announces them before login."""

    memory_kib: int
    time_cost: int
    parallelism: int
    salt: bytes = field(repr=False)


@dataclass(frozen=True)
class AccountKeys:
    """The two keys of one password; ``repr`` hides both."""

    auth_key: bytes = field(repr=False)
    master_key: bytes = field(repr=False)


def derive_account_keys(password: str, params: KdfParams) -> AccountKeys:
    """Argon2id over ``password`` and the salt, then two HKDF outputs with distinct labels."""
    root = hash_secret_raw(
        secret=password.encode("utf-8"),
        salt=params.salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )
    auth = HKDF(root, KEY_BYTES, b"", SHA256, context=AUTH_LABEL)
    master = HKDF(root, KEY_BYTES, b"", SHA256, context=MASTER_LABEL)
    assert isinstance(auth, bytes) and isinstance(master, bytes)
    return AccountKeys(auth, master)


def salt_for_name(server_secret: bytes, username: str) -> bytes:
    """A stable salt for a name that has none stored (unknown or not yet migrated).

    HMAC of the server's secret: the same name always gets the same salt, and without the
    secret nobody can tell it from a random salt of a real account.
    """
    mac = hmac.new(server_secret, UNKNOWN_SALT_LABEL + b"\x00" + username.encode("utf-8"),
                   hashlib.sha256)
    return mac.digest()[:SALT_BYTES]
