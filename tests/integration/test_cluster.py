"""Several real server processes over one MariaDB and one real Redis (no mocks of either).

What a cluster promises: a message sent through one node reaches the clients of another;
presence and the roster are global; Redis dying in the middle of a flood and a node dying
lose nothing acknowledged and deliver nothing twice.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from common.messages import (
    Ack,
    ChatDelivery,
    DirectDelivery,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    PresenceEvent,
    RosterUpdate,
)
from common.protocol import LOBBY
from server.store import DbParams
from tests.integration.cluster_support import Node, PrivateRedis, start_node
from tests.support.chat_client import ChatClient, ServerClosed

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

FAST = {"msg_rate": "100000", "msg_burst": "100000"}


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def two_nodes(
    tmp_path: Path, demo_db: DbParams, live_server_key: RSA.RsaKey, bus: PrivateRedis
) -> Iterator[tuple[Node, Node]]:
    a = start_node(tmp_path, "a", demo_db, live_server_key, bus.url, **FAST)
    try:
        b = start_node(tmp_path, "b", demo_db, live_server_key, bus.url, **FAST)
    except BaseException:
        a.kill()
        raise
    try:
        yield a, b
    finally:
        a.kill()
        b.kill()


def client(node: Node, key: RSA.RsaKey, user: str) -> ChatClient:
    peer = ChatClient("127.0.0.1", node.port, key.public_key())
    assert peer.login(user).ok
    return peer


def deliveries(peer: ChatClient, wanted: set[int], timeout: float) -> collections.Counter[int]:
    """Count every lobby delivery ``peer`` gets until all of ``wanted`` came (and a little
    longer, to see a duplicate if there is one)."""
    seen: collections.Counter[int] = collections.Counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= seen.keys():
        for message in peer.collect(0.5):
            if isinstance(message, ChatDelivery):
                seen[message.msg_id] += 1
    for message in peer.collect(1.5):  # anything delivered twice arrives by now
        if isinstance(message, ChatDelivery):
            seen[message.msg_id] += 1
    return seen


def test_messages_presence_and_roster_cross_nodes(
    two_nodes: tuple[Node, Node], live_server_key: RSA.RsaKey
) -> None:
    a, b = two_nodes
    alice = client(a, live_server_key, "user1")
    bob = client(b, live_server_key, "user2")
    # bob's roster at login names alice, who is on the other node
    roster = bob.recv_until(lambda m: isinstance(m, RosterUpdate))
    assert "user1" in dict(roster.users)
    # alice hears bob join though he logged in elsewhere
    alice.recv_until(lambda m: isinstance(m, PresenceEvent) and m.username == "user2"
                     and m.event == "join")
    ack = alice.chat_acked("hello across nodes")
    got = bob.recv_until(lambda m: isinstance(m, ChatDelivery) and m.msg_id == ack.msg_id)
    assert got.text == "hello across nodes" and got.sender == "user1"
    bob.direct("user1", "a direct reply")
    dm = alice.recv_until(lambda m: isinstance(m, DirectDelivery))
    assert dm.text == "a direct reply" and dm.sender == "user2"
    # bob leaves: alice on the other node is told
    bob.close()
    alice.recv_until(lambda m: isinstance(m, PresenceEvent) and m.username == "user2"
                     and m.event == "leave")
    alice.close()


def test_redis_killed_mid_flood_loses_and_duplicates_nothing(
    two_nodes: tuple[Node, Node], live_server_key: RSA.RsaKey, bus: PrivateRedis
) -> None:
    a, b = two_nodes
    alice = client(a, live_server_key, "user1")
    bob = client(b, live_server_key, "user2")  # another node: needs the bus or the catch-up
    carol = client(a, live_server_key, "user3")  # the sender's node: local delivery
    cids = []
    for i in range(300):
        cids.append(alice.chat(f"flood {i}"))
        if i == 80:
            bus.kill()
        if i == 200:
            bus.start()
        time.sleep(0.005)
    acked = {alice.wait_ack(cid, timeout=20).msg_id for cid in cids}
    assert len(acked) == 300
    for peer in (bob, carol):
        seen = deliveries(peer, acked, timeout=20)
        assert acked <= seen.keys(), f"{len(acked - seen.keys())} acked messages never arrived"
        assert max(seen.values()) == 1, "a message was delivered twice"


def test_node_killed_mid_flood_its_client_resumes_elsewhere(
    two_nodes: tuple[Node, Node], live_server_key: RSA.RsaKey
) -> None:
    a, b = two_nodes
    alice = client(a, live_server_key, "user1")
    token = alice.login_result.detail
    bob = client(b, live_server_key, "user2")
    outbox = {}
    for i in range(200):
        try:
            outbox[alice.chat(f"before the crash {i}")] = f"before the crash {i}"
        except OSError:
            break
        if i == 100:
            a.kill()
        time.sleep(0.005)
    acked: dict[str, int] = {}
    try:
        for message in alice.collect(2.0):
            if isinstance(message, Ack):
                acked[message.client_msg_id] = message.msg_id
    except ServerClosed:
        pass
    assert acked, "nothing was acked before the crash"
    # bob on the surviving node learns that alice left, within the presence TTL
    bob.recv_until(lambda m: isinstance(m, PresenceEvent) and m.username == "user1"
                   and m.event == "leave", timeout=10)
    # alice's client fails over to node b, resumes, and resends what was not acked
    again = ChatClient("127.0.0.1", b.port, live_server_key.public_key())
    assert again.resume("user1", token).ok
    for cid, text in outbox.items():
        if cid not in acked:
            again.chat(text, client_msg_id=cid)
    for cid in outbox:
        ack = again.wait_ack(cid, timeout=20) if cid not in acked else None
        if ack is not None:
            acked[cid] = ack.msg_id
    assert len(acked) == len(outbox)
    seen = deliveries(bob, set(acked.values()), timeout=20)
    assert set(acked.values()) <= seen.keys(), "an acked message never reached bob"
    assert max(seen.values()) == 1, "a message was delivered twice"


def test_message_rate_holds_for_the_cluster_not_per_node(
    tmp_path: Path, demo_db: DbParams, live_server_key: RSA.RsaKey, bus: PrivateRedis
) -> None:
    """The attack: spend the burst on node A, then go on sending through node B."""
    slow = {"msg_rate": "0.01", "msg_burst": "5"}
    a = start_node(tmp_path, "ra", demo_db, live_server_key, bus.url, **slow)
    try:
        b = start_node(tmp_path, "rb", demo_db, live_server_key, bus.url, **slow)
        try:
            on_a = client(a, live_server_key, "user3")
            on_b = client(b, live_server_key, "user3")
            for i in range(5):
                on_a.chat_acked(f"burst {i}")
            on_b.chat("one more through the other node")
            reply = on_b.recv_until(lambda m: isinstance(m, (Ack, ErrorReply)))
            assert isinstance(reply, ErrorReply) and reply.code_word == "rate_limited"
        finally:
            b.kill()
    finally:
        a.kill()


def history_down_to(peer: ChatClient, known: int) -> list[int]:
    """What a reconnected client does (``client/traffic.py``, ``GAP_PAGES``): lobby pages
    from the newest back, until a page reaches the newest id it already had."""
    got: list[int] = []
    before: int | None = None
    while True:
        peer.send(HistoryRequest(LOBBY, before, 50))
        page: list[int] = []
        while True:
            message = peer.recv_until(lambda m: isinstance(m, ChatDelivery | HistoryEnd))
            if isinstance(message, HistoryEnd):
                break
            page.append(message.msg_id)
        got.extend(i for i in page if i > known)
        if not message.more or message.oldest_msg_id is None or message.oldest_msg_id <= known:
            return got
        before = message.oldest_msg_id


def test_a_reader_whose_node_dies_catches_up_on_the_other_from_history(
    two_nodes: tuple[Node, Node], live_server_key: RSA.RsaKey
) -> None:
    """Bob reads on node A while Alice floods through node B; A dies. Bob resumes on B and
    pages the lobby's history back to the last id he had: every acked message is his exactly
    once, across what came live and what history gave (more than one page was missed)."""
    a, b = two_nodes
    bob = client(a, live_server_key, "user2")
    token = bob.login_result.detail
    alice = client(b, live_server_key, "user1")
    cids = []
    live: list[int] = []
    for i in range(160):
        cids.append(alice.chat(f"while bob reads {i}"))
        if i == 40:
            live = [m.msg_id for m in bob.collect(1.0) if isinstance(m, ChatDelivery)]
            a.kill()
        time.sleep(0.003)
    acked = [alice.wait_ack(cid, timeout=20).msg_id for cid in cids]
    assert live, "bob heard nothing before his node died"
    again = ChatClient("127.0.0.1", b.port, live_server_key.public_key())
    assert again.resume("user2", token).ok
    missed = history_down_to(again, max(live))
    assert len(missed) > 50, "the gap should take more than one page"
    assert len(missed) == len(set(missed)), "history gave a row twice"
    had = collections.Counter(live + missed)
    assert set(acked) <= had.keys(), f"{len(set(acked) - had.keys())} acked messages lost"
    assert max(had[i] for i in acked) == 1, "an acked message came twice"


def test_a_node_that_starts_delivers_nothing_stored_before_it(
    live_server_key: RSA.RsaKey, tmp_path: Path, demo_db: DbParams, bus: PrivateRedis,
) -> None:
    """The catch-up re-reads a window of ids below its watermark; on a node that has just
    started, that window is history, and its clients must not get it as live messages."""
    a = start_node(tmp_path, "a", demo_db, live_server_key, bus.url, **FAST)
    try:
        alice = client(a, live_server_key, "user1")
        old = {alice.chat_acked(f"before node c {i}").msg_id for i in range(5)}
        a.kill()
        c = start_node(tmp_path, "c", demo_db, live_server_key, bus.url, **FAST)
        try:
            bob = client(c, live_server_key, "user2")
            late = [m.msg_id for m in bob.collect(4.0) if isinstance(m, ChatDelivery)]
            assert not old & set(late), "messages stored before the node started came as live"
        finally:
            c.kill()
    finally:
        a.kill()
