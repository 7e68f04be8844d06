"""AES-256-GCM for the record layer, with the per-key work done once per direction.

Why this exists: ``AES.new(key, AES.MODE_GCM, nonce=...)`` rebuilds everything for every record
in Python: an ECB cipher to derive H, the GHASH table, two CTR ciphers. That costs ~70-100 µs per
record on the machines the chat runs on, a thousand times what the AES itself costs, and every
lobby message is sealed once per recipient. ``AesGcm`` keeps one AES key schedule and one
expanded GHASH table per key and, per record, makes three calls into pycryptodome's C code: one
ECB pass over the counter blocks, one GHASH over ``A || C || lengths``, two XORs.

It is NIST SP 800-38D Algorithms 4 and 5 for 96-bit nonces only, built from pycryptodome's own
AES and GHASH (``Crypto.Cipher._mode_gcm``, the code behind ``MODE_GCM``). That module is
private, so everything here checks at import that it looks as expected and falls back to the
public ``MODE_GCM`` per record otherwise; the Wycheproof vectors and a property test against
``MODE_GCM`` run through both paths. Opening verifies the tag, in constant time, before any
plaintext is computed.
"""

from __future__ import annotations

import hmac
import struct
from typing import Any

from Crypto.Cipher import AES
from Crypto.Util.strxor import strxor

NONCE_BYTES = 12
TAG_BYTES = 16
BLOCK = 16
# Counter blocks 0^96 || i for i = 1 .. _MAX_BLOCKS: J0 is block 1, the keystream starts at 2.
# 4,097 blocks cover the largest frame body (65,536 bytes); longer inputs take the slow path.
_MAX_BLOCKS = 4097
_COUNTERS = b"".join(bytes(12) + i.to_bytes(4, "big") for i in range(1, _MAX_BLOCKS + 1))
_FAST_MAX_BYTES = (_MAX_BLOCKS - 1) * BLOCK


def _load_ghash() -> tuple[Any, Any, Any, Any, Any, Any] | None:
    """pycryptodome's GHASH pieces, or None if this version lays them out differently."""
    try:
        from Crypto.Cipher import _mode_gcm
        from Crypto.Util._raw_api import (
            c_size_t,
            c_uint8_ptr,
            create_string_buffer,
            get_raw_buffer,
        )

        ghash_c = _mode_gcm._ghash_clmul or _mode_gcm._ghash_portable
        ghash_class: Any = _mode_gcm._GHASH
        ghash_class(bytes(16), ghash_c)._exp_key.get()
        if not callable(ghash_c.ghash):
            return None
        return (
            ghash_class,
            ghash_c,
            c_size_t,
            c_uint8_ptr,
            create_string_buffer,
            get_raw_buffer,
        )
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - another pycryptodome
        return None


_GHASH_PARTS = _load_ghash()
FAST_PATH_AVAILABLE = _GHASH_PARTS is not None


class AesGcm:
    """One AES-256-GCM key, sealing and opening with 12-byte nonces and 16-byte tags.

    Safe to share between threads (no state changes after ``__init__``); the record layer still
    keeps one per direction because the directions have different keys.
    """

    def __init__(self, key: bytes, *, fast: bool = True) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("AES keys are 16, 24 or 32 bytes")
        self._key = bytes(key)
        self._fast = fast and _GHASH_PARTS is not None
        if self._fast:
            assert _GHASH_PARTS is not None
            (ghash_class, self._ghash_c, self._size_t, self._ptr, self._buffer, self._raw) = (
                _GHASH_PARTS
            )
            self._ecb = AES.new(self._key, AES.MODE_ECB)
            # The _GHASH object owns the expanded table of H = E(K, 0^128) and frees it.
            self._table_owner = ghash_class(self._ecb.encrypt(bytes(BLOCK)), self._ghash_c)
            self._table = self._table_owner._exp_key.get()

    @property
    def fast(self) -> bool:
        """True when records go through the precomputed path rather than ``MODE_GCM``."""
        return self._fast

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """``ciphertext + tag``."""
        _check_nonce(nonce)
        if not self._fast or len(plaintext) > _FAST_MAX_BYTES:
            cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
            cipher.update(aad)
            ciphertext, tag = cipher.encrypt_and_digest(plaintext)
            return bytes(ciphertext) + bytes(tag)
        stream = self._keystream(nonce, len(plaintext))
        ciphertext = strxor(plaintext, stream[BLOCK : BLOCK + len(plaintext)]) if plaintext else b""
        return ciphertext + strxor(self._ghash(aad, ciphertext), stream[:BLOCK])

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext; ``ValueError`` if the nonce, data, tag or ``aad`` do not match."""
        _check_nonce(nonce)
        if len(sealed) < TAG_BYTES:
            raise ValueError("sealed data shorter than the tag")
        ciphertext, tag = bytes(sealed[:-TAG_BYTES]), bytes(sealed[-TAG_BYTES:])
        if not self._fast or len(ciphertext) > _FAST_MAX_BYTES:
            cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
            cipher.update(aad)
            return bytes(cipher.decrypt_and_verify(ciphertext, tag))
        stream = self._keystream(nonce, len(ciphertext))
        expected = strxor(self._ghash(aad, ciphertext), stream[:BLOCK])
        if not hmac.compare_digest(expected, tag):
            raise ValueError("MAC check failed")
        return strxor(ciphertext, stream[BLOCK : BLOCK + len(ciphertext)]) if ciphertext else b""

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        """E(K, J0) followed by E(K, inc32^i(J0)) for i = 1 .. ceil(length / 16)."""
        blocks = 1 + (length + BLOCK - 1) // BLOCK
        counters = strxor((nonce + bytes(4)) * blocks, _COUNTERS[: BLOCK * blocks])
        return bytes(self._ecb.encrypt(counters))

    def _ghash(self, aad: bytes, ciphertext: bytes) -> bytes:
        """GHASH_H(A || 0* || C || 0* || [len(A)]64 || [len(C)]64)."""
        data = b"".join(
            (
                aad,
                bytes(-len(aad) % BLOCK),
                ciphertext,
                bytes(-len(ciphertext) % BLOCK),
                struct.pack(">QQ", 8 * len(aad), 8 * len(ciphertext)),
            )
        )
        y = self._buffer(BLOCK)
        failed = self._ghash_c.ghash(y, self._ptr(data), self._size_t(len(data)), y, self._table)
        if failed:
            raise ValueError(f"GHASH failed with code {failed}")
        return bytes(self._raw(y))


def _check_nonce(nonce: bytes) -> None:
    if len(nonce) != NONCE_BYTES:
        raise ValueError("record nonces are 12 bytes")
