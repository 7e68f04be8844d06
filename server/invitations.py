"""Invitation codes: how they are made, typed back and stored. Pure; no SQL, no sockets.

A code is 120 random bits written as 24 characters of base32 in groups of four
(``K7QF-2MZD-...``), easy to read aloud and to type. A person may type it in either case,
with or without the dashes and spaces. The database keeps only its SHA-256
(``code_hash``), as it does for resume tokens, so reading the database gives no usable code.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

CODE_BYTES = 15
_CODE = re.compile(r"[A-Z2-7]{24}")
_DURATION = re.compile(r"\s*([0-9]{1,9})\s*([smhd]?)\s*")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}


def new_code() -> str:
    """A fresh code, grouped for people: ``XXXX-XXXX-XXXX-XXXX-XXXX-XXXX``."""
    text = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii")
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def code_hash(typed: str) -> bytes | None:
    """What the database keeps of the code a person typed; None when it cannot be a code."""
    canonical = re.sub(r"[\s-]", "", typed).upper()
    if not _CODE.fullmatch(canonical):
        return None
    return hashlib.sha256(b"chat invitation v1\x00" + canonical.encode("ascii")).digest()


def parse_duration(text: str) -> int:
    """Seconds of ``90s``, ``30m``, ``12h``, ``7d`` (a bare number is seconds)."""
    match = _DURATION.fullmatch(text.lower())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m, 12h or 7d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
