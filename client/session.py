"""One connection to the server: a socket, a reader thread and a writer thread. Never touches Tk.

The Tk thread must never block on the network, and widgets must never be touched from another
thread, so everything that happens here becomes a small event dataclass on a ``queue.Queue``
that the controller drains with ``after()``. ``common.Connection`` does the protocol; this
module only moves bytes. The writer takes everything queued at once and seals it into as few
records as fit (one ``conn.send([...])``), which keeps AES-GCM's per-record cost off bursts.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Literal

from Crypto.PublicKey import RSA

from client.keylogin import KeysDerived  # the key derivation's result, on the same queue
from client.password_change import SecretsDerived  # a password change's keys, likewise
from common.connection import (
    NEED_DATA,
    BadMessage,
    Connection,
    ConnectionClosed,
    HandshakeComplete,
)
from common.errors import ChatError, LocalProtocolError, RemoteProtocolError
from common.framing import FrameDecoder, encode_frame
from common.handshake import KEY_REQUEST, parse_key_response
from common.messages import Message, PingRequest, ServerMessage

logger = logging.getLogger(__name__)

CONNECT_DEADLINE = 10.0
"""Seconds for TCP connect + handshake, in all (``CHAT_CONNECT_DEADLINE``). One overall
deadline, not a timeout per read: a hostile server that trickles one byte just inside every
read timeout would otherwise hold the window on "Connecting…" forever. The server allows 10 s
for its side of the handshake and the login."""
KEY_FETCH_DEADLINE = 10.0
"""Seconds for asking a server for its public key, in all (``CHAT_KEY_FETCH_DEADLINE``)."""
PING_INTERVAL = 25.0


class DeadlineExceeded(TimeoutError):
    """The overall deadline of a connect, handshake or key fetch passed."""


class Deadline:
    """A point in monotonic time; ``arm()`` gives a socket only the time that is left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return self._end - time.monotonic()

    def _expired(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"no answer within the {self.seconds:g} s allowed")

    def arm(self, sock: socket.socket) -> None:
        """Before each blocking call: raise if the time is up, else shorten the timeout."""
        left = self.left()
        if left <= 0:
            raise self._expired()
        sock.settimeout(left)

    def recv(self, sock: socket.socket) -> bytes:
        """``sock.recv`` within what is left of the deadline."""
        self.arm(sock)
        try:
            return sock.recv(65536)
        except TimeoutError:
            raise self._expired() from None

    def sendall(self, sock: socket.socket, data: bytes) -> None:
        """``sock.sendall`` within what is left of the deadline."""
        self.arm(sock)
        try:
            sock.sendall(data)
        except TimeoutError:
            raise self._expired() from None


@dataclass(frozen=True)
class Connected:
    """The handshake verified the pinned key; records may flow."""

    session_id: int
    fingerprint: str
    cipher: str


@dataclass(frozen=True)
class Received:
    """A message from the server."""

    session_id: int
    message: ServerMessage


@dataclass(frozen=True)
class Disconnected:
    """An established connection ended; ``fatal`` means reconnecting cannot help."""

    session_id: int
    reason: str
    fatal: bool = False


@dataclass(frozen=True)
class ConnectFailed:
    """No connection was established. ``stage`` is ``connect`` or ``handshake``.

    A handshake failure with a pinned key usually means the server could not prove it holds
    that key (a different key, or someone in the middle): ``identity`` is then True.
    """

    session_id: int
    reason: str
    stage: Literal["connect", "handshake"]
    identity: bool = False


@dataclass(frozen=True)
class KeyFetched:
    """Result of asking a server for its public key (trust on first use); ``key`` None on error."""

    host: str
    port: int
    key: RSA.RsaKey | None
    error: str = ""
    reachable: bool = True  # False when the server could not be reached at all


SessionEvent = (Connected | Received | Disconnected | ConnectFailed | KeyFetched | KeysDerived
                | SecretsDerived)


def describe_os_error(exc: OSError, host: str, port: int) -> str:
    """A socket error in words a person understands."""
    where = f"{host}:{port}"
    if isinstance(exc, DeadlineExceeded):
        return (f"The server at {where} did not complete the connection in time ({exc}); "
                "it may be overloaded, or not a chat server.")
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"The server at {where} did not answer in time."
    if isinstance(exc, socket.gaierror):
        return f"Cannot find the server {host}: check the address."
    if exc.errno == errno.ECONNREFUSED:
        return f"Cannot reach the server at {where}: connection refused. Is it running?"
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"Cannot reach the server at {where}: no route to it."
    return f"Cannot reach the server at {where}: {exc.strerror or exc}."


