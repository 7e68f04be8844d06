"""What the service knows about one connection: who is logged in on it, and its outbox.

The listener creates one per accepted socket and hands it to every ``ChatService`` call; the
service answers through it and never through a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.messages import ErrorReply, ServerMessage, encode_message
from server.hub import Outbox
from server.pipeline import CommitPipeline


@dataclass(eq=False)
class ClientSession:
    """What the service knows about one connection; created and owned by the listener."""

    address: str  # the peer's IP: the key of per-address limits
    peer: str  # "ip:port", for log lines
    outbox: Outbox  # this connection's queue (the hub holds the same object)
    username: str | None = None
    nickname: str | None = None
    token_hash: bytes = field(default=b"", repr=False)  # of the resume token it was given
    bad_messages: int = 0
    closed: bool = field(default=False, repr=False)
    commits: CommitPipeline = field(default_factory=CommitPipeline, repr=False)

    @property
    def logged_in(self) -> bool:
        return self.username is not None

    def send(self, message: ServerMessage | bytes) -> None:
        """Queue a reply on this connection (encoded here unless it already is)."""
        line = message if isinstance(message, bytes) else encode_message(message).encode()
        self.outbox.put(line)

    def error(self, code_word: str, text: str) -> None:
        """Queue a ``1009``."""
        self.send(ErrorReply(code_word, text))
