"""Token buckets and the in-process hub, with a fake clock and fake outboxes (no sockets)."""

from __future__ import annotations

import threading

import pytest

from common.messages import SERVER_MESSAGES, PresenceEvent, RosterUpdate, decode_message
from server.hub import InProcessHub
from server.limits import (
    ConnectionCounts,
    HandshakeGate,
    KeyedBuckets,
    MemoryBudget,
    TokenBucket,
    network_key,
    raise_descriptor_limit,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token back
    assert bucket.take() and not bucket.take()
    clock.now += 100
    assert bucket.tokens == 3  # never more than the burst


def test_charge_empties_but_never_goes_negative() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 2, clock)
    bucket.charge(5)
    assert bucket.tokens == 0 and not bucket.allows()
    clock.now += 1
    assert bucket.allows()


def test_keyed_buckets_are_independent_and_bounded() -> None:
    clock = FakeClock()
    buckets = KeyedBuckets(rate=0.0, burst=1, max_keys=3, clock=clock)
    assert buckets.take("a") and not buckets.take("a")
    assert buckets.take("b")
    assert buckets.allows("never-seen") and len(buckets) == 2  # allows() creates nothing
    for key in ("c", "d", "e"):
        buckets.take(key)
    assert len(buckets) == 3  # the least recently used ("a", "b") were evicted
    assert buckets.take("a")  # evicted means forgotten


class Box:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def put(self, line: bytes) -> None:
        self.lines.append(line)

    def put_lines(self, lines: tuple[bytes, ...]) -> None:
        self.lines.extend(lines)

    def messages(self) -> list[object]:
        return [decode_message(line, SERVER_MESSAGES) for line in self.lines]


def roster_seen_by_newcomer(hub: InProcessHub) -> tuple[tuple[str, str], ...]:
    """Who is online, as the ``1006`` of a connection attaching now lists it (itself left out)."""
    probe = Box()
    hub.attach("~probe", "P", probe)
    roster = probe.messages()[0]
    hub.detach("~probe", probe)
    assert isinstance(roster, RosterUpdate)
    return tuple(user for user in roster.users if user[0] != "~probe")


def test_hub_presence_is_per_account_and_roster_is_sorted() -> None:
    hub = InProcessHub(presence_interval=0)  # presence goes out at once
    watcher, first, second = Box(), Box(), Box()
    hub.attach("zed", "Z", watcher)
    hub.attach("amy", "A", first)
    hub.attach("amy", "A", second)  # a second window: no second join
    assert first.messages()[0] == RosterUpdate((("amy", "A"), ("zed", "Z")))
    joins = [m for m in watcher.messages() if isinstance(m, PresenceEvent)]
    assert joins == [PresenceEvent("join", "amy", "A")]
    hub.detach("amy", first)
    assert not [m for m in watcher.messages() if getattr(m, "event", "") == "leave"]
    hub.detach("amy", second)
    assert watcher.messages()[-1] == PresenceEvent("leave", "amy", "A")
    hub.detach("amy", second)  # twice is harmless
    assert roster_seen_by_newcomer(hub) == (("zed", "Z"),)


def test_hub_finds_every_connection_or_those_of_some_accounts() -> None:
    hub = InProcessHub(presence_interval=0)
    a1, a2, b, c = Box(), Box(), Box(), Box()
    for name, box in (("a", a1), ("a", a2), ("b", b), ("c", c)):
        hub.attach(name, name.upper(), box)
    assert set(hub.connections_of(["b", "a", "b"], exclude=a1)) == {a2, b}
    assert sorted(map(id, hub.everyone())) == sorted(map(id, (a1, a2, b, c)))
    hub.detach("a", a2)
    assert set(hub.connections_of(["a", "nobody"])) == {a1}


