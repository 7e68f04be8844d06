"""Limits and room rules that must hold for a cluster as a whole: two real server processes,
one real Redis, the real MariaDB (no mocks).

Each test performs the attack or the race through BOTH nodes: a per-node count would let
connections spread over two nodes hold twice the limit, and a per-node room cache would let a
removed member go on hearing (and speaking in) the room through the other node.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from common.messages import ChatDelivery, ChatRequest
from common.messages_rooms import (
    CreateRoomRequest,
    JoinRoomRequest,
    RemoveMemberRequest,
    RoomInfo,
    RoomLeft,
)
from server.store import DbParams
from tests.integration.cluster_support import Node, PrivateRedis, start_node
from tests.integration.rooms_helpers import conversations, expect, heard_in, refusal, say
from tests.support.chat_client import ChatClient

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


def pair(tmp_path: Path, db: DbParams, key: RSA.RsaKey, url: str,
         **settings: str) -> tuple[Node, Node]:
    a = start_node(tmp_path, "a", db, key, url, **FAST, **settings)
    try:
        return a, start_node(tmp_path, "b", db, key, url, **FAST, **settings)
    except BaseException:
        a.kill()
        raise


def peer(node: Node, key: RSA.RsaKey) -> ChatClient:
    return ChatClient("127.0.0.1", node.port, key.public_key())


def admitted(node: Node, key: RSA.RsaKey, within: float = 15.0) -> ChatClient:
    """A connection with its handshake done, once the place is free: a connection that just
    closed (a node's start-up probe, one the test closed) is counted until its node has seen
    the close, which takes a moment on a loaded machine."""
    deadline = time.monotonic() + within
    while True:
        client = peer(node, key)
        try:
            client.handshake(timeout=5)
            return client
        except Exception:  # refused at accept: any failure of the hello
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_connections_per_account_hold_for_the_cluster(
    tmp_path: Path, demo_db: DbParams, live_server_key: RSA.RsaKey, bus: PrivateRedis
) -> None:
    """The attack: one password, connections spread over two nodes to hold twice the cap.
    Then the node holding them dies: its counts expire with its heartbeat."""
    a, b = pair(tmp_path, demo_db, live_server_key, bus.url, max_conns_per_account="2")
    try:
        held = [peer(a, live_server_key), peer(b, live_server_key)]
        assert all(p.login("user3").ok for p in held)
        for node in (a, b):  # each node holds one: a count per node would let both in
            assert not peer(node, live_server_key).login("user3").ok
        a.kill()  # dies without a word, holding one of the two
        deadline = time.monotonic() + 10
        while not peer(b, live_server_key).login("user3").ok:
            assert time.monotonic() < deadline, "a dead node's connections kept counting"
            time.sleep(0.5)
    finally:
        a.kill()
        b.kill()


def test_connections_per_address_hold_for_the_cluster(
    tmp_path: Path, demo_db: DbParams, live_server_key: RSA.RsaKey, bus: PrivateRedis
) -> None:
    """The attack: one address opens its per-address limit on each node."""
    a, b = pair(tmp_path, demo_db, live_server_key, bus.url, max_conns_per_addr="3")
    try:
        held = [admitted(a, live_server_key), admitted(a, live_server_key),
                admitted(b, live_server_key)]
        extra = peer(b, live_server_key)  # B holds one: alone it would take two more
        with pytest.raises(Exception):  # noqa: B017 - closed at accept: any failure of the hello
            extra.handshake(timeout=5)
        held.pop().close()  # one place freed in the cluster: the next is let in
        admitted(b, live_server_key)
    finally:
        a.kill()
        b.kill()


def test_room_changes_and_opt_in_hold_across_nodes(
    tmp_path: Path, demo_db: DbParams, live_server_key: RSA.RsaKey, bus: PrivateRedis
) -> None:
    """A member removed through node A stops hearing (and speaking in) the room on node B at
    once, though B cached the room with them in it; a window of the old contract on node B
    (never sent a room request) gets no room traffic committed on A."""
    a, b = pair(tmp_path, demo_db, live_server_key, bus.url)
    try:
        room = f"c{uuid.uuid4().hex[:12]}"
        alice = peer(a, live_server_key)
        assert alice.login("user1").ok
        conversations(alice)  # opted in
        alice.send(CreateRoomRequest(room, "", False))
        expect(alice, RoomInfo, lambda m: m.name == room)
        bob, carol = peer(b, live_server_key), peer(b, live_server_key)
        assert bob.login("user2").ok and carol.login("user3").ok
        for who in (bob, carol):
            conversations(who)
            who.send(JoinRoomRequest(room))
            expect(who, RoomInfo, lambda m: m.name == room)
        old_bob = peer(b, live_server_key)  # bob's second window: lobby only, old contract
        assert old_bob.login("user2").ok
        say(alice, room, "to the room from A")
        heard_in(bob, room, "to the room from A")
        alice.chat_acked("to the lobby from A")
        lines = old_bob.collect(1.5)
        assert [m.text for m in lines if isinstance(m, ChatDelivery)] == ["to the lobby from A"]

        say(carol, room, "B caches the room now")  # committed on B, from B's cache
        heard_in(bob, room, "B caches the room now")
        alice.send(RemoveMemberRequest(room, "user2"))
        expect(bob, RoomLeft, lambda m: m.name == room and m.how == "removed")  # relayed
        say(carol, room, "after the removal")  # committed on B: its cache must know
        after = bob.collect(1.5)
        assert not [m for m in after if isinstance(m, ChatDelivery) and m.room == room]
        bob.send(ChatRequest(room, uuid.uuid4().hex, "still here?"))
        assert refusal(bob).code_word == "forbidden"
    finally:
        a.kill()
        b.kill()
