"""What the window shows of end-to-end encryption, as plain data (no crypto, no widgets).

Apart from ``client.e2e_dm`` so the ``View`` contract (``client.renderer``) and the widgets
can name these without importing the sealing code.
The texts the person reads about end-to-end encryption are here too, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from common.messages import DirectDelivery


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


NO_KEYS_TEXT = ("{peer} has not set up end-to-end encryption yet. Messages to them wait here "
                "and are never sent in clear; they go once {peer} logs in.")
CHANGED_TEXT = ("⚠ {peer}'s security keys changed. This happens when they reset their "
                "account, or when someone is intercepting the conversation. Compare the "
                "safety number (Ctrl+I) to be sure.")
CHANGED_VERIFIED_TEXT = ("⚠ {peer}'s security keys changed since you verified them. Sending "
                         "is held until you check the new safety number and accept it "
                         "(Ctrl+I).")
CLEAR_LABEL = "[not end-to-end encrypted] "
UNVERIFIED_TEXT = "⚠ A message from {sender} could not be verified: {why}."


@dataclass(frozen=True)
class UnverifiedDelivery(DirectDelivery):
    """A sealed message that failed a check: shown as a system line, never as a message."""

    system: ClassVar[bool] = True


def security_note(conversation: str, changed: bool, verified: bool) -> SecurityNote:
    """The header's lock marker: end-to-end (and verified or not, or changed) or in transit."""
    if not conversation.startswith("@"):
        return SecurityNote(conversation, "encrypted in transit only", "transit")
    if changed:
        return SecurityNote(conversation, "🔒 end-to-end · key changed!", "warning")
    if verified:
        return SecurityNote(conversation, "🔒 end-to-end · verified", "verified")
    return SecurityNote(conversation, "🔒 end-to-end · not verified", "e2e")

