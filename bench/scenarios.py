"""The scenarios of the benchmark issue, each measuring ours and its baseline in the same run.

Each function takes the run's ``Bench`` (targets, printer, results) and records plain data in
``bench.results`` for the report; every printed line is prefixed with the command that made it.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from Crypto.PublicKey import RSA

from bench import handshakes, micro
from bench.loadspec import LoadSpec
from bench.persistence import persistence_ceiling
from bench.procs import MachineSample, ProcSample, ServerProcess, quiesce
from bench.runner import LoadResult, run_load
from bench.stats import Summary, fmt_ms, fmt_ratio, ratio


@dataclass
class ChatTarget:
    """The chat server under test and what a bench client needs to log in to it."""

    server: ServerProcess
    public_pem: bytes
    users: tuple[str, ...]  # bench0001.. all with ``password``
    password: str
    db: Any = None  # server.store.DbParams of the bench database (for the persistence ceiling)
    db_pid: int = 0  # mariadbd, whose CPU is part of every message's cost

    @property
    def port(self) -> int:
        """Where it listens on 127.0.0.1."""
        return self.server.port


@dataclass
class Bench:
    """Everything one ``python -m bench`` run shares."""

    command: str
    quick: bool
    out: Callable[[str], None]
    work_dir: Path
    chat: ChatTarget | None = None
    relay: ServerProcess | None = None
    tls: ServerProcess | None = None
    tls_cafile: Path | None = None
    results: dict[str, Any] = field(default_factory=dict)
    loads: list[LoadResult] = field(default_factory=list)
    _runs: int = 0

    def say(self, text: str) -> None:
        """One printed figure line, naming the command that produced it."""
        self.out(f"[{self.command}] {text}")

    def spec(self, mode: str, **options: Any) -> LoadSpec:
        """A LoadSpec aimed at ``mode`` ("ours" or "plain") with a fresh run tag."""
        self._runs += 1
        tag = f"{time.time_ns():x}{self._runs}"
        if mode == "ours":
            assert self.chat is not None
            users = options.pop("users", self.chat.users)
            return LoadSpec(
                port=self.chat.port, mode="ours", users=users,
                password=self.chat.password, server_key_pem=self.chat.public_pem,
                run_tag=tag, **options,
            )
        assert self.relay is not None
        return LoadSpec(port=self.relay.port, mode="plain", run_tag=tag, **options)

    def server_for(self, mode: str) -> ServerProcess:
        """The process serving ``mode``."""
        server = self.chat.server if mode == "ours" and self.chat else self.relay
        assert server is not None
        return server


def load_line(name: str, r: LoadResult) -> str:
    """A one-line summary of a load run."""
    errors = ",".join(f"{k}={v}" for k, v in sorted(r.errors.items())) or "none"
    return (
        f"{name}: {r.deliveries_per_s:,.0f} deliveries/s, {r.acked_per_s:,.0f} msgs/s; latency "
        f"{r.latency.line()}; lost {r.lost}, dup {r.duplicates}, errors {errors}"
    )


def cpu_line(r: LoadResult) -> str:
    """Where the machine's CPU went during the send window (1.0 = one core)."""
    parts = [f"server CPU {r.extra.get('server_cpu', math.nan):.0%}"]
    if "db_cpu" in r.extra:
        parts.append(f"MariaDB {r.extra['db_cpu']:.0%}")
    parts.append(f"load generator {r.generator_run_cpu:.0%}")
    if "machine_busy" in r.extra:
        parts.append(f"machine {r.extra['machine_busy']:.0%} busy of {os.cpu_count()} cores")
    return ", ".join(parts)


def measured(
    bench: Bench, spec: LoadSpec, on_ready: Callable[[], dict[str, Any]] | None = None
) -> LoadResult:
    """Run ``spec``; record the server's CPU share over the send window only.

    The window starts once every client is logged in (so logins and handshakes do not count)
    and ends ``duration`` later, read by a timer thread while the workers are still busy.
    """
    server = bench.server_for(spec.mode)
    waited = quiesce(server.pid)
    samples: dict[str, ProcSample] = {}

    db_pid = bench.chat.db_pid if spec.mode == "ours" and bench.chat else 0
    machine: dict[str, MachineSample] = {}

    def take(key: str) -> None:
        samples[key] = server.sample()
        machine[key] = MachineSample.read()
        if db_pid:
            try:
                samples[f"db_{key}"] = ProcSample.read(db_pid)
            except OSError:
                pass

    def ready() -> dict[str, Any]:
        extra = on_ready() if on_ready is not None else {}
        take("start")
        end = threading.Timer(spec.settle + spec.duration, take, args=("end",))
        end.daemon = True
        end.start()
        return extra

    result = run_load(spec, on_ready=ready)
    if "end" not in samples:
        take("end")
    after = samples["end"]
    if "start" in samples:
        result.extra.setdefault("server_cpu", after.cpu_since(samples["start"]))
        result.extra["machine_busy"] = machine["end"].busy_since(machine["start"])
        if "db_start" in samples and "db_end" in samples:
            result.extra["db_cpu"] = samples["db_end"].cpu_since(samples["db_start"])
    else:
        result.extra.setdefault("server_cpu", math.nan)
    result.extra.setdefault("server_rss_mb", after.rss_mb)
    result.extra.setdefault("server_threads", after.threads)
    result.extra.setdefault("quiesce_s", waited)
    bench.loads.append(result)
    return result


