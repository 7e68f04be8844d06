"""The load generator's worker: many headless clients in one ``selectors`` loop.

Why one non-blocking loop per process rather than a thread per client: a thousand client
threads would spend the generator's only core switching contexts under the GIL, and the
generator would become the thing measured. A loop handles connects, handshakes, logins, paced
sends and receives for every client it owns; more processes (``LoadSpec.procs``) split the
clients when one core is not enough. Every phase has a deadline, so a worker always ends.

Phases, coordinated with the parent through shared values (``Control``):
setup (connect, handshake, log in) → wait for every worker → run (send for ``duration``) →
drain (until acks are in and the line is quiet) → wait for every worker → close and report.
"""

from __future__ import annotations

import heapq
import selectors
import socket
import time
from array import array
from collections import deque
from typing import Any

from Crypto.PublicKey import RSA

from bench.loadspec import LoadSpec, WorkerResult
from bench.procs import was_cut_off
from bench.wire import ChatWire, PlainWire, bench_text
from common.protocol import ErrorCode

RETRYABLE = (ErrorCode.RATE_LIMITED, ErrorCode.UNAVAILABLE, ErrorCode.TOO_LONG)
"""Refusals after which a worker gives up on the send and sends the next one."""

now_ns = time.perf_counter_ns
SEC = 1_000_000_000
RECV_BYTES = 262_144
SILENT_RCVBUF = 4096


class _Client:
    __slots__ = (
        "alive",
        "gidx",
        "out",
        "outstanding",
        "ready",
        "received",
        "sender",
        "seq",
        "silent",
        "sock",
        "t0",
        "t_hs",
        "wire",
        "writing",
    )

    def __init__(self, gidx: int, wire: ChatWire | PlainWire, silent: bool, sender: bool) -> None:
        self.gidx = gidx
        self.sock: socket.socket | None = None
        self.wire = wire
        self.out = bytearray()
        self.seq = 0
        self.outstanding: deque[tuple[int, int]] = deque()
        self.received: set[int] = set()
        self.t0 = self.t_hs = 0
        self.ready = self.alive = self.writing = False
        self.silent = silent
        self.sender = sender


