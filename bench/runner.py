"""Run a ``LoadSpec`` across worker processes and merge what they measured.

Workers are forked so each gets its own GIL; the parent only coordinates (ready → start →
drained → close) and then does the exactly-once accounting: every acked message must have
reached every other client that stayed connected, once.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import queue
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.loadgen import SEC, Worker
from bench.loadspec import LoadSpec, WorkerResult
from bench.procs import raise_nofile_limit
from bench.stats import Summary, rate


@dataclass
class LoadResult:
    """The merged outcome of one load run."""

    spec: LoadSpec
    ready: int
    failed: int
    handshake: Summary
    login: Summary
    latency: Summary
    ack: Summary
    reach_all: Summary  # per message: time until the last receiver had it
    sent: int
    acked: int
    deliveries: int
    deliveries_per_s: float
    acked_per_s: float
    lost: int
    duplicates: int
    self_echo: int
    errors: dict[str, int]
    leaves: dict[str, float]  # username -> seconds after start when presence said "leave"
    silent_cut: int
    generator_cpu_s: float
    wall_s: float
    setup_s: float
    generator_run_cpu: float  # the generator's CPU share during the send window (1.0 = a core)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No lost and no duplicated acked message."""
        return self.lost == 0 and self.duplicates == 0


def _worker_main(spec: LoadSpec, indices: list[int], control: Any, out: Any) -> None:
    raise_nofile_limit()
    try:
        result = Worker(spec, indices, control).run()
    except Exception as exc:  # report instead of hanging the parent
        result = WorkerResult(errors={f"worker_crash:{type(exc).__name__}:{exc}": 1})
    out.put(result)


class _Control:
    """Shared flags between the parent and its workers (fork-inherited)."""

    def __init__(self, ctx: Any) -> None:
        self.lock = ctx.Lock()
        self.ready = ctx.Value("i", 0, lock=False)
        self.drained = ctx.Value("i", 0, lock=False)
        self.start_ns = ctx.Value("q", 0, lock=False)
        self.close = ctx.Value("i", 0, lock=False)


def _wait(value: Any, target: int, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if value.value >= target:
            return True
        time.sleep(0.01)
    return False


def run_load(spec: LoadSpec, on_ready: Callable[[], dict[str, Any]] | None = None) -> LoadResult:
    """Run ``spec`` to completion (bounded by its setup, duration and drain limits).

    ``on_ready`` runs once every client is logged in and before anyone sends (the workers keep
    reading meanwhile); what it returns lands in ``LoadResult.extra``. Scenario (iii) reads the
    server's memory and idle CPU there.
    """
    raise_nofile_limit()
    total = spec.clients + spec.silent
    procs = max(1, min(spec.procs, total))
    ctx = mp.get_context("fork")
    control = _Control(ctx)
    out = ctx.Queue()
    shards = [list(range(i, total, procs)) for i in range(procs)]
    t0 = time.monotonic()
    workers = [ctx.Process(target=_worker_main, args=(spec, s, control, out)) for s in shards]
    for proc in workers:
        proc.start()
    _wait(control.ready, procs, spec.setup_timeout + 10)
    extra = on_ready() if on_ready is not None else {}
    control.start_ns.value = time.perf_counter_ns() + int(spec.settle * SEC)
    _wait(control.drained, procs, spec.settle + spec.duration + spec.drain + 30)
    control.close.value = 1
    results: list[WorkerResult] = []
    deadline = time.monotonic() + 60
    while len(results) < procs and time.monotonic() < deadline:
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            if not any(p.is_alive() for p in workers) and out.empty():
                break
    for proc in workers:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    merged = merge(spec, results, time.monotonic() - t0)
    merged.extra.update(extra)
    return merged


def merge(spec: LoadSpec, results: list[WorkerResult], wall_s: float) -> LoadResult:
    """Combine worker results and count lost and duplicated acked messages."""

    def cat(name: str) -> array[int]:
        joined = array("q")
        for r in results:
            joined.extend(getattr(r, name))
        return joined

    acked_by: dict[int, array[int]] = {}
    errors: dict[str, int] = {}
    key_count: dict[int, int] = {}
    key_max: dict[int, int] = {}
    leaves: dict[str, float] = {}
    alive: set[int] = set()
    for r in results:
        for sender, seqs in r.acked.items():
            acked_by.setdefault(sender, array("q")).extend(seqs)
        for word, n in r.errors.items():
            errors[word] = errors.get(word, 0) + n
        for key, n in r.key_count.items():
            key_count[key] = key_count.get(key, 0) + n
        for key, lat in r.key_max.items():
            if lat > key_max.get(key, -1):
                key_max[key] = lat
        for user, ns in r.leaves.items():
            leaves[user] = min(leaves.get(user, math.inf), ns / SEC)
        alive.update(r.alive)
    lost = 0
    reach: array[int] = array("q")
    for sender, seqs in acked_by.items():
        expected = len(alive) - (1 if sender in alive else 0)
        for seq in seqs:
            key = (sender << 32) | seq
            got = key_count.get(key, 0)
            lost += max(0, expected - got)
            if got >= expected and key in key_max:
                reach.append(key_max[key])
    acked = sum(len(s) for s in acked_by.values())
    deliveries = sum(r.deliveries for r in results)
    return LoadResult(
        spec=spec,
        ready=sum(r.ready for r in results),
        failed=sum(r.failed for r in results),
        handshake=Summary.of_ns(cat("handshake_ns")),
        login=Summary.of_ns(cat("login_ns")),
        latency=Summary.of_ns(cat("latency_ns")),
        ack=Summary.of_ns(cat("ack_ns")),
        reach_all=Summary.of_ns(reach),
        sent=sum(r.sent for r in results),
        acked=acked,
        deliveries=deliveries,
        deliveries_per_s=rate(sum(r.in_window for r in results), spec.duration),
        acked_per_s=rate(sum(r.acked_in_window for r in results), spec.duration),
        lost=lost,
        duplicates=sum(r.duplicates for r in results),
        self_echo=sum(r.self_echo for r in results),
        errors=errors,
        leaves=leaves,
        silent_cut=sum(r.silent_cut for r in results),
        generator_cpu_s=sum(r.cpu_s for r in results),
        wall_s=wall_s,
        setup_s=max((r.setup_s for r in results), default=0.0),
        generator_run_cpu=sum(r.run_cpu_s for r in results) / spec.duration,
    )
