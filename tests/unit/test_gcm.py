"""The records' AES-GCM (``crypto.AesGcm`` over OpenSSL) against Wycheproof and ``MODE_GCM``.

pycryptodome's public ``MODE_GCM`` is the independent reference: the same key, nonce, plaintext
and associated data must give the same bytes from both libraries, so a change of library can
never change the wire. The record layer itself is checked the same way in ``test_record.py``.
"""

from __future__ import annotations

import pytest
from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from common import crypto
from common.crypto import AesGcm
from tests.unit.test_crypto_vectors import h, judge, load


def reference_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """pycryptodome's ``MODE_GCM``, built afresh: ``ciphertext + tag``."""
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return bytes(ciphertext) + bytes(tag)


def test_wycheproof_aes_gcm() -> None:
    _, cases = load("Cipher/wycheproof/aes_gcm_test.json")
    count = 0
    for group, test in cases:
        if group["ivSize"] != 96 or group["tagSize"] != 128:
            continue  # records use 12-byte nonces and 16-byte tags only
        key, iv, aad, msg = h(test["key"]), h(test["iv"]), h(test["aad"]), h(test["msg"])
        sealed = h(test["ct"]) + h(test["tag"])
        aead = AesGcm(key)
        try:
            opened: bytes | None = aead.open(iv, sealed, aad)
        except ValueError:
            opened = None
        judge(test, opened, msg)
        if test["result"] == "valid":
            assert aead.seal(iv, msg, aad) == sealed, test["tcId"]
        count += 1
    assert count >= 150


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    nonce=st.binary(min_size=12, max_size=12),
    plaintext=st.binary(max_size=3000),
    aad=st.binary(max_size=40),
)
def test_same_bytes_as_mode_gcm(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> None:
    aead = AesGcm(key)
    sealed = aead.seal(nonce, plaintext, aad)
    assert sealed == reference_seal(key, nonce, plaintext, aad)
    assert aead.open(nonce, sealed, aad) == plaintext


@settings(max_examples=100, deadline=None)
@given(
    plaintext=st.binary(min_size=1, max_size=300),
    aad=st.binary(min_size=4, max_size=4),
    data=st.data(),
)
def test_any_flipped_bit_is_refused(plaintext: bytes, aad: bytes, data: st.DataObject) -> None:
    aead, nonce = AesGcm(bytes(range(32))), bytes(range(12))
    sealed = bytearray(aead.seal(nonce, plaintext, aad))
    bad_aad = bytearray(aad)
    target = data.draw(st.sampled_from(["sealed", "aad", "nonce"]))
    if target == "sealed":
        bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
        sealed[bit // 8] ^= 1 << (bit % 8)
    elif target == "aad":
        bit = data.draw(st.integers(0, 31))
        bad_aad[bit // 8] ^= 1 << (bit % 8)
    else:
        nonce = bytes(11) + b"\x01"
    with pytest.raises(ValueError):
        aead.open(nonce, bytes(sealed), bytes(bad_aad))


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 65_520, 65_536])
def test_lengths_at_block_boundaries_and_the_frame_cap(length: int) -> None:
    key, nonce, aad = bytes(range(32)), bytes(12), b"hdr"
    plaintext = bytes(i % 251 for i in range(length))
    sealed = AesGcm(key).seal(nonce, plaintext, aad)
    assert sealed == reference_seal(key, nonce, plaintext, aad)
    assert AesGcm(key).open(nonce, sealed, aad) == plaintext


def test_nonce_length_other_than_12_is_refused() -> None:
    """OpenSSL would take 8..128-byte nonces; the protocol has exactly one size."""
    aead = AesGcm(bytes(32))
    with pytest.raises(ValueError):
        aead.seal(bytes(16), b"x", b"")
    with pytest.raises(ValueError):
        aead.open(bytes(8), bytes(17), b"")


def test_shorter_than_a_tag_is_refused() -> None:
    with pytest.raises(ValueError):
        AesGcm(bytes(32)).open(bytes(12), bytes(15), b"")


def test_key_length_is_checked() -> None:
    with pytest.raises(ValueError):
        AesGcm(bytes(31))


def test_the_one_shot_wrappers_use_the_same_cipher() -> None:
    key, nonce = bytes(range(32)), bytes(range(12))
    sealed = crypto.aes_gcm_seal(key, nonce, b"text", b"aad")
    assert sealed == reference_seal(key, nonce, b"text", b"aad")
    assert crypto.aes_gcm_open(key, nonce, sealed, b"aad") == b"text"