def test_hub_cuts_a_roster_that_does_not_fit_one_record() -> None:
    hub = InProcessHub(max_line=200, presence_interval=0)
    for i in range(50):
        hub.attach(f"user{i:03d}", "nick", Box())
    newcomer = Box()
    hub.attach("zzz", "Z", newcomer)
    assert len(newcomer.lines[0]) <= 200


def test_hub_survives_concurrent_attach_detach_and_broadcast() -> None:
    hub = InProcessHub(presence_interval=0)
    stop = threading.Event()

    def churn(n: int) -> None:
        box = Box()
        while not stop.is_set():
            hub.attach(f"u{n}", "n", box)
            hub.detach(f"u{n}", box)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for _ in range(2000):
        for sink in hub.everyone():
            sink.put(b"1008|z")
    stop.set()
    for t in threads:
        t.join()
    assert roster_seen_by_newcomer(hub) == ()


# --- server resources: networks, the handshake gate, connection counts, the memory budget ----


def test_addresses_aggregate_into_their_slash24_or_slash64() -> None:
    assert network_key("203.0.113.7") == network_key("203.0.113.250") == "203.0.113.0/24"
    assert network_key("203.0.114.7") != network_key("203.0.113.7")
    assert network_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert network_key("2001:db8:1:2:ffff::9") == network_key("2001:db8:1:2::1")
    assert network_key("::ffff:203.0.113.9") == "203.0.113.0/24"  # IPv4-mapped counts as v4
    assert network_key("not an address") == "not an address"


def test_the_gate_runs_at_most_workers_and_refuses_past_its_queue() -> None:
    gate = HandshakeGate(workers=2, queue=1)
    assert gate.enter(0.0) and gate.enter(0.0)
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: entered.set() if gate.enter(5.0) else None)
    waiter.start()
    for _ in range(500):  # until the waiter holds the one queue place
        if gate.waiting == 1:
            break
        threading.Event().wait(0.01)
    assert gate.waiting == 1
    assert not gate.enter(5.0)  # queue full: refused at once, not after 5 s
    gate.leave()
    waiter.join(5.0)
    assert entered.is_set() and gate.peak == 2


def test_connection_counts_cap_addresses_networks_and_pending() -> None:
    counts = ConnectionCounts(max_total=100, max_pending=5, per_address=2, per_network=3)
    assert counts.admit("10.0.0.1") == counts.admit("10.0.0.1") == ""
    assert "address" in counts.admit("10.0.0.1")
    assert counts.admit("10.0.0.2") == ""
    assert "10.0.0.0/24" in counts.admit("10.0.0.3")  # the /24 is full
    assert counts.admit("10.0.1.1") == counts.admit("10.0.2.1") == ""
    assert "not logged in" in counts.admit("10.0.3.1")  # five pending
    counts.logged_in()
    assert counts.admit("10.0.3.1") == ""
    counts.release("10.0.0.1", pending=True)
    assert counts.admit("10.0.0.3") == ""  # the /24 has room again


def test_pending_connections_never_take_the_last_places() -> None:
    counts = ConnectionCounts(max_total=20, max_pending=1_000, per_address=100, per_network=100)
    assert counts.max_pending == 18  # a tenth of the places is kept for logged-in users
    for _ in range(18):
        assert counts.admit("10.0.0.1") == ""
    assert "not logged in" in counts.admit("10.0.0.1")
    counts.logged_in()
    assert counts.admit("10.0.0.1") == ""


def test_the_memory_budget_names_its_biggest_holder() -> None:
    budget = MemoryBudget(1_000)
    small, big = object(), object()
    assert budget.take(300, small) and budget.take(600, big)
    assert not budget.take(200, small) and budget.used == 900
    assert budget.biggest() is big
    budget.give_back(600, big)
    assert budget.take(200, small) and budget.biggest() is small
    budget.give_back(10_000, small)  # never more than it holds
    assert budget.used == 0 and budget.biggest() is None


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip("needs a finite hard descriptor limit above 256")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        assert raise_descriptor_limit() == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
