"""Admission budgets: logins per (account, network), connections per account, cheap requests.

The login bucket is shown by logging in through the service (fakes for the store and hasher),
the way a storm of reconnects arrives; the rest directly on ``Admission`` with a fake clock.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from common.messages import LoginRequest, LoginResult
from common.protocol import LoginRefusal
from server.admission import Admission
from server.connection_state import ConnectionState
from tests.unit.test_server_service import OPTIONS, PASSWORD, Sink, World


def log_in(world: World, address: str, username: str = "alice") -> LoginResult:
    sink = Sink()
    conn = ConnectionState(address, f"{address}:1", sink)
    assert world.service.on_message(conn, LoginRequest(username, PASSWORD))
    (result,) = sink.take()
    assert isinstance(result, LoginResult)
    if result.ok:
        world.service.on_disconnect(conn, "cycled")
    return result


def test_an_account_cycling_logins_is_refused_past_its_burst() -> None:
    world = World(replace(OPTIONS, account_login_rate=0.0, account_login_burst=3))
    results = [log_in(world, "10.0.0.1") for _ in range(5)]
    assert [r.ok for r in results] == [True, True, True, False, False]
    assert results[-1] == LoginResult.refused(LoginRefusal.TOO_MANY_ATTEMPTS)
    assert log_in(world, "10.0.0.1", "bob").ok  # another account from the same network


def test_the_owner_logs_in_from_another_network_while_one_network_is_refused() -> None:
    world = World(replace(OPTIONS, account_login_rate=0.0, account_login_burst=2))
    for _ in range(2):
        log_in(world, "203.0.113.9")
    assert not log_in(world, "203.0.113.200").ok  # the same /24: the same bucket
    assert log_in(world, "198.51.100.4").ok  # the owner elsewhere is not affected


def test_the_login_bucket_refills() -> None:
    now = [0.0]
    admission = Admission(
        replace(OPTIONS, account_login_rate=1.0, account_login_burst=2), lambda: now[0]
    )
    assert admission.may_log_in("alice", "10.0.0.1")
    assert admission.may_log_in("alice", "10.0.0.2")
    assert not admission.may_log_in("alice", "10.0.0.3")
    now[0] += 1.0
    assert admission.may_log_in("alice", "10.0.0.1")
    assert not admission.may_log_in("alice", "10.0.0.1")


def test_account_slots_are_counted_and_given_back() -> None:
    admission = Admission(replace(OPTIONS, max_conns_per_account=2))
    assert admission.claim_account_slot("alice") and admission.claim_account_slot("alice")
    assert not admission.claim_account_slot("alice")
    assert admission.claim_account_slot("bob")
    admission.release_account_slot("alice")
    assert admission.claim_account_slot("alice")


def test_names_that_cannot_be_accounts_get_no_bucket() -> None:
    admission = Admission(replace(OPTIONS, account_login_rate=0.0, account_login_burst=1))
    huge = "x" * 65_536
    assert all(admission.may_log_in(huge, "10.0.0.1") for _ in range(3))  # accounts refuses it
    assert len(admission._logins) == 0


def test_a_login_burst_below_one_is_refused_when_the_service_is_built() -> None:
    with pytest.raises(ValueError, match="burst"):
        Admission(replace(OPTIONS, account_login_burst=0))
