"""History equals what was delivered, in order, paged; a resend is stored and relayed once."""

from __future__ import annotations

import pytest

from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    DirectDelivery,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
)

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def page(client, conversation: str, before: int | None, limit: int):
    """One history page: (rows, HistoryEnd); live messages still in flight are dropped first."""
    client.collect(0.2)
    client.send(HistoryRequest(conversation, before, limit))
    rows = []
    while True:
        m = client.recv_until(
            lambda m: isinstance(m, ChatDelivery | DirectDelivery | HistoryEnd | ErrorReply)
        )
        if isinstance(m, HistoryEnd | ErrorReply):
            return rows, m
        rows.append(m)


def test_history_is_what_was_delivered_in_order_and_pages(chat) -> None:
    alice, bob = chat.login("user1"), chat.login("user2")
    delivered = []
    for i in range(25):
        text = f"history line {i} | 史"
        alice.chat_acked(text)
        got = bob.recv_until(lambda m, t=text: isinstance(m, ChatDelivery) and m.text == t)
        delivered.append((got.msg_id, got.sender, got.text, got.sent_ms))
    fetched: list[tuple[int, str, str, int]] = []
    before = None
    mores = []
    while True:
        rows, end = page(bob, "lobby", before, 10)
        assert isinstance(end, HistoryEnd) and end.conversation == "lobby"
        fetched = [(r.msg_id, r.sender, r.text, r.sent_ms) for r in rows] + fetched
        mores.append(end.more)
        if rows:
            assert end.oldest_msg_id == rows[0].msg_id
            assert [r.msg_id for r in rows] == sorted(r.msg_id for r in rows)  # oldest first
        if not end.more:
            break
        before = end.oldest_msg_id
    assert mores == [True, True, False]
    assert fetched[-25:] == delivered


def test_direct_history_is_shared_by_both_and_private(chat) -> None:
    alice, bob, carol = chat.login("user1"), chat.login("user2"), chat.login("user3")
    ids = [alice.wait_ack(alice.direct("user2", f"dm {i}")).msg_id for i in range(3)]
    ids.append(bob.wait_ack(bob.direct("user1", "dm back")).msg_id)
    from_alice, _ = page(alice, "@user2", None, 50)
    from_bob, _ = page(bob, "@user1", None, 50)
    assert [r.msg_id for r in from_alice] == [r.msg_id for r in from_bob] == ids
    assert all(isinstance(r, DirectDelivery) for r in from_alice)
    snoop_rows, _ = page(carol, "@user1", None, 50)
    snoop_rows2, _ = page(carol, "@user2", None, 50)
    assert not {r.msg_id for r in snoop_rows + snoop_rows2} & set(ids)


def test_limit_is_clamped(chat) -> None:
    alice = chat.login("user1")
    for i in range(3):
        alice.chat_acked(f"clamp {i}")
    rows, end = page(alice, "lobby", None, 0)
    assert len(rows) == 1 and end.more
    rows, end = page(alice, "lobby", None, 10_000)
    assert 3 <= len(rows) <= 200


@pytest.mark.parametrize("conversation", ["#general", "dm:user1:user2", "", "@"])
def test_bad_conversation_names(chat, conversation: str) -> None:
    alice = chat.login("user1")
    _, end = page(alice, conversation, None, 10)
    assert isinstance(end, ErrorReply) and end.code_word == "bad_request"


def test_resend_with_same_client_msg_id_is_stored_and_relayed_once(chat) -> None:
    alice, bob = chat.login("user1"), chat.login("user2")
    first = alice.chat_acked("only once, please", "same-id-1")
    second = alice.chat_acked("only once, please", "same-id-1")
    assert (second.msg_id, second.sent_ms) == (first.msg_id, first.sent_ms)
    # after a reconnect, from another connection, it is still the same message
    again = chat.login("user1").chat_acked("only once, please", "same-id-1")
    assert again.msg_id == first.msg_id
    relayed = [m for m in bob.collect(0.5) if isinstance(m, ChatDelivery)]
    assert [m.msg_id for m in relayed if m.text == "only once, please"] == [first.msg_id]
    rows, _ = page(bob, "lobby", None, 200)
    assert [r.msg_id for r in rows if r.text == "only once, please"] == [first.msg_id]


def test_client_msg_ids_are_per_account(chat) -> None:
    alice, bob = chat.login("user1"), chat.login("user2")
    a = alice.chat_acked("alice's", "shared-id")
    b = bob.chat_acked("bob's", "shared-id")
    assert a.msg_id != b.msg_id


def test_group_commit_batches_under_load(chat) -> None:
    clients = [chat.login(u) for u in ("user1", "user2", "user3") for _ in range(3)]
    before = chat.committer.batches, chat.committer.messages
    for round_ in range(10):
        for n, c in enumerate(clients):
            c.send(ChatRequest("lobby", f"load-{round_}-{n}", f"load {round_} {n}"))
    for round_ in range(10):
        for n, c in enumerate(clients):
            c.recv_until(lambda m, k=f"load-{round_}-{n}": isinstance(m, Ack)
                         and m.client_msg_id == k)
    batches = chat.committer.batches - before[0]
    messages = chat.committer.messages - before[1]
    assert messages == 90
    assert batches <= messages  # usually far fewer: several messages share a commit
