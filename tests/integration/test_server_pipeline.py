"""Sends are pipelined: one connection's messages share group commits and keep their order."""

from __future__ import annotations

import uuid

import pytest

from common.messages import Ack, ChatDelivery, ChatRequest, HistoryEnd, HistoryRequest

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def test_a_burst_shares_commits_keeps_order_and_history_waits_for_it(chat) -> None:
    alice, bob = chat.login("user1"), chat.login("user2")
    run = uuid.uuid4().hex[:8]
    ids = [f"{run}-{i:02d}" for i in range(20)]
    texts = [f"burst {cid}" for cid in ids]
    batches_before = chat.committer.batches
    # twenty sends and a history request in ONE record: the reader sees them back to back
    requests = [ChatRequest("lobby", cid, text) for cid, text in zip(ids, texts, strict=True)]
    alice.send([*requests, HistoryRequest("lobby", None, 50)])

    order: list[object] = []
    while not order or not isinstance(order[-1], HistoryEnd):
        order.append(alice.recv_until(lambda m: isinstance(m, Ack | HistoryEnd | ChatDelivery)))
    acks = [m for m in order if isinstance(m, Ack)]
    # all twenty acks came before the history answer ended, in the order sent
    assert [a.client_msg_id for a in acks] == ids
    assert [a.msg_id for a in acks] == sorted(a.msg_id for a in acks)
    # alice saw her twenty live relays, then the history page, which already held all twenty
    burst = [m.text for m in order if isinstance(m, ChatDelivery) and m.text.startswith("burst ")]
    assert burst == texts + texts
    # a reader waiting for each commit would have needed twenty; pipelined they share some
    assert chat.committer.batches - batches_before < 20
    # the room got each exactly once, in order, with the acked ids
    relayed = [
        bob.recv_until(lambda m, t=text: isinstance(m, ChatDelivery) and m.text == t)
        for text in texts
    ]
    assert [r.msg_id for r in relayed] == [a.msg_id for a in acks]
    assert not [m for m in bob.collect(0.3) if isinstance(m, ChatDelivery) and m.text in texts]
