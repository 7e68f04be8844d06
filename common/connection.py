"""One end of a chat connection, with no I/O: bytes in, events out, messages in, bytes out.

Like h11's ``Connection``, this object never touches a socket. The caller feeds what it read to
``receive_data`` and pulls events with ``next_event`` until ``NEED_DATA``; it turns messages into
bytes with ``send`` and writes them itself. That keeps the whole protocol testable in memory and
lets the server and client choose their own threads.

After the handshake the receive side (``receive_data``/``next_event``) and the send side
(``send``) touch disjoint state, so one reader thread and one writer thread may use them at once.

The failure rule is h11's: any exception out of ``next_event``, ``send`` or ``send_lines`` (and a
call to ``send_failed`` after the caller's own write failed) leaves the connection *failed*, and
every later ``next_event``, ``send`` or ``send_lines`` raises ``LocalProtocolError``: using it
again is our bug, whatever broke it first: a half-read or half-sent stream is never resumed.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from Crypto.PublicKey import RSA

from common import crypto
from common.errors import LocalProtocolError, RemoteProtocolError
from common.framing import MAX_FRAME, FrameDecoder, encode_frame
from common.handshake import (
    CIPHER_SUITE,
    KEY_REQUEST,
    ClientHandshake,
    ServerHandshake,
    SessionKeys,
    State,
    encode_key_response,
)
from common.messages import (
    CLIENT_MESSAGES,
    SERVER_MESSAGES,
    Message,
    decode_message,
    encode_message,
)
from common.protocol import (
    MAX_MESSAGES_PER_RECORD,
    RECORD_SEPARATOR,
    join_record,
    split_record,
)
from common.record import SEQ_LIMIT, RecordOpener, RecordSealer


class Role(enum.Enum):
    """Which end of the connection this object plays."""

    CLIENT = "client"
    SERVER = "server"


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()
"""Returned by ``next_event`` when nothing more can happen until more bytes arrive."""


@dataclass(frozen=True)
class HandshakeComplete:
    """The hellos are done; records may flow. Carries what a status line shows."""

    server_fingerprint: str
    cipher: str = CIPHER_SUITE


@dataclass(frozen=True)
class KeyRequested:
    """Server only: the peer asked for the public key (trust on first use) and got it."""


@dataclass(frozen=True)
class BadMessage:
    """One message inside an authentic record was malformed; the connection is still sound."""

    error: RemoteProtocolError

    @property
    def code_word(self) -> str:
        """The ``1009`` code word to answer with."""
        return self.error.error_code


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer closed its side cleanly at a frame boundary."""


Event = HandshakeComplete | KeyRequested | BadMessage | ConnectionClosed | Message | _NeedData


def _cap(given: int | None, default: int | None) -> int | None:
    """A messages-per-record cap: ``given``, or ``default`` when None; never below 1."""
    cap = default if given is None else given
    if cap is not None and cap < 1:
        raise LocalProtocolError(f"a record holds at least one message, not {cap}")
    return cap


