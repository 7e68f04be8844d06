"""Account changes across two real server processes over one MariaDB and one real Redis: a new
nickname, a sign-out elsewhere, a disabled account and a new end-to-end key set reach the
windows on the other node."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from common import messages_account as acct
from common.e2e import to_field
from common.identity import Identity, seal_backup
from common.messages import RosterUpdate
from common.messages_e2e import OwnKeys, PublicKeys, PublishKeysRequest
from server.store import DbParams, Store
from tests.integration.cluster_support import Node, PrivateRedis, start_node
from tests.support.chat_client import ChatClient

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

_serial = itertools.count(1)


@pytest.fixture
def nodes(
    tmp_path: Path, demo_db: DbParams, live_server_key: RSA.RsaKey
) -> Iterator[tuple[Node, Node]]:
    bus = PrivateRedis(tmp_path / "redis")
    bus.start()
    started: list[Node] = []
    try:
        for name in ("a", "b"):
            started.append(start_node(tmp_path, name, demo_db, live_server_key, bus.url))
        yield started[0], started[1]
    finally:
        for node in started:
            node.kill()
        bus.stop()


def account(db: DbParams, password_hash: str, admin: bool = False) -> str:
    name = f"node{next(_serial)}"
    store = Store(db)
    try:
        store.add_user(name, f"Member {name}", password_hash)
        if admin:
            store.set_flag(name, "is_admin", True)
    finally:
        store.close()
    return name


def window(node: Node, key: RSA.RsaKey, name: str) -> ChatClient:
    peer = ChatClient("127.0.0.1", node.port, key.public_key())
    assert peer.login(name).ok
    peer.recv_until(lambda m: isinstance(m, RosterUpdate))
    return peer


def test_account_changes_reach_the_other_node(
    nodes: tuple[Node, Node], demo_db: DbParams, demo_password_hash: str,
    live_server_key: RSA.RsaKey,
) -> None:
    a, b = nodes
    me, boss_name, victim = (account(demo_db, demo_password_hash),
                             account(demo_db, demo_password_hash, admin=True),
                             account(demo_db, demo_password_hash))
    mine = window(a, live_server_key, me)
    elsewhere = window(b, live_server_key, me)
    boss = window(a, live_server_key, boss_name)
    victim_window = window(b, live_server_key, victim)

    mine.send(acct.ChangeNicknameRequest("Across Nodes"))
    seen = victim_window.recv_until(lambda m: isinstance(m, acct.NicknameChanged))
    assert seen == acct.NicknameChanged(me, "Across Nodes")
    late = ChatClient("127.0.0.1", b.port, live_server_key.public_key())
    assert late.login(victim).ok
    roster = late.recv_until(lambda m: isinstance(m, RosterUpdate))
    assert dict(roster.users)[me] == "Across Nodes"

    mine.send(acct.SignOutOthersRequest())
    assert elsewhere.recv_until(lambda m: isinstance(m, acct.SignedOut)).reason == "signed_out"
    assert elsewhere.closed_by_server(5.0)

    boss.send(acct.AdminRequest("disable", victim))
    assert victim_window.recv_until(
        lambda m: isinstance(m, acct.SignedOut)).reason == "disabled"
    assert victim_window.closed_by_server(5.0)
    assert late.recv_until(lambda m: isinstance(m, acct.SignedOut)).reason == "disabled"
    for peer in (mine, boss, late):
        peer.close()


def test_a_new_key_set_is_announced_on_the_other_node(
    nodes: tuple[Node, Node], demo_db: DbParams, demo_password_hash: str,
    live_server_key: RSA.RsaKey,
) -> None:
    """A reset makes new keys; every contact must notice (``1041``), whichever node it is on."""
    a, b = nodes
    me, contact = account(demo_db, demo_password_hash), account(demo_db, demo_password_hash)
    mine, theirs = window(a, live_server_key, me), window(b, live_server_key, contact)
    identity = Identity.generate()
    bundle = to_field(identity.public.to_bytes())
    mine.send(PublishKeysRequest(bundle, to_field(seal_backup(identity, me, bytes(32)))))
    mine.recv_until(lambda m: isinstance(m, OwnKeys))
    heard = theirs.recv_until(lambda m: isinstance(m, PublicKeys) and m.username == me)
    assert heard.bundle == bundle
