"""An account's end-to-end identity: two key pairs made on the client, and their backup.

Why two pairs: one Ed25519 pair signs every direct message (who wrote it), one X25519 pair
receives envelopes (who can open it); using one key for both jobs would tie the signature
scheme to the key agreement. Both are 32-byte keys from pycryptodome, so a public bundle is
65 bytes and a message carries no certificate chains (PROTOCOL.md §7 says why not RSA-3072).

The private keys leave the client only as a backup sealed with AES-256-GCM under the
account's 32-byte master key, which is derived from the password on the client and never
sent. The associated data binds the backup to the account name and the key id, and opening
it checks that the private keys really produce the public keys of that id: a backup opened
under another key, or moved to another account, is refused, so AES-GCM's lack of key
commitment cannot be used to make a client accept someone else's keys.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from Crypto.Protocol import DH
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

IDENTITY_VERSION = 1
BACKUP_VERSION = 1
KEY_ID_BYTES = 16
PUBLIC_KEY_BYTES = 32
BUNDLE_BYTES = 1 + 2 * PUBLIC_KEY_BYTES  # version | sign_pub | recv_pub
MASTER_KEY_BYTES = 32
BACKUP_NONCE_BYTES = 12
BACKUP_BYTES = 1 + BACKUP_NONCE_BYTES + 2 * 32 + 16  # version | nonce | sealed seeds + tag
MAX_USERNAME_BYTES = 255

KEY_ID_LABEL = b"chat-e2e v1 key id\x00"
BACKUP_LABEL = b"chat-e2e v1 key backup\x00"

Random = Callable[[int], bytes]


class IdentityError(ValueError):
    """A public bundle or a backup that cannot be used (malformed, tampered, wrong key)."""


@dataclass(frozen=True, slots=True)
class PublicIdentity:
    """What the server's key directory holds for an account: two raw 32-byte public keys."""

    sign_public: bytes  # Ed25519, RFC 8032 encoding
    receive_public: bytes  # X25519, RFC 7748 encoding

    def __post_init__(self) -> None:
        if len(self.sign_public) != PUBLIC_KEY_BYTES or len(self.receive_public) != 32:
            raise IdentityError("identity public keys are 32 bytes each")

    @property
    def key_id(self) -> bytes:
        """16 bytes naming this key set: SHA-256(label | sign_pub | recv_pub)[:16]."""
        digest = hashlib.sha256(KEY_ID_LABEL + self.sign_public + self.receive_public)
        return digest.digest()[:KEY_ID_BYTES]

    def to_bytes(self) -> bytes:
        """The 65-byte bundle: ``0x01 | sign_pub[32] | recv_pub[32]``."""
        return bytes([IDENTITY_VERSION]) + self.sign_public + self.receive_public

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicIdentity:
        if len(data) != BUNDLE_BYTES or data[0] != IDENTITY_VERSION:
            raise IdentityError("public bundle must be 65 bytes of version 1")
        sign_public, receive_public = data[1:33], data[33:65]
        try:  # a point that is not on the curve is refused here, not at first use
            eddsa.import_public_key(sign_public)
            DH.import_x25519_public_key(receive_public)
        except ValueError as exc:
            raise IdentityError(f"public key is not a valid point: {exc}") from None
        return cls(sign_public, receive_public)


@dataclass(frozen=True, slots=True)
class Identity:
    """An account's private identity: the two 32-byte seeds (secret) and their public half."""

    sign_seed: bytes
    receive_seed: bytes
    public: PublicIdentity

    def __repr__(self) -> str:  # never let a private key reach a log line
        return f"Identity(key_id={self.public.key_id.hex()})"

    @classmethod
    def from_seeds(cls, sign_seed: bytes, receive_seed: bytes) -> Identity:
        if len(sign_seed) != 32 or len(receive_seed) != 32:
            raise IdentityError("identity seeds are 32 bytes each")
        sign_key = eddsa.import_private_key(sign_seed)
        receive_key = DH.import_x25519_private_key(receive_seed)
        public = PublicIdentity(
            sign_key.public_key().export_key(format="raw"),
            receive_key.public_key().export_key(format="raw"),
        )
        return cls(sign_seed, receive_seed, public)

    @classmethod
    def generate(cls, random: Random = os.urandom) -> Identity:
        """A new identity from 64 bytes of ``random`` (the OS by default; tests inject theirs)."""
        return cls.from_seeds(random(32), random(32))

    def signing_key(self) -> ECC.EccKey:
        return eddsa.import_private_key(self.sign_seed)

    def receiving_key(self) -> ECC.EccKey:
        return DH.import_x25519_private_key(self.receive_seed)


def backup_associated_data(username: str, key_id: bytes) -> bytes:
    """``label | version | len(username) u8 | username | key_id[16]``: what a backup is bound to."""
    name = username.encode("utf-8")
    if not 0 < len(name) <= MAX_USERNAME_BYTES or len(key_id) != KEY_ID_BYTES:
        raise IdentityError("username must be 1..255 bytes and key id 16 bytes")
    return BACKUP_LABEL + bytes([BACKUP_VERSION]) + struct.pack(">B", len(name)) + name + key_id


def seal_backup(
    identity: Identity, username: str, master_key: bytes, random: Random = os.urandom
) -> bytes:
    """The private keys sealed under the master key:
    ``0x01 | nonce[12] | AES-256-GCM(sign_seed | recv_seed) + tag[16]`` (93 bytes)."""
    if len(master_key) != MASTER_KEY_BYTES:
        raise IdentityError("the master key is 32 bytes")
    nonce = random(BACKUP_NONCE_BYTES)
    aad = backup_associated_data(username, identity.public.key_id)
    sealed = AESGCM(master_key).encrypt(nonce, identity.sign_seed + identity.receive_seed, aad)
    return bytes([BACKUP_VERSION]) + nonce + sealed


def open_backup(
    backup: bytes, username: str, master_key: bytes, expected: PublicIdentity
) -> Identity:
    """The identity in ``backup``, which must be ``username``'s key set ``expected``.

    Refused (``IdentityError``) if the backup is malformed, was sealed under another master
    key (an old password), for another account or key id, or holds keys that do not produce
    ``expected`` (which is what makes the backup key-committing).
    """
    if len(master_key) != MASTER_KEY_BYTES:
        raise IdentityError("the master key is 32 bytes")
    if len(backup) != BACKUP_BYTES or backup[0] != BACKUP_VERSION:
        raise IdentityError("backup must be 93 bytes of version 1")
    nonce, sealed = backup[1:13], backup[13:]
    aad = backup_associated_data(username, expected.key_id)
    try:
        seeds = AESGCM(master_key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise IdentityError("backup does not open with this password or account") from None
    identity = Identity.from_seeds(seeds[:32], seeds[32:])
    if identity.public != expected:
        raise IdentityError("backup holds keys other than the published ones")
    return identity
