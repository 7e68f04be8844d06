"""The controller's handle on the current session, and what it needs of a session.

Sessions come and go with reconnects while the conversation (``client.traffic.ChatTraffic``)
lives on, so the conversation holds a ``SessionLink``, never a session: it sends through
whichever session is current, and only while the window is online.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Protocol

from Crypto.PublicKey import RSA

from client.lifecycle import Lifecycle, Phase
from client.session import SessionEvent
from common.messages import ClientMessage


class SessionLike(Protocol):
    """What the controller uses of a ``client.session.Session`` (the tests pass a fake)."""

    @property
    def id(self) -> int: ...
    def connect(self) -> None: ...
    def send(self, message: ClientMessage) -> None: ...
    def close(self) -> None: ...
    def join(self, timeout: float = 2.0) -> bool: ...


SessionFactory = Callable[[str, int, RSA.RsaKey, "queue.Queue[SessionEvent]"], SessionLike]


class SessionLink:
    """The current session as ``ChatTraffic`` sees it: sends go through only when online."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle
        self.session: SessionLike | None = None

    @property
    def online(self) -> bool:
        return self.session is not None and self._lifecycle.phase is Phase.ONLINE

    def send(self, message: ClientMessage) -> None:
        if self.session is not None:
            self.session.send(message)
