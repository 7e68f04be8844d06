"""Shared fixtures for the pure-core tests: fixed keys and deterministic randomness, and the
controller tests' harness (its fakes are in ``client_fakes``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from Crypto.PublicKey import RSA
from Crypto.Util.number import inverse

if TYPE_CHECKING:  # imported when used: the other unit tests need no client code
    from tests.unit.client_fakes import Harness

# A fixed RSA-3072 key for tests only (never used by the chat itself): known-answer tests need
# the same key every run, and fixing it saves seconds of key generation per test session.
_P = int(
    "d6e6e055911e40c9cfd095e7e83bac10e23e13608c734d869f255231951c8fce91e77786c381fb5185a9b4e53a4f"
    "1237479a3b9e5826241ff70255263bf538287b2d5cd4c516aa14235cfc57ac62a1644f1c1850573b3a55470e0e4b"
    "b1566505a5bc5ddfc22811a36a0b52c7a64ca68ee9f3720b1a54e68571a05cb9b803b83f8ee9c06260c48dd3c906"
    "6a867e4cb1b51062b53fe08426da3df26642aead4599bbd88e04c57fc17a6cfcdf024127cec876b4af638e44340c"
    "179a79cb98d0426d",
    16,
)
_Q = int(
    "e34731c42fd926e54a8096fbf2f9cecd36191cd40836eb0cea519608335f0b5fd800753235d2ef6545e48dd3dd8c"
    "446eaee54a6b0a20b248c2a498a3567f60d59175840ff463b105ead82e7727055fd596af4c5be04e95dba95b028a"
    "782b8dfd9107025c249b8fefe8f6907c593520c388b20a444b6af5c82829d7fe95b2abe20772dbf00dd42f564d27"
    "3be669d29a49d71620d3a44ce4c7ec53d769f7027424ce632556b0fc0ce8386e347cdae1bca291eaba141034bf0b"
    "72dd4372b9efbbb1",
    16,
)


def fixed_test_key() -> RSA.RsaKey:
    """The fixed RSA-3072 test key."""
    e = 65537
    d = inverse(e, (_P - 1) * (_Q - 1))
    return RSA.construct((_P * _Q, e, d, _P, _Q))


def deterministic_rand(seed: bytes) -> Callable[[int], bytes]:
    """A repeatable byte stream (SHAKE-256 of the seed and a counter) standing in for a CSPRNG."""
    counter = 0

    def rand(n: int) -> bytes:
        nonlocal counter
        counter += 1
        return hashlib.shake_256(seed + counter.to_bytes(8, "big")).digest(n)

    return rand


@pytest.fixture(scope="session")
def server_key() -> RSA.RsaKey:
    return fixed_test_key()


@pytest.fixture(scope="session")
def other_key() -> RSA.RsaKey:
    """A different key: what a man in the middle would present."""
    return RSA.generate(2048)


@pytest.fixture
def key() -> RSA.RsaKey:
    """A throwaway key for the controller tests (test_client_app_*) to pin."""
    return RSA.generate(1024)


@pytest.fixture
def h(tmp_path: Path, key: RSA.RsaKey) -> Harness:
    """The controller with a fake view and fake sessions, its login form shown."""
    from tests.unit.client_fakes import Harness

    return Harness(tmp_path, key)
