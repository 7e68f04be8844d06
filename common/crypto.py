"""Thin wrappers over the two crypto libraries: the only primitives the protocol uses, fixed.

Fixing the parameters here (OAEP and PSS with SHA-256 and MGF1-SHA-256, PSS salt 32, X25519,
HKDF-SHA256, AES-256-GCM with 12-byte nonces and 16-byte tags) keeps every caller from choosing
differently. The envelope (OAEP, PSS, X25519, HKDF) is pycryptodome; the records' AES-GCM is
pyca ``cryptography``'s ``AESGCM`` (OpenSSL), whose key object is set up once and then seals a
record in one call, where pycryptodome's ``MODE_GCM`` rebuilds its whole state per message.
Each envelope function takes an optional ``randfunc`` so tests can pin a transcript's bytes.
Wycheproof vectors check these wrappers, not just the libraries underneath.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from Crypto.Cipher import PKCS1_OAEP
from Crypto.Hash import SHA256
from Crypto.Protocol import DH
from Crypto.Protocol.KDF import HKDF
from Crypto.PublicKey import RSA
from Crypto.PublicKey.ECC import EccKey
from Crypto.Random import get_random_bytes
from Crypto.Signature import pss
from Crypto.Signature.pss import MGF1
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.protocol import GCM_TAG

RandFunc = Callable[[int], bytes]
RSA_BITS = 3072
PSS_SALT_BYTES = 32
TAG_BYTES = GCM_TAG  # the record layer's tag, defined with the protocol's other constants
NONCE_BYTES = 12
X25519_BYTES = 32


def _mgf_sha256(seed: bytes, length: int) -> bytes:
    return bytes(MGF1(seed, length, SHA256))


def random_bytes(n: int) -> bytes:
    """Cryptographically strong random bytes."""
    return bytes(get_random_bytes(n))


def generate_rsa_key(bits: int = RSA_BITS) -> RSA.RsaKey:
    """A fresh RSA key pair (3072 bits unless a test asks for less)."""
    return RSA.generate(bits)


def load_public_key(pem: bytes) -> RSA.RsaKey:
    """Parse a PEM/DER public key; a private key is reduced to its public half."""
    return RSA.import_key(pem).public_key()


def fingerprint(public_key: RSA.RsaKey) -> str:
    """``SHA256:<base64>`` of the DER SubjectPublicKeyInfo, unpadded, as OpenSSH prints keys."""
    der = public_key.public_key().export_key(format="DER")
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def oaep_wrap(
    public_key: RSA.RsaKey, secret: bytes, label: bytes = b"", randfunc: RandFunc | None = None
) -> bytes:
    """RSA-OAEP(SHA-256, MGF1-SHA-256) encryption: the digital envelope around ``secret``."""
    cipher = PKCS1_OAEP.new(
        public_key, hashAlgo=SHA256, mgfunc=_mgf_sha256, label=label, randfunc=randfunc
    )
    return bytes(cipher.encrypt(secret))


def oaep_unwrap(private_key: RSA.RsaKey, envelope: bytes, label: bytes = b"") -> bytes:
    """Open an envelope. Raises ValueError on any failure, in constant time (pycryptodome)."""
    cipher = PKCS1_OAEP.new(private_key, hashAlgo=SHA256, mgfunc=_mgf_sha256, label=label)
    return bytes(cipher.decrypt(envelope))


def pss_sign(private_key: RSA.RsaKey, message: bytes, randfunc: RandFunc | None = None) -> bytes:
    """RSA-PSS(SHA-256, MGF1-SHA-256, salt 32) signature over ``message``."""
    signer = pss.new(
        private_key, mask_func=_mgf_sha256, salt_bytes=PSS_SALT_BYTES, rand_func=randfunc
    )
    return bytes(signer.sign(SHA256.new(message)))


def pss_verify(public_key: RSA.RsaKey, message: bytes, signature: bytes) -> bool:
    """True only for a valid PSS signature with exactly our parameters."""
    verifier = pss.new(public_key, mask_func=_mgf_sha256, salt_bytes=PSS_SALT_BYTES)
    try:
        verifier.verify(SHA256.new(message), signature)
    except (ValueError, TypeError):
        return False
    return True


def x25519_keypair(seed: bytes | None = None) -> tuple[EccKey, bytes]:
    """A private X25519 key and its 32-byte public share (RFC 7748 little-endian u)."""
    private = DH.import_x25519_private_key(seed if seed is not None else random_bytes(32))
    share = private.public_key().export_key(format="raw")
    return private, bytes(share)


def x25519_shared(private: EccKey, peer_share: bytes) -> bytes:
    """X25519(own_private, peer_share). Raises ValueError for a bad share or all-zero result."""
    if len(peer_share) != X25519_BYTES:
        raise ValueError("X25519 share must be 32 bytes")
    peer = DH.import_x25519_public_key(peer_share)
    shared = bytes(DH.key_agreement(static_priv=private, static_pub=peer, kdf=lambda z: z))
    if shared == bytes(X25519_BYTES):
        raise ValueError("X25519 produced the all-zero secret")
    return shared


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869) extract-and-expand."""
    out = HKDF(ikm, length, salt, SHA256, num_keys=1, context=info)
    assert isinstance(out, bytes)
    return out


class AesGcm:
    """One AES-GCM key (OpenSSL through pyca ``cryptography``), set up once and used per record.

    The record layer keeps one per direction. Only 12-byte nonces and 16-byte tags exist here,
    and every failure is a ``ValueError`` (``cryptography`` raises ``InvalidTag``), so callers
    need not know which library is underneath. OpenSSL checks the tag before releasing plaintext.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("AES keys are 16, 24 or 32 bytes")
        self._aead = AESGCM(bytes(key))

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """``ciphertext + tag[16]``."""
        _check_nonce(nonce)
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext; ``ValueError`` if the nonce, data, tag or ``aad`` do not match."""
        _check_nonce(nonce)
        if len(sealed) < TAG_BYTES:
            raise ValueError("sealed data shorter than the tag")
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise ValueError("MAC check failed") from None


def _check_nonce(nonce: bytes) -> None:
    if len(nonce) != NONCE_BYTES:
        raise ValueError("AES-GCM nonces here are 12 bytes")


def aes_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-GCM encryption (12-byte nonce); returns ``ciphertext + tag[16]``.

    One-shot form; the record layer keeps an ``AesGcm`` per direction instead.
    """
    return AesGcm(key).seal(nonce, plaintext, aad)


def aes_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """AES-GCM decryption of ``ciphertext + tag``; raises ValueError if anything was changed."""
    return AesGcm(key).open(nonce, sealed, aad)
