"""Scale-out: the same load against one server process and against two nodes over Redis.

Both targets share the bench MariaDB and its accounts. One node is the bench's own server
(in-process hub); two nodes are two more ``python -m server serve`` processes listening on one
port with ``SO_REUSEPORT`` and a private Redis (``scripts/redis.sh``) between them, so the
kernel spreads connections over them. Each figure is taken for both in the same run:

(a) deliveries per second and latency, 20 clients in a closed loop;
(b) handshakes per wall second and per server CPU-second (CPU of every node together);
(c) one lobby message reaching many clients spread over the nodes (reach-all p50/p99);
(d) the cost of the Redis hop at light load (20 clients, 1 msg/s each): latency p99 ratio.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from Crypto.PublicKey import RSA

from bench import handshakes
from bench.procs import ServerProcess, free_port
from bench.runner import run_load
from bench.scenarios import Bench, load_line
from bench.stats import fmt_ratio, ratio

REPO = Path(__file__).resolve().parent.parent


def _start_cluster(bench: Bench, stack: ExitStack, nodes: int) -> list[ServerProcess]:
    """A private Redis and ``nodes`` server processes on one new port; stopped by the stack."""
    assert bench.chat is not None
    run_dir = bench.work_dir / "redis"
    redis_port = free_port()
    script = str(REPO / "scripts" / "redis.sh")
    subprocess.run([script, "start", str(run_dir), str(redis_port)], check=True,
                   capture_output=True, timeout=30)
    stack.callback(subprocess.run, [script, "stop", str(run_dir)], check=False,
                   capture_output=True, timeout=30)
    port = free_port()
    servers = []
    for i in range(nodes):
        env = {**bench.chat.server.env, "CHAT_PORT": str(port),
               "CHAT_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
               "CHAT_REUSE_PORT": "true",
               "CHAT_RUN_DIR": str(bench.work_dir / f"node{i}")}
        server = ServerProcess(bench.chat.server.argv, port, env=env,
                               log=bench.work_dir / f"node{i}.log")
        servers.append(stack.enter_context(server))
    time.sleep(1.0)  # every node subscribed and listening before the first client
    return servers


def _handshake_rate(port: int, key: RSA.RsaKey, servers: list[ServerProcess],
                    secs: float) -> dict[str, Any]:
    before = [s.sample().cpu_s for s in servers]
    r = handshakes.concurrent_rate(lambda: handshakes.ours_handshake_only(port, key),
                                   procs=2, threads=4, seconds=secs)
    each = [s.sample().cpu_s - b for s, b in zip(servers, before, strict=True)]
    cpu = sum(each)
    return {"per_s": r.per_second, "per_cpu_s": r.completed / cpu if cpu > 0 else math.nan,
            "failed": r.failed, "cpu_by_node": each}


def scenario_scaleout(bench: Bench) -> None:
    """1 node vs 2 nodes, same run: deliveries, handshakes, reach-all, the Redis hop."""
    if bench.chat is None:
        bench.say("scale-out not measured: no chat server")
        return
    secs = 2.0 if bench.quick else 4.0
    key = RSA.import_key(bench.chat.public_pem)
    out: dict[str, Any] = {}
    with ExitStack() as stack:
        for name in ("1 node", "2 nodes"):
            # The cluster starts only now: its nodes catch up from the shared MariaDB from
            # their start on, and would otherwise deliver the 1-node run's messages (stored
            # by a server that is no node of theirs) to the 2-node run's clients.
            servers = ([bench.chat.server] if name == "1 node"
                       else _start_cluster(bench, stack, 2))
            port = servers[0].port
            row: dict[str, Any] = {}
            row["handshake"] = h = _handshake_rate(port, key, servers, secs)
            spread = " + ".join(f"{c:.1f}" for c in h["cpu_by_node"])
            bench.say(f"scale-out {name}: {h['per_s']:,.0f} handshakes/s, "
                      f"{h['per_cpu_s']:,.0f} per server CPU-second (CPU-s by node {spread}), "
                      f"failed {h['failed']}")
            plans = (("closed", {"clients": 20, "window": 4}),
                     ("light", {"clients": 20, "rate": 1.0}),
                     ("reach", {"clients": min(len(bench.chat.users), 1_000), "rate": 0.0,
                                "window": 1, "senders": 1}))
            for label, options in plans:
                spec = dataclasses.replace(
                    bench.spec("ours", duration=secs, procs=2, setup_timeout=240.0, **options),
                    port=port)
                r = run_load(spec)
                row[label] = {"deliveries_per_s": r.deliveries_per_s,
                              "p50": r.latency.p50, "p99": r.latency.p99,
                              "reach_p50": r.reach_all.p50, "reach_p99": r.reach_all.p99,
                              "lost": r.lost, "dup": r.duplicates}
                bench.say(load_line(f"scale-out {name} {label} ({spec.clients} clients)", r)
                          + f"; reach-all {r.reach_all.line()}")
            out[name] = row
    one, two = out["1 node"], out["2 nodes"]
    out["handshake_ratio"] = ratio(two["handshake"]["per_s"], one["handshake"]["per_s"])
    out["light_p99_ratio"] = ratio(two["light"]["p99"], one["light"]["p99"])
    out["closed_ratio"] = ratio(two["closed"]["deliveries_per_s"],
                                one["closed"]["deliveries_per_s"])
    bench.say(f"scale-out 2 nodes / 1 node: handshakes/s {fmt_ratio(out['handshake_ratio'])}, "
              f"closed-loop deliveries/s {fmt_ratio(out['closed_ratio'])}, light-load latency "
              f"p99 {fmt_ratio(out['light_p99_ratio'])}")
    bench.results["scaleout"] = out
