"""The persistence ceiling: how fast the group commit alone stores lobby messages.

Measured in the same run as the end-to-end lobby figures, against the same MariaDB, with the
server's own ``GroupCommitter`` and ``Store`` and no sockets, crypto or fan-out, so the report can
say whether the database path or the rest of the server bounds the message rate.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from bench.stats import Summary

if TYPE_CHECKING:
    from bench.scenarios import Bench


def persistence_ceiling(bench: Bench, threads: int = 20, seconds: float = 2.0) -> None:
    """The group commit alone: ``threads`` senders, no sockets, no crypto, no fan-out.

    It splits the server's per-message cost: if this alone is near the end-to-end rate, the
    database path is the bound; if it is far above, the time goes elsewhere.
    """
    if bench.chat is None or bench.chat.db is None:
        return
    from server.commit import GroupCommitter
    from server.store import NewMessage, Store

    store = Store(bench.chat.db)
    committer = GroupCommitter(store)
    tag = f"{time.time_ns():x}"
    # one message at a time: what a lone sender waits for before its ack (a durable commit)
    single: list[int] = []
    for n in range(30 if bench.quick else 100):
        message = NewMessage("lobby", bench.chat.users[0], None, f"s{tag}-{n}", "persist", 1)
        start = time.perf_counter_ns()
        committer.submit(message).result(timeout=30)
        single.append(time.perf_counter_ns() - start)
    one = Summary.of_ns(single)
    bench.results["commit_latency"] = one.as_dict()
    bench.say(f"one message, one commit (MariaDB, durable: fsync per commit): {one.line()}")
    done = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def sender(i: int) -> None:
        n = 0
        user = bench.chat.users[i] if bench.chat else ""
        while time.monotonic() < deadline:
            message = NewMessage("lobby", user, None, f"p{tag}-{i}-{n}", "persist", 1)
            committer.submit(message).result(timeout=30)
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
    bench.results["persistence"] = {"threads": threads, "msgs_per_s": per_s, "avg_batch": batch}
    bench.say(
        f"persistence alone (GroupCommitter + Store, {threads} sending threads, no sockets or "
        f"crypto): {per_s:,.0f} msgs/s, {batch:.1f} messages per commit -> at most "
        f"{per_s * (threads - 1):,.0f} deliveries/s with {threads} clients"
    )
