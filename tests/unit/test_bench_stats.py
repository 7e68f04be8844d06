"""The bench's pure helpers: percentiles, summaries, ratios, bench texts, profile parsing."""

from __future__ import annotations

import math
import os

import pytest

from bench.procs import ProcSample, summarise_collapsed
from bench.stats import Summary, fmt_ratio, percentile, rate, ratio
from bench.wire import bench_text, parse_bench_text


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([7], 99) == 7


def test_percentile_small_sample_is_a_real_value() -> None:
    assert percentile([1, 2, 3, 1000], 99) == 1000
    assert percentile([1, 2, 3, 1000], 50) == 2


def test_percentile_rejects_out_of_range_and_empty_is_nan() -> None:
    with pytest.raises(ValueError):
        percentile([1], 101)
    assert math.isnan(percentile([], 50))


def test_summary_in_milliseconds() -> None:
    s = Summary.of_ns([1_000_000, 2_000_000, 3_000_000, 4_000_000])
    assert s.count == 4
    assert s.p50 == pytest.approx(2.0)
    assert s.max == pytest.approx(4.0)
    assert s.mean == pytest.approx(2.5)
    assert "p99 4.00" in s.line()
    assert Summary.of_ns([]).count == 0


def test_ratio_and_rate() -> None:
    assert ratio(2.0, 4.0) == 0.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 1.0))
    assert fmt_ratio(0.5) == "0.50×"
    assert fmt_ratio(math.nan) == "n/a"
    assert rate(10, 2.0) == 5.0
    assert rate(10, 0) == 0.0


def test_bench_text_round_trip_and_padding() -> None:
    text = bench_text(12, 345, 6789, 64)
    assert len(text) == 64
    assert "|" not in text and "%" not in text  # nothing the field codec must escape
    assert parse_bench_text(text) == (12, 345, 6789)
    assert parse_bench_text(text.encode()) == (12, 345, 6789)
    assert parse_bench_text(bench_text(1, 2, 3, 0)) == (1, 2, 3)


@pytest.mark.parametrize("text", ["hello", "b:x:1:2", "b:1:2", "", "c:1:2:3:"])
def test_parse_bench_text_ignores_other_texts(text: str) -> None:
    assert parse_bench_text(text) is None


def test_summarise_collapsed_self_and_inclusive() -> None:
    text = "\n".join([
        "main (a.py:1);loop (a.py:5);seal (r.py:9) 30",
        "main (a.py:1);loop (a.py:5);send (s.py:2) 10",
        "main (a.py:1);wait (t.py:3) 60",
        "garbage",
    ])
    own, inclusive = summarise_collapsed(text, 3)
    assert own[0] == ("wait (t.py:3)", 60.0)
    assert ("seal (r.py:9)", 30.0) in own
    assert inclusive[0] == ("main (a.py:1)", 100.0)
    assert summarise_collapsed("") == ([], [])


def test_proc_sample_reads_this_process() -> None:
    sample = ProcSample.read(os.getpid())
    assert sample.rss_mb > 1
    assert sample.threads >= 1
    assert sample.cpu_s >= 0
