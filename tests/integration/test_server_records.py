"""Records on a live server: a record may carry only so many messages, and a connection that
failed on one thread ends quietly on the other.

PROTOCOL.md §4 ("Messages per record"): 14 KB of packed ``0004|lobby||200`` once asked for
316 MB of replies. Request buckets limit what is answered, but a record of thousands of
messages still costs a decode and a refusal each; ``CHAT_MAX_MESSAGES_PER_RECORD`` (64) closes
the connection before a single one of them is handled.
"""

from __future__ import annotations

import logging

import pytest

from common.connection import Connection
from common.messages import ChatDelivery, ErrorReply, PingRequest, Pong
from common.protocol import MAX_MESSAGES_PER_RECORD
from tests.integration.conftest_server import LiveServer

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def _packer(live: LiveServer) -> Connection:
    """A client end that packs any number of messages into one record (the attacker's)."""
    return Connection.client(live.public_key, send_messages_per_record=100_000)


def test_a_record_of_a_thousand_pings_closes_the_connection(chat: LiveServer) -> None:
    attacker = chat.client()
    attacker.conn = _packer(chat)
    assert attacker.login("user1").ok
    bystander, listener = chat.login("user2"), chat.login("user3")

    record = attacker.conn.send([PingRequest(str(i)) for i in range(1_000)])
    assert len(record) < 20_000  # one record: the 1,000 pings really travel together
    attacker.send_raw(record)

    assert attacker.closed_by_server()
    answered = [m for m in attacker.inbox if isinstance(m, Pong | ErrorReply)]
    assert answered == []  # closed before any of them was handled (not after 100 refusals)
    bystander.chat_acked("still here")
    got = listener.recv_until(lambda m: isinstance(m, ChatDelivery) and m.text == "still here")
    assert got.sender == "user2"


def test_a_full_record_at_the_limit_is_served(chat: LiveServer) -> None:
    client = chat.client()
    client.conn = _packer(chat)
    assert client.login("user1").ok
    client.send([PingRequest(f"p{i}") for i in range(MAX_MESSAGES_PER_RECORD)])
    assert len(client.sent_records[-1]) < 2_000  # one record
    for i in range(MAX_MESSAGES_PER_RECORD):
        assert client.recv_until(lambda m, n=f"p{i}": isinstance(m, Pong) and m.nonce == n)


def test_the_client_end_never_packs_more_than_a_server_accepts(chat: LiveServer) -> None:
    client = chat.login("user1")  # an ordinary client end
    count = MAX_MESSAGES_PER_RECORD + 26  # two records' worth, within the ping bucket's 100
    client.send([PingRequest(f"q{i}") for i in range(count)])
    for i in range(count):
        assert client.recv_until(lambda m, n=f"q{i}": isinstance(m, Pong) and m.nonce == n)


def test_the_limit_is_a_setting(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(max_messages_per_record=4)
    client = live.client()
    client.conn = _packer(live)
    assert client.login("user1").ok
    client.send([PingRequest(str(i)) for i in range(5)])
    assert client.closed_by_server()
    assert not [m for m in client.inbox if isinstance(m, Pong)]


def test_a_connection_failed_by_its_writer_ends_without_an_internal_error(
    chat: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.listener")
    client = chat.login("user1")
    here = "{}:{}".format(*client.sock.getsockname()[:2])
    with chat.server._lock:  # the server's side of this connection
        peer = next(p for p in chat.server._peers if p.peer == here)
    peer.conn.send_failed()  # what the writer thread does when a socket write fails
    client.send(PingRequest("after"))  # the reader now finds the connection failed
    assert client.closed_by_server()
    messages = [r.getMessage() for r in caplog.records if r.name == "server.listener"]
    assert not [m for m in messages if "internal error" in m]
    assert any("connection failed (the caller's write failed)" in m for m in messages)
