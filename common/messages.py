"""Messages inside records: the ``CODE|field|field`` text protocol.

The original chat's ``0001|user|password`` shape, made safe: a record holds messages joined by
``\\n``; fields are UTF-8, percent-encoded so ``|``, newlines and ``%`` never split anything.
Client requests are ``0xxx``, server messages ``1xxx``; rooms and end-to-end codes have modules.

Every code is one frozen dataclass whose fields *are* the protocol: ``int`` travels as ASCII
digits, ``bool`` as ``1``/``0``, ``int | None`` as digits or empty, ``str`` percent-encoded.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from common import messages_account as account  # account codes, registered below
from common import messages_e2e as e2e  # end-to-end codes, registered below
from common import messages_login as signin  # key login and registration, registered below
from common.errors import LocalProtocolError, RemoteProtocolError
from common.messages_rooms import ROOM_EVENTS, ROOM_REQUESTS, RoomEvent, RoomRequest
from common.protocol import (
    LOGIN_REFUSAL_CODES,
    LoginRefusal,
    join_record,
    split_record,
)

# --- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginRequest:
    """``0001``: log in with a password."""

    CODE: ClassVar[str] = "0001"
    username: str
    password: str

    def __repr__(self) -> str:  # never let a password reach a log line through repr()
        return f"LoginRequest(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True)
class ChatRequest:
    """``0002``: say something in a room (``lobby``)."""

    CODE: ClassVar[str] = "0002"
    room: str
    client_msg_id: str
    text: str


@dataclass(frozen=True)
class DirectRequest:
    """``0003``: a direct message to one user."""

    CODE: ClassVar[str] = "0003"
    to_username: str
    client_msg_id: str
    text: str


@dataclass(frozen=True)
class HistoryRequest:
    """``0004``: older messages of ``lobby`` or ``@username``; ``before_msg_id`` None = newest."""

    CODE: ClassVar[str] = "0004"
    conversation: str
    before_msg_id: int | None
    limit: int


@dataclass(frozen=True)
class LogoutRequest:
    """``0005``: end the session; the server answers nothing and closes."""

    CODE: ClassVar[str] = "0005"


@dataclass(frozen=True)
class PingRequest:
    """``0006``: keep-alive and round-trip probe; answered by ``1008`` with the same nonce."""

    CODE: ClassVar[str] = "0006"
    nonce: str


@dataclass(frozen=True)
class ResumeRequest:
    """``0008``: log in again with the single-use token from the last ``1001``."""

    CODE: ClassVar[str] = "0008"
    username: str
    resume_token: str

    def __repr__(self) -> str:
        return f"ResumeRequest(username={self.username!r}, resume_token=<hidden>)"


# --- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    """``1001``: ``1|nickname|username|resume_token`` or ``0|code_word||reason``.

    On failure ``detail`` is the reason for a person and ``code_word`` says which refusal it is
    (``common.protocol.LoginRefusal``; empty from an older server). The code word travels in the
    nickname's place, which is empty on failure, so a reader that takes the reason from the
    last field (every older client) still works. Build refusals with ``LoginResult.refused``.
    """

    CODE: ClassVar[str] = "1001"
    ok: bool
    nickname: str
    username: str
    detail: str
    code_word: str = ""
    retry_after: int | None = None  # seconds until a retry may work, in the username's place

    @classmethod
    def refused(cls, refusal: LoginRefusal, retry_after: int | None = None) -> LoginResult:
        """The failure answer for ``refusal``: code word, text and the wait if known."""
        return cls(False, "", "", refusal.value, refusal.code_word, retry_after)

    @property
    def refusal(self) -> LoginRefusal | None:
        """The known refusal this failure names by its code word (None: success or unknown)."""
        return None if self.ok else LOGIN_REFUSAL_CODES.get(self.code_word)

    def __repr__(self) -> str:
        detail = "<token>" if self.ok else repr(self.detail)
        return (f"LoginResult(ok={self.ok}, username={self.username!r}, detail={detail}, "
                f"code_word={self.code_word!r})")


@dataclass(frozen=True)
class ChatDelivery:
    """``1002``: a room message, live or from history."""

    CODE: ClassVar[str] = "1002"
    msg_id: int
    room: str
    sender: str
    sender_nickname: str
    sent_ms: int
    text: str


@dataclass(frozen=True)
class DirectDelivery:
    """``1003``: a direct message, to its recipient and echoed to the sender's other windows."""

    CODE: ClassVar[str] = "1003"
    msg_id: int
    sender: str
    sender_nickname: str
    recipient: str
    sent_ms: int
    text: str


