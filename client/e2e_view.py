"""What the window shows of end-to-end encryption, as plain data (no crypto, no widgets).

Apart from ``client.e2e_dm`` so the ``View`` contract (``client.renderer``) and the widgets
can name these without importing the sealing code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class SafetyView:
    """What the verify dialog shows for one contact."""

    username: str
    number: str  # 60 digits in twelve groups of five (the pinned key)
    verified: bool
    new_number: str = ""  # a verified contact's changed key, waiting to be accepted


@dataclass(frozen=True)
class SecurityNote:
    """The open conversation's protection, as its header shows it."""

    conversation: str
    text: str
    level: Literal["e2e", "verified", "warning", "transit"]
