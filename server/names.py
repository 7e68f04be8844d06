"""What an account name and a nickname may be. Pure functions; no I/O.

Usernames are the key of everything (logins, direct messages, history), and the database
compares them with a PAD SPACE collation: ``'user2 '`` would match ``user2`` in one query and
not in a Python dict. So every name that arrives on the wire is checked against
``USERNAME_PATTERN`` before it reaches the database, the hasher or a memory structure, and
names that are not account names never go further.

Nicknames are what people read, so two accounts must not look the same: a nickname is stored
as typed, and its ``nickname_key`` (NFKC, case-folded, NFKC again) is unique in the database.
Control and format characters (bidi overrides, zero-width joiners) are refused outright:
they make one name render like another.
"""

from __future__ import annotations

import re
import unicodedata

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MAX_USERNAME = 32
MAX_NICKNAME = 32  # characters after NFKC; the column holds 64
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def is_username(name: str) -> bool:
    """True when ``name`` can be an account name: 1-32 of ``A-Z a-z 0-9 _ . -``.

    Checked with ``fullmatch`` before anything else, so a 64 KB name costs one failed match.
    """
    return len(name) <= MAX_USERNAME and USERNAME_PATTERN.fullmatch(name) is not None


def nickname_problem(nickname: str) -> str | None:
    """Why ``nickname`` cannot be used, or None when it can (checked after NFKC)."""
    if len(nickname) > 4 * MAX_NICKNAME:
        return f"a nickname has at most {MAX_NICKNAME} characters"
    normal = unicodedata.normalize("NFKC", nickname)
    if not normal:
        return "a nickname cannot be empty"
    if len(normal) > MAX_NICKNAME:
        return f"a nickname has at most {MAX_NICKNAME} characters"
    if normal != normal.strip():
        return "a nickname cannot start or end with a space"
    for char in normal:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"a nickname cannot contain the character U+{ord(char):04X}"
    return None


def nickname_key(nickname: str) -> str:
    """The form two nicknames are compared in: equal keys look alike (``Ａlice`` = ``alice``)."""
    folded = unicodedata.normalize("NFKC", nickname).casefold()
    return unicodedata.normalize("NFKC", folded)
