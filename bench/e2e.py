"""End-to-end sealed direct messages: what sealing and opening cost, and how many bytes.

Pure client-side work (``common.e2e``): the server only stores and relays the blob, so the
figures that matter are a sender's time to seal, a reader's time to open (signature check,
one X25519 unwrap, AES-GCM), and the bytes a message grows by, on the wire and in the
database (base64url adds a third).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.scenarios import Bench
from common.e2e import Header, dm_conversation, open_blob, seal, to_field
from common.identity import Identity
from common.safety import safety_number


@dataclass(frozen=True)
class SealCost:
    text_bytes: int
    seal_us: float
    open_us: float
    blob_bytes: int
    field_chars: int

    @property
    def overhead_bytes(self) -> int:
        """Blob bytes beyond the text itself (header, nonce, tag, two wraps, signature)."""
        return self.blob_bytes - self.text_bytes


def _per_call_us(fn: Callable[[], object], seconds: float) -> float:
    fn()  # warm up
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or calls < 20:
        fn()
        calls += 1
    return elapsed / calls * 1e6


def seal_cost(text_bytes: int, seconds: float) -> SealCost:
    alice, bob = Identity.generate(), Identity.generate()
    header = Header("user1", "user2", dm_conversation("user1", "user2"),
                    "0123456789abcdef0123456789abcdef", 1_763_830_000_000,
                    alice.public.key_id, bob.public.key_id)
    text = "x" * text_bytes
    blob = seal(text, header, alice, bob.public)
    sealing = _per_call_us(lambda: seal(text, header, alice, bob.public), seconds)
    opening = _per_call_us(lambda: open_blob(blob, "user2", bob, alice.public), seconds)
    return SealCost(text_bytes, sealing, opening, len(blob), len(to_field(blob)))


def safety_number_us(seconds: float) -> float:
    a, b = Identity.generate(), Identity.generate()
    return _per_call_us(lambda: safety_number("user1", a.public, "user2", b.public), seconds)


def scenario_e2e(bench: Bench) -> None:
    """``python -m bench e2e``: seal/open µs and size overhead per message, by text size."""
    say, quick = bench.say, bench.quick
    results = []
    for size in (16, 256, 4_000):
        cost = seal_cost(size, 0.3 if quick else 1.0)
        say(f"e2e {size} B text: seal {cost.seal_us:,.0f} µs, open {cost.open_us:,.0f} µs, "
            f"blob {cost.blob_bytes} B (+{cost.overhead_bytes} B), "
            f"field {cost.field_chars} chars")
        results.append(cost.__dict__ | {"overhead_bytes": cost.overhead_bytes})
    number = safety_number_us(0.3 if quick else 1.0)
    say(f"e2e safety number (2 x 5,200 SHA-512): {number:,.0f} µs")
    bench.results["e2e"] = {"messages": results, "safety_number_us": number}
