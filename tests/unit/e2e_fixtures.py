"""Fixed identities and deterministic randomness for the end-to-end tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from common.e2e import Header, dm_conversation
from common.identity import Identity, PublicIdentity


def counter_random(tag: bytes) -> Callable[[int], bytes]:
    """SHA-256(tag | counter u32) blocks: the same bytes every run, different per tag."""
    state = {"n": 0}

    def take(size: int) -> bytes:
        out = b""
        while len(out) < size:
            out += hashlib.sha256(tag + state["n"].to_bytes(4, "big")).digest()
            state["n"] += 1
        return out[:size]

    return take


ALICE = Identity.generate(counter_random(b"alice"))  # user1
BOB = Identity.generate(counter_random(b"bob"))  # user2
CAROL = Identity.generate(counter_random(b"carol"))  # user3
SENT_MS = 1_763_830_000_000


def header(
    sender: str = "user1",
    recipient: str = "user2",
    client_msg_id: str = "m1",
    sender_key: PublicIdentity = ALICE.public,
    recipient_key: PublicIdentity = BOB.public,
) -> Header:
    return Header(sender, recipient, dm_conversation(sender, recipient), client_msg_id, SENT_MS,
                  sender_key.key_id, recipient_key.key_id)
