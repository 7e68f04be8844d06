"""The report code renders whatever parts a run produced, and judges goals correctly."""

from __future__ import annotations

import math
from typing import Any

from bench.markdown import render
from bench.notes import explain
from bench.report import goals


def _lat(p50: float, p99: float) -> dict[str, float]:
    return {"count": 10, "p50": p50, "p95": p99, "p99": p99, "max": p99, "mean": p50}


def _results() -> dict[str, Any]:
    ours = {"deliveries_per_s": 20_000.0, "acked_per_s": 1_050.0, "latency": _lat(2.0, 4.0),
            "lost": 0, "duplicates": 0, "server_cpu": 0.9, "db_cpu": 0.1, "machine_busy": 1.0,
            "generator_run_cpu": 0.5}
    plain = {"deliveries_per_s": 50_000.0, "latency": _lat(0.5, 1.0)}
    return {
        "micro": {"records": [], "primitives": {"pycryptodome AES-256-GCM seal, 100 B": 0.1},
                  "handshake_cpu": {"server_ms": 7.0, "client_ms": 1.0}, "server_per_core": 142},
        "handshake": {"handshake_login": _lat(35.0, 50.0), "resume": _lat(4.0, 6.0),
                      "handshake": _lat(10.0, 12.0),
                      "ours_rate": {"per_s": 100.0, "per_cpu_s": 120.0}},
        "lobby": [
            {"label": "20 clients closed loop (window 4)", "clients": 20, "rate": 0.0,
             "ours": ours, "plain": plain, "ratio_throughput": 0.4},
            {"label": "20 clients paced 1 msgs/s each", "clients": 20, "rate": 1.0,
             "ours": ours, "plain": plain},
        ],
        "blast": {"lost": 0, "slow_cut": True, "acked": 5, "latency": _lat(1.0, 2.0)},
    }


def test_goals_met_and_missed() -> None:
    verdicts = {name: (value, met) for name, _, value, met in goals(_results())}
    assert verdicts["resume p50 (0008 → 1001)"] == (4.0, True)
    assert verdicts["handshake + login p50"] == (35.0, False)
    assert verdicts["20 clients, 1 msg/s each: latency p99"] == (4.0, True)
    assert verdicts["… and ours / plaintext"] == (0.4, False)
    assert verdicts["blast: acked messages lost"] == (0.0, True)
    value, met = verdicts["1,000 clients: server RSS"]
    assert math.isnan(value) and met is None


def test_goals_of_an_empty_run_are_unmeasured() -> None:
    assert all(met is None for *_, met in goals({}))


def test_render_has_every_section_present_and_none_absent() -> None:
    results = _results()
    results["notes"] = explain(results)
    text = render(results, {"nproc": "2"}, ["[python -m bench all] line"], [], 12.0)
    assert "## Goals" in text and "## (i) Handshake" in text and "## (ii) Lobby" in text
    assert "## (iii)" not in text  # the 1,000-client part did not run
    assert "[python -m bench all] line" in text
    assert "**Handshake + login.**" in text
    assert render({}, {}, [], [], 1.0).startswith("# Benchmarks")
