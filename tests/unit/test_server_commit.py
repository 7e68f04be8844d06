"""GroupCommitter's batching and failure handling, with an in-memory stand-in for the store.

The real store is exercised against MariaDB in tests/integration; here only the committer's own
logic is checked: one insert call per batch, results in order, failures reach every waiter.
Each batch's outcome is what the committer hands to its ``deliver`` function; ``Collector`` keeps
them per origin so a test can wait for one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from server.commit import Committed, GroupCommitter
from server.store import NewMessage, StoredMessage, StoreUnavailable


class SlowStore:
    """Records each batch; the first call waits on a gate so later submits pile up."""

    def __init__(self) -> None:
        self.batches: list[list[NewMessage]] = []
        self.gate = threading.Event()
        self.fail = False

    def insert_messages(self, batch: Sequence[NewMessage]) -> list[tuple[StoredMessage, bool]]:
        self.gate.wait(5)
        if self.fail:
            raise StoreUnavailable("down")
        self.batches.append(list(batch))
        start = sum(len(b) for b in self.batches) - len(batch)
        return [
            (StoredMessage(start + i + 1, m.conversation, m.sender, m.sender, m.recipient,
                           m.client_msg_id, m.text, m.created_ms), True)
            for i, m in enumerate(batch)
        ]


def message(n: int) -> NewMessage:
    return NewMessage("lobby", "user1", None, f"c{n}", f"text {n}", 1)


class Collector:
    """The ``deliver`` function: remembers every batch and each origin's outcome."""

    def __init__(self) -> None:
        self.batches: list[list[Committed[int]]] = []
        self.outcomes: dict[int, Committed[int]] = {}
        self._cond = threading.Condition()

    def __call__(self, batch: list[Committed[int]]) -> None:
        with self._cond:
            self.batches.append(batch)
            self.outcomes.update((item.origin, item) for item in batch)
            self._cond.notify_all()

    def result(self, origin: int, timeout: float = 5.0) -> tuple[StoredMessage, bool]:
        """The stored row and is_new of ``origin``; StoreUnavailable if it was not stored."""
        with self._cond:
            assert self._cond.wait_for(lambda: origin in self.outcomes, timeout)
            item = self.outcomes.pop(origin)
        if item.stored is None:
            raise StoreUnavailable("not stored")
        return item.stored, item.is_new


def started(store: SlowStore, **kw: int) -> tuple[GroupCommitter[int], Collector]:
    committer: GroupCommitter[int] = GroupCommitter(store, **kw)
    collector = Collector()
    committer.start(collector)
    return committer, collector


def test_queued_messages_share_one_commit_and_keep_their_order() -> None:
    store = SlowStore()
    committer, done = started(store, max_batch=50)
    for n in range(20):
        committer.submit(message(n), n)
    store.gate.set()
    results = [done.result(n) for n in range(20)]
    committer.close()
    assert [r[0].client_msg_id for r in results] == [f"c{n}" for n in range(20)]
    assert [r[0].msg_id for r in results] == list(range(1, 21))
    assert len(store.batches) < 20  # the first call held the rest back, so they were batched
    assert committer.messages == 20 and committer.batches == len(store.batches)


def test_batches_are_capped() -> None:
    store = SlowStore()
    committer, done = started(store, max_batch=4)
    for n in range(10):
        committer.submit(message(n), n)
    store.gate.set()
    for n in range(10):
        done.result(n)
    committer.close()
    assert max(len(b) for b in store.batches) <= 4


def test_an_outage_fails_every_waiter_and_the_committer_carries_on() -> None:
    store = SlowStore()
    store.fail = True
    store.gate.set()
    committer, done = started(store)
    for n in range(3):
        committer.submit(message(n), n)
    for n in range(3):
        with pytest.raises(StoreUnavailable):
            done.result(n)
    store.fail = False
    committer.submit(message(9), 9)
    assert done.result(9)[0].client_msg_id == "c9"
    committer.close()
    assert not committer.submit(message(10), 10)  # after close nothing is accepted
