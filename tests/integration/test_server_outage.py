"""The database stops mid-run: the server answers 'unavailable', stays up, and recovers.

Nothing acknowledged is lost: every ``1007`` before, during and after the outage names a row
that history returns once the database is back.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest

from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    PingRequest,
    Pong,
)
from server.accounts import SERVICE_UNAVAILABLE

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def test_database_outage_and_recovery(chat, db_control) -> None:
    alice, bob = chat.login("user1"), chat.login("user2")
    acked = {alice.chat_acked("before the outage").msg_id}
    token = chat.client().login("user3").detail

    db_control.stop()
    try:
        failed = chat.client().login("user2")
        assert not failed.ok and failed.detail == SERVICE_UNAVAILABLE
        assert not chat.client().resume("user3", token).ok

        alice.send(ChatRequest("lobby", "during-1", "typed during the outage"))
        error = alice.recv_until(lambda m: isinstance(m, ErrorReply))
        assert error.code_word == "unavailable"
        alice.direct("user2", "direct during the outage", "during-2")
        assert alice.recv_until(lambda m: isinstance(m, ErrorReply)).code_word == "unavailable"
        alice.send(HistoryRequest("lobby", None, 10))
        assert alice.recv_until(lambda m: isinstance(m, ErrorReply)).code_word == "unavailable"
        assert not any("during" in getattr(m, "text", "") for m in bob.collect(0.3))
        bob.send(PingRequest("alive"))  # the server itself is fine
        assert bob.recv_until(lambda m: isinstance(m, Pong)).nonce == "alive"
    finally:
        db_control.start()

    # The client resends what was not acked, with the same client_msg_id.
    ack = alice.chat_acked("typed during the outage", "during-1")
    acked.add(ack.msg_id)
    got = bob.recv_until(lambda m: isinstance(m, ChatDelivery) and m.msg_id == ack.msg_id)
    assert got.text == "typed during the outage"
    acked.add(alice.chat_acked("after the outage").msg_id)
    assert chat.client().login("user2").ok
    assert chat.client().resume("user3", token).ok  # its token was never consumed

    bob.collect(0.2)
    bob.send(HistoryRequest("lobby", None, 200))
    rows = []
    while not isinstance(m := bob.recv_until(lambda m: isinstance(m, ChatDelivery | HistoryEnd)),
                         HistoryEnd):
        rows.append(m)
    assert acked <= {r.msg_id for r in rows}
    texts = [r.text for r in rows]
    assert texts.count("typed during the outage") == 1


def test_acks_never_precede_the_commit(chat) -> None:
    """Every ack names a row already readable from the database."""
    alice = chat.login("user1")
    for i in range(5):
        alice.send(ChatRequest("lobby", f"commit-{i}", f"committed {i}"))
        ack = alice.recv_until(lambda m: isinstance(m, Ack))
        rows, _ = chat.store.history("lobby", ack.msg_id + 1, 1)
        assert rows and rows[-1].msg_id == ack.msg_id


def test_a_busy_pool_answers_unavailable_and_never_holds_up_the_group_commit(
    demo_db, live_server_key
) -> None:
    """Every shared connection is taken (as by a flood of slow history pages): a history
    request is answered ``unavailable`` once the wait for a connection times out, and a chat
    message is still committed, on the group commit's own connection, and acked."""
    from tests.integration.conftest_server import TEST_OPTIONS, start_live_server

    db = dataclasses.replace(demo_db, pool_size=3, timeout=1.0)  # 2 shared + the commit's
    live = start_live_server(db, live_server_key, TEST_OPTIONS)
    try:
        alice = live.login("user1")
        with contextlib.ExitStack() as held:
            for _ in range(2):
                held.enter_context(live.store._transaction())
            alice.send(HistoryRequest("lobby", None, 10))
            error = alice.recv_until(lambda m: isinstance(m, ErrorReply), timeout=15)
            assert error.code_word == "unavailable"
            ack = alice.chat_acked("committed while the pool is busy")
        alice.send(HistoryRequest("lobby", None, 10))
        alice.recv_until(lambda m: isinstance(m, HistoryEnd))
        stored, _ = live.store.history("lobby", None, 10)
        assert ack.msg_id in {row.msg_id for row in stored}
    finally:
        live.stop()
