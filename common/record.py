"""The record layer: AES-256-GCM with per-direction keys and counter nonces.

Each direction builds its ``crypto.AesGcm`` (pyca ``cryptography``'s OpenSSL ``AESGCM``) once,
so a record costs one call into OpenSSL rather than a per-message rebuild of the GCM state.

Like TLS 1.3, the nonce is ``iv XOR seq`` and ``seq`` is never sent: both sides count. A record
that was tampered with, replayed, reordered, dropped before, or reflected back (the other
direction has other keys) fails authentication and ends the connection. The 4-byte frame header
is the associated data, so even the length is authenticated.
"""

from __future__ import annotations

from common import crypto
from common.errors import LocalProtocolError, RemoteProtocolError
from common.framing import MAX_FRAME, frame_header

SEQ_LIMIT = 2**32  # records per direction before the connection must be replaced
IV_BYTES = 12
KEY_BYTES = 32


def record_nonce(iv: bytes, seq: int) -> bytes:
    """``iv XOR (4 zero bytes + seq as u64 big-endian)``."""
    return (int.from_bytes(iv, "big") ^ seq).to_bytes(IV_BYTES, "big")


def _check_key(key: bytes, iv: bytes) -> None:
    if len(key) != KEY_BYTES or len(iv) != IV_BYTES:
        raise LocalProtocolError("record keys are 32 bytes and IVs 12 bytes")


class RecordSealer:
    """Turns plaintexts into complete frames, one direction, counting from 0."""

    def __init__(
        self, key: bytes, iv: bytes, *, max_frame: int = MAX_FRAME, seq_limit: int = SEQ_LIMIT
    ) -> None:
        _check_key(key, iv)
        self._aead, self._iv = crypto.AesGcm(key), iv
        self._seq = 0
        self._seq_limit = seq_limit
        self.max_plaintext = max_frame - crypto.TAG_BYTES

    @property
    def seq(self) -> int:
        """Records sealed so far."""
        return self._seq

    @property
    def exhausted(self) -> bool:
        """True once no more records may be sealed (the caller must reconnect)."""
        return self._seq >= self._seq_limit

    @property
    def remaining(self) -> int:
        """Records that may still be sealed before the counter limit."""
        return max(0, self._seq_limit - self._seq)

    def seal(self, plaintext: bytes) -> bytes:
        """One record frame: header + ciphertext + tag."""
        if not 1 <= len(plaintext) <= self.max_plaintext:
            raise LocalProtocolError(f"record plaintext of {len(plaintext)} bytes")
        if self.exhausted:
            raise LocalProtocolError("record counter exhausted; open a new connection")
        header = frame_header(len(plaintext) + crypto.TAG_BYTES)
        nonce = record_nonce(self._iv, self._seq)
        sealed = self._aead.seal(nonce, plaintext, header)
        self._seq += 1
        return header + sealed


class RecordOpener:
    """Opens frame bodies in order, one direction; any failure is fatal."""

    def __init__(self, key: bytes, iv: bytes, *, seq_limit: int = SEQ_LIMIT) -> None:
        _check_key(key, iv)
        self._aead, self._iv = crypto.AesGcm(key), iv
        self._seq = 0
        self._seq_limit = seq_limit

    @property
    def seq(self) -> int:
        """Records opened so far."""
        return self._seq

    def open(self, body: bytes) -> bytes:
        """Authenticate and decrypt one frame body (``ciphertext + tag``)."""
        if self._seq >= self._seq_limit:
            raise RemoteProtocolError("peer sent past the record limit")
        if len(body) <= crypto.TAG_BYTES:
            raise RemoteProtocolError("record too short")
        try:
            plaintext = self._aead.open(
                record_nonce(self._iv, self._seq), body, frame_header(len(body))
            )
        except ValueError:
            raise RemoteProtocolError("record failed authentication") from None
        self._seq += 1
        return plaintext