# --- (v) micro -----------------------------------------------------------------------------


def scenario_micro(bench: Bench) -> None:
    """Records sealed+opened per second; handshake CPU per side."""
    results, cost, prims = micro.run_all(0.25 if bench.quick else 1.0)
    rows = []
    for r in results:
        bench.say(
            f"micro {r.name} @ {r.message_bytes} B: {r.messages_per_s:,.0f} msgs/s, "
            f"{r.records_per_s:,.0f} records/s sealed+opened, {r.mb_per_s:.1f} MB/s (1 core)"
        )
        rows.append(r.__dict__)
    bench.say(
        f"micro handshake CPU: server {cost.server_ms:.2f} ms, client {cost.client_ms:.2f} ms"
        f" -> at most {cost.server_per_core:,.0f} handshakes/s per server core"
    )
    for name, ms in prims.items():
        bench.say(f"micro {name}: {ms * 1000:,.1f} µs per call")
    bench.results["micro"] = {"records": rows, "handshake_cpu": cost.__dict__,
                              "server_per_core": cost.server_per_core, "primitives": prims}


# --- (i) handshakes ------------------------------------------------------------------------


def scenario_handshake(bench: Bench) -> None:
    """Handshake + login + resume latency, handshakes/s: ours vs TLS 1.3."""
    n = 10 if bench.quick else 40
    secs = 2.0 if bench.quick else 5.0
    out: dict[str, Any] = {}
    tls_ctx = None
    if bench.tls is not None and bench.tls_cafile is not None:
        from bench.tls_echo import client_context

        tls_ctx = client_context(bench.tls_cafile)
        tls_port = bench.tls.port
        tls_one = lambda: handshakes.tls_handshake_only(tls_port, tls_ctx)  # noqa: E731
        out["tls_latency"] = handshakes.sequential(tls_one, n).as_dict()
        out["tls_rate"] = _rate(bench, bench.tls, tls_one, secs)
        bench.say(f"TLS 1.3 handshake (stdlib ssl, RSA-3072): {_lat(out['tls_latency'])}")
        bench.say(_rate_line("TLS 1.3", out["tls_rate"]))
    if bench.chat is not None:
        chat = bench.chat
        key = RSA.import_key(chat.public_pem)
        port = chat.port
        ours_one = lambda: handshakes.ours_handshake_only(port, key)  # noqa: E731
        out["ours_latency"] = handshakes.sequential(ours_one, n).as_dict()
        sessions = [
            handshakes.ours_session(port, key, chat.users[i % len(chat.users)], chat.password)
            for i in range(n)
        ]
        for name in ("handshake_ns", "login_ns", "resume_ns", "reconnect_ns"):
            out[name[:-3]] = Summary.of_ns(getattr(s, name) for s in sessions).as_dict()
        out["handshake_login"] = Summary.of_ns(
            s.handshake_ns + s.login_ns for s in sessions
        ).as_dict()
        out["ours_rate"] = _rate(bench, chat.server, ours_one, secs)
        bench.say(f"ours handshake (envelope + X25519, RSA-3072): {_lat(out['ours_latency'])}")
        bench.say(f"ours key login (0031) after handshake: {_lat(out['login'])}")
        bench.say(f"ours handshake + login: {_lat(out['handshake_login'])}")
        bench.say(f"ours resume (0008 -> 1001): {_lat(out['resume'])}")
        bench.say(f"ours reconnect (TCP + handshake + resume): {_lat(out['reconnect'])}")
        bench.say(_rate_line("ours", out["ours_rate"]))
    if "tls_latency" in out and "ours_latency" in out:
        out["ratio_latency"] = ratio(out["ours_latency"]["p50"], out["tls_latency"]["p50"])
        out["ratio_rate"] = ratio(out["ours_rate"]["per_s"], out["tls_rate"]["per_s"])
        out["ratio_per_core"] = ratio(
            out["ours_rate"]["per_cpu_s"], out["tls_rate"]["per_cpu_s"]
        )
        bench.say(
            f"ratio ours/TLS 1.3: handshake p50 {fmt_ratio(out['ratio_latency'])}, "
            f"handshakes/s {fmt_ratio(out['ratio_rate'])}, "
            f"handshakes per server CPU-second {fmt_ratio(out['ratio_per_core'])}"
        )
    bench.results["handshake"] = out


