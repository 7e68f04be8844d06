"""The persistence ceiling: how fast the group commit alone stores lobby messages.

Measured in the same run as the end-to-end lobby figures, against the same MariaDB, with the
server's own ``GroupCommitter`` and ``Store`` and no sockets, crypto or fan-out, so the report can
say whether the database path or the rest of the server bounds the message rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from bench.stats import Summary


def persistence_ceiling(
    db: Any,
    users: tuple[str, ...],
    results: dict[str, Any],
    say: Callable[[str], None],
    *,
    quick: bool,
    threads: int = 20,
    seconds: float = 2.0,
) -> None:
    """The group commit alone: ``threads`` senders, no sockets, no crypto, no fan-out.

    It splits the server's per-message cost: if this alone is near the end-to-end rate, the
    database path is the bound; if it is far above, the time goes elsewhere.
    """
    if db is None:  # ``db`` is the bench database's ``server.store.DbParams``
        return
    from server.commit import Committed, GroupCommitter
    from server.store import NewMessage, Store

    def release(batch: list[Committed[threading.Event]]) -> None:
        for item in batch:  # each sender waits on its own event, as a reader waits for an ack
            item.origin.set()

    def commit(message: NewMessage) -> None:
        stored = threading.Event()
        committer.submit(message, stored)
        stored.wait(30)

    store = Store(db)
    committer: GroupCommitter[threading.Event] = GroupCommitter(store)
    committer.start(release)
    tag = f"{time.time_ns():x}"
    # one message at a time: what a lone sender waits for before its ack (a durable commit)
    single: list[int] = []
    for n in range(30 if quick else 100):
        message = NewMessage("lobby", users[0], None, f"s{tag}-{n}", "persist", 1)
        start = time.perf_counter_ns()
        commit(message)
        single.append(time.perf_counter_ns() - start)
    one = Summary.of_ns(single)
    results["commit_latency"] = one.as_dict()
    say(f"one message, one commit (MariaDB, durable: fsync per commit): {one.line()}")
    done = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def sender(i: int) -> None:
        n = 0
        user = users[i % len(users)]
        while time.monotonic() < deadline:
            message = NewMessage("lobby", user, None, f"p{tag}-{i}-{n}", "persist", 1)
            commit(message)
            n += 1
        with lock:
            done[0] += n

    pool = [threading.Thread(target=sender, args=(i,)) for i in range(threads)]
    try:
        for t in pool:
            t.start()
        for t in pool:
            t.join(seconds + 60)
    finally:
        committer.close()
        store.close()
    per_s = done[0] / seconds
    batch = committer.messages / max(1, committer.batches)
    results["persistence"] = {"threads": threads, "msgs_per_s": per_s, "avg_batch": batch}
    say(
        f"persistence alone (GroupCommitter + Store, {threads} sending threads, no sockets or "
        f"crypto): {per_s:,.0f} msgs/s, {batch:.1f} messages per commit -> at most "
        f"{per_s * (threads - 1):,.0f} deliveries/s with {threads} clients"
    )
