"""Render BENCHMARKS.md from one run's results (tables, goals, profile, raw lines)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from bench import scaleout_report
from bench.report import _lat, _loadavg, _num, goals
from bench.stats import fmt_ms, fmt_ratio


def render(results: dict[str, Any], info: dict[str, str], lines: list[str],
           plots: list[str], seconds: float) -> str:
    """The whole BENCHMARKS.md text."""
    md: list[str] = []
    add = md.append
    add("# Benchmarks\n")
    add(f"Written by `python -m bench all` (`make bench`) on {time.strftime('%Y-%m-%d %H:%M')}, "
        f"in {seconds:.0f} s. Every timing below is paired with a baseline measured **in the "
        "same run on the same machine** (the machines are shared and noisy, so compare ratios "
        "rather than absolute numbers across runs). The load generator, the server under test, "
        "the baselines and MariaDB all share the machine's cores.\n")
    add("## Machine\n")
    add("| | |\n|---|---|")
    for k, v in info.items():
        add(f"| {k} | {v} |")
    add(f"| load average at the end | {_loadavg()} |")
    add("")
    add("A load average far above the core count means other work shared the machine during "
        "the run: absolute figures then understate what the code can do, and the same-run "
        "ratios are the numbers to read.\n")
    add("## Commands\n")
    add("- `make bench` = `.venv/bin/python -m bench all` (about 5 minutes; writes this file "
        "and `docs/bench/*.png`)")
    add("- `make bench-quick` = `.venv/bin/python -m bench quick` (about a minute; prints the "
        "same kind of lines, ratios included, a 50-member room for the 1,000, writes nothing)")
    add("- rooms alone: `python -m bench rooms` (the 1,000-member room and the account in 200 "
        "rooms)")
    add("- one part: `python -m bench micro|handshake|lobby|thousand|blast|big_room|"
        "many_rooms`, and "
        "`python -m bench load --target ours|plain --clients N --rate R --duration S` for a "
        "custom run (see `python -m bench --help`)\n")
    add("## Goals\n")
    add("| goal | target | measured | met |\n|---|---|---|---|")
    for name, target, value, met in goals(results):
        verdict = "–" if met is None else ("**yes**" if met else "**no**")
        add(f"| {name} | {target} | {_num(value)} | {verdict} |")
    add("")
    _handshake(results.get("handshake", {}), add)
    _lobby(results.get("lobby", []), plots, add)
    _thousand(results.get("thousand", {}), add)
    _blast(results.get("blast", {}), add)
    _rooms(results.get("big_room", {}), results.get("many_rooms", {}), add)
    _micro(results.get("micro", {}), add)
    scaleout_report.section(results, add)
    notes = results.get("notes", [])
    if notes:
        add("## What bounds it\n")
        for note in notes:
            add(f"- {note}")
        add("")
    add("## Raw output of this run\n")
    add("```")
    md.extend(lines)
    add("```")
    return "\n".join(md) + "\n"


def _handshake(hs: dict[str, Any], add: Callable[[str], None]) -> None:
    if not hs:
        return
    add("## (i) Handshake, login, resume — ours vs TLS 1.3\n")
    add("One connection at a time on 127.0.0.1 (latency p50 / p99, ms). TLS 1.3 is the stdlib "
        "`ssl` module (OpenSSL) with an RSA-3072 certificate, the same key size as ours.\n")
    add("| measurement | ours | TLS 1.3 | ours / TLS |\n|---|---|---|---|")
    add(f"| handshake (TCP connect + 1 RTT) | {_lat(hs.get('ours_latency'))} | "
        f"{_lat(hs.get('tls_latency'))} | {fmt_ratio(hs.get('ratio_latency', math.nan))} |")
    add(f"| key login `0031` (Argon2id of the key) after the handshake | {_lat(hs.get('login'))} | | |")
    add(f"| handshake + login | {_lat(hs.get('handshake_login'))} | | |")
    add(f"| resume `0008` → `1001` | {_lat(hs.get('resume'))} | | |")
    add(f"| reconnect: TCP + handshake + resume | {_lat(hs.get('reconnect'))} | | |")
    o, t = hs.get("ours_rate", {}), hs.get("tls_rate", {})
    if o or t:
        add(f"| handshakes/s, 8 concurrent clients | {_num(o.get('per_s', math.nan))} | "
            f"{_num(t.get('per_s', math.nan))} | {fmt_ratio(hs.get('ratio_rate', math.nan))} |")
        add(f"| handshakes per server CPU-second | {_num(o.get('per_cpu_s', math.nan))} | "
            f"{_num(t.get('per_cpu_s', math.nan))} | "
            f"{fmt_ratio(hs.get('ratio_per_core', math.nan))} |")
    add("")


def _lobby(runs: list[dict[str, Any]], plots: list[str], add: Callable[[str], None]) -> None:
    if not runs:
        return
    add("## (ii) Lobby: deliveries per second and latency — ours vs plaintext relay\n")
    add("A delivery is one message arriving at one other client. Latency is send → receive at "
        "another client (p50 / p99, ms). Ours is encrypted both ways and committed to MariaDB "
        "before it is relayed; the plaintext relay has no crypto and no database.\n")
    add("| run | ours deliveries/s | plaintext | ours / plain | ours latency | plaintext "
        "latency | p99 ours / plain | ours lost / dup | ours server / MariaDB / machine CPU |")
    add("|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        o, p = run.get("ours", {}), run.get("plain", {})
        add(
            f"| {run['label']} | {_num(o.get('deliveries_per_s', math.nan))} | "
            f"{_num(p.get('deliveries_per_s', math.nan))} | "
            f"{fmt_ratio(run.get('ratio_throughput', math.nan))} | {_lat(o.get('latency'))} | "
            f"{_lat(p.get('latency'))} | {fmt_ratio(run.get('ratio_p99', math.nan))} | "
            f"{o.get('lost', '–')} / {o.get('duplicates', '–')} | "
            f"{o.get('server_cpu', math.nan):.0%} / {o.get('db_cpu', math.nan):.0%} / "
            f"{o.get('machine_busy', math.nan):.0%} |"
        )
    add("")
    for path in plots:
        add(f"![{path}]({path})\n")


def _thousand(k: dict[str, Any], add: Callable[[str], None]) -> None:
    if not k:
        return
    add(f"## (iii) {k.get('clients', 1000):,} concurrent logged-in clients\n")
    add("| | ours | plaintext relay |\n|---|---|---|")
    o, p = k.get("ours", {}), k.get("plain", {})
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("logged in / failed", lambda d: f"{d.get('ready', '–')} / {d.get('failed', '–')}"),
        ("time to connect and log in all (s)", lambda d: f"{d.get('setup_s', math.nan):.0f}"),
        ("then until the server was idle (s)", lambda d: f"{d.get('settle_s', math.nan):.0f}"),
        ("server RSS, empty → all connected (MB)",
         lambda d: f"{d.get('rss_empty_mb', math.nan):.0f} → {d.get('rss_mb', math.nan):.0f}"),
        ("server threads", lambda d: f"{d.get('threads_empty', '–')} → {d.get('threads', '–')}"),
        ("server idle CPU (all connected, nobody sends)",
         lambda d: f"{d.get('idle_cpu', math.nan):.1%}"),
        ("one lobby message reaches all others p50 / p99 (ms)",
         lambda d: _lat(d.get("reach_all"))),
        ("per-delivery latency p50 / p99 (ms)", lambda d: _lat(d.get("latency"))),
        ("handshake under the login storm p50 / p99 (ms)", lambda d: _lat(d.get("handshake"))),
        ("login under the login storm p50 / p99 (ms)", lambda d: _lat(d.get("login"))),
        ("lost / duplicated", lambda d: f"{d.get('lost', '–')} / {d.get('duplicates', '–')}"),
    ]
    for name, cell in rows:
        add(f"| {name} | {cell(o) if o else '–'} | {cell(p) if p else '–'} |")
    add("")


def _rooms(big: dict[str, Any], many: dict[str, Any], add: Callable[[str], None]) -> None:
    """A 1,000-member room against the lobby; an account in 200 rooms against the lobby's."""
    if big:
        add(f"## Rooms: one message to a room of {big.get('clients', 1000):,} members\n")
        add("| | lobby | room | room / lobby |\n|---|---|---|---|")
        lobby, room = big.get("lobby", {}), big.get("bench-big", {})
        add(f"| reaches all others p50 / p99 (ms) | {_lat(lobby.get('reach_all'))} | "
            f"{_lat(room.get('reach_all'))} | p99 {big.get('ratio_reach_p99', math.nan):.2f}× |")
        add(f"| per-delivery latency p50 / p99 (ms) | {_lat(lobby.get('latency'))} | "
            f"{_lat(room.get('latency'))} | p50 {big.get('ratio_latency_p50', math.nan):.2f}× |")
        add("")
    if many:
        add(f"## Rooms: the conversation list of an account in {many.get('rooms', 200)} rooms\n")
        add("| account | entries | `0021` round trip p50 / p99 (ms) |\n|---|---|---|")
        for key, name in (("lobby_only", "in the lobby only"), ("in_200_rooms", "in 200 rooms")):
            row = many.get(key, {})
            add(f"| {name} | {row.get('entries', '–')} | {_lat(row.get('ms'))} |")
        if many.get("query_ms"):
            entries = many.get("in_200_rooms", {}).get("entries", "–")
            add(f"| the query alone (`Store.conversations`, 200 rooms) | {entries} | "
                f"{_lat(many.get('query_ms'))} |")
        add(f"\nRatio p50: {many.get('ratio_p50', math.nan):.2f}×. MariaDB's plan of the one "
            "query (id, select type, table, type, keys, key, key length, ref, rows, extra):\n")
        add("```")
        for plan_row in many.get("explain", []):
            add(" | ".join(plan_row))
        add("```\n")


