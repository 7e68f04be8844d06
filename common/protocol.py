"""The protocol's constants: the one place both ends (and the bench and tests) read them from.

A number or word that the server and the client must agree on lives here, never as a copy in
each: a client that checked ``MAX_TEXT`` against its own 4000 while the server counted another
would refuse or send what the other side does not expect. PROTOCOL.md is the wire authority;
these are its values.

- ``LOBBY``: the one room.
- ``MAX_TEXT``: the longest chat text, in characters (the server's default ``max_text``).
- ``GCM_TAG`` and ``MAX_RECORD_PLAINTEXT``: a record is ciphertext plus a 16-byte AES-GCM tag
  inside one frame, so one record's plaintext holds at most ``MAX_FRAME - GCM_TAG`` bytes.
- ``MAX_MESSAGES_PER_RECORD``: the most messages a client puts in one record.
- ``RECORD_SEPARATOR`` with ``join_record``/``split_record``: how several messages share one
  record's plaintext (the only code that knows it; ``common.connection`` and
  ``common.messages`` both use these).
- ``ErrorCode``: the code words of ``1009``.
- ``LoginRefusal``: why a ``1001`` refused a login, as a code word and the text a person reads.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from common.errors import LocalProtocolError
from common.framing import MAX_FRAME

LOBBY = "lobby"
MAX_TEXT = 4_000
GCM_TAG = 16  # bytes of AES-GCM tag at the end of every record
MAX_RECORD_PLAINTEXT = MAX_FRAME - GCM_TAG
RECORD_SEPARATOR = b"\n"
MAX_MESSAGES_PER_RECORD = 64
"""Messages a server accepts in one record by default (``CHAT_MAX_MESSAGES_PER_RECORD``), and
the most a client packs into one. Why: one 64 KiB record of ``0004|lobby||200`` requests once
asked for 316 MB of replies; a cap per record bounds what a single record can ask for."""


def join_record(lines: Sequence[bytes]) -> bytes:
    """Encoded messages as one record's plaintext: joined by ``\\n``, no trailing ``\\n``.

    Each line must be non-empty and free of ``\\n`` (escaping guarantees it for encoded
    messages; ``Connection`` checks every line before it seals), else the other side would
    split it differently.
    """
    if not lines:
        raise LocalProtocolError("a record must hold at least one message")
    return RECORD_SEPARATOR.join(lines)


def split_record(plaintext: bytes) -> list[bytes]:
    """A record's plaintext as its message lines, in order; empty lines are kept (the caller
    answers each with ``bad_request``, the message-level error)."""
    return plaintext.split(RECORD_SEPARATOR)


class ErrorCode(enum.StrEnum):
    """The code words of ``1009`` (PROTOCOL.md §4). A client acts on these, never on the text."""

    BAD_REQUEST = "bad_request"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    NOT_LOGGED_IN = "not_logged_in"
    NO_SUCH_USER = "no_such_user"
    FORBIDDEN = "forbidden"
    NAME_TAKEN = "name_taken"
    LIMIT_REACHED = "limit_reached"
    BAD_CODE = "bad_code"  # an invitation code that is unknown, used up or expired (§8)
    WRONG_CREDENTIALS = "wrong_credentials"  # account changes: the old secret is wrong


ERROR_CODES: tuple[str, ...] = tuple(code.value for code in ErrorCode)


class LoginRefusal(enum.StrEnum):
    """Why a login (``0001``) or resume (``0008``) was refused.

    The value is the text a person reads, exactly as the server has always sent it as the last
    field of ``1001|0|...`` (so a member compares equal to that text); ``code_word`` is what
    travels in the code-word field (PROTOCOL.md "Login refusals") and what a client acts on.
    """

    WRONG_CREDENTIALS = "wrong username or password"
    TOO_MANY_ATTEMPTS = "too many attempts, try again later"
    SERVICE_UNAVAILABLE = "service unavailable"
    SESSION_EXPIRED = "session expired, log in again"
    TOO_MANY_CONNECTIONS = "too many connections for this account"
    KEY_LOGIN_REQUIRED = "this server does not take passwords; log in with a newer client"
    ACCOUNT_DISABLED = "this account is disabled"

    @property
    def code_word(self) -> str:
        """``wrong_credentials``, ``too_many_attempts``, ... (the member's name, lower case)."""
        return self.name.lower()


LOGIN_REFUSAL_CODES: dict[str, LoginRefusal] = {r.code_word: r for r in LoginRefusal}
"""Code word to refusal, for decoding."""
