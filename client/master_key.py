"""The account's 32-byte master key on this client: what seals the end-to-end key backup.

ONE seam: ``master_key_for`` is the only place the end-to-end code gets the master key from.
It derives the key here from the password with ``common.account_keys`` (Argon2id, then HKDF
under the master-key label), with fixed parameters and a salt made from the username, so
every window of an account derives the same key without asking the server. When login
derives the account keys itself (with the parameters and salt the server announces per
account), the controller passes that key instead: ``SealedDirect.start(master_key=...)``
(``client/app.py``, where it now passes the password), and this module goes.

The master key never leaves the client and is kept in memory only. Argon2id is slow on
purpose (tens to hundreds of milliseconds), so callers run this off the Tk thread.
"""

from __future__ import annotations

import hashlib

from common.account_keys import KdfParams, derive_account_keys

SALT_LABEL = b"chat e2e master key salt\x00"
MASTER_KDF = KdfParams(memory_kib=19_456, time_cost=2, parallelism=1, salt=b"")
"""Argon2id at OWASP's smallest recommended cost (19 MiB, 2 passes): the same on every
client, since the salt and parameters are not fetched from the server."""


def salt_for(username: str) -> bytes:
    """A 16-byte salt of the account name: the same in every window, different per account."""
    return hashlib.sha256(SALT_LABEL + username.encode("utf-8")).digest()[:16]


def master_key_for(username: str, password: str, params: KdfParams | None = None) -> bytes:
    """The master key of ``username`` with ``password`` (32 bytes; slow: not on the Tk thread)."""
    base = params or MASTER_KDF
    salted = KdfParams(base.memory_kib, base.time_cost, base.parallelism, salt_for(username))
    return derive_account_keys(password, salted).master_key
