"""The only socket code of the server: an accept thread, then two threads per connection.

Per connection a *reader* thread does blocking ``recv`` with a deadline (handshake + login
within ``handshake_timeout``, then ``idle_timeout``), feeds ``common.Connection`` and hands each
message to the ``ChatService``. Replies and relays go through the connection's
``server.outbox.Outbox``: a line for an idle connection is sealed and written by the thread
that queues it; a *writer* thread waits on the socket for what a slow reader has not taken
yet, sealing whatever queued meanwhile into as few records as possible.

Nobody ever waits for a slow client: ``put`` into a full outbox disconnects that client. A
protocol violation (bad frame, tampered/replayed/reordered/reflected record, bad hello) closes
that connection only; the reason is logged, never any secret.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time

from Crypto.PublicKey import RSA

from common import crypto
from common.connection import (
    NEED_DATA,
    BadMessage,
    Connection,
    ConnectionClosed,
    Event,
    HandshakeComplete,
    KeyRequested,
)
from common.errors import LocalProtocolError, RemoteProtocolError
from common.handshake import CIPHER_SUITE
from common.messages import LogoutRequest
from server.connection_state import ConnectionState
from server.limits import (
    ConnectionCounts,
    HandshakeGate,
    KeyedBuckets,
    MemoryBudget,
    SharedCounts,
    network_key,
    raise_descriptor_limit,
)
from server.options import ServerOptions
from server.outbox import Outbox
from server.service import ChatService

log = logging.getLogger(__name__)

class _Peer:
    """One accepted socket: reader and writer threads, its ``Outbox``, teardown."""

    def __init__(self, server: ChatServer, sock: socket.socket, address: tuple[str, int]) -> None:
        self._server, self._sock = server, sock
        self._options, self._service = server.options, server.service
        self.address = address[0]
        self.peer = f"{address[0]}:{address[1]}"
        self.conn = Connection.server(
            server.private_key,
            max_frame=self._options.max_frame,
            seq_limit=self._options.record_limit,
            max_messages_per_record=self._options.max_messages_per_record,
        )
        self._outbox = Outbox(
            sock,
            self.conn.send_lines,
            lambda: self.conn.send_exhausted,
            self._options.outbox_limit,
            self.abort,
            budget=server.outbox_budget,
            stall_timeout=self._options.write_stall_timeout,
        )
        self.pending = True  # not logged in yet (counted in ChatServer.counts)
        self._got_bytes = False
        self.state = ConnectionState(self.address, self.peer, self._outbox)
        sock.settimeout(self._options.idle_timeout)  # bounds sendall; reads wait in poll
        self._poller = select.poll()
        self._poller.register(sock, select.POLLIN | select.POLLPRI)
        self._shut_lock = threading.Lock()
        self._shut = False
        self._abort_reason = ""
        self._writer: threading.Thread | None = None
        self.reader = threading.Thread(
            target=self._read_main, name=f"read {self.peer}", daemon=True
        )

    # --- teardown --------------------------------------------------------------------------

    def abort(self, reason: str, level: int = logging.WARNING) -> None:
        """Shut the socket now (from any thread); the reader notices and cleans up."""
        with self._shut_lock:
            if self._shut:
                return
            self._shut = True
            self._abort_reason = reason
        log.log(level, "dropping %s (%s): %s", self.peer, self.state.username or "-", reason)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._outbox.kill()

    def stop_reading(self) -> None:
        """Server shutdown: end the reader as if the peer had closed; replies still flush."""
        try:
            self._sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    # --- reader ----------------------------------------------------------------------------

    def _read_main(self) -> None:
        reason = "closed by peer"
        try:
            reason = self._read_loop()
        except RemoteProtocolError as exc:
            reason = f"protocol error: {exc}"
            self.abort(reason)  # logs why; the connection can no longer be trusted
        except TimeoutError:
            if self.state.logged_in:
                reason = "idle timeout"
            elif self._got_bytes:
                reason = "no login within the deadline"
            else:
                reason = "sent nothing within the first-byte deadline"
            log.info("closing %s: %s", self.peer, reason)
        except OSError as exc:
            reason = self._abort_reason or f"socket error ({exc.__class__.__name__})"
        except LocalProtocolError as exc:
            if self.conn.refused_for_earlier_failure(exc):
                # the writer (or the peer) failed the connection first: an ordinary end
                reason = self._abort_reason or f"connection failed ({self.conn.failure})"
                log.info("closing %s: %s", self.peer, reason)
            else:
                reason = self._internal_error()
        except Exception:  # a bug must not take the server down with it
            reason = self._internal_error()
        finally:
            self._finish(self._abort_reason or reason)

    def _internal_error(self) -> str:
        """A bug on this connection's reader: log it with its traceback and drop the peer."""
        log.exception("internal error on %s", self.peer)
        self.abort("internal error")
        return "internal error"

    def _read_loop(self) -> str:
        opts, conn, service, state = self._options, self.conn, self._service, self.state
        deadline = time.monotonic() + opts.handshake_timeout
        first_byte_deadline = time.monotonic() + opts.first_byte_timeout
        while True:
            while True:
                if self._got_bytes and not conn.established:
                    event = self._handshake_step(deadline)
                    if event is None:
                        return "handshake queue full"
                else:
                    event = conn.next_event()
                if event is NEED_DATA:
                    break
                if isinstance(event, KeyRequested | HandshakeComplete):
                    self._sock.sendall(conn.data_to_send())
                    if isinstance(event, HandshakeComplete):
                        self._start_writer()
                    continue
                if isinstance(event, ConnectionClosed):
                    return "closed by peer"
                if isinstance(event, BadMessage):
                    if not service.on_bad_message(state, event.error):
                        return "too many bad messages"
                elif not service.on_message(state, event):  # type: ignore[arg-type]
                    return "logout" if isinstance(event, LogoutRequest) else "closed by service"
                if self._shut:
                    return self._abort_reason
            if state.logged_in:
                if self.pending:
                    self.pending = False
                    self._server.counts.logged_in()
                timeout = opts.idle_timeout
            else:
                timeout = min(deadline, first_byte_deadline) - time.monotonic()
                if self._got_bytes:
                    timeout = deadline - time.monotonic()
                if timeout <= 0:
                    raise TimeoutError
            data = self._receive(timeout)
            self._got_bytes = True
            if self._shut:
                return self._abort_reason
            conn.receive_data(data)

    def _handshake_step(self, deadline: float) -> Event | None:
        """``conn.next_event()`` while the handshake may need the RSA key: only with a turn
        of the server's handshake gate (None: refused, the queue is full)."""
        gate = self._server.handshake_gate
        if not gate.enter(deadline - time.monotonic()):
            return None
        try:
            return self.conn.next_event()
        finally:
            gate.leave()

    def _receive(self, timeout: float) -> bytes:
        """Wait for data with ``poll``, then ``recv``; raises TimeoutError.

        Waiting in ``recv(65536)`` itself would hold a 64 KiB buffer per idle connection for as
        long as it waits (64 MB for 1,000 clients); polling first holds nothing.
        """
        if not self._poller.poll(max(0, int(timeout * 1000))):
            raise TimeoutError
        return self._sock.recv(65_536)

    def _start_writer(self) -> None:
        self._writer = threading.Thread(
            target=self._write_main, name=f"write {self.peer}", daemon=True
        )
        self._writer.start()
        self._outbox.start()

    def _finish(self, reason: str) -> None:
        self._service.on_disconnect(self.state, reason)
        writer = self._writer
        if writer is not None:
            if not self._shut:
                self._outbox.close()  # flush what is queued, then stop
            writer.join(self._options.writer_flush_timeout)
            if writer.is_alive():
                self.abort("could not flush in time")
                writer.join(1.0)
        with self._shut_lock:
            self._shut = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        # nobody may be writing to the descriptor when it is closed: its number is reused
        self._outbox.kill(wait=2.0)
        self._sock.close()
        self._server._forget(self)

    # --- writer ----------------------------------------------------------------------------

    def _write_main(self) -> None:
        try:
            self._outbox.run_writer()
            if self._outbox.signed_off:  # everything is written: end the connection too
                self.stop_reading()
        except TimeoutError as exc:  # the client took nothing for write_stall_timeout
            self.conn.send_failed()  # a record may be half written: nothing more may follow
            self.abort(str(exc))
        except OSError as exc:  # the peer went away: ordinary, not a warning
            self.conn.send_failed()
            self.abort(f"write failed ({exc.__class__.__name__})", logging.INFO)
        except LocalProtocolError as exc:
            self.abort(f"cannot seal: {exc}")


