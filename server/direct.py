"""Direct messages, all in one place, so that end-to-end encryption can replace this part alone.

The service asks this module three things: whether a ``0003`` may be stored (the recipient
must be an account; ``check_recipient``), how a stored direct message is delivered (its
``1003`` line and who gets it), and which stored conversation an ``@name`` history request
reads. Nothing here touches a socket; the store is asked only whether an account exists, and
the answer is cached for known accounts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from common.messages import DirectDelivery, ServerMessage, encode_message
from common.messages_e2e import SealedDirectDelivery
from server.hub import Hub, LineSink
from server.names import is_username
from server.ports import ChatStore
from server.store import StoredMessage


def line_of(message: ServerMessage) -> bytes:
    """One encoded line, as outboxes take it."""
    return encode_message(message).encode()


def dm_conversation(a: str, b: str) -> str:
    """The stored key of the direct conversation between ``a`` and ``b`` (order-free)."""
    low, high = sorted((a, b))
    return f"dm:{low}:{high}"


class DirectMessages:
    """Recipients, delivery and history keys of direct messages; thread-safe."""

    def __init__(self, store: ChatStore, hub: Hub, max_known: int) -> None:
        self._store, self._hub = store, hub
        self._known_users: OrderedDict[str, None] = OrderedDict()  # cache of existing accounts
        self._known_lock = threading.Lock()
        self._max_known = max(1, max_known)

    def user_exists(self, username: str) -> bool:
        """Is ``username`` an account? (``StoreUnavailable`` if the database cannot say.)"""
        if not is_username(username):  # the database would match 'user2 ' to user2
            return False
        with self._known_lock:
            if username in self._known_users:
                return True
        exists = self._store.user_exists(username)
        if exists:
            self.remember_user(username)
        return exists

    def remember_user(self, username: str) -> None:
        """``username`` is an account (it just logged in): no lookup for it next time."""
        with self._known_lock:
            self._known_users[username] = None
            self._known_users.move_to_end(username)
            if len(self._known_users) > self._max_known:
                self._known_users.popitem(last=False)

    @staticmethod
    def line(stored: StoredMessage) -> bytes:
        """The ``1003`` of a stored direct message (``1043`` if it is sealed end to end)."""
        if stored.sealed:
            return line_of(SealedDirectDelivery(
                stored.msg_id, stored.sender, stored.sender_nickname, stored.recipient or "",
                stored.created_ms, stored.text,
            ))
        return line_of(
            DirectDelivery(
                stored.msg_id,
                stored.sender,
                stored.sender_nickname,
                stored.recipient or "",
                stored.created_ms,
                stored.text,
            )
        )

    def audience(self, stored: StoredMessage, origin: LineSink) -> list[LineSink]:
        """The recipient's windows and the sender's other windows (the sending one has the ack)."""
        recipients = {stored.recipient or stored.sender, stored.sender}
        return self._hub.connections_of(recipients, exclude=origin)

    @staticmethod
    def history_key(username: str, conversation: str) -> str | None:
        """The stored key of ``@peer`` for ``username``; None if ``peer`` cannot be an account."""
        peer = conversation[1:]
        if not is_username(peer):  # 'user2 ' would name user2's rows under another key
            return None
        return dm_conversation(username, peer)
