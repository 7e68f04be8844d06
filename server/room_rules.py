"""What a room name and a topic may be, and who owns a room next. Pure functions; no I/O.

Room names are typed by people and shown with ``#``; they are slugs (``a-z 0-9 -``) so that
two names never look alike, never hold a bidi override, and never start with ``@`` (direct
conversations). Topics are free text, but a topic is shown to every member, so control and
format characters (bidi overrides and isolates among them) are removed before it is stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from common.protocol import LOBBY

ROOM_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_ROOM_NAME = 32
OWNER, MEMBER = "owner", "member"
ROLES = (OWNER, MEMBER)
_STRIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SLUG_CHARS = re.compile(r"[a-z0-9-]{0,32}")


def is_room_name(name: str) -> bool:
    """1-32 of ``a-z 0-9 -``, first a letter or digit (``lobby`` passes; it is the lobby's)."""
    return len(name) <= MAX_ROOM_NAME and ROOM_NAME_PATTERN.fullmatch(name) is not None


def is_new_room_name(name: str) -> bool:
    """A name a new or renamed room may take, as far as its form goes."""
    return is_room_name(name) and name != LOBBY


def is_name_prefix(prefix: str) -> bool:
    """Can a room name start with ``prefix``? (Else the list answer is empty.)"""
    return _SLUG_CHARS.fullmatch(prefix) is not None


def clean_topic(topic: str) -> str:
    """``topic`` without control, format (bidi) and separator-line characters, stripped."""
    if len(topic) > 64_000:  # a frame cannot hold more; this only keeps the loop bounded
        topic = topic[:64_000]
    kept = "".join(c for c in topic if unicodedata.category(c) not in _STRIPPED_CATEGORIES)
    return kept.strip()


def next_owner(members: Mapping[str, str]) -> str | None:
    """If no owner is left among ``members`` (username -> role, in joining order), the member
    who joined first; None when there is an owner or nobody."""
    if not members or OWNER in members.values():
        return None
    return next(iter(members))