class ChatServer:
    """Accepts connections on ``options.host:options.port`` and serves them until ``stop``."""

    def __init__(
        self, options: ServerOptions, service: ChatService, private_key: RSA.RsaKey,
        shared_counts: SharedCounts | None = None,
    ) -> None:
        self.options, self.service, self.private_key = options, service, private_key
        self._shared_counts = shared_counts  # a cluster's counts per address and network
        self.fingerprint = crypto.fingerprint(private_key.public_key())
        self._handshakes = KeyedBuckets(
            options.handshake_rate, options.handshake_burst, options.rate_limit_keys
        )
        self._network_handshakes = KeyedBuckets(
            options.handshake_network_rate, options.handshake_network_burst, options.rate_limit_keys
        )
        self.handshake_gate = HandshakeGate(options.handshake_workers, options.handshake_queue)
        self.outbox_budget = MemoryBudget(options.outbox_total_bytes)
        self.counts = self._connection_counts(options.max_connections)
        self._lock = threading.Lock()  # guards _peers
        self._peers: set[_Peer] = set()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.address: tuple[str, int] | None = None

    def start(self) -> tuple[str, int]:
        """Bind and start accepting; returns the bound ``(host, port)`` (port 0 picks one)."""
        try:
            threading.stack_size(self.options.thread_stack_size)
        except (ValueError, RuntimeError):  # pragma: no cover - platform without the knob
            log.debug("thread stack size not adjustable here")
        descriptors = raise_descriptor_limit()
        cap = min(self.options.max_connections, descriptors - self.options.fd_reserve)
        if cap < self.options.max_connections:
            log.warning(
                "%d descriptors allow only %d connections (of %d configured)",
                descriptors, max(1, cap), self.options.max_connections,
            )
            self.counts = self._connection_counts(cap)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.options.reuse_port:  # the kernel spreads connections over the processes
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.options.host, self.options.port))
        sock.listen(self.options.listen_backlog)
        sock.settimeout(0.25)  # lets the accept loop notice stop() promptly
        self._listener = sock
        host, port = sock.getsockname()[:2]
        self.address = (host, port)
        self._accept_thread = threading.Thread(target=self._accept_loop, name="accept", daemon=True)
        self._accept_thread.start()
        log.info("listening on %s:%d, key %s, %s", host, port, self.fingerprint, CIPHER_SUITE)
        return host, port

    def _connection_counts(self, max_total: int) -> ConnectionCounts:
        opts = self.options
        return ConnectionCounts(
            max_total, opts.max_pending_connections, opts.max_conns_per_addr,
            opts.max_conns_per_network, self._shared_counts,
        )

    def connection_count(self) -> int:
        """Open connections, logged in or not."""
        with self._lock:
            return len(self._peers)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stopping.is_set():
                    return
                log.warning("accept failed: %s", exc)
                time.sleep(0.05)  # e.g. out of file descriptors: do not spin
                continue
            self._admit(sock, address)

    def _admit(self, sock: socket.socket, address: tuple[str, int]) -> None:
        ip = address[0]
        refusal = ""
        if not self._handshakes.allows(ip):
            refusal = "handshake rate limit"
        elif not self._network_handshakes.allows(network_key(ip)):
            refusal = f"handshake rate limit of {network_key(ip)}"
        else:
            refusal = self.counts.admit(ip)
        if not refusal:
            self._handshakes.take(ip)
            self._network_handshakes.take(network_key(ip))
        if refusal:
            log.warning("refusing %s:%d: %s", ip, address[1], refusal)
            sock.close()
            return
        peer = _Peer(self, sock, address)
        with self._lock:
            self._peers.add(peer)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.options.send_buffer:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.options.send_buffer)
            log.info("connection from %s", peer.peer)
            peer.reader.start()
        except (OSError, RuntimeError) as exc:  # e.g. "can't start new thread"
            log.error("cannot serve %s: %s", peer.peer, exc)
            sock.close()
            self._forget(peer)

    def _forget(self, peer: _Peer) -> None:
        with self._lock:
            self._forget_locked(peer)

    def _forget_locked(self, peer: _Peer) -> None:
        if peer in self._peers:
            self._peers.discard(peer)
            self.counts.release(peer.address, peer.pending)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let every connection flush its outbox, close everything."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            peers = list(self._peers)
        for peer in peers:
            peer.stop_reading()
        deadline = time.monotonic() + timeout
        for peer in peers:
            peer.reader.join(max(0.0, deadline - time.monotonic()))
        self.service.close()  # the hub's presence flusher
        log.info("server stopped; %d connection(s) closed", len(peers))

