"""One end of a chat connection, with no I/O: bytes in, events out, messages in, bytes out.

Like h11's ``Connection``, this object never touches a socket. The caller feeds what it read to
``receive_data`` and pulls events with ``next_event`` until ``NEED_DATA``; it turns messages into
bytes with ``send`` and writes them itself. That keeps the whole protocol testable in memory and
lets the server and client choose their own threads.

After the handshake the receive side (``receive_data``/``next_event``) and the send side
(``send``) touch disjoint state, so one reader thread and one writer thread may use them at once.
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
    ) -> None:
        self.role = role
        self._max_frame = max_frame
        self._seq_limit = seq_limit
        self._decoder = FrameDecoder(max_frame)
        self._frames: deque[bytes] = deque()
        self._lines: deque[bytes] = deque()
        self._outgoing = bytearray()
        self._eof = False
        self._failed = False
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
        """Feed bytes read from the peer; ``b""`` means the peer closed its side."""
        if self._error is not None or self._eof:
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
        server) and leaves the connection unusable: close the socket.
        """
        if self._failed:
            raise RemoteProtocolError("connection already failed")
        if self._lines:
            return self._decode_line(self._lines.popleft())
        if self._frames:
            body = self._frames.popleft()
            if not self.established:
                return self._handshake(body)
            assert self._opener is not None
            try:
                plaintext = self._opener.open(body)
            except RemoteProtocolError:
                self._poison()
                raise
            self._lines.extend(plaintext.split(b"\n"))
            return self._decode_line(self._lines.popleft())
        if self._error is not None:
            error = self._error
            self._poison()
            raise error
        if self._eof:
            if self._decoder.buffered:
                self._poison()
                raise RemoteProtocolError("connection closed in the middle of a frame")
            return ConnectionClosed()
        return NEED_DATA

    def _poison(self) -> None:
        """After a fatal error nothing more is read or sent on this connection."""
        self._failed = True
        self._frames.clear()
        self._lines.clear()
        self._error = self._error or RemoteProtocolError("connection already failed")

    def _handshake(self, body: bytes) -> HandshakeComplete | KeyRequested:
        try:
            if self._server_hs is not None and body == KEY_REQUEST and not self._key_sent:
                self._key_sent = True
                self._outgoing += encode_frame(encode_key_response(self._public_key))
                return KeyRequested()
            if self._server_hs is not None:
                server_hello, keys = self._server_hs.respond(body)
                self._outgoing += encode_frame(server_hello, self._max_frame)
                self._install(keys)
            else:
                assert self._client_hs is not None
                if self._client_hs.state is not State.HELLO_SENT:
                    raise LocalProtocolError("client received data before initiate()")
                keys = self._client_hs.finish(body)
                self._install(keys)
        except RemoteProtocolError:
            self._poison()
            raise
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
        """Seal one or several messages into as few records as fit; returns frames to write."""
        if isinstance(messages, Sequence):
            lines: Iterable[bytes] = (encode_message(m).encode("utf-8") for m in messages)
        else:
            lines = (encode_message(messages).encode("utf-8"),)
        return self.send_lines(lines)

    def send_lines(self, lines: Iterable[bytes]) -> bytes:
        """Like ``send`` for messages already encoded (a fan-out encodes once for everyone)."""
        sealer = self._sealer
        if self._failed:
            raise LocalProtocolError("cannot send on a connection that failed")
        if sealer is None:
            raise LocalProtocolError("cannot send records before the handshake completes")
        limit = sealer.max_plaintext
        out: list[bytes] = []
        batch: list[bytes] = []
        size = 0
        for line in lines:
            if not line or len(line) > limit:
                raise LocalProtocolError(f"message of {len(line)} bytes cannot be sent")
            if batch and size + 1 + len(line) > limit:
                out.append(sealer.seal(b"\n".join(batch)))
                batch, size = [], 0
            size += len(line) + (1 if batch else 0)
            batch.append(line)
        if batch:
            out.append(sealer.seal(b"\n".join(batch)))
        return b"".join(out)