@dataclass(frozen=True)
class HistoryEnd:
    """``1004``: closes a history page; ``oldest_msg_id`` None when the page was empty."""

    CODE: ClassVar[str] = "1004"
    conversation: str
    oldest_msg_id: int | None
    more: bool


@dataclass(frozen=True)
class PresenceEvent:
    """``1005``: someone came online (``join``) or went offline (``leave``)."""

    CODE: ClassVar[str] = "1005"
    event: str
    username: str
    nickname: str


@dataclass(frozen=True)
class RosterUpdate:
    """``1006``: everyone online as ``username|nickname`` pairs."""

    CODE: ClassVar[str] = "1006"
    users: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Ack:
    """``1007``: the message with ``client_msg_id`` is stored as ``msg_id``."""

    CODE: ClassVar[str] = "1007"
    client_msg_id: str
    msg_id: int
    sent_ms: int


@dataclass(frozen=True)
class Pong:
    """``1008``: answer to ``0006``."""

    CODE: ClassVar[str] = "1008"
    nonce: str


@dataclass(frozen=True)
class ErrorReply:
    """``1009``: ``code_word|text``; code words are ``common.protocol.ErrorCode``.

    A client chooses what to do and show from ``code_word`` alone; ``text`` is for a person,
    shown only for a code word the client does not know."""

    CODE: ClassVar[str] = "1009"
    code_word: str
    text: str


ClientMessage = (
    LoginRequest | ChatRequest | DirectRequest | HistoryRequest | LogoutRequest | PingRequest
    | ResumeRequest | RoomRequest | e2e.E2eRequest | signin.SignInRequest | account.AccountRequest
)
ServerMessage = (
    LoginResult | ChatDelivery | DirectDelivery | HistoryEnd | PresenceEvent | RosterUpdate | Ack
    | Pong | ErrorReply | RoomEvent | e2e.E2eEvent | signin.SignInEvent | account.AccountEvent
)
Message = ClientMessage | ServerMessage

CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {
    cls.CODE: cls
    for cls in (LoginRequest, ChatRequest, DirectRequest, HistoryRequest, LogoutRequest,
                PingRequest, ResumeRequest, *ROOM_REQUESTS, *e2e.E2E_CLIENT_MESSAGES,
                *signin.SIGNIN_CLIENT_MESSAGES, *account.ACCOUNT_REQUESTS)
}
SERVER_MESSAGES: dict[str, type[ServerMessage]] = {
    cls.CODE: cls
    for cls in (LoginResult, ChatDelivery, DirectDelivery, HistoryEnd, PresenceEvent,
                RosterUpdate, Ack, Pong, ErrorReply, *ROOM_EVENTS, *e2e.E2E_SERVER_MESSAGES,
                *signin.SIGNIN_SERVER_MESSAGES, *account.ACCOUNT_EVENTS)
}


# --- field codec ------------------------------------------------------------------------------

_ESCAPES = (("%", "%25"), ("|", "%7C"), ("\n", "%0A"), ("\r", "%0D"))
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
_DIGITS = re.compile(rb"[0-9]{1,19}")
_CODE = re.compile(rb"[0-9]{4}")


def escape_field(text: str) -> str:
    """Percent-encode the four characters that would break framing; everything else stays."""
    for raw, escaped in _ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def unescape_field(raw: bytes) -> str:
    """Undo any ``%XX`` escape and decode UTF-8; a stray ``%`` or bad UTF-8 is the peer's fault."""
    if b"%" in raw:
        if raw.count(b"%") != len(_PERCENT.findall(raw)):
            raise RemoteProtocolError("bad percent escape", fatal=False)
        raw = _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("field is not valid UTF-8", fatal=False) from None


def _field_kinds(cls: type) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, str(f.type)) for f in dataclasses.fields(cls))


_KINDS: dict[type, tuple[tuple[str, str], ...]] = {
    cls: _field_kinds(cls) for cls in (*CLIENT_MESSAGES.values(), *SERVER_MESSAGES.values())
}


def _encode_value(kind: str, value: object) -> str:
    if kind == "str":
        if not isinstance(value, str):
            raise LocalProtocolError(f"expected str, got {type(value).__name__}")
        return escape_field(value)
    if kind == "bool":
        return "1" if value else "0"
    if kind in ("int", "int | None"):
        if value is None and kind == "int | None":
            return ""
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**19:
            raise LocalProtocolError(f"expected an int in 0..10**19-1, got {value!r}")
        return str(value)
    raise LocalProtocolError(f"unsupported field kind {kind}")  # pragma: no cover


