"""The two ways a conversation can go wrong.

Following h11, an error says *whose* fault it is: ``LocalProtocolError`` means our own code asked
for something the protocol forbids (a bug or misuse here), ``RemoteProtocolError`` means the peer
sent something invalid. Callers treat them differently: a remote error is logged and answered or
disconnected, a local one is a bug to fix.
"""

from __future__ import annotations


class ChatError(Exception):
    """Base class of every protocol error raised by ``common``."""


class LocalProtocolError(ChatError):
    """We tried to do something the protocol does not allow (our fault)."""


class RemoteProtocolError(ChatError):
    """The peer sent something invalid (their fault).

    ``error_code`` is the word used in a ``1009`` reply (``bad_request`` unless more specific);
    ``fatal`` says whether the connection can no longer be trusted (any framing, handshake or
    record failure) or only the one message was bad (a malformed message inside a valid record).
    """

    def __init__(self, message: str, *, error_code: str = "bad_request", fatal: bool = True):
        super().__init__(message)
        self.error_code = error_code
        self.fatal = fatal
