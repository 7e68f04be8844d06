"""Baseline (a): a minimal plaintext threaded relay, the ceiling of this architecture in Python.

Same framing as the chat (``u32`` length + body), no crypto, no database, no login: one reader
thread per client reads a frame, writes it to every other client (each socket guarded by its own
lock) and answers the sender with a one-byte ``A`` frame, the analogue of the chat's ``1007`` ack.
A new client gets a ``W`` frame once it is in the roster, so the load generator knows when it
will receive everything (the analogue of a successful login).

Run standalone (the bench starts it as a subprocess so its CPU and memory are read from /proc
exactly as the real server's are)::

    python -m bench.plain_relay --port 9100 --max-seconds 600

It listens on 127.0.0.1 only and exits by itself after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import logging
import socket
import struct
import threading
import time

from common.errors import RemoteProtocolError
from common.framing import FrameDecoder, encode_frame

log = logging.getLogger(__name__)

WELCOME = encode_frame(b"W")
ACK = encode_frame(b"A")
SEND_TIMEOUT = 5  # seconds: a client that stops reading for this long is dropped
_SNDTIMEO = struct.pack("ll", SEND_TIMEOUT, 0)


class _Peer:
    """One connected client: its socket and the lock that keeps frames whole on it."""

    __slots__ = ("lock", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()

    def send(self, data: bytes) -> bool:
        """Write ``data``; False when the peer is gone or too slow."""
        try:
            with self.lock:
                self.sock.sendall(data)
        except OSError:
            return False
        return True


class PlainRelay:
    """Accept loop plus one reader thread per client; broadcast happens in the reader."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port), backlog=1024)
        self.port: int = self._listener.getsockname()[1]
        self._peers: list[_Peer] = []
        self._lock = threading.Lock()  # guards _peers; held only to copy or change it
        self._closed = threading.Event()
        self._accept_thread = threading.Thread(target=self._accept, name="relay-accept", daemon=True)

    def start(self) -> PlainRelay:
        """Start accepting in a background thread."""
        self._accept_thread.start()
        return self

    def close(self) -> None:
        """Stop accepting and close every client socket."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            peers, self._peers = self._peers, []
        for peer in peers:
            peer.sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # A send timeout at the OS level: reads stay blocking, a stuck write fails.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _SNDTIMEO)
            peer = _Peer(sock)
            with self._lock:
                self._peers.append(peer)
            peer.send(WELCOME)
            threading.Thread(target=self._read, args=(peer,), name="relay-reader", daemon=True).start()

    def _read(self, peer: _Peer) -> None:
        decoder = FrameDecoder()
        sock = peer.sock
        try:
            while not self._closed.is_set():
                data = sock.recv(65536)
                if not data:
                    break
                for body in decoder.feed(data):
                    self._broadcast(peer, encode_frame(body))
                    peer.send(ACK)
        except (OSError, RemoteProtocolError):
            pass
        finally:
            with self._lock:
                if peer in self._peers:
                    self._peers.remove(peer)
            sock.close()

    def _broadcast(self, sender: _Peer, frame: bytes) -> None:
        with self._lock:
            peers = list(self._peers)
        for peer in peers:
            if peer is not sender and not peer.send(frame):
                peer.sock.close()


def main(argv: list[str] | None = None) -> int:
    """Serve until ``--max-seconds`` have passed (or the process is terminated)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s relay %(message)s")
    relay = PlainRelay(port=args.port).start()
    print(f"listening 127.0.0.1:{relay.port}", flush=True)
    time.sleep(args.max_seconds)
    relay.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
