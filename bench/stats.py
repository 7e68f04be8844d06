"""Small, dependency-free statistics for latency samples.

Latencies are kept as integer nanoseconds in ``array('q')`` (8 bytes each, cheap to pickle
between load-generator processes) and summarised once at the end. Percentiles use the
nearest-rank method: the reported p99 is a latency some message really had, not an
interpolation between two samples, which matters when a tail is made of a few slow messages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values; ``nan`` for an empty sample.

    ``pct`` is in 0..100; 0 gives the minimum and 100 the maximum.
    """
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile {pct} outside 0..100")
    n = len(sorted_values)
    if n == 0:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * n))
    return float(sorted_values[rank - 1])


@dataclass(frozen=True)
class Summary:
    """Distribution of one latency, in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of_ns(cls, samples_ns: Iterable[int]) -> Summary:
        """Summarise nanosecond samples into milliseconds."""
        values = sorted(samples_ns)
        if not values:
            nan = math.nan
            return cls(0, nan, nan, nan, nan, nan)
        scale = 1e-6
        return cls(
            count=len(values),
            p50=percentile(values, 50) * scale,
            p95=percentile(values, 95) * scale,
            p99=percentile(values, 99) * scale,
            max=values[-1] * scale,
            mean=sum(values) / len(values) * scale,
        )

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON."""
        return asdict(self)

    def line(self) -> str:
        """``p50 1.23 ms · p95 ... · p99 ... · max ... (n=...)`` for a printed figure line."""
        if self.count == 0:
            return "no samples"
        return (
            f"p50 {fmt_ms(self.p50)} · p95 {fmt_ms(self.p95)} · p99 {fmt_ms(self.p99)}"
            f" · max {fmt_ms(self.max)} ms (n={self.count})"
        )


def fmt_ms(value: float) -> str:
    """Milliseconds with precision that fits their size."""
    if math.isnan(value):
        return "n/a"
    if value < 1:
        return f"{value:.3f}"
    if value < 100:
        return f"{value:.2f}"
    return f"{value:.0f}"


def ratio(ours: float, baseline: float) -> float:
    """``ours / baseline``; ``nan`` when either side is missing or the baseline is zero."""
    if not baseline or math.isnan(baseline) or math.isnan(ours):
        return math.nan
    return ours / baseline


def fmt_ratio(value: float) -> str:
    """A ratio as ``0.42×``."""
    return "n/a" if math.isnan(value) else f"{value:.2f}×"


def rate(count: int, seconds: float) -> float:
    """Events per second; 0 for an empty interval."""
    return count / seconds if seconds > 0 else 0.0
