"""Plain-language notes on what bounds each goal, built from the run's own numbers.

The notes quote the micro-benchmarks of the primitives (pycryptodome, with OpenSSL beside it
for scale), the persistence ceiling and the CPU split measured during the runs, and the py-spy
profile of the blast, so each "no" in the goals table comes with the measured reason.
"""

from __future__ import annotations

import math
from typing import Any

from bench.report import goals


def _get(d: Any, *path: str) -> float:
    for step in path:
        if not isinstance(d, dict) or step not in d:
            return math.nan
        d = d[step]
    return float(d) if isinstance(d, (int, float)) else math.nan


def _prim(results: dict[str, Any], prefix: str) -> float:
    for name, ms in results.get("micro", {}).get("primitives", {}).items():
        if name.startswith(prefix):
            return float(ms)
    return math.nan


def _lobby(results: dict[str, Any], label: str) -> dict[str, Any]:
    return next((r for r in results.get("lobby", []) if r.get("label") == label), {})


def explain(results: dict[str, Any]) -> list[str]:
    """One note per goal missed, plus the costs that explain them."""
    met = {name: ok for name, _, _, ok in goals(results)}
    notes: list[str] = []
    hs = results.get("handshake", {})
    gcm = _prim(results, "OpenSSL AES-256-GCM seal, 100 B, key set up once (the records)")
    gcm_new = _prim(results, "reference: pycryptodome AES-256-GCM seal, 100 B, MODE_GCM")
    if not math.isnan(gcm):
        notes.append(
            f"**The record layer costs per record, not per byte.** Sealing one 100-byte record "
            f"takes {gcm * 1000:.1f} µs with OpenSSL's AES-GCM (pyca `cryptography`'s `AESGCM`, "
            f"one key object per direction, what the records use)"
            + ("" if math.isnan(gcm_new) else
               f", against {gcm_new * 1000:.0f} µs when pycryptodome's `MODE_GCM` object is "
               f"built for every record")
            + ". What is left is Python calling into C per record, so the server puts as many "
            "lines as it can into one record: a group commit's acks and relays go to each "
            "recipient as one record, and a connection whose socket is busy gets everything "
            "that queued meanwhile in one record (see (v) for one line per record against 32)."
        )
    closed = _lobby(results, "20 clients closed loop (window 4)")
    ours = closed.get("ours", {})
    persist = results.get("persistence", {})
    commit = results.get("commit_latency", {})
    if met.get("20 clients closed loop: deliveries/s") is False and ours:
        notes.append(
            f"**Deliveries per second at 20 clients.** The run reached "
            f"{_get(ours, 'deliveries_per_s'):,.0f}/s while the machine was "
            f"{_get(ours, 'machine_busy'):.0%} busy: server {_get(ours, 'server_cpu'):.0%} of "
            f"a core, MariaDB {_get(ours, 'db_cpu'):.0%}, the load generator "
            f"{_get(ours, 'generator_run_cpu'):.0%} (its clients open every record with the "
            f"same core code). The group commit alone did {_get(persist, 'msgs_per_s'):,.0f} "
            f"messages/s ({_get(persist, 'avg_batch'):.0f} per commit). With the generator "
            f"and the server on the same two cores, the cores are the bound."
        )
    small = _lobby(results, "3 clients closed loop (window 4)")
    if small.get("ours"):
        notes.append(
            f"**Few clients, closed loop.** With 3 clients and 4 messages in flight each, ours "
            f"did {_get(small, 'ours', 'deliveries_per_s'):,.0f} deliveries/s "
            f"({_get(small, 'ratio_throughput'):.2f}× the plaintext relay): 12 messages in "
            f"flight, each waiting {_get(small, 'ours', 'latency', 'p50'):.1f} ms p50 for its "
            f"durable commit and the round trip, bound the rate at 12 per round trip. Latency, "
            f"not CPU, is the limit here (the server was "
            f"{_get(small, 'ours', 'server_cpu'):.0%} busy); with more clients more messages "
            f"share each commit and the ratio passes 1."
        )
    paced = _lobby(results, "20 clients paced 1 msgs/s each").get("ours", {})
    if met.get("20 clients, 1 msg/s each: latency p99") is False and paced:
        notes.append(
            f"**Latency at moderate load.** At 20 messages/s in the room, p50 was "
            f"{_get(paced, 'latency', 'p50'):.1f} ms and p99 {_get(paced, 'latency', 'p99'):.1f} "
            f"ms, against the plaintext relay's "
            f"{_get(_lobby(results, '20 clients paced 1 msgs/s each'), 'plain', 'latency', 'p99'):.1f}"
            f" ms p99. A message is relayed only once it is durably committed (history equals "
            f"what was delivered, and nothing acked is lost), and one commit of one message "
            f"took p50 {_get(commit, 'p50'):.1f} ms, p99 {_get(commit, 'p99'):.1f} ms in this "
            f"run (MariaDB with `innodb_flush_log_at_trx_commit=1`: an fsync per commit). The "
            f"rest is two record layers and the threads in between. A ≤ 5 ms p99 would need "
            f"a faster fsync (a battery-backed or NVMe log device) or relaying before the "
            f"commit, which would give up that guarantee."
        )
    oaep = _prim(results, "pycryptodome RSA-3072 OAEP")
    pss = _prim(results, "pycryptodome RSA-3072 PSS")
    ossl_oaep = _prim(results, "reference: OpenSSL RSA-3072 OAEP")
    ossl_pss = _prim(results, "reference: OpenSSL RSA-3072 PSS")
    server_ms = _get(results, "micro", "handshake_cpu", "server_ms")
    if met.get("handshakes per server CPU-second") is False:
        notes.append(
            f"**Handshakes per core.** Each handshake costs the server two RSA-3072 private-key "
            f"operations (OAEP unwrap {oaep:.2f} ms + PSS sign {pss:.2f} ms in pycryptodome, "
            f"whose big-integer arithmetic is constant-time C: the profile of a handshake is "
            f"almost all `IntegerNat.inplace_pow`, and timing leaks in RSA decryption are what "
            f"sank python-rsa) "
            f"plus X25519: {server_ms:.1f} ms in-process, so one core tops out near "
            f"{1000 / server_ms:,.0f}/s before sockets and threads; the server did "
            f"{_get(hs, 'ours_rate', 'per_cpu_s'):,.0f} per CPU-second. 200/s needs ≤ 5 ms, "
            f"which two RSA-3072 private operations cannot meet on this CPU"
            + ("" if math.isnan(ossl_oaep) else
               f" even in OpenSSL ({ossl_oaep:.2f} + {ossl_pss:.2f} ms)")
            + f". TLS 1.3 makes one RSA signature per "
            f"handshake, hence {_get(hs, 'tls_rate', 'per_cpu_s'):,.0f} per CPU-second. What "
            f"would move it: a smaller or elliptic-curve long-term key (a change to the "
            f"contract, §3.2), a resumption that skips RSA (a PSK from the last session's keys), "
            f"or a second server process (design §9)."
        )
    argon = _prim(results, "argon2id")
    if met.get("handshake + login p50") is False:
        notes.append(
            f"**Handshake + login.** The key login (0031) verifies a cheap Argon2id of the "
            f"32-byte key (8 MiB, one pass; the client spent the expensive derivation, "
            f"`python -m bench login`), after the handshake "
            f"({_get(hs, 'handshake', 'p50'):.1f} ms p50) and the database round trips: "
            f"{_get(hs, 'handshake_login', 'p50'):.1f} ms p50 in all (the password hash, "
            f"{argon:.1f} ms on its own, is now paid by older clients' 0001 only); "
            f"a reconnect with the resume token skips it "
            f"({_get(hs, 'resume', 'p50'):.2f} ms p50 for 0008 → 1001)."
        )
    k = results.get("thousand", {}).get("ours", {})
    if k and (met.get("1,000 clients: server RSS") is False
              or met.get("1,000 clients: one message reaches all, p99") is not True):
        notes.append(
            f"**1,000 clients.** {_get(k, 'ready'):.0f} logged in within "
            f"{_get(k, 'setup_s'):.0f} s; the server then held {_get(k, 'rss_mb'):.0f} MB with "
            f"{_get(k, 'threads'):.0f} threads (a reader and a writer per client), and one "
            f"lobby message reached everyone in p99 {_get(k, 'reach_all', 'p99'):,.0f} ms. A "
            f"thousand logins cost a thousand RSA handshakes and Argon2id verifies (the storm "
            f"is bounded by those, see above); the fan-out itself is one thread sealing and "
            f"writing a record per recipient."
        )
    blast = results.get("blast", {})
    if blast and not blast.get("slow_cut"):
        notes.append(
            "**The never-reading client.** The server cuts a client off when its outbox holds "
            "2,000 lines, but only after the kernel's send buffer for that socket is full (it "
            "grows to several MB on loopback); at the blast's message rate that took longer "
            "than the run. A smaller `SO_SNDBUF` on server sockets, or an outbox bounded in "
            "bytes, would detect a stuck client sooner and bound its memory."
        )
    own = blast.get("profile_self") or []
    if own:
        top = "; ".join(f"{pct:.0f}% `{name}`" for name, pct in own[:6])
        notes.append(
            f"**Profile.** py-spy on the server during the blast, sampling only the thread "
            f"holding the GIL (so it shows where Python time goes): {top}. The full table is "
            f"under (iv)."
        )
    return notes