class Worker:
    """Runs ``indices`` (global client numbers) of ``spec`` in this process."""

    def __init__(self, spec: LoadSpec, indices: list[int], control: Any) -> None:
        self.spec = spec
        self.control = control
        self.sel = selectors.DefaultSelector()
        self.res = WorkerResult()
        key = RSA.import_key(spec.server_key_pem) if spec.mode == "ours" else None
        senders = spec.clients if spec.senders is None else spec.senders
        self.clients: list[_Client] = []
        for gidx in indices:
            wire: ChatWire | PlainWire
            if key is not None:
                creds = (spec.users[gidx], spec.password)
                wire = ChatWire(key, creds, msg_prefix=f"{spec.run_tag}-{gidx}",
                                room=spec.room)
            else:
                wire = PlainWire()
            silent = gidx >= spec.clients
            self.clients.append(_Client(gidx, wire, silent, not silent and gidx < senders))
        self.start = self.end = self.send_until = 0
        self.sending = False
        self.silent_users = set(spec.users[spec.clients : spec.clients + spec.silent])
        self.run_cpu0 = 0.0

    # --- socket plumbing ----------------------------------------------------------------

    def _connect(self, c: _Client) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if c.silent:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SILENT_RCVBUF)
        sock.setblocking(False)
        c.sock, c.t0, c.alive = sock, now_ns(), True
        sock.connect_ex((self.spec.host, self.spec.port))
        c.out += c.wire.hello()
        c.writing = True
        self.sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def _drop(self, c: _Client, why: str) -> None:
        if c.sock is not None and c.alive:
            self._count_error(why)
            if c.sock in self.sel.get_map():
                self.sel.unregister(c.sock)
            c.sock.close()
        c.alive = False

    def _count_error(self, word: str) -> None:
        self.res.errors[word] = self.res.errors.get(word, 0) + 1

    def _write(self, c: _Client, data: bytes = b"") -> None:
        if data:
            c.out += data
        if not c.out or not c.alive or c.sock is None:
            return
        try:
            sent = c.sock.send(c.out)
            del c.out[:sent]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(c, "send_failed")
            return
        want = bool(c.out)
        if want != c.writing:
            c.writing = want
            mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self.sel.modify(c.sock, mask, c)

    def _read(self, c: _Client) -> None:
        assert c.sock is not None
        try:
            data = c.sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            self._drop(c, "connection_reset")
            return
        t = now_ns()
        try:
            events = c.wire.feed(data)
        except Exception as exc:  # a protocol failure ends this client, never the run
            self._drop(c, f"protocol:{type(exc).__name__}")
            return
        for event in events:
            self._on_event(c, event, t)
        if c.alive:
            reply = c.wire.take_output()
            if reply:
                self._write(c, reply)

    # --- events -------------------------------------------------------------------------

    def _on_event(self, c: _Client, event: tuple[Any, ...], t: int) -> None:
        kind = event[0]
        res = self.res
        if kind == "deliver":
            sender, seq, sent_ns = event[1], event[2], event[3]
            if sender == c.gidx:
                res.self_echo += 1
                return
            key = (sender << 32) | seq
            if key in c.received:
                res.duplicates += 1
                return
            c.received.add(key)
            lat = t - sent_ns
            if sent_ns <= self.end:  # an extension past the window is not measured
                res.latency_ns.append(lat)
            res.deliveries += 1
            if t <= self.end:
                res.in_window += 1
            if lat > res.key_max.get(key, -1):
                res.key_max[key] = lat
        elif kind == "ack":
            self._on_ack(c, event[1], t)
        elif kind == "leave":
            res.leaves.setdefault(str(event[1]), t - self.start if self.start else 0)
            if event[1] in self.silent_users and self.send_until > self.end:
                self.send_until = max(t, self.end)  # cut off: the extension has done its job
        elif kind == "handshake":
            c.t_hs = t
            res.handshake_ns.append(t - c.t0)
        elif kind == "ready":
            c.ready = True
            res.ready += 1
            res.login_ns.append(t - c.t_hs)
            if c.silent:  # from now on it never reads: the server must cut it off
                assert c.sock is not None
                self.sel.unregister(c.sock)
        elif kind == "refused":
            self._drop(c, "login_refused")
        elif kind == "error":
            self._count_error(str(event[1]))
            if c.outstanding and event[1] in RETRYABLE:
                c.outstanding.popleft()
                self._send_more(c, t)
        elif kind == "closed":
            self._drop(c, "closed_by_server")

    def _on_ack(self, c: _Client, seq: int | None, t: int) -> None:
        res = self.res
        sent_ns = 0
        if seq is None and c.outstanding:
            seq, sent_ns = c.outstanding.popleft()
        else:
            for i, (s, ts) in enumerate(c.outstanding):
                if s == seq:
                    sent_ns = ts
                    del c.outstanding[i]
                    break
        if seq is None or not sent_ns:
            self._count_error("unexpected_ack")
            return
        res.ack_ns.append(t - sent_ns)
        res.acked.setdefault(c.gidx, array("q")).append(seq)
        if t <= self.end:
            res.acked_in_window += 1
        self._send_more(c, t)

    def _send_more(self, c: _Client, t: int) -> None:
        if self.sending and self.spec.rate == 0 and c.sender and t < self.send_until:
            while len(c.outstanding) < self.spec.window:
                self._send(c)

    def _send(self, c: _Client) -> None:
        if not c.alive or not c.ready:
            return
        seq = c.seq
        c.seq += 1
        t = now_ns()
        c.outstanding.append((seq, t))
        self.res.sent += 1
        self._write(c, c.wire.chat(seq, bench_text(c.gidx, seq, t, self.spec.size)))

    # --- phases -------------------------------------------------------------------------

    def _pump(self, timeout: float) -> None:
        for key, mask in self.sel.select(timeout):
            c: _Client = key.data
            if mask & selectors.EVENT_WRITE and c.alive:
                connecting = not c.t_hs and c.sock is not None
                if connecting and c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):  # type: ignore[union-attr]
                    self._drop(c, "connect_failed")
                    continue
                self._write(c)
            if mask & selectors.EVENT_READ and c.alive:
                self._read(c)

    def _setup(self) -> None:
        deadline = now_ns() + int(self.spec.setup_timeout * SEC)
        pending = deque(self.clients)
        while now_ns() < deadline:
            in_flight = sum(1 for c in self.clients if c.alive and not c.ready)
            while pending and in_flight < self.spec.connect_concurrency:
                self._connect(pending.popleft())
                in_flight += 1
            if not pending and in_flight == 0:
                break
            self._pump(0.05)
        for c in self.clients:
            if not c.ready:
                if c.alive:
                    self._drop(c, "setup_timeout")
                self.res.failed += 1

    def _wait_for(self, flag: str, limit: float) -> int:
        deadline = now_ns() + int(limit * SEC)
        while now_ns() < deadline:
            value = int(getattr(self.control, flag).value)
            if value:
                return value
            self._pump(0.01)
        return 0

    def _run(self) -> None:
        spec = self.spec
        t = now_ns()
        while t < self.start:
            self._pump((self.start - t) / SEC)
            t = now_ns()
        self.sending = True
        self.run_cpu0 = time.process_time()
        active = [c for c in self.clients if c.sender and c.ready]
        heap: list[tuple[int, int]] = []
        interval = int(SEC / spec.rate) if spec.rate > 0 else 0
        if interval:  # paced: spread the clients' first sends over one interval
            for i in range(len(active)):
                heap.append((self.start + interval * i // max(1, len(active)), i))
            heapq.heapify(heap)
        else:
            for c in active:
                self._send_more(c, t)
        while t < self.send_until:
            wait = (self.send_until - t) / SEC
            if heap:
                wait = min(wait, max(0.0, (heap[0][0] - t) / SEC))
            self._pump(min(wait, 0.05))
            t = now_ns()
            while heap and heap[0][0] <= t:
                due, i = heapq.heappop(heap)
                self._send(active[i])
                heapq.heappush(heap, (due + interval, i))
        self.sending = False

    def _drain(self) -> None:
        deadline = now_ns() + int(self.spec.drain * SEC)
        quiet_ns = int(self.spec.quiet * SEC)
        last = now_ns()
        while now_ns() < deadline:
            busy = any(c.outstanding for c in self.clients if c.alive)
            before = self.res.deliveries + self.res.sent
            self._pump(0.05)
            if self.res.deliveries + self.res.sent != before:
                last = now_ns()
            if not busy and now_ns() - last > quiet_ns:
                break

    def run(self) -> WorkerResult:
        """All phases; returns the measurements."""
        cpu0 = time.process_time()
        t0 = time.monotonic()
        self._setup()
        self.res.setup_s = time.monotonic() - t0
        with self.control.lock:
            self.control.ready.value += 1
        self.start = self._wait_for("start_ns", self.spec.setup_timeout + 30)
        if self.start:
            self.end = self.start + int(self.spec.duration * SEC)
            self.send_until = self.end + int(self.spec.extend_until_cut * SEC)
            self._run()
            self.res.run_cpu_s = time.process_time() - self.run_cpu0
            self._drain()
        with self.control.lock:
            self.control.drained.value += 1
        self._wait_for("close", self.spec.drain + 30)
        self._finish()
        self.res.cpu_s = time.process_time() - cpu0
        return self.res

    def _finish(self) -> None:
        res = self.res
        for c in self.clients:
            if c.silent:
                res.silent_cut += was_cut_off(c.sock)
            elif c.alive and c.ready:
                res.alive.append(c.gidx)
                for key in c.received:
                    res.key_count[key] = res.key_count.get(key, 0) + 1
            if c.sock is not None:
                if c.alive and not c.silent:
                    self.sel.unregister(c.sock)
                c.sock.close()
        self.sel.close()
