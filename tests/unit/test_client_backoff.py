"""Reconnect back-off: bounds, growth, jitter and reset."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from client.backoff import Backoff, ReconnectTimer


def test_bounds_over_many_attempts() -> None:
    backoff = Backoff(uniform=random.Random(1).uniform)
    delays = [backoff.next_delay() for _ in range(40)]
    assert all(0.5 <= d <= 30.0 for d in delays)
    assert 0.5 <= delays[0] <= 1.0  # the first retry is quick
    assert all(d >= 15.0 for d in delays[10:])  # later ones sit near the cap


def test_extremes_of_the_jitter() -> None:
    low = Backoff(uniform=lambda a, b: a)
    high = Backoff(uniform=lambda a, b: b)
    assert [low.next_delay() for _ in range(8)] == [0.5, 1, 2, 4, 8, 15, 15, 15]
    assert [high.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_jitter_spreads_clients() -> None:
    first_delays = {Backoff(uniform=random.Random(seed).uniform).next_delay() for seed in range(50)}
    assert len(first_delays) == 50  # a restart does not bring everyone back at once


def test_reset_starts_over() -> None:
    backoff = Backoff(uniform=lambda a, b: b)
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(base=0)
    with pytest.raises(ValueError):
        Backoff(base=5, cap=1)


def test_reconnect_timer_counts_down_and_fires() -> None:
    now = [100.0]
    timers: list[tuple[float, Callable[[], None]]] = []
    ticks: list[str] = []
    fired: list[bool] = []

    def after(ms: int, callback: Callable[[], None]) -> object:
        timers.append((now[0] + ms / 1000, callback))
        return len(timers)

    timer = ReconnectTimer(
        Backoff(uniform=lambda a, b: b), after, lambda token: None, lambda: now[0],
        lambda left, why: ticks.append(f"{round(left)} {why}"), lambda: fired.append(True),
    )
    timer.schedule("lost")  # first delay: 1.0 s
    timer.schedule("lost")  # rescheduling replaces it: 2.0 s
    assert timer.pending and ticks[-1] == "2 lost"
    while not fired:
        due, callback = timers.pop(0)
        now[0] = max(now[0], due)
        callback()
    assert now[0] == 102.0 and not timer.pending
