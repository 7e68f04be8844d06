"""AesGcm: the record layer's AES-GCM, checked against Wycheproof and against ``MODE_GCM`` itself.

Both paths run every check: the precomputed one the chat uses and the per-record ``MODE_GCM``
it falls back to when pycryptodome's internals are not as expected.
"""

from __future__ import annotations

import pytest
from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from common import gcm
from common.gcm import AesGcm
from tests.unit.test_crypto_vectors import h, judge, load

PATHS = pytest.mark.parametrize("fast", [True, False], ids=["precomputed", "mode_gcm"])


def reference_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return ciphertext + tag


def test_the_pinned_pycryptodome_takes_the_precomputed_path() -> None:
    """If this fails, pycryptodome moved its GHASH internals: records still work, but slowly."""
    assert gcm.FAST_PATH_AVAILABLE
    assert AesGcm(bytes(32)).fast
    assert not AesGcm(bytes(32), fast=False).fast


@PATHS
def test_wycheproof_aes_gcm(fast: bool) -> None:
    _, cases = load("Cipher/wycheproof/aes_gcm_test.json")
    count = 0
    for group, test in cases:
        if group["ivSize"] != 96 or group["tagSize"] != 128:
            continue
        key, iv, aad, msg = h(test["key"]), h(test["iv"]), h(test["aad"]), h(test["msg"])
        sealed = h(test["ct"]) + h(test["tag"])
        aead = AesGcm(key, fast=fast)
        try:
            opened: bytes | None = aead.open(iv, sealed, aad)
        except ValueError:
            opened = None
        judge(test, opened, msg)
        if test["result"] == "valid":
            assert aead.seal(iv, msg, aad) == sealed, test["tcId"]
        count += 1
    assert count >= 150


@PATHS
@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    nonce=st.binary(min_size=12, max_size=12),
    plaintext=st.binary(max_size=3000),
    aad=st.binary(max_size=40),
)
def test_same_bytes_as_mode_gcm(
    fast: bool, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes
) -> None:
    aead = AesGcm(key, fast=fast)
    sealed = aead.seal(nonce, plaintext, aad)
    assert sealed == reference_seal(key, nonce, plaintext, aad)
    assert aead.open(nonce, sealed, aad) == plaintext


@PATHS
@settings(max_examples=100, deadline=None)
@given(
    plaintext=st.binary(min_size=1, max_size=300),
    aad=st.binary(min_size=4, max_size=4),
    data=st.data(),
)
def test_any_flipped_bit_is_refused(
    fast: bool, plaintext: bytes, aad: bytes, data: st.DataObject
) -> None:
    aead, nonce = AesGcm(bytes(range(32)), fast=fast), bytes(range(12))
    sealed = bytearray(aead.seal(nonce, plaintext, aad))
    bad_aad = bytearray(aad)
    target = data.draw(st.sampled_from(["sealed", "aad", "nonce"]))
    if target == "sealed":
        bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
        sealed[bit // 8] ^= 1 << (bit % 8)
    elif target == "aad":
        bad_aad[data.draw(st.integers(0, 3))] ^= 0x80
    else:
        nonce = bytes(11) + b"\x01"
    with pytest.raises(ValueError):
        aead.open(nonce, bytes(sealed), bytes(bad_aad))


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, gcm._FAST_MAX_BYTES, gcm._FAST_MAX_BYTES + 1])
def test_lengths_at_block_and_path_boundaries(length: int) -> None:
    key, nonce, aad = bytes(range(32)), bytes(12), b"hdr"
    plaintext = bytes(i % 251 for i in range(length))
    sealed = AesGcm(key).seal(nonce, plaintext, aad)
    assert sealed == reference_seal(key, nonce, plaintext, aad)
    assert AesGcm(key).open(nonce, sealed, aad) == plaintext


def test_nonce_length_other_than_12_is_refused() -> None:
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
