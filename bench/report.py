"""BENCHMARKS.md and the two PNG plots, written from one run's results.

The report is regenerated whole by ``python -m bench all``: tables of this machine's numbers,
each timing next to its same-run baseline and the ratio, the goals of the issue with met or
missed, and the profile taken during the blast. Plots need matplotlib; without it the report
says so and links nothing that does not exist.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import scaleout_report
from bench.stats import fmt_ms

PLOT_DIR = Path("docs/bench")
LATENCY_PLOT = "latency_vs_load.png"
THROUGHPUT_PLOT = "throughput_vs_clients.png"


def machine() -> dict[str, str]:
    """What this ran on: cores, CPU model, Python, crypto library, database, kernel."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from Crypto import __version__ as pycryptodome
    except ImportError:  # pragma: no cover
        pycryptodome = "?"
    mariadb = "?"
    try:
        mariadb = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True,
                                 timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "load average at start (1/5/15 min)": _loadavg(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "pycryptodome": str(pycryptodome),
        "mariadb": mariadb,
        "kernel": platform.release(),
    }


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def goals(results: dict[str, Any]) -> list[tuple[str, str, float, bool | None]]:
    """(goal, target, measured, met) for each goal of the issue; met None when not measured."""
    hs = results.get("handshake", {})
    lobby = {run["label"]: run for run in results.get("lobby", [])}
    k = results.get("thousand", {}).get("ours", {})
    blast = results.get("blast", {})

    def get(d: dict[str, Any], *path: str) -> float:
        for step in path:
            if not isinstance(d, dict) or step not in d:
                return math.nan
            d = d[step]
        return float(d) if isinstance(d, (int, float)) else math.nan

    paced = lobby.get("20 clients paced 1 msgs/s each", {})
    closed = lobby.get("20 clients closed loop (window 4)", {})
    rows = [
        ("handshake + login p50", "≤ 30 ms", get(hs, "handshake_login", "p50"), "le", 30),
        ("resume p50 (0008 → 1001)", "≤ 10 ms", get(hs, "resume", "p50"), "le", 10),
        ("handshakes per server CPU-second", "≥ 200", get(hs, "ours_rate", "per_cpu_s"), "ge",
         200),
        ("20 clients, 1 msg/s each: latency p99", "≤ 5 ms", get(paced, "ours", "latency",
                                                                  "p99"), "le", 5),
        ("20 clients closed loop: deliveries/s", "≥ 40,000", get(closed, "ours",
                                                                 "deliveries_per_s"), "ge", 40000),
        ("… and ours / plaintext", "≥ 0.5×", get(closed, "ratio_throughput"), "ge", 0.5),
        ("1,000 clients: server RSS", "≤ 150 MB", get(k, "rss_mb"), "le", 150),
        ("1,000 clients: one message reaches all, p99", "≤ 500 ms", get(k, "reach_all", "p99"),
         "le", 500),
        ("blast: acked messages lost", "0", get(blast, "lost"), "le", 0),
        *scaleout_report.goal_rows(results),
    ]
    out = []
    for name, target, value, op, bound in rows:
        met = None if math.isnan(value) else (value <= bound if op == "le" else value >= bound)
        out.append((name, target, value, met))
    return out


def _num(value: float) -> str:
    if math.isnan(value):
        return "not measured"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value != int(value) else f"{value:.0f}"


def _lat(d: dict[str, Any] | None) -> str:
    if not d or not d.get("count"):
        return "–"
    return f"{fmt_ms(d['p50'])} / {fmt_ms(d['p99'])}"


def plots(results: dict[str, Any], root: Path) -> list[str]:
    """Write the two PNGs under ``root/docs/bench``; returns the relative paths written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    lobby = results.get("lobby", [])
    written: list[str] = []
    (root / PLOT_DIR).mkdir(parents=True, exist_ok=True)

    paced = sorted((r for r in lobby if r.get("clients") == 20 and r.get("rate")),
                   key=lambda r: r["rate"])
    if paced:
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for mode, label, color in (("ours", "ours (encrypted, persisted)", "tab:blue"),
                                   ("plain", "plaintext relay", "tab:gray")):
            pts = [(r["rate"] * r["clients"], r[mode]["latency"]) for r in paced if mode in r]
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ax.plot(xs, [p[1]["p50"] for p in pts], "o-", color=color, label=f"{label} p50")
            ax.plot(xs, [p[1]["p99"] for p in pts], "s--", color=color, label=f"{label} p99")
        ax.axhline(5, color="tab:red", lw=0.8, ls=":", label="goal p99 ≤ 5 ms")
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel("offered lobby messages per second (20 clients, paced; × 19 deliveries)")
        ax.set_ylabel("send → receive latency (ms)")
        ax.set_title("Latency vs load, 20 clients (python -m bench all)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(root / PLOT_DIR / LATENCY_PLOT)
        plt.close(fig)
        written.append(str(PLOT_DIR / LATENCY_PLOT))

    closed = sorted((r for r in lobby if not r.get("rate")), key=lambda r: r["clients"])
    if closed:
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for mode, label, color in (("ours", "ours (encrypted, persisted)", "tab:blue"),
                                   ("plain", "plaintext relay", "tab:gray")):
            pts = [(r["clients"], r[mode]["deliveries_per_s"]) for r in closed if mode in r]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=color, label=label)
        ax.axhline(40000, color="tab:red", lw=0.8, ls=":", label="goal ≥ 40,000/s at 20")
        ax.set_xlabel("clients in the lobby (closed loop, 4 messages in flight each)")
        ax.set_ylabel("deliveries per second")
        ax.set_title("Throughput vs clients (python -m bench all)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(root / PLOT_DIR / THROUGHPUT_PLOT)
        plt.close(fig)
        written.append(str(PLOT_DIR / THROUGHPUT_PLOT))
    return written
