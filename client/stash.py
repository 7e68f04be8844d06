"""Unsent messages and drafts kept on disk, so closing the window loses nothing typed.

One file per server and account in the client's config directory (beside ``known_servers``),
under ``unsent/``: the outbox (every message not yet acked, with its ``client_msg_id``) and the
draft of each conversation. It is rewritten atomically (temp file + ``os.replace``, mode 0600)
whenever the outbox changes, and read back at the next login of that account on that server,
which sends the messages again with the same ids: the server's idempotent resend makes that
exactly once even if a message had reached it before the window closed.

The file holds what the person wrote, so it is private (0600 in a 0700 directory) like the
trust files. A file that cannot be read or parsed is set aside (renamed ``.bad``), never
deleted, and the login goes on without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from client.conversations import is_conversation_key
from client.trust import server_id, write_private
from common.messages import ChatRequest, DirectRequest

logger = logging.getLogger(__name__)

STASH_SUBDIR = "unsent"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class StashedMessage:
    """One unacked message: where it goes, its idempotency key, what it says, when typed."""

    conversation: str  # "lobby", a room name or "@username"
    client_msg_id: str
    text: str
    typed_ms: int

    def request(self) -> ChatRequest | DirectRequest:
        if not self.conversation.startswith("@"):  # lobby or another room
            return ChatRequest(self.conversation, self.client_msg_id, self.text)
        return DirectRequest(self.conversation.removeprefix("@"), self.client_msg_id, self.text)


@dataclass
class Stash:
    """What one account on one server left behind: unsent messages, oldest first, and drafts."""

    messages: list[StashedMessage] = field(default_factory=list)
    drafts: dict[str, str] = field(default_factory=dict)

    def empty(self) -> bool:
        return not self.messages and not any(self.drafts.values())


def stash_name(host: str, port: int, username: str) -> str:
    """A file name for ``host:port`` and ``username``: readable, and safe on any filesystem.

    Characters other than letters, digits, ``.`` and ``-`` become ``_``; a short hash of the
    exact pair keeps two names that map to the same readable form apart.
    """
    exact = f"{server_id(host, port)} {username}"
    readable = "".join(c if c.isascii() and (c.isalnum() or c in ".-") else "_"
                       for c in f"{server_id(host, port)}_{username}")[:80]
    digest = hashlib.sha256(exact.encode()).hexdigest()[:12]
    return f"{readable}-{digest}.json"


class StashFile:
    """Reads and writes the stash of one account on one server."""

    def __init__(self, config_directory: Path, host: str, port: int, username: str) -> None:
        self.path = config_directory / STASH_SUBDIR / stash_name(host, port, username)

    def load(self) -> Stash:
        """What was left; an empty stash if there is no file or it cannot be used."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Stash()
        except OSError:
            logger.warning("cannot read the unsent messages in %s", self.path, exc_info=True)
            return Stash()
        try:
            return _parse(json.loads(raw.decode("utf-8")))
        except (ValueError, TypeError, KeyError):
            bad = self.path.with_suffix(".bad")
            logger.warning("unreadable unsent-messages file %s, set aside as %s", self.path, bad)
            try:
                self.path.replace(bad)
            except OSError:
                logger.warning("cannot set %s aside", self.path, exc_info=True)
            return Stash()

    def save(self, stash: Stash) -> None:
        """Write the stash atomically (0600); an empty one removes the file."""
        if stash.empty():
            self.path.unlink(missing_ok=True)
            return
        document = {
            "version": FORMAT_VERSION,
            "messages": [
                {"conversation": m.conversation, "client_msg_id": m.client_msg_id,
                 "text": m.text, "typed_ms": m.typed_ms}
                for m in stash.messages
            ],
            "drafts": {key: text for key, text in stash.drafts.items() if text},
        }
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.path, json.dumps(document, ensure_ascii=False).encode("utf-8"))


def _parse(document: object) -> Stash:
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise ValueError("not an unsent-messages file of a known version")
    messages = []
    for item in document["messages"]:
        message = StashedMessage(str(item["conversation"]), str(item["client_msg_id"]),
                                 str(item["text"]), int(item["typed_ms"]))
        if not is_conversation_key(message.conversation):
            raise ValueError(f"unknown conversation {message.conversation!r}")
        messages.append(message)
    drafts = document.get("drafts", {})
    if not isinstance(drafts, dict):
        raise ValueError("drafts is not an object")
    return Stash(messages, {str(key): str(text) for key, text in drafts.items()})
