"""A small blocking chat client for tests, on ``common.connection.Connection``.

It speaks the protocol correctly by default and keeps the raw socket and the raw frames at hand,
so a test can also misbehave on purpose: resend a record it sent (replay), send one the server
sent (reflection), flip a bit, or write garbage. Messages that arrive while a test waits for
something else are kept in ``inbox`` for later ``recv_until`` calls.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from Crypto.PublicKey import RSA

from common.account_keys import derive_account_keys
from common.connection import (
    NEED_DATA,
    BadMessage,
    Connection,
    ConnectionClosed,
    HandshakeComplete,
)
from common.e2e import to_field
from common.errors import RemoteProtocolError
from common.framing import FrameDecoder
from common.messages import (
    Ack,
    ChatRequest,
    DirectRequest,
    ErrorReply,
    LoginRequest,
    LoginResult,
    Message,
    ResumeRequest,
)
from common.messages_login import KdfParamsReply, KdfParamsRequest, KeyLoginRequest, params_of

Predicate = Callable[[Any], bool]


class ServerClosed(Exception):
    """The server ended the connection while the test was waiting for a message."""


class ChatClient:
    """One connection to the server under test."""

    def __init__(self, host: str, port: int, server_key: RSA.RsaKey, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.conn = Connection.client(server_key)
        self.inbox: deque[Any] = deque()
        self.sent_records: list[bytes] = []  # whole frames we sent after the handshake
        self.received_frames: list[bytes] = []  # every frame body the server sent
        self._frames = FrameDecoder()
        self.closed = False
        self.login_result: LoginResult | None = None
        self.master_key: bytes | None = None  # from key_login

    # --- connection set-up -----------------------------------------------------------------

    def handshake(self, timeout: float = 10.0) -> HandshakeComplete:
        self.sock.sendall(self.conn.initiate())
        event = self._next(lambda e: isinstance(e, HandshakeComplete), timeout, keep=False)
        return event  # type: ignore[no-any-return]

    def login(self, username: str, password: str = "111111", timeout: float = 10.0) -> LoginResult:
        if not self.conn.established:
            self.handshake(timeout)
        self.send(LoginRequest(username, password))
        result = self.recv_until(lambda m: isinstance(m, LoginResult), timeout)
        self.login_result = result
        return result  # type: ignore[no-any-return]

    def kdf_params(self, username: str, timeout: float = 10.0) -> KdfParamsReply:
        """``0030``: the account's (or a stand-in's) key-derivation parameters."""
        if not self.conn.established:
            self.handshake(timeout)
        self.send(KdfParamsRequest(username))
        reply = self.recv_until(lambda m: isinstance(m, KdfParamsReply | ErrorReply), timeout)
        assert isinstance(reply, KdfParamsReply), reply
        return reply

    def key_login(
        self, username: str, password: str = "111111", timeout: float = 10.0
    ) -> LoginResult:
        """``0030`` then ``0031``: the password is used here only, to derive the key."""
        reply = self.kdf_params(username, timeout)
        keys = derive_account_keys(password, params_of(reply))
        self.master_key = keys.master_key
        self.send(KeyLoginRequest(username, to_field(keys.auth_key)))
        result = self.recv_until(lambda m: isinstance(m, LoginResult), timeout)
        self.login_result = result
        return result  # type: ignore[no-any-return]

    def resume(self, username: str, token: str, timeout: float = 10.0) -> LoginResult:
        if not self.conn.established:
            self.handshake(timeout)
        self.send(ResumeRequest(username, token))
        result = self.recv_until(lambda m: isinstance(m, LoginResult), timeout)
        self.login_result = result
        return result  # type: ignore[no-any-return]

    # --- sending ---------------------------------------------------------------------------

    def send(self, message: Message | list[Message]) -> bytes:
        """Seal and write; returns the frames written (kept for replay tests)."""
        data = self.conn.send(message)
        self.sent_records.append(data)
        self.sock.sendall(data)
        return data

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def chat(self, text: str, client_msg_id: str | None = None) -> str:
        cid = client_msg_id or uuid.uuid4().hex
        self.send(ChatRequest("lobby", cid, text))
        return cid

    def direct(self, to: str, text: str, client_msg_id: str | None = None) -> str:
        cid = client_msg_id or uuid.uuid4().hex
        self.send(DirectRequest(to, cid, text))
        return cid

    def chat_acked(self, text: str, client_msg_id: str | None = None) -> Ack:
        """Say ``text`` in the lobby and wait for its ``1007`` (fails on a ``1009``)."""
        cid = self.chat(text, client_msg_id)
        return self.wait_ack(cid)

    def wait_ack(self, cid: str, timeout: float = 10.0) -> Ack:
        reply = self.recv_until(
            lambda m: (isinstance(m, Ack) and m.client_msg_id == cid) or isinstance(m, ErrorReply),
            timeout,
        )
        assert isinstance(reply, Ack), f"expected an ack, got {reply!r}"
        return reply

    # --- receiving -------------------------------------------------------------------------

    def recv_until(self, predicate: Predicate, timeout: float = 10.0) -> Any:
        """The first message (queued or new) matching ``predicate``; others stay queued."""
        for message in list(self.inbox):
            if predicate(message):
                self.inbox.remove(message)
                return message
        return self._next(predicate, timeout, keep=True)

    def collect(self, duration: float) -> list[Any]:
        """Every message that arrives within ``duration`` seconds (plus what was queued)."""
        got = list(self.inbox)
        self.inbox.clear()
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline and not self.closed:
            try:
                got.append(self._next(lambda m: True, deadline - time.monotonic(), keep=False))
            except (TimeoutError, ServerClosed):
                break
        return got

    def closed_by_server(self, timeout: float = 10.0) -> bool:
        """True once the server closes (or resets) the connection within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._next(lambda m: False, deadline - time.monotonic(), keep=True)
            except ServerClosed:
                return True
            except TimeoutError:
                return False
        return False

    def _next(self, predicate: Predicate, timeout: float, keep: bool) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.conn.next_event() if not self.closed else ConnectionClosed()
            except RemoteProtocolError as exc:  # e.g. reset in the middle of a frame
                self.closed = True
                raise ServerClosed(f"connection ended: {exc}") from None
            if event is NEED_DATA:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("nothing matching arrived in time")
                self.sock.settimeout(remaining)
                try:
                    data = self.sock.recv(65_536)
                except TimeoutError:
                    raise TimeoutError("nothing matching arrived in time") from None
                except OSError:  # reset
                    data = b""
                if data:
                    self.received_frames.extend(self._frames.feed(data))
                self.conn.receive_data(data)
                continue
            if isinstance(event, ConnectionClosed):
                self.closed = True
                raise ServerClosed("the server closed the connection")
            if isinstance(event, BadMessage):
                raise AssertionError(f"server sent a malformed message: {event.error}")
            if predicate(event):
                return event
            if keep and not isinstance(event, HandshakeComplete):
                self.inbox.append(event)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
