"""What a headless bench client says on the wire: the chat protocol or the plaintext baseline.

Both classes turn received bytes into small tuples the load generator can count without caring
which protocol is underneath, and turn "send chat message number *seq*" into bytes. The chat
side drives ``common.connection.Connection`` exactly as the desktop client does (handshake,
``0031`` key login or ``0008`` resume, ``0002`` chat), so its cost is the real client's cost.

Event tuples (first item is the kind):

- ``("handshake",)``: the server's hello verified against the pinned key;
- ``("ready", token)``: logged in (``token`` is the resume token; None for the plain relay);
- ``("refused", reason)``: login or resume refused;
- ``("ack", seq)``: our message ``seq`` was stored and relayed (``seq`` None: the oldest one);
- ``("deliver", sender_index, seq, sent_ns)``: someone's bench message reached us;
- ``("leave", username)``: presence said someone went offline;
- ``("error", code_word)`` and ``("closed",)``.

Chat text is ``b:<sender_index>:<seq>:<perf_counter_ns at send>:<padding>``; ``:`` needs no
percent-escaping, and ``perf_counter_ns`` is CLOCK_MONOTONIC, shared by all processes here.
"""

from __future__ import annotations

from Crypto.PublicKey import RSA

from common.connection import (
    NEED_DATA,
    BadMessage,
    Connection,
    ConnectionClosed,
    HandshakeComplete,
)
from common.framing import FrameDecoder, encode_frame
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    ErrorReply,
    LoginRequest,
    LoginResult,
    PresenceEvent,
    ResumeRequest,
)
from common.messages_login import KeyLoginRequest
from common.messages_rooms import JoinRoomRequest
from common.protocol import LOBBY

Event = tuple[object, ...]
ROOM = LOBBY


def bench_text(sender_index: int, seq: int, sent_ns: int, size: int) -> str:
    """The chat text of one bench message, padded with ``x`` to ``size`` characters."""
    text = f"b:{sender_index}:{seq}:{sent_ns}:"
    return text + "x" * (size - len(text)) if size > len(text) else text


def parse_bench_text(text: str | bytes) -> tuple[int, int, int] | None:
    """``(sender_index, seq, sent_ns)`` from a bench text; None for anything else."""
    parts: list[str] | list[bytes]
    if isinstance(text, str):
        parts = text.split(":", 4)
        if parts[0] != "b":
            return None
    else:
        parts = text.split(b":", 4)
        if parts[0] != b"b":
            return None
    if len(parts) < 4:
        return None
    try:
        return int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        return None


KEY_PREFIX = "key:"
"""A ``password`` that starts with this is an authentication key (base64url): ``0031``."""


class ChatWire:
    """A bench client of the real chat server, over ``common.connection.Connection``.

    ``credentials`` is ``(username, password)`` for a ``0001`` login (``(username,
    "key:<auth key>")`` for a ``0031`` key login), ``(username, token)`` with
    ``resume=True`` for a ``0008`` resume, or None to stop after the handshake (handshake-rate
    runs never log in).
    """

    def __init__(
        self,
        server_key: RSA.RsaKey,
        credentials: tuple[str, str] | None,
        *,
        resume: bool = False,
        msg_prefix: str = "m",
        room: str = ROOM,
    ) -> None:
        self.conn = Connection.client(server_key)
        self._credentials = credentials
        self._resume = resume
        self._prefix = msg_prefix + "-"
        self._room = room  # another room than the lobby is joined (and opted in to) at login
        self._out = bytearray()

    def hello(self) -> bytes:
        """The first bytes to write after connecting (the ClientHello frame)."""
        return self.conn.initiate()

    def take_output(self) -> bytes:
        """Bytes the wire wants written because of what it received (the login request)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def chat(self, seq: int, text: str) -> bytes:
        """One ``0002`` message; ``client_msg_id`` is ``<prefix>-<seq>`` (unique per run)."""
        return self.conn.send(ChatRequest(self._room, f"{self._prefix}{seq}", text))

    def feed(self, data: bytes) -> list[Event]:
        """Bytes from the socket (``b""`` at EOF) to events. Protocol failures raise."""
        conn = self.conn
        conn.receive_data(data)
        events: list[Event] = []
        while True:
            event = conn.next_event()
            if event is NEED_DATA:
                return events
            kind = type(event)
            if kind is ChatDelivery:
                parsed = parse_bench_text(event.text)  # type: ignore[union-attr]
                if parsed is not None:
                    events.append(("deliver", *parsed))
            elif kind is Ack:
                cmid = event.client_msg_id  # type: ignore[union-attr]
                seq = int(cmid[len(self._prefix) :]) if cmid.startswith(self._prefix) else None
                events.append(("ack", seq))
            elif kind is PresenceEvent:
                if event.event == "leave":  # type: ignore[union-attr]
                    events.append(("leave", event.username))  # type: ignore[union-attr]
            elif kind is HandshakeComplete:
                events.append(("handshake",))
                self._login()
            elif kind is LoginResult:
                if event.ok:  # type: ignore[union-attr]
                    if self._room != LOBBY:  # a member already: answered by 1010, opts in
                        self._out += self.conn.send(JoinRoomRequest(self._room))
                    events.append(("ready", event.detail))  # type: ignore[union-attr]
                else:
                    events.append(("refused", event.detail))  # type: ignore[union-attr]
            elif kind is ErrorReply:
                events.append(("error", event.code_word))  # type: ignore[union-attr]
            elif kind is BadMessage:
                events.append(("error", "bad_message_from_server"))
            elif kind is ConnectionClosed:
                events.append(("closed",))
                return events

    def _login(self) -> None:
        if self._credentials is None:
            return
        user, secret = self._credentials
        request: ResumeRequest | LoginRequest | KeyLoginRequest
        if self._resume:
            request = ResumeRequest(user, secret)
        elif secret.startswith(KEY_PREFIX):  # a derived key, as the chat's client logs in
            request = KeyLoginRequest(user, secret[len(KEY_PREFIX):])
        else:
            request = LoginRequest(user, secret)
        self._out += self.conn.send(request)


class PlainWire:
    """A client of ``bench.plain_relay``: frames carry the bench text as raw bytes."""

    def __init__(self) -> None:
        self._decoder = FrameDecoder()

    def hello(self) -> bytes:
        """Nothing: the relay speaks first (``W``)."""
        return b""

    def take_output(self) -> bytes:
        """Always empty: the plain relay needs no replies."""
        return b""

    def chat(self, seq: int, text: str) -> bytes:
        """One frame holding the text."""
        return encode_frame(text.encode("ascii"))

    def feed(self, data: bytes) -> list[Event]:
        """Frames to events: ``A`` is an ack of the oldest outstanding message, ``W`` ready."""
        if not data:
            return [("closed",)]
        events: list[Event] = []
        for body in self._decoder.feed(data):
            if body == b"A":
                events.append(("ack", None))
            elif body == b"W":
                events.append(("handshake",))
                events.append(("ready", None))
            else:
                parsed = parse_bench_text(body)
                if parsed is not None:
                    events.append(("deliver", *parsed))
        return events
