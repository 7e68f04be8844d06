"""The login rules of ``server.accounts`` with in-memory fakes: delay, reservation, decay,
per-address limits, equal work for unknown names, and resume tokens."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from server.accounts import (
    KEY_LOGIN_REQUIRED,
    RESUME_FAILED,
    TOO_MANY_ATTEMPTS,
    WRONG_CREDENTIALS,
    Accounts,
    Identity,
    LockedOut,
    TokenSweeper,
)
from server.options import ServerOptions
from tests.unit.fakes_accounts import FakeAccountStore, FakeClock, FakeHasher

OPTIONS = ServerOptions(
    account_backoff_after=3,
    account_backoff_seconds=2.0,
    login_backoff_cap=60.0,
    login_failure_half_life=600.0,
    login_hashes_per_address=2,
    login_rate=0.001,
    login_burst=1_000,
    max_tokens_per_account=3,
    kdf_memory_kib=64,  # the derivation a password login also runs: cheap here
    kdf_time_cost=1,
    kdf_parallelism=1,
)
A, B = "198.51.100.1", "203.0.113.7"


class World:
    def __init__(self, **changes: Any) -> None:
        import dataclasses

        self.store = FakeAccountStore()
        self.store.add("alice", "right", "Alice")
        self.hasher = FakeHasher()
        self.key_hasher = FakeHasher()  # of authentication keys
        self.clock = FakeClock()
        options = dataclasses.replace(OPTIONS, **changes)
        self.accounts = Accounts(
            self.store, self.hasher, options,  # type: ignore[arg-type]
            wall_clock=self.clock, clock=self.clock,
            key_hasher=self.key_hasher,  # type: ignore[arg-type]
        )

    def login(self, password: str, address: str = A, name: str = "alice") -> Identity | str:
        return self.accounts.login(address, f"{address}:1", name, password)


@pytest.fixture()
def w() -> World:
    return World()


def test_the_delay_starts_after_the_free_attempts_and_doubles(w: World) -> None:
    assert [w.login("x") for _ in range(3)] == [WRONG_CREDENTIALS] * 3
    assert w.login("right") == TOO_MANY_ATTEMPTS  # refused unchecked
    assert len(w.hasher.verified) == 3
    w.clock.advance(2.0)  # the first delay is over
    assert w.login("x") == WRONG_CREDENTIALS
    w.clock.advance(2.0)
    assert w.login("right") == TOO_MANY_ATTEMPTS  # the second delay is about 4 s
    w.clock.advance(2.1)
    assert isinstance(w.login("right"), Identity)
    assert ("alice", A) not in w.store.attempts  # a success forgives this address


def test_the_delay_is_capped(w: World) -> None:
    for _ in range(40):
        w.login("x")
        w.clock.advance(61.0)  # the cap: every attempt is allowed again after it
    assert w.login("x") == WRONG_CREDENTIALS


def test_failures_decay_with_time(w: World) -> None:
    for _ in range(3):
        w.login("x")
    w.clock.advance(8 * 600.0)  # eight half-lives: the three failures count as 0.01
    assert [w.login("x") for _ in range(2)] == [WRONG_CREDENTIALS] * 2
    assert w.store.attempts[("alice", A)].failures == pytest.approx(2.01, abs=0.01)
    assert isinstance(w.login("right"), Identity)  # still within the free attempts


def test_failures_from_one_address_do_not_delay_another(w: World) -> None:
    for _ in range(10):
        w.login("x", address=A)
    assert w.login("right", address=A) == TOO_MANY_ATTEMPTS
    assert isinstance(w.login("right", address=B), Identity)


def test_a_resume_token_is_never_locked_out_by_failures(w: World) -> None:
    first = w.login("right", address=B)
    assert isinstance(first, Identity)
    for _ in range(10):
        w.login("x", address=A)
    resumed = w.accounts.resume(B, "b:1", "alice", first.resume_token)
    assert isinstance(resumed, Identity)


def test_unknown_names_and_real_accounts_do_the_same_work(w: World) -> None:
    assert w.login("x", name="alice") == w.login("x", name="nobody") == WRONG_CREDENTIALS
    real, unknown = w.store.calls[:2], w.store.calls[2:4]
    assert [c[0] for c in real] == [c[0] for c in unknown]
    assert [c[0] for c in real] == ["reserve_login_attempt", "get_user"]
    assert len(w.hasher.verified) == 2 and w.hasher.verified[1] is None  # a dummy verify
    for _ in range(2):
        w.login("x", name="nobody")
    assert w.login("x", name="nobody") == TOO_MANY_ATTEMPTS  # the same delay


@pytest.mark.parametrize("name", ["u" * 65_536, "user2 ", "", "a|b", "ü", "x" * 33])
def test_impossible_names_cost_no_database_or_hash_work(w: World, name: str) -> None:
    assert w.login("x", name=name) == WRONG_CREDENTIALS
    assert w.store.calls == [] and w.hasher.verified == [] and w.store.attempts == {}


def test_an_over_long_password_costs_nothing(w: World) -> None:
    assert w.login("p" * (OPTIONS.max_password + 1)) == WRONG_CREDENTIALS
    assert w.store.calls == [] and w.hasher.verified == []


def test_every_attempt_takes_a_token_up_front_and_a_success_gives_it_back() -> None:
    w = World(login_burst=2)
    for _ in range(5):
        assert isinstance(w.login("right"), Identity)  # successes cost nothing
    assert w.login("x", name="nobody1") == WRONG_CREDENTIALS
    assert w.login("x", name="nobody2") == WRONG_CREDENTIALS
    assert w.login("right") == TOO_MANY_ATTEMPTS
    assert len(w.hasher.verified) == 7


def _in_background(w: World, calls: list[tuple[str, str, str]]) -> list[threading.Thread]:
    threads = [
        threading.Thread(target=w.login, args=(pw, addr, name)) for name, pw, addr in calls
    ]
    for t in threads:
        t.start()
    return threads


def test_an_address_has_few_checks_in_flight_and_the_rest_wait(w: World) -> None:
    w.hasher.hold.clear()
    threads = _in_background(w, [("alice", "x", A), ("bob", "x", A), ("carol", "x", A)])
    assert w.hasher.entered.acquire(timeout=5) and w.hasher.entered.acquire(timeout=5)
    assert not w.hasher.entered.acquire(timeout=0.3)  # the third waits for a slot
    assert ("carol", A) not in w.store.attempts  # not even reserved yet
    w.hasher.hold.set()
    for t in threads:
        t.join(5)
    assert w.hasher.most_inside == 2 and len(w.hasher.verified) == 3


def test_a_login_that_cannot_start_in_time_is_refused() -> None:
    w = World(handshake_timeout=0.2)
    w.hasher.hold.clear()
    threads = _in_background(w, [("alice", "x", A), ("bob", "x", A)])
    assert w.hasher.entered.acquire(timeout=5) and w.hasher.entered.acquire(timeout=5)
    assert w.login("x", name="carol") == TOO_MANY_ATTEMPTS
    w.hasher.hold.set()
    for t in threads:
        t.join(5)


def test_one_account_is_checked_once_at_a_time(w: World) -> None:
    w.hasher.hold.clear()
    threads = _in_background(w, [("alice", "x", A), ("alice", "y", B)])
    assert w.hasher.entered.acquire(timeout=5)
    assert not w.hasher.entered.acquire(timeout=0.3)  # the second waits its turn
    w.hasher.hold.set()
    for t in threads:
        t.join(5)
    assert w.hasher.most_inside == 1 and len(w.hasher.verified) == 2


def test_logout_revokes_the_token_it_was_given(w: World) -> None:
    identity = w.login("right")
    assert isinstance(identity, Identity)
    w.accounts.logout(identity.token_hash)
    assert w.accounts.resume(A, "a:1", "alice", identity.resume_token) == RESUME_FAILED


def test_an_account_keeps_its_newest_tokens_only(w: World) -> None:
    issued = []
    for _ in range(5):
        identity = w.login("right")
        assert isinstance(identity, Identity)
        issued.append(identity)
        w.clock.advance(1.0)
    assert len(w.store.tokens) == OPTIONS.max_tokens_per_account
    assert w.accounts.resume(A, "a:1", "alice", issued[0].resume_token) == RESUME_FAILED
    assert isinstance(w.accounts.resume(A, "a:1", "alice", issued[-1].resume_token), Identity)


def test_sweep_deletes_expired_tokens_and_idle_failure_rows(w: World) -> None:
    identity = w.login("right")
    assert isinstance(identity, Identity)
    w.login("x", name="nobody")
    w.clock.advance(OPTIONS.resume_token_ttl + 1)
    assert w.accounts.sweep() == 2
    assert w.store.tokens == {} and w.store.attempts == {}


def test_resume_with_an_impossible_name_touches_nothing(w: World) -> None:
    identity = w.login("right")
    assert isinstance(identity, Identity)
    w.store.calls.clear()
    assert w.accounts.resume(A, "a:1", "alice ", identity.resume_token) == RESUME_FAILED
    assert w.store.calls == []


class _SweepCounter:
    def __init__(self) -> None:
        self.swept = threading.Event()

    def sweep(self) -> int:
        self.swept.set()
        return 1


def test_the_sweeper_thread_sweeps_without_any_login_and_stops() -> None:
    target = _SweepCounter()
    sweeper = TokenSweeper(target, interval=0.01)  # type: ignore[arg-type]
    sweeper.start()
    try:
        assert target.swept.wait(10.0)
    finally:
        sweeper.stop()
    assert not sweeper.alive


def test_the_refusal_during_the_delay_says_how_long_is_left(w: World) -> None:
    for _ in range(3):
        w.login("x")
    locked = w.login("right")
    assert isinstance(locked, LockedOut) and locked == TOO_MANY_ATTEMPTS
    assert locked.seconds == 2  # the first delay: 2 s, rounded up to whole seconds
    w.clock.advance(1.5)
    later = w.login("right")
    assert isinstance(later, LockedOut) and later.seconds == 1


# --- key login (PROTOCOL.md §8) -------------------------------------------------------------


def _key_row(w: World, name: str, password: str) -> None:
    """Turn ``name`` into a key row as its first password login does."""
    assert isinstance(w.login(password, name=name), Identity)
    assert w.store.users[name].kdf is not None


def test_a_password_login_costs_the_same_for_old_rows_key_rows_and_unknown_names() -> None:
    w = World()
    w.store.add("bob", "pw-b")
    _key_row(w, "bob", "pw-b")
    w.hasher.verified.clear()
    w.key_hasher.verified.clear()
    for name in ("alice", "bob", "nobody"):  # an old row, a key row, no account
        w.login("wrong", B, name)
    assert len(w.hasher.verified) == 3 and len(w.key_hasher.verified) == 3  # one each per try


def test_parameters_of_an_unknown_name_are_stable_and_look_like_an_account() -> None:
    w = World()
    w.store.add("bob", "pw-b")
    _key_row(w, "bob", "pw-b")
    w.store.calls.clear()
    real = w.accounts.kdf_params(A, "p", "bob")
    ghost = w.accounts.kdf_params(A, "p", "ghost")
    assert w.store.call_names() == ["get_user", "get_user"]  # the same statements
    assert not isinstance(real, str) and not isinstance(ghost, str)
    assert (real.memory_kib, real.time_cost, real.parallelism, len(real.salt)) == (
        ghost.memory_kib, ghost.time_cost, ghost.parallelism, len(ghost.salt))
    assert w.accounts.kdf_params(A, "p", "ghost") == ghost
    old = w.accounts.kdf_params(A, "p", "alice")  # an old row announces what it will migrate to
    assert isinstance(w.login("right"), Identity)
    assert w.accounts.kdf_params(A, "p", "alice") == old


def test_parameter_requests_are_rate_limited_per_address() -> None:
    w = World(prelogin_rate=0.001, prelogin_burst=3)
    assert all(not isinstance(w.accounts.kdf_params(A, "p", f"n{i}"), str) for i in range(3))
    assert w.accounts.kdf_params(A, "p", "n4") == TOO_MANY_ATTEMPTS
    assert not isinstance(w.accounts.kdf_params(B, "p", "n4"), str)  # another address


def test_with_legacy_login_off_no_password_is_checked() -> None:
    w = World(legacy_password_login=False)
    assert w.login("right") == KEY_LOGIN_REQUIRED
    assert w.hasher.verified == [] and w.store.calls == []
