"""The window's life as a state machine: which phase follows which, and nothing else.

The controller used to assign phase strings wherever it pleased, so nothing stopped a stray
callback (a late key answer, a timer firing after a logout) from moving a window somewhere it
could not be. Here every move is a named step in ``TRANSITIONS``, checked like the handshake's
(``common.handshake.TRANSITIONS``): any other move raises ``IllegalTransition``.
"""

from __future__ import annotations

import enum
import logging

logger = logging.getLogger(__name__)


class Phase(enum.StrEnum):
    """Where the window is. A ``StrEnum``, so logs and tests read it as plain words."""

    LOGIN = "login"  # the login form is shown
    TRUST = "trust"  # choosing the server key: fetching it, asking the person, diagnosing
    CONNECTING = "connecting"  # TCP connect and handshake with the pinned key
    AUTHENTICATING = "authenticating"  # handshake done, login or resume sent
    ONLINE = "online"  # logged in: chat traffic flows
    WAITING = "waiting"  # connection lost in the chat: a reconnect is scheduled
    OFFLINE = "offline"  # in the chat, but reconnecting cannot help (key changed, bad login)
    CLOSED = "closed"  # the window is gone


class IllegalTransition(RuntimeError):
    """A step that the current phase does not allow: a bug in the controller, never the peer's."""


_ANYWHERE_BUT_CLOSED = tuple(phase for phase in Phase if phase is not Phase.CLOSED)
_IN_CHAT = (Phase.CONNECTING, Phase.AUTHENTICATING, Phase.ONLINE, Phase.WAITING, Phase.OFFLINE)

TRANSITIONS: dict[tuple[Phase, str], Phase] = {
    (Phase.LOGIN, "submit login"): Phase.TRUST,
    (Phase.TRUST, "key ready"): Phase.CONNECTING,
    (Phase.WAITING, "reconnect"): Phase.CONNECTING,
    (Phase.CONNECTING, "handshake done"): Phase.AUTHENTICATING,
    (Phase.CONNECTING, "diagnose key"): Phase.TRUST,
    (Phase.AUTHENTICATING, "logged in"): Phase.ONLINE,
    **{(phase, "back to login"): Phase.LOGIN
       for phase in (Phase.LOGIN, Phase.TRUST, Phase.CONNECTING, Phase.AUTHENTICATING)},
    **{(phase, "log out"): Phase.LOGIN for phase in _ANYWHERE_BUT_CLOSED},
    **{(phase, "go offline"): Phase.OFFLINE for phase in _IN_CHAT},
    **{(phase, "wait to reconnect"): Phase.WAITING for phase in _IN_CHAT},
    **{(phase, "quit"): Phase.CLOSED for phase in Phase},
}


class Lifecycle:
    """Holds the current ``Phase`` and moves it only along ``TRANSITIONS``."""

    def __init__(self) -> None:
        self.phase = Phase.LOGIN

    def move(self, step: str) -> Phase:
        """Take ``step`` from the current phase; raises ``IllegalTransition`` if not allowed."""
        target = TRANSITIONS.get((self.phase, step))
        if target is None:
            raise IllegalTransition(f"cannot {step} in phase {self.phase.value}")
        if target is not self.phase:
            logger.debug("phase %s -> %s (%s)", self.phase.value, target.value, step)
        self.phase = target
        return target
