"""GroupCommitter's batching and failure handling, with an in-memory stand-in for the store.

The real store is exercised against MariaDB in tests/integration; here only the committer's own
logic is checked: one insert call per batch, results in order, failures reach every waiter.
"""

from __future__ import annotations

import threading

import pytest

from server.commit import GroupCommitter
from server.store import NewMessage, StoredMessage, StoreUnavailable


class SlowStore:
    """Records each batch; the first call waits on a gate so later submits pile up."""

    def __init__(self) -> None:
        self.batches: list[list[NewMessage]] = []
        self.gate = threading.Event()
        self.fail = False

    def insert_messages(self, batch: list[NewMessage]) -> list[tuple[StoredMessage, bool]]:
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


def test_queued_messages_share_one_commit_and_keep_their_order() -> None:
    store = SlowStore()
    committer = GroupCommitter(store, max_batch=50)
    futures = [committer.submit(message(n)) for n in range(20)]
    store.gate.set()
    results = [f.result(5) for f in futures]
    committer.close()
    assert [r[0].client_msg_id for r in results] == [f"c{n}" for n in range(20)]
    assert [r[0].msg_id for r in results] == list(range(1, 21))
    assert len(store.batches) < 20  # the first call held the rest back, so they were batched
    assert committer.messages == 20 and committer.batches == len(store.batches)


def test_batches_are_capped() -> None:
    store = SlowStore()
    committer = GroupCommitter(store, max_batch=4)
    futures = [committer.submit(message(n)) for n in range(10)]
    store.gate.set()
    for f in futures:
        f.result(5)
    committer.close()
    assert max(len(b) for b in store.batches) <= 4


def test_an_outage_fails_every_waiter_and_the_committer_carries_on() -> None:
    store = SlowStore()
    store.fail = True
    store.gate.set()
    committer = GroupCommitter(store)
    failed = [committer.submit(message(n)) for n in range(3)]
    for f in failed:
        with pytest.raises(StoreUnavailable):
            f.result(5)
    store.fail = False
    assert committer.submit(message(9)).result(5)[0].client_msg_id == "c9"
    committer.close()
    with pytest.raises(StoreUnavailable):  # after close nothing is accepted
        committer.submit(message(10)).result(1)