def _blast(b: dict[str, Any], add: Callable[[str], None]) -> None:
    if not b:
        return
    add("## (iv) Blast: 20 unpaced clients for 10 s plus one that never reads\n")
    when = b.get("slow_cut_after_s")
    add(f"- acked messages: {b.get('acked', 0):,}; **lost {b.get('lost')}**, duplicated "
        f"{b.get('duplicates')}; deliveries/s {_num(b.get('deliveries_per_s', math.nan))}")
    add(f"- other clients' latency p50 / p99 / max: {_lat(b.get('latency'))} / "
        f"{fmt_ms(b.get('latency', {}).get('max', math.nan))} ms")
    add(f"- the never-reading client was cut off: {'yes' if b.get('slow_cut') else 'no'}"
        + (f", {when:.1f} s after the start" if when is not None else "")
        + " (figures above are over the first 10 s; if the cut had not come by then, the "
        "clients went on sending until it did, 30 s at most)")
    add(f"- errors: {b.get('errors') or 'none'}\n")
    own = b.get("profile_self") or []
    inclusive = b.get("profile_inclusive") or []
    if own:
        add("Server profile during the blast (py-spy, share of samples):\n")
        add("| self time | function | | inclusive | function |\n|---|---|---|---|---|")
        for i in range(max(len(own), len(inclusive))):
            a = own[i] if i < len(own) else ("", math.nan)
            c = inclusive[i] if i < len(inclusive) else ("", math.nan)
            add(f"| {a[1]:.1f}% | `{a[0]}` | | {c[1]:.1f}% | `{c[0]}` |")
        add("")


def _micro(m: dict[str, Any], add: Callable[[str], None]) -> None:
    if not m:
        return
    add("## (v) Micro: the record layer on one core, no sockets\n")
    add("| path | message | messages per record | messages/s | records/s | MB/s |")
    add("|---|---|---|---|---|---|")
    for r in m.get("records", []):
        add(f"| {r['name']} | {r['message_bytes']:,} B | {r['per_record']} | "
            f"{r['messages_per_s']:,.0f} | {r['records_per_s']:,.0f} | {r['mb_per_s']:.1f} |")
    cost = m.get("handshake_cpu", {})
    if cost:
        add(f"\nHandshake CPU in-process: server {cost['server_ms']:.2f} ms (RSA-3072 OAEP "
            f"unwrap + PSS sign + X25519), client {cost['client_ms']:.2f} ms: at most "
            f"{m.get('server_per_core', 0):,.0f} handshakes/s per server core.\n")