class Connection:
    """A client or server end; build one with ``Connection.client`` or ``Connection.server``."""

    def __init__(
        self,
        role: Role,
        *,
        private_key: RSA.RsaKey | None = None,
        server_key: RSA.RsaKey | None = None,
        max_frame: int = MAX_FRAME,
        seq_limit: int = SEQ_LIMIT,
        randfunc: crypto.RandFunc | None = None,
        max_messages_per_record: int | None = None,
        send_messages_per_record: int | None = None,
    ) -> None:
        """``max_messages_per_record``: more in one received record is the peer's fatal error
        (None: ``MAX_MESSAGES_PER_RECORD`` on a server; no cap on a client, as a server packs
        whole history pages). ``send_messages_per_record``: the most this end seals into one
        record (None: ``MAX_MESSAGES_PER_RECORD`` on a client, as many as fit on a server)."""
        self.role = role
        default_cap = MAX_MESSAGES_PER_RECORD if role is Role.SERVER else None
        client_cap = MAX_MESSAGES_PER_RECORD if role is Role.CLIENT else None
        self._receive_cap = _cap(max_messages_per_record, default_cap)
        self._send_cap = _cap(send_messages_per_record, client_cap)
        self._max_frame = max_frame
        self._seq_limit = seq_limit
        self._decoder = FrameDecoder(max_frame)
        self._frames: deque[bytes] = deque()
        self._lines: deque[bytes] = deque()
        self._outgoing = bytearray()
        self._eof = False
        self._failure: str | None = None  # why the connection failed; None while usable
        self._key_sent = False
        self._error: RemoteProtocolError | None = None  # a framing error waiting its turn
        self._sealer: RecordSealer | None = None
        self._opener: RecordOpener | None = None
        self._client_hs: ClientHandshake | None = None
        self._server_hs: ServerHandshake | None = None
        if role is Role.CLIENT:
            if server_key is None:
                raise LocalProtocolError("a client needs the server's pinned public key")
            self._client_hs = ClientHandshake(server_key, randfunc)
            self.server_fingerprint = crypto.fingerprint(server_key)
            self._table: Mapping[str, type[Message]] = SERVER_MESSAGES
        else:
            if private_key is None or not private_key.has_private():
                raise LocalProtocolError("a server needs its RSA private key")
            self._server_hs = ServerHandshake(private_key, randfunc)
            self._public_key = private_key.public_key()
            self.server_fingerprint = crypto.fingerprint(private_key.public_key())
            self._table = CLIENT_MESSAGES

    @classmethod
    def client(cls, server_key: RSA.RsaKey, **options: object) -> Connection:
        """A client end that trusts only ``server_key``."""
        return cls(Role.CLIENT, server_key=server_key, **options)  # type: ignore[arg-type]

    @classmethod
    def server(cls, private_key: RSA.RsaKey, **options: object) -> Connection:
        """A server end holding the long-term private key."""
        return cls(Role.SERVER, private_key=private_key, **options)  # type: ignore[arg-type]

    # --- state -----------------------------------------------------------------------------

    @property
    def handshake_state(self) -> State:
        """The handshake's state (``ESTABLISHED`` once records may flow)."""
        machine = self._client_hs or self._server_hs
        assert machine is not None
        return machine.state

    @property
    def established(self) -> bool:
        """True once the handshake has completed on this end."""
        return self._sealer is not None

    @property
    def records_sent(self) -> int:
        """Records sealed so far (0 before the handshake)."""
        return self._sealer.seq if self._sealer else 0

    @property
    def failed(self) -> bool:
        """True once an error (or ``send_failed``) ended this connection: close the socket."""
        return self._failure is not None

    @property
    def failure(self) -> str | None:
        """Why the connection failed (the first cause), or None while it is usable."""
        return self._failure

    def refused_for_earlier_failure(self, exc: LocalProtocolError) -> bool:
        """True when ``exc`` is only this connection refusing a call because something else
        failed it first (a peer error, another thread's send, ``send_failed``): an ordinary
        end, not a bug of the caller's."""
        failure = self._failure
        return failure is not None and failure != f"{type(exc).__name__}: {exc}"

    @property
    def send_exhausted(self) -> bool:
        """True when the record counter is used up: close and reconnect."""
        return self._sealer is not None and self._sealer.exhausted

    # --- input -----------------------------------------------------------------------------

    def initiate(self) -> bytes:
        """Client only: the ClientHello frame to write first."""
        if self._client_hs is None:
            raise LocalProtocolError("only a client initiates")
        return encode_frame(self._client_hs.start(), self._max_frame)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer; ``b""`` means the peer closed its side.

        Ignored once the connection failed or the peer closed: those bytes can mean nothing.
        """
        if self._error is not None or self._eof or self._failure is not None:
            return
        if not data:
            self._eof = True
            return
        try:
            self._frames.extend(self._decoder.feed(data))
            self._decoder.feed(b"")  # surfaces a bad header that followed those frames
        except RemoteProtocolError as exc:
            self._error = exc  # raised once the frames before it are consumed

    def next_event(self) -> Event:
        """The next thing that happened, or ``NEED_DATA``. Fatal problems raise.

        Raises RemoteProtocolError (the peer broke the protocol, tampered, or is not the pinned
        server) and leaves the connection failed: close the socket. Once failed, every call
        raises LocalProtocolError.
        """
        self._refuse_if_failed()
        try:
            return self._next_event()
        except BaseException as exc:
            self._fail(exc)
            self._frames.clear()  # the receive side's own buffers: nothing more is read
            self._lines.clear()
            raise

    def _next_event(self) -> Event:
        if self._lines:
            return self._decode_line(self._lines.popleft())
        if self._frames:
            body = self._frames.popleft()
            if not self.established:
                return self._handshake(body)
            assert self._opener is not None
            lines = split_record(self._opener.open(body))
            if self._receive_cap is not None and len(lines) > self._receive_cap:
                raise RemoteProtocolError(
                    f"a record holds {len(lines)} messages, more than the "
                    f"{self._receive_cap} allowed"
                )
            self._lines.extend(lines)
            return self._decode_line(self._lines.popleft())
        if self._error is not None:
            raise self._error
        if self._eof:
            if self._decoder.buffered:
                raise RemoteProtocolError("connection closed in the middle of a frame")
            return ConnectionClosed()
        return NEED_DATA

    def _refuse_if_failed(self) -> None:
        if self._failure is not None:
            raise LocalProtocolError(f"connection already failed ({self._failure})")

    def _fail(self, cause: BaseException | str) -> None:
        """Enter the failed state; the first cause is kept for the error every later call gets.

        Only a flag is set here, never the other side's buffers: the reader and the writer
        thread may fail at the same moment.
        """
        if self._failure is None:
            self._failure = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"

    def _handshake(self, body: bytes) -> HandshakeComplete | KeyRequested:
        """A hello (or key request) frame; the handshake machines mark themselves failed."""
        if self._server_hs is not None and body == KEY_REQUEST and not self._key_sent:
            self._key_sent = True
            self._outgoing += encode_frame(encode_key_response(self._public_key))
            return KeyRequested()
        if self._server_hs is not None:
            server_hello, keys = self._server_hs.respond(body)
            self._outgoing += encode_frame(server_hello, self._max_frame)
        else:
            assert self._client_hs is not None
            if self._client_hs.state is not State.HELLO_SENT:
                raise LocalProtocolError("client received data before initiate()")
            keys = self._client_hs.finish(body)
        self._install(keys)
        return HandshakeComplete(self.server_fingerprint)

    def _install(self, keys: SessionKeys) -> None:
        client_to_server = (keys.c2s_key, keys.c2s_iv)
        server_to_client = (keys.s2c_key, keys.s2c_iv)
        if self.role is Role.SERVER:
            send_key, receive_key = server_to_client, client_to_server
        else:
            send_key, receive_key = client_to_server, server_to_client
        self._sealer = RecordSealer(*send_key, max_frame=self._max_frame, seq_limit=self._seq_limit)
        self._opener = RecordOpener(*receive_key, seq_limit=self._seq_limit)

    def _decode_line(self, line: bytes) -> Event:
        if not line:
            return BadMessage(RemoteProtocolError("empty message in record", fatal=False))
        try:
            return decode_message(line, self._table)
        except RemoteProtocolError as exc:
            return BadMessage(exc)

    # --- output ----------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Bytes the handshake produced (the server's ServerHello); empty when there are none."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def send(self, messages: Message | Sequence[Message]) -> bytes:
        """Seal one or several messages into as few records as fit; returns frames to write.

        All or nothing: if any message cannot be encoded or sent, no record is sealed, the
        record counter does not move, and the connection is failed.
        """
        self._refuse_if_failed()
        try:
            if isinstance(messages, Sequence):
                lines = [encode_message(m).encode("utf-8") for m in messages]
            else:
                lines = [encode_message(messages).encode("utf-8")]
        except BaseException as exc:
            self._fail(exc)
            raise
        return self.send_lines(lines)

    def send_lines(self, lines: Iterable[bytes]) -> bytes:
        """Like ``send`` for messages already encoded (a fan-out encodes once for everyone).

        Every line is checked (not empty, no newline, fits in a record) and the records it needs
        are counted against the record limit before the first one is sealed, so a bad line
        anywhere leaves the counter where it was and produces no bytes. Any failure fails the
        connection (``LocalProtocolError`` from every later call).
        """
        self._refuse_if_failed()
        try:
            return self._seal_lines(lines)
        except BaseException as exc:
            self._fail(exc)
            raise

    def send_failed(self) -> None:
        """The caller could not write what ``send`` returned: the peer's counter is now behind.

        Records are counted on both sides, so a record that was sealed but never arrived makes
        every later one fail to open; the connection is failed and must be closed.
        """
        self._fail("the caller's write failed")

    def _seal_lines(self, lines: Iterable[bytes]) -> bytes:
        sealer = self._sealer
        if sealer is None:
            raise LocalProtocolError("cannot send records before the handshake completes")
        limit, cap = sealer.max_plaintext, self._send_cap
        plaintexts: list[bytes] = []
        batch: list[bytes] = []
        size = 0
        for index, line in enumerate(lines):
            if not line or len(line) > limit or RECORD_SEPARATOR in line:
                raise LocalProtocolError(
                    f"message {index + 1} ({len(line)} bytes) cannot be sent: "
                    f"empty, over {limit} bytes, or containing a newline"
                )
            if batch and (size + 1 + len(line) > limit or len(batch) == cap):
                plaintexts.append(join_record(batch))
                batch, size = [], 0
            size += len(line) + (1 if batch else 0)
            batch.append(line)
        if batch:
            plaintexts.append(join_record(batch))
        if len(plaintexts) > sealer.remaining:
            raise LocalProtocolError(
                f"{len(plaintexts)} records needed, {sealer.remaining} left before the record "
                "limit; open a new connection"
            )
        return b"".join([sealer.seal(plaintext) for plaintext in plaintexts])