class Session:
    """Drive one ``Connection`` over TCP. ``connect()`` returns at once; results arrive as events.

    Exactly one terminal event (``ConnectFailed`` or ``Disconnected``) is put on the queue,
    unless ``close()`` ended the session, in which case none is.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        host: str,
        port: int,
        public_key: RSA.RsaKey,
        events: queue.Queue[SessionEvent],
        *,
        connect_timeout: float = CONNECT_DEADLINE,
        ping_interval: float = PING_INTERVAL,
    ) -> None:
        self.id = next(Session._ids)
        self.host, self.port = host, port
        self._key = public_key
        self._events = events
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._outgoing: queue.Queue[Message | None] = queue.Queue()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._closing = False
        self._finished = False
        self._last_rx = time.monotonic()
        self._threads: list[threading.Thread] = []
        self._nonces = itertools.count(1)

    # --- the controller's side --------------------------------------------------------------

    def connect(self) -> None:
        """Start connecting in a background thread."""
        thread = threading.Thread(target=self._run, name=f"session-{self.id}-reader", daemon=True)
        self._threads.append(thread)
        thread.start()

    def send(self, message: Message) -> None:
        """Queue a message for the writer (thread-safe; before the handshake it waits)."""
        self._outgoing.put(message)

    def close(self) -> None:
        """End the session: the writer flushes what is queued (a logout), then the socket shuts."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            sock, writer_running = self._sock, len(self._threads) > 1
        self._outgoing.put(None)
        if sock is not None and not writer_running:
            _shutdown(sock)  # still handshaking: nothing worth flushing

    def join(self, timeout: float = 2.0) -> bool:
        """Wait for both threads to end (tests and shutdown); True if they did."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    # --- threads ----------------------------------------------------------------------------

    def _finish(self, event: ConnectFailed | Disconnected) -> None:
        """Report the end once, and only if nobody asked for it."""
        with self._lock:
            if self._finished or self._closing:
                self._finished = True
                return
            self._finished = True
        logger.info("session %d ended: %s", self.id, event.reason)
        self._events.put(event)

    def _run(self) -> None:
        deadline = Deadline(self._connect_timeout)  # connect + handshake, in all
        try:
            sock = socket.create_connection((self.host, self.port), timeout=deadline.left())
        except OSError as exc:
            self._finish(ConnectFailed(self.id, describe_os_error(exc, self.host, self.port),
                                       "connect"))
            return
        with self._lock:
            if self._closing:
                sock.close()
                return
            self._sock = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection.client(self._key)
            if self._handshake(sock, conn, deadline):
                self._read(sock, conn)
        finally:
            self._outgoing.put(None)  # stop the writer if it still waits
            _shutdown(sock)
            sock.close()

    def _handshake(self, sock: socket.socket, conn: Connection, deadline: Deadline) -> bool:
        """Send the ClientHello, verify the ServerHello; report and return False on failure."""
        try:
            deadline.sendall(sock, conn.initiate())
            while True:
                event = conn.next_event()
                if event is NEED_DATA:
                    conn.receive_data(deadline.recv(sock))
                    continue
                if isinstance(event, HandshakeComplete):
                    break
                if isinstance(event, ConnectionClosed):
                    raise RemoteProtocolError("the server closed the connection in the handshake")
                raise RemoteProtocolError(f"unexpected {type(event).__name__} in the handshake")
        except ChatError as exc:
            logger.warning("handshake with %s:%d failed: %s", self.host, self.port, exc)
            self._finish(ConnectFailed(self.id, str(exc), "handshake", identity=True))
            return False
        except OSError as exc:
            if isinstance(exc, ConnectionResetError | BrokenPipeError):
                reason, identity = "the server reset the connection during the handshake", True
            else:
                reason, identity = describe_os_error(exc, self.host, self.port), False
            self._finish(ConnectFailed(self.id, reason, "handshake", identity=identity))
            return False
        sock.settimeout(None)  # from here liveness is the writer's ping, not a socket timeout
        self._last_rx = time.monotonic()
        self._events.put(Connected(self.id, event.server_fingerprint, event.cipher))
        writer = threading.Thread(
            target=self._write, args=(sock, conn), name=f"session-{self.id}-writer", daemon=True
        )
        with self._lock:
            self._threads.append(writer)
        writer.start()
        return True

    def _read(self, sock: socket.socket, conn: Connection) -> None:
        try:
            while True:
                data = sock.recv(65536)
                self._last_rx = time.monotonic()
                conn.receive_data(data)
                while True:
                    event = conn.next_event()
                    if event is NEED_DATA:
                        break
                    if isinstance(event, ConnectionClosed):
                        self._finish(Disconnected(self.id, "the server closed the connection"))
                        return
                    if isinstance(event, BadMessage):
                        logger.warning("ignoring a malformed message: %s", event.error)
                        continue
                    self._events.put(Received(self.id, event))  # type: ignore[arg-type]
        except ChatError as exc:  # nothing may escape the thread as a traceback
            if isinstance(exc, LocalProtocolError) and conn.refused_for_earlier_failure(exc):
                # the writer failed the connection first (its write broke): an ordinary loss
                self._finish(Disconnected(self.id, f"connection lost ({conn.failure})"))
                return
            logger.warning("protocol error with %s:%d: %s", self.host, self.port, exc)
            self._finish(Disconnected(self.id, f"protocol error: {exc}"))
        except OSError as exc:
            self._finish(Disconnected(self.id, f"connection lost ({exc.strerror or exc})"))

    def _write(self, sock: socket.socket, conn: Connection) -> None:
        while True:
            try:
                first = self._outgoing.get(timeout=self._ping_interval)
            except queue.Empty:
                if time.monotonic() - self._last_rx > 2.5 * self._ping_interval:
                    self._finish(Disconnected(self.id, "the server stopped answering"))
                    _shutdown(sock)
                    return
                first = PingRequest(str(next(self._nonces)))
            batch = [first]
            while True:
                try:
                    batch.append(self._outgoing.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            messages = [m for m in batch[: batch.index(None)] if m] if stop else batch
            try:
                if messages:
                    sock.sendall(conn.send(messages))  # type: ignore[arg-type]
            except (OSError, ChatError) as exc:
                if isinstance(exc, OSError):
                    conn.send_failed()  # a record may be half written: the reader stops too
                self._finish(Disconnected(self.id, f"connection lost ({exc})"))
                _shutdown(sock)
                return
            if conn.send_exhausted:
                self._finish(Disconnected(self.id, "record counter used up; reconnecting"))
                stop = True
            if stop:
                _shutdown(sock)  # wakes the reader, which closes the socket
                return


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def fetch_server_key(host: str, port: int, timeout: float = KEY_FETCH_DEADLINE) -> RSA.RsaKey:
    """Ask a server for its public key (PROTOCOL.md "key request"), for the person to check.

    Nothing is trusted because it arrived here: the caller shows the fingerprint and pins the
    key only if the person accepts. ``timeout`` bounds the whole exchange. Raises OSError
    (``DeadlineExceeded`` when the time is up) or ChatError.
    """
    deadline = Deadline(timeout)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        deadline.sendall(sock, encode_frame(KEY_REQUEST))
        decoder = FrameDecoder()
        while True:
            data = deadline.recv(sock)
            if not data:
                raise RemoteProtocolError("the server closed the connection without its key")
            frames = decoder.feed(data)
            if frames:
                return parse_key_response(frames[0])


def start_key_fetch(
    host: str, port: int, events: queue.Queue[SessionEvent], deadline: float = KEY_FETCH_DEADLINE
) -> threading.Thread:
    """Run ``fetch_server_key`` in a thread; the answer arrives as a ``KeyFetched`` event."""

    def run() -> None:
        try:
            events.put(KeyFetched(host, port, fetch_server_key(host, port, deadline)))
        except OSError as exc:
            events.put(KeyFetched(host, port, None, describe_os_error(exc, host, port), False))
        except ChatError as exc:
            events.put(KeyFetched(host, port, None, f"The server did not send its key: {exc}"))

    thread = threading.Thread(target=run, name=f"key-fetch-{host}:{port}", daemon=True)
    thread.start()
    return thread
