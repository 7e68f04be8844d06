"""The conversation's ``Link`` once direct messages are end to end (``client.e2e_dm``).

The conversation (``client.traffic.ChatTraffic``) sends through a ``Link`` and knows nothing of
sealing; this one passes every message to the session except a ``DirectRequest``, which it
hands to the sealer, so no direct message can reach the wire in clear.
"""

from __future__ import annotations

from collections.abc import Callable

from client.traffic import Link
from common.messages import ClientMessage, DirectRequest


class SealedLink:
    """The same session, with direct messages sealed (``send_direct``) instead of sent."""

    def __init__(self, inner: Link, send_direct: Callable[[DirectRequest], None]) -> None:
        self._inner, self._send_direct = inner, send_direct

    @property
    def online(self) -> bool:
        return self._inner.online

    def send(self, message: ClientMessage) -> None:
        if isinstance(message, DirectRequest):
            self._send_direct(message)
        else:
            self._inner.send(message)
