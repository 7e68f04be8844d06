"""Batched presence through the live server: what each client sees stays exact and in order.

The hub batches ``1005`` lines (one item per connection per flush); these tests check, over
real sockets and the real writer threads, that a crowd logging in at once still leaves every
connection with the right idea of who is online, that a newcomer's roster comes first, that a
chat from someone who just logged in never overtakes their ``join``, and that the presence
flusher stops with the server.
"""

from __future__ import annotations

import threading

import pytest

from common.messages import ChatDelivery, LoginResult, PresenceEvent, RosterUpdate
from server.options import ServerOptions
from server.store import Store
from tests.support.chat_client import ChatClient

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

CROWD = [f"crowd{n:02d}" for n in range(12)]


@pytest.fixture(scope="module")
def crowd_db(demo_db, demo_password_hash: str):
    """The demo accounts plus a crowd that logs in at once."""
    store = Store(demo_db)
    try:
        for name in CROWD:
            store.add_user(name, f"nick-{name}", demo_password_hash)
    finally:
        store.close()
    return demo_db


def view_until(client: ChatClient, last_join: str) -> dict[str, str]:
    """The client's view of who is online, read up to and including ``join last_join``.

    Starts from its ``1006`` (which must come first of the presence messages) and applies each
    ``join``/``leave`` in order, failing on a join of someone already shown or a leave of
    someone absent.
    """
    online: dict[str, str] | None = None
    while True:
        message = client.recv_until(
            lambda m: isinstance(m, RosterUpdate | PresenceEvent), timeout=15
        )
        if isinstance(message, RosterUpdate):
            assert online is None, "a second roster"
            online = dict(message.users)
            if last_join in online:
                return online
            continue
        assert online is not None, f"{message} before the roster"
        if message.event == "join":
            assert message.username not in online, f"join of {message.username} twice"
            online[message.username] = message.nickname
            if message.username == last_join:
                return online
        else:
            assert message.username in online, f"leave of {message.username} before its join"
            del online[message.username]


def test_a_crowd_logging_in_at_once_leaves_every_view_exact(chat, crowd_db) -> None:
    watcher = chat.client()
    assert watcher.login("user1").ok
    clients = [chat.client() for _ in CROWD]
    results: dict[str, LoginResult] = {}

    def log_in(client: ChatClient, name: str) -> None:
        results[name] = client.login(name, timeout=15)

    threads = [
        threading.Thread(target=log_in, args=(c, name))
        for c, name in zip(clients, CROWD, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[name].ok for name in CROWD)
    marker = chat.client()  # the last join: everyone has seen all others once they see it
    assert marker.login("user2").ok
    expected = {"user1": "wang_yuan", "user2": "ding_zhen"}
    expected.update({name: f"nick-{name}" for name in CROWD})
    for client in [watcher, *clients, marker]:
        assert view_until(client, "user2") == expected
    # Leaving is batched too: the watcher sees every leave, after the join it pairs with.
    for client in clients:
        client.close()
    left: set[str] = set()
    while left != set(CROWD):
        message = watcher.recv_until(lambda m: isinstance(m, PresenceEvent), timeout=15)
        assert message.event == "leave" and message.username in CROWD
        assert message.username not in left
        left.add(message.username)


def test_a_chat_right_after_login_never_overtakes_the_join(chat) -> None:
    watcher = chat.login("user1")
    newcomer = chat.client()
    assert newcomer.login("user3").ok
    newcomer.chat("first words")  # sent at once, while the join may still be pending
    heard = watcher.recv_until(lambda m: isinstance(m, ChatDelivery) and m.sender == "user3")
    assert heard.text == "first words"
    before = list(watcher.inbox)  # what arrived ahead of the chat stays queued, in order
    assert PresenceEvent("join", "user3", "cxk") in before


def test_the_presence_flusher_stops_with_the_server(make_server) -> None:
    before = set(threading.enumerate())
    live = make_server()
    live.login("user1")
    live.login("user2")
    flushers = [t for t in set(threading.enumerate()) - before if t.name == "presence-flush"]
    assert len(flushers) == 1
    live.close_clients()
    live.server.stop()
    assert not any(t.is_alive() for t in flushers)


STORM_CYCLES = 30


def storm(live, username: str = "user1") -> list[LoginResult]:
    """One account connecting, logging in (or resuming with its last token) and dropping the
    connection, again and again, as fast as the server answers."""
    results: list[LoginResult] = []
    token = ""
    for _ in range(STORM_CYCLES):
        client = live.client()
        result = client.resume(username, token) if token else client.login(username)
        results.append(result)
        if result.ok:
            token = result.detail
        client.close()
    return results


def presence_before_chat(observer: ChatClient, marker: ChatClient) -> list[PresenceEvent]:
    """The presence lines the observer got before the marker's chat (which flushes them)."""
    marker.chat("after the storm")
    observer.recv_until(lambda m: isinstance(m, ChatDelivery) and m.sender == marker_name(marker))
    return [m for m in observer.inbox if isinstance(m, PresenceEvent)]


def marker_name(client: ChatClient) -> str:
    assert client.login_result is not None and client.login_result.ok
    return client.login_result.username


def test_a_login_storm_of_one_account_reaches_nobody(make_server) -> None:
    live = make_server(
        presence_interval=3_600.0,  # one flush, made by the marker's chat: no timing involved
        account_login_rate=0.0,
        account_login_burst=10,
        max_conns_per_account=100,  # dropped connections may linger a moment
    )
    observer = live.login("user2")
    results = storm(live)
    assert sum(r.ok for r in results) == 10
    assert {r.detail for r in results if not r.ok} == {"too many attempts, try again later"}
    marker = live.login("user3")
    seen = presence_before_chat(observer, marker)
    assert [(m.event, m.username) for m in seen] == [("join", "user3")]


def test_a_login_storm_at_the_default_limits_is_a_few_lines(make_server) -> None:
    defaults = ServerOptions()
    live = make_server(
        account_login_rate=defaults.account_login_rate,
        account_login_burst=defaults.account_login_burst,
        max_conns_per_account=100,
    )
    observer = live.login("user2")
    results = storm(live)
    assert sum(r.ok for r in results) < STORM_CYCLES  # the account's bucket ran dry
    marker = live.login("user3")
    seen = presence_before_chat(observer, marker)
    storm_lines = [m for m in seen if m.username == "user1"]
    assert len(storm_lines) <= 2 * sum(r.ok for r in results)
