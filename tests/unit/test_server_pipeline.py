"""CommitPipeline: back-pressure at the limit, settling, forgetting; no database needed."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from server.pipeline import CommitPipeline


def futures(n: int) -> list[Future[int]]:
    return [Future() for _ in range(n)]


def test_finished_commits_leave_the_pipeline() -> None:
    pipe, fs = CommitPipeline(limit=3), futures(3)
    for f in fs:
        pipe.add(f)
    assert not pipe.wait_for_room(0.0)
    fs[0].set_result(1)
    assert pipe.wait_for_room(0.0) and not pipe.settle(0.0)
    fs[2].set_result(1)  # out of order: the oldest unfinished one still counts
    assert not pipe.settle(0.0)
    fs[1].set_exception(RuntimeError("db down"))  # failures finish too
    assert pipe.settle(0.0)


def test_room_and_settle_time_out_while_the_database_is_slow() -> None:
    pipe, fs = CommitPipeline(limit=2), futures(2)
    for f in fs:
        pipe.add(f)
    assert not pipe.wait_for_room(0.05)
    assert not pipe.settle(0.05)
    fs[0].set_result(1)
    assert pipe.wait_for_room(0.0)
    assert not pipe.settle(0.0)


def test_waiting_ends_when_another_thread_finishes_the_commit() -> None:
    pipe, (f,) = CommitPipeline(limit=1), futures(1)
    pipe.add(f)
    threading.Timer(0.05, f.set_result, (1,)).start()
    assert pipe.wait_for_room(5.0)
    assert pipe.settle(5.0)


def test_forget_stops_tracking_but_the_commit_goes_on() -> None:
    pipe, fs = CommitPipeline(limit=8), futures(3)
    for f in fs:
        pipe.add(f)
    assert pipe.forget() == 3
    assert pipe.settle(0.0) and pipe.forget() == 0
    assert not fs[0].done()  # still pending: its ack and relay may come late


def test_cancelled_commits_count_as_finished() -> None:
    pipe, (f,) = CommitPipeline(limit=1), futures(1)
    pipe.add(f)
    f.cancel()
    assert pipe.settle(1.0)