def _rate(
    bench: Bench, server: ServerProcess, one: Callable[[], int], secs: float
) -> dict[str, Any]:
    before = server.sample()
    r = handshakes.concurrent_rate(one, procs=2, threads=4, seconds=secs)
    after = server.sample()
    cpu = after.cpu_s - before.cpu_s
    return {
        "per_s": r.per_second, "completed": r.completed, "failed": r.failed,
        "server_cpu_s": cpu, "per_cpu_s": r.completed / cpu if cpu > 0 else math.nan,
        "latency": r.latency.as_dict(),
    }


def _lat(d: dict[str, float]) -> str:
    return (f"p50 {fmt_ms(d['p50'])} · p95 {fmt_ms(d['p95'])} · p99 {fmt_ms(d['p99'])}"
            f" · max {fmt_ms(d['max'])} ms (n={d['count']})")


def _rate_line(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name} handshakes/s (8 concurrent clients): {r['per_s']:,.0f}/s, server CPU "
        f"{r['server_cpu_s']:.2f} s -> {r['per_cpu_s']:,.0f} per server CPU-second; "
        f"failed {r['failed']}; latency p50 {fmt_ms(r['latency']['p50'])} ms"
    )


# --- (ii) lobby ----------------------------------------------------------------------------

# "Moderate": every one of 20 people sends a message a second -- 20 msgs/s in the room (380
# deliveries/s), far busier than people chat; the sweep below shows what heavier load does.
MODERATE_RATE = 1.0


def scenario_lobby(bench: Bench) -> None:
    """3 and 20 clients, closed loop and paced, ours and plaintext."""
    secs = 2.0 if bench.quick else 4.0
    window = 4
    if bench.chat is not None:
        persistence_ceiling(bench.chat.db, bench.chat.users, bench.results, bench.say,
                            quick=bench.quick, seconds=1.0 if bench.quick else 2.0)
    runs: list[dict[str, Any]] = []
    plans: list[tuple[str, dict[str, Any]]] = []
    sizes = (3, 20) if bench.quick else (3, 10, 20, 50)
    for n in sizes:
        plans.append((f"{n} clients closed loop (window {window})",
                      {"clients": n, "window": window}))
    plans.append((f"3 clients paced {MODERATE_RATE:g} msgs/s each",
                  {"clients": 3, "rate": MODERATE_RATE}))
    for r in (MODERATE_RATE,) if bench.quick else (MODERATE_RATE, 5.0, 25.0, 100.0):
        plans.append((f"20 clients paced {r:g} msgs/s each", {"clients": 20, "rate": r}))
    for label, options in plans:
        pair: dict[str, Any] = {"label": label, **options}
        for mode in ("ours", "plain"):
            if (mode == "ours" and bench.chat is None) or (mode == "plain" and not bench.relay):
                continue
            res = measured(bench, bench.spec(mode, duration=secs, procs=2, **options))
            pair[mode] = _load_dict(res)
            name = "ours" if mode == "ours" else "plaintext relay"
            bench.say(load_line(f"{name} {label}", res) + "; " + cpu_line(res))
        if "ours" in pair and "plain" in pair:
            pair["ratio_throughput"] = ratio(pair["ours"]["deliveries_per_s"],
                                             pair["plain"]["deliveries_per_s"])
            pair["ratio_p50"] = ratio(pair["ours"]["latency"]["p50"],
                                      pair["plain"]["latency"]["p50"])
            pair["ratio_p99"] = ratio(pair["ours"]["latency"]["p99"],
                                      pair["plain"]["latency"]["p99"])
            bench.say(
                f"ratio ours/plaintext {label}: deliveries/s {fmt_ratio(pair['ratio_throughput'])}"
                f", latency p50 {fmt_ratio(pair['ratio_p50'])}, p99 {fmt_ratio(pair['ratio_p99'])}"
            )
        runs.append(pair)
    bench.results["lobby"] = runs


def _load_dict(r: LoadResult) -> dict[str, Any]:
    return {
        "clients": r.spec.clients, "rate": r.spec.rate, "window": r.spec.window,
        "duration": r.spec.duration, "ready": r.ready, "failed": r.failed,
        "deliveries_per_s": r.deliveries_per_s, "acked_per_s": r.acked_per_s,
        "sent": r.sent, "acked": r.acked, "deliveries": r.deliveries, "lost": r.lost,
        "duplicates": r.duplicates, "self_echo": r.self_echo, "errors": r.errors,
        "latency": r.latency.as_dict(), "ack": r.ack.as_dict(),
        "reach_all": r.reach_all.as_dict(), "handshake": r.handshake.as_dict(),
        "login": r.login.as_dict(), "generator_cpu_s": r.generator_cpu_s,
        "leaves": r.leaves, "silent_cut": r.silent_cut, "setup_s": r.setup_s,
        "generator_run_cpu": r.generator_run_cpu, **r.extra,
    }
