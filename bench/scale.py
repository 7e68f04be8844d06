"""Scenarios (iii) and (iv): a thousand logged-in clients, and the blast with a client that
never reads. The same shape as ``bench.scenarios``: ours and the baseline in one run.
"""

from __future__ import annotations

import math
import time
from typing import Any

from bench.procs import Profile, ServerProcess, quiesce
from bench.scenarios import Bench, _load_dict, load_line, measured
from bench.stats import fmt_ratio, ratio

# --- (iii) 1,000 clients -------------------------------------------------------------------


SETUP_LIMIT = 120.0  # seconds for a thousand handshakes + logins before the run goes on


def scenario_thousand(bench: Bench, clients: int = 1000) -> None:
    """1,000 logged-in clients: memory, threads, idle CPU, one message reaching everyone."""
    out: dict[str, Any] = {"clients": clients}
    for mode in ("ours", "plain"):
        if (mode == "ours" and bench.chat is None) or (mode == "plain" and not bench.relay):
            continue
        if mode == "ours" and bench.chat is not None and len(bench.chat.users) < clients:
            bench.say(f"1,000 clients skipped: only {len(bench.chat.users)} bench users")
            continue
        server = bench.server_for(mode)
        idle_before = server.sample()

        def on_ready(server: ServerProcess = server) -> dict[str, Any]:
            settled = quiesce(server.pid, below=0.05, limit=90.0)  # presence fan-out backlog
            first = server.sample()
            time.sleep(3.0)
            second = server.sample()
            return {"rss_mb": second.rss_mb, "threads": second.threads,
                    "idle_cpu": second.cpu_since(first), "settle_s": settled}

        spec = bench.spec(mode, clients=clients, senders=1, rate=4.0, duration=5.0,
                          procs=2, setup_timeout=SETUP_LIMIT, connect_concurrency=16,
                          drain=8.0)
        r = measured(bench, spec, on_ready=on_ready)
        d = _load_dict(r)
        d["rss_empty_mb"] = idle_before.rss_mb
        d["threads_empty"] = idle_before.threads
        out[mode] = d
        name = "ours" if mode == "ours" else "plaintext relay"
        bench.say(
            f"{name} {clients} clients: {r.ready} logged in (failed {r.failed}) in "
            f"{r.setup_s:.0f} s (limit {SETUP_LIMIT:.0f} s), settled after "
            f"{d.get('settle_s', math.nan):.0f} s more; server RSS "
            f"{d.get('rss_mb', math.nan):.0f} MB (empty {idle_before.rss_mb:.0f} MB), threads "
            f"{d.get('threads', 0)}, idle CPU {d.get('idle_cpu', math.nan):.1%}"
        )
        bench.say(
            f"{name} one lobby message to all {r.ready - 1} others: {r.reach_all.line()}; "
            f"sent {r.sent}, acked {r.acked}, lost {r.lost}, dup {r.duplicates}"
            + (f"; login under the storm {r.login.line()}" if mode == "ours" else "")
        )
    if "ours" in out and "plain" in out:
        out["ratio_reach_p99"] = ratio(out["ours"]["reach_all"]["p99"],
                                       out["plain"]["reach_all"]["p99"])
        bench.say(f"ratio ours/plaintext reach-all p99: {fmt_ratio(out['ratio_reach_p99'])}")
    bench.results["thousand"] = out


# --- (iv) blast ----------------------------------------------------------------------------


# Characters per blast message: the longest text allowed. The server cuts a client off when its
# outbox holds 2,000 *lines*, after the kernel's send buffer (up to 4 MB here) is full, so big
# messages are what make a stuck client show within the 10 s.
BLAST_TEXT = 4000
BLAST_EXTEND = 30.0  # after the measured 10 s, go on sending until the slow client is cut


def scenario_blast(bench: Bench, profile: bool = True) -> None:
    """20 unpaced clients plus one that never reads: nothing acked lost, the slow one cut."""
    if bench.chat is None:
        return
    secs = 10.0
    # The never-reading client logs in as an account no other scenario uses, so a late "leave"
    # from an earlier run cannot be mistaken for its cut-off.
    slow_user = bench.chat.users[-1]
    spec = bench.spec("ours", clients=20, window=16, duration=secs, procs=2, silent=1,
                      size=BLAST_TEXT, users=(*bench.chat.users[:20], slow_user),
                      extend_until_cut=BLAST_EXTEND)
    prof = None
    if profile:
        prof = Profile(bench.chat.server.pid, secs, bench.work_dir / "blast-profile.txt")
    r = measured(bench, spec)
    d = _load_dict(r)
    d["slow_user"] = slow_user
    d["slow_cut_after_s"] = r.leaves.get(slow_user)
    bench.say(load_line("ours blast 20 unpaced + 1 never reading", r))
    cut = r.silent_cut == 1 or slow_user in r.leaves
    when = d["slow_cut_after_s"]
    bench.say(
        f"blast: acked messages lost {r.lost} (must be 0), duplicated {r.duplicates}; "
        f"never-reading client cut off: {'yes' if cut else 'NO'}"
        + (f", {when:.1f} s after the start (sending goes on past the measured {secs:.0f} s "
           f"until then, {BLAST_EXTEND:.0f} s at most)" if when is not None else "")
    )
    d["slow_cut"] = cut
    if prof is not None and prof.wait():
        own, inclusive = prof.top(15)
        d["profile_self"], d["profile_inclusive"] = own, inclusive
        for name, pct in own[:8]:
            bench.say(f"blast profile (py-spy, self time): {pct:5.1f}% {name}")
    bench.results["blast"] = d
