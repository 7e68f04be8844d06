"""The scale-out part of BENCHMARKS.md: its goals and its table (results of ``bench.scaleout``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bench.stats import fmt_ms, fmt_ratio


def _get(d: Any, *path: str) -> float:
    for step in path:
        if not isinstance(d, dict) or step not in d:
            return math.nan
        d = d[step]
    return float(d) if isinstance(d, (int, float)) else math.nan


def goal_rows(results: dict[str, Any]) -> list[tuple[str, str, float, str, float]]:
    """(goal, target, measured, "le"/"ge", bound) of the cluster, from ``scaleout``."""
    s = results.get("scaleout", {})
    return [
        ("2 nodes: handshakes/s", "≥ 200", _get(s, "2 nodes", "handshake", "per_s"), "ge", 200),
        ("2 nodes / 1 node: handshakes/s", "≥ 1.6×", _get(s, "handshake_ratio"), "ge", 1.6),
        ("light load (20 × 1 msg/s): latency p99, 2 nodes / 1 node", "≤ 1.5×",
         _get(s, "light_p99_ratio"), "le", 1.5),
        ("1,000 clients over 2 nodes: one message reaches all, p99", "≤ 100 ms",
         _get(s, "2 nodes", "reach", "reach_p99"), "le", 100),
    ]


def section(results: dict[str, Any], add: Callable[[str], None]) -> None:
    """``## Scale-out``: 1 node against 2 nodes over Redis, same run."""
    s = results.get("scaleout", {})
    if not s:
        return
    add("## Scale-out: one process against two nodes over Redis\n")
    add("Two `python -m server serve` processes on one port (`SO_REUSEPORT`) with a private "
        "Redis between them, against the bench's single server, one after the other in the "
        "same run; the same MariaDB; load generator, servers, Redis and MariaDB share the "
        "machine's cores.\n")
    add("| measure | 1 node | 2 nodes | 2 / 1 |\n|---|---|---|---|")
    one, two = s.get("1 node", {}), s.get("2 nodes", {})
    rows = (
        ("handshakes/s", ("handshake", "per_s"), "{:,.0f}"),
        ("handshakes per server CPU-second", ("handshake", "per_cpu_s"), "{:,.0f}"),
        ("closed loop, 20 clients: deliveries/s", ("closed", "deliveries_per_s"), "{:,.0f}"),
        ("closed loop: latency p99", ("closed", "p99"), "ms"),
        ("light load, 20 × 1 msg/s: latency p99", ("light", "p99"), "ms"),
        ("1,000 clients, one message: reaches all p50", ("reach", "reach_p50"), "ms"),
        ("1,000 clients, one message: reaches all p99", ("reach", "reach_p99"), "ms"),
    )
    for label, path, style in rows:
        a, b = _get(one, *path), _get(two, *path)
        cell = (lambda v: f"{fmt_ms(v)} ms") if style == "ms" else style.format
        ratio = b / a if a and not math.isnan(a) and not math.isnan(b) else math.nan
        add(f"| {label} | {cell(a)} | {cell(b)} | {fmt_ratio(ratio)} |")
    lost = sum(_get(r, k, "lost") for r in (one, two) for k in ("closed", "light", "reach"))
    dup = sum(_get(r, k, "dup") for r in (one, two) for k in ("closed", "light", "reach"))
    add(f"\nLost {lost:.0f}, duplicated {dup:.0f} deliveries over all of these runs.\n")