def _decode_value(kind: str, raw: bytes) -> object:
    if kind == "str":
        return unescape_field(raw)
    if kind == "bool":
        if raw not in (b"0", b"1"):
            raise RemoteProtocolError("flag must be 0 or 1", fatal=False)
        return raw == b"1"
    if kind == "int | None" and raw == b"":
        return None
    if not _DIGITS.fullmatch(raw):
        raise RemoteProtocolError("number expected", fatal=False)
    return int(raw)


def encode_message(message: Message) -> str:
    """One message as a line (no trailing newline)."""
    if isinstance(message, RosterUpdate):
        parts = [escape_field(item) for pair in message.users for item in pair]
    elif isinstance(message, LoginResult):
        parts = _login_result_fields(message)
    else:
        kinds = _KINDS[type(message)]
        parts = [_encode_value(kind, getattr(message, name)) for name, kind in kinds]
    return "|".join((message.CODE, *parts))


def _login_result_fields(result: LoginResult) -> list[str]:
    """``1|nickname|username|token`` or ``0|code_word||reason`` (PROTOCOL.md "Login refusals")."""
    if result.ok:
        if result.code_word:
            raise LocalProtocolError("a successful login result carries no code word")
        fields = ["1", result.nickname, result.username, result.detail]
    else:
        if result.nickname or result.username:
            raise LocalProtocolError("a refused login names no nickname or username")
        wait = "" if result.retry_after is None else str(result.retry_after)
        fields = ["0", result.code_word, wait, result.detail]
    return [fields[0], *(escape_field(field) for field in fields[1:])]


def _decode_login_result(raw_fields: list[bytes]) -> LoginResult:
    """Every form a server has sent: success, ``0|code_word|seconds|reason`` (seconds may be
    empty), ``0|||reason`` (no code word), the short ``0|reason``; the reason is always last."""
    if len(raw_fields) == 2 and raw_fields[0] == b"0":
        return LoginResult(False, "", "", unescape_field(raw_fields[1]))
    if len(raw_fields) != 4:
        raise RemoteProtocolError(f"1001 takes 4 fields, got {len(raw_fields)}", fatal=False)
    ok = _decode_value("bool", raw_fields[0])
    first, second, last = (unescape_field(raw) for raw in raw_fields[1:])
    if ok:
        return LoginResult(True, first, second, last)
    wait = int(second) if second.isascii() and second.isdigit() and len(second) <= 9 else None
    return LoginResult(False, "", "", last, first, wait)  # the wait in the username's place


def encode_batch(messages: Iterable[Message]) -> bytes:
    """Several messages as one record plaintext (``common.protocol.join_record``)."""
    return join_record([encode_message(m).encode("utf-8") for m in messages])


def decode_message(line: bytes, table: Mapping[str, type[Message]]) -> Message:
    """Parse one message; ``table`` is CLIENT_MESSAGES on the server, SERVER_MESSAGES on a client.

    Raises a non-fatal RemoteProtocolError for an empty message, an unknown code, a wrong field
    count, a bad escape, bad UTF-8 or a malformed number.
    """
    parts = line.split(b"|")
    code = parts[0]
    if not _CODE.fullmatch(code):
        raise RemoteProtocolError("message code must be four digits", fatal=False)
    cls = table.get(code.decode("ascii"))
    if cls is None:
        raise RemoteProtocolError(f"unknown message code {code.decode('ascii')}", fatal=False)
    raw_fields = parts[1:]
    if cls is RosterUpdate:
        if len(raw_fields) % 2:
            raise RemoteProtocolError("roster needs username/nickname pairs", fatal=False)
        names = [unescape_field(raw) for raw in raw_fields]
        return RosterUpdate(tuple(zip(names[::2], names[1::2], strict=True)))
    if cls is LoginResult:
        return _decode_login_result(raw_fields)
    if not _KINDS[cls] and raw_fields == [b""]:
        raw_fields = []  # tolerate "0005|"
    kinds = _KINDS[cls]
    if len(raw_fields) != len(kinds):
        raise RemoteProtocolError(
            f"{cls.CODE} takes {len(kinds)} fields, got {len(raw_fields)}", fatal=False
        )
    pairs = zip(kinds, raw_fields, strict=True)
    values: list[Any] = [_decode_value(kind, raw) for (_, kind), raw in pairs]
    return cls(*values)


def split_batch(plaintext: bytes) -> list[bytes]:
    """Split a record plaintext into message lines; an empty line is the peer's fault."""
    lines = split_record(plaintext)
    if any(not line for line in lines):
        raise RemoteProtocolError("empty message in record", fatal=False)
    return lines


def decode_batch(plaintext: bytes, table: Mapping[str, type[Message]]) -> list[Message]:
    """All messages of a record; the first bad one raises (use split_batch to go one by one)."""
    return [decode_message(line, table) for line in split_batch(plaintext)]
