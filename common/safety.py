"""Safety numbers: 60 digits two people compare to know their keys are each other's.

Like Signal's: each side's fingerprint is SHA-512 iterated 5,200 times over a version, the
identity's public bundle and the account name (the iterations make a look-alike key costly
to search for); its first 30 bytes become 30 digits (six 5-byte chunks, each as a number
modulo 100,000). The safety number is both halves, the lower one first, so both people see the
same 60 digits, shown in twelve groups of five. Any change of either key changes it.
"""

from __future__ import annotations

import hashlib

from common.identity import PublicIdentity

FINGERPRINT_VERSION = b"\x00\x00"
ITERATIONS = 5_200


def fingerprint_digits(username: str, identity: PublicIdentity) -> str:
    """One side's 30 digits."""
    bundle = identity.to_bytes()
    digest = hashlib.sha512(FINGERPRINT_VERSION + bundle + username.encode("utf-8")).digest()
    for _ in range(ITERATIONS - 1):
        digest = hashlib.sha512(digest + bundle).digest()
    chunks = (int.from_bytes(digest[at : at + 5], "big") % 100_000 for at in range(0, 30, 5))
    return "".join(f"{chunk:05d}" for chunk in chunks)


def safety_number(
    user_a: str, key_a: PublicIdentity, user_b: str, key_b: PublicIdentity
) -> str:
    """The conversation's safety number: 60 digits in twelve groups of five, order-free."""
    halves = sorted((fingerprint_digits(user_a, key_a), fingerprint_digits(user_b, key_b)))
    digits = "".join(halves)
    return " ".join(digits[at : at + 5] for at in range(0, 60, 5))
