"""What the service knows about one connection: who is logged in on it, and its outbox.

The listener creates one ``ConnectionState`` per accepted socket and hands it to every
``ChatService`` call; the service answers through its ``outbox`` and never through a socket.
(The client's ``client.session.Session`` is the client's own connection; this is the server's
record of one of them.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.messages import ErrorReply, ServerMessage, encode_message
from server.hub import LineSink
from server.pipeline import CommitPipeline


@dataclass(eq=False)
class ConnectionState:
    """What the service knows about one connection; created and owned by the listener."""

    address: str  # the peer's IP: the key of per-address limits
    peer: str  # "ip:port", for log lines
    outbox: LineSink  # this connection's queue (the hub holds the same object)
    username: str | None = None
    nickname: str | None = None
    token_hash: bytes = field(default=b"", repr=False)  # of the resume token it was given
    bad_messages: int = 0
    closed: bool = field(default=False, repr=False)
    commits: CommitPipeline = field(default_factory=CommitPipeline, repr=False)

    @property
    def logged_in(self) -> bool:
        return self.username is not None

    def send(self, message: ServerMessage) -> None:
        """Queue a reply on this connection."""
        self.outbox.put(encode_message(message).encode())

    def error(self, code_word: str, text: str) -> None:
        """Queue a ``1009``."""
        self.send(ErrorReply(code_word, text))
