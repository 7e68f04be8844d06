"""Contacts' keys pinned on first use, so the server cannot swap a key without it showing.

The key directory is the server's: a server (or whoever runs it) could hand out its own key
as someone's. A client therefore remembers the first key set it saw for each contact and
compares every later one (a fetch, an announcement, the key id inside a blob) against it.
A change is never taken silently: it is reported, and for a contact the person had marked
verified (safety number compared), sending is held until the person acknowledges it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from common.identity import PublicIdentity


class PinVerdict(enum.Enum):
    """What a key set seen for a contact means against the pin."""

    FIRST_USE = "first_use"  # nothing pinned yet: pinned now
    SAME = "same"
    CHANGED = "changed"  # a warning line in the conversation
    CHANGED_VERIFIED = "changed_verified"  # ... and sending is held until acknowledged


@dataclass
class _Pin:
    key: PublicIdentity
    verified: bool = False
    held: bool = False  # a verified contact's key changed: no sending until acknowledged


class KeyPins:
    """The pinned key set of each contact (serialisation is the client's business)."""

    def __init__(self) -> None:
        self._pins: dict[str, _Pin] = {}

    def pinned(self, username: str) -> PublicIdentity | None:
        pin = self._pins.get(username)
        return None if pin is None else pin.key

    def see(self, username: str, key: PublicIdentity) -> PinVerdict:
        """Compare ``key`` with the pin; a first key is pinned, a changed one is NOT adopted
        until ``accept_change``."""
        pin = self._pins.get(username)
        if pin is None:
            self._pins[username] = _Pin(key)
            return PinVerdict.FIRST_USE
        if pin.key == key:
            return PinVerdict.SAME
        if pin.verified:
            pin.held = True
            return PinVerdict.CHANGED_VERIFIED
        return PinVerdict.CHANGED

    def mark_verified(self, username: str) -> None:
        """The person compared the safety number for the pinned key."""
        self._pins[username].verified = True

    def is_verified(self, username: str) -> bool:
        pin = self._pins.get(username)
        return pin is not None and pin.verified

    def may_send(self, username: str) -> bool:
        """False while a verified contact's key change waits for acknowledgement."""
        pin = self._pins.get(username)
        return pin is None or not pin.held

    def accept_change(self, username: str, key: PublicIdentity) -> None:
        """The person acknowledged the new key: pin it, unverified, and release sending."""
        self._pins[username] = _Pin(key)

    def entries(self) -> list[tuple[str, PublicIdentity, bool, bool]]:
        """Every pin as ``(username, key, verified, held)``: what a client writes to disk."""
        return [(name, pin.key, pin.verified, pin.held) for name, pin in self._pins.items()]

    def restore(self, username: str, key: PublicIdentity, verified: bool, held: bool) -> None:
        """Put back a pin read from disk, exactly as ``entries`` gave it."""
        self._pins[username] = _Pin(key, verified, held)
