"""Replayed direct messages: the same signed blob shown twice under different server ids.

A signature proves who wrote a blob, not that the server delivers it once: a server could
store an old blob again (a new ``msg_id``) so that "yes, transfer it" appears a second time.
The client remembers, per conversation, which server ``msg_id`` first carried each
``(sender, client_msg_id)`` (client message ids are unique per account and signed). The same
pair under the same ``msg_id`` is the same message seen again (a history page reloaded) and
is fine; under another ``msg_id`` it is a replay and is shown as "could not be verified".
"""

from __future__ import annotations

from collections import defaultdict

from common.e2e import Opened, Refusal, Unverifiable


class SeenIds:
    """The first server ``msg_id`` of every ``(sender, client_msg_id)``, per conversation."""

    def __init__(self) -> None:
        self._first: defaultdict[str, dict[tuple[str, str], int]] = defaultdict(dict)

    def check(self, opened: Opened, msg_id: int) -> None:
        """Record ``opened`` as carried by ``msg_id``; ``Unverifiable(REPLAYED)`` if it is a
        message already seen under another id."""
        header = opened.header
        seen = self._first[header.conversation]
        key = (header.sender, header.client_msg_id)
        first = seen.setdefault(key, msg_id)
        if first != msg_id:
            raise Unverifiable(Refusal.REPLAYED, f"first seen as message {first}")

    def entries(self) -> list[tuple[str, str, str, int]]:
        """Every record as ``(conversation, sender, client_msg_id, msg_id)`` (for a file)."""
        return [(conv, sender, cid, msg_id) for conv, seen in self._first.items()
                for (sender, cid), msg_id in seen.items()]

    def restore(self, conversation: str, sender: str, client_msg_id: str, msg_id: int) -> None:
        """Put back a record read from disk."""
        self._first[conversation][(sender, client_msg_id)] = msg_id
