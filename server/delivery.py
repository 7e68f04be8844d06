"""How one stored message is delivered: its line and its audience, in one place.

The committing process and every other process of a cluster (catching up from the database
after missing pub/sub) must build the same line for the same audience, so both ask this module.
"""

from __future__ import annotations

from common.messages import ChatDelivery
from server.direct import DirectMessages, line_of
from server.hub import EVERYONE, Audience
from server.store import StoredMessage


def room_line(stored: StoredMessage) -> bytes:
    """The ``1002`` of a stored room message."""
    return line_of(
        ChatDelivery(
            stored.msg_id,
            stored.conversation,
            stored.sender,
            stored.sender_nickname,
            stored.created_ms,
            stored.text,
        )
    )


def delivery_of(stored: StoredMessage) -> tuple[bytes, Audience]:
    """The line and the audience of ``stored``: a room message goes to everyone; a direct one
    to the recipient's windows and the sender's (the sending window is left out by the caller)."""
    if stored.recipient is None:
        return room_line(stored), EVERYONE
    return DirectMessages.line(stored), frozenset({stored.recipient, stored.sender})
