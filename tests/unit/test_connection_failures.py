"""h11's failure rule in ``Connection``, and the cap on messages per record.

Any exception out of ``next_event``, ``send`` or ``send_lines`` fails the connection and every
later call refuses; a batch is checked whole before anything is sealed.
"""


from __future__ import annotations

from collections.abc import Iterator

import pytest
from Crypto.PublicKey import RSA

from common.connection import (
    Connection,
)
from common.errors import LocalProtocolError, RemoteProtocolError
from common.framing import MAX_FRAME, FrameDecoder, encode_frame
from common.messages import (
    Ack,
    PingRequest,
    Pong,
)
from common.protocol import MAX_MESSAGES_PER_RECORD
from tests.unit.test_connection import events, pair

# --- the failure rule (h11's): any exception fails the connection, every later call refuses --


def test_a_bad_third_line_seals_nothing_and_fails_the_connection(server_key: RSA.RsaKey) -> None:
    """Two full records' worth of good lines, then a bad one: validation comes before sealing."""
    limit = MAX_FRAME - 16
    for bad in (b"", b"x" * (limit + 1), b"0002|lobby|1|hi\n0006|injected"):
        _, server = pair(server_key)
        server.send(PingRequest("before"))
        lines = [b"0006|" + b"a" * (limit - 5), b"0006|" + b"b" * (limit - 5), bad]
        with pytest.raises(LocalProtocolError, match="message 3 "):
            server.send_lines(lines)
        assert server.records_sent == 1  # the counter did not move: nothing was sealed
        assert server.failed
        with pytest.raises(LocalProtocolError, match="already failed"):
            server.send_lines([b"0006|fine"])
        with pytest.raises(LocalProtocolError, match="already failed"):
            server.next_event()


def test_a_newline_inside_a_line_cannot_smuggle_a_second_message(server_key: RSA.RsaKey) -> None:
    _, server = pair(server_key)
    with pytest.raises(LocalProtocolError, match="newline"):
        server.send_lines([b"0006|x\n1009|bad_request|forged"])
    assert server.records_sent == 0


def test_a_batch_that_would_pass_the_record_limit_seals_nothing(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key, seq_limit=2)
    client.receive_data(server.send(PingRequest("1")))
    limit = MAX_FRAME - 16
    two_records = [b"0006|" + b"a" * (limit - 5), b"0006|" + b"b" * (limit - 5)]
    with pytest.raises(LocalProtocolError, match="2 records needed, 1 left"):
        server.send_lines(two_records)
    assert server.records_sent == 1 and server.failed


def test_a_message_that_cannot_be_encoded_fails_the_connection(server_key: RSA.RsaKey) -> None:
    _, server = pair(server_key)
    with pytest.raises(LocalProtocolError):
        server.send([Ack("1", 1, 1), Ack("2", -1, 1)])
    assert server.records_sent == 0
    with pytest.raises(LocalProtocolError, match="already failed"):
        server.send(Ack("3", 3, 3))


def test_an_iterable_that_raises_fails_the_connection(server_key: RSA.RsaKey) -> None:
    _, server = pair(server_key)

    def lines() -> Iterator[bytes]:
        yield b"0006|one"
        raise RuntimeError("the caller's generator broke")

    with pytest.raises(RuntimeError):
        server.send_lines(lines())
    assert server.records_sent == 0
    with pytest.raises(LocalProtocolError, match="RuntimeError"):
        server.send_lines([b"0006|two"])


def test_next_event_after_a_remote_error_is_our_error(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    wire = bytearray(client.send(PingRequest("a")))
    wire[-1] ^= 1
    server.receive_data(bytes(wire) + client.send(PingRequest("b")))
    with pytest.raises(RemoteProtocolError, match="authentication"):
        server.next_event()
    server.receive_data(client.send(PingRequest("c")))  # ignored: nothing more is read
    for _ in range(2):
        with pytest.raises(LocalProtocolError, match="record failed authentication"):
            server.next_event()


def test_a_local_error_in_next_event_fails_the_connection(server_key: RSA.RsaKey) -> None:
    client = Connection.client(server_key.public_key())
    client.receive_data(encode_frame(b"\x02" * 80))
    with pytest.raises(LocalProtocolError, match="before initiate"):
        client.next_event()
    with pytest.raises(LocalProtocolError, match="already failed"):
        client.next_event()


def test_send_failed_ends_both_directions(server_key: RSA.RsaKey) -> None:
    """The caller's write failed: the peer would never open the next record, so stop here."""
    client, server = pair(server_key)
    server.receive_data(client.send(PingRequest("a")))
    client.send(PingRequest("lost on the wire"))
    client.send_failed()
    assert client.failed and not server.failed
    with pytest.raises(LocalProtocolError, match="write failed"):
        client.send(PingRequest("b"))
    client.receive_data(server.send(Pong("a")))
    with pytest.raises(LocalProtocolError, match="write failed"):
        client.next_event()
    assert events(server) == [PingRequest("a")]  # the other end is untouched


def test_refusals_after_a_failure_are_told_apart_from_the_failure(server_key: RSA.RsaKey) -> None:
    """A reader that finds its connection failed by another thread ends quietly; its own
    local error (a bug) is still one."""
    client = Connection.client(server_key.public_key())
    client.receive_data(encode_frame(b"\x02" * 80))
    with pytest.raises(LocalProtocolError) as first:
        client.next_event()
    assert not client.refused_for_earlier_failure(first.value)  # the bug itself
    with pytest.raises(LocalProtocolError) as later:
        client.next_event()
    assert client.refused_for_earlier_failure(later.value)
    other, _ = pair(server_key)
    other.send_failed()
    with pytest.raises(LocalProtocolError) as refused:
        other.send(PingRequest("x"))
    assert other.refused_for_earlier_failure(refused.value)
    assert other.failure == "the caller's write failed"


# --- messages per record ----------------------------------------------------------------------


def _packed(client: Connection, count: int) -> bytes:
    """``count`` pings in ONE record, as an attacker packs them (past the client's own cap)."""
    client._send_cap = None
    wire = client.send([PingRequest(str(i)) for i in range(count)])
    assert len(FrameDecoder().feed(wire)) == 1
    return wire


def test_a_record_with_too_many_messages_is_fatal(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    server.receive_data(_packed(client, MAX_MESSAGES_PER_RECORD + 1))
    with pytest.raises(RemoteProtocolError, match="65 messages, more than the 64 allowed"):
        server.next_event()  # before a single one of them is handled
    assert server.failed


def test_a_record_at_the_limit_is_accepted(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    server.receive_data(_packed(client, MAX_MESSAGES_PER_RECORD))
    assert events(server) == [PingRequest(str(i)) for i in range(MAX_MESSAGES_PER_RECORD)]


def test_the_server_limit_is_a_constructor_argument(server_key: RSA.RsaKey) -> None:
    client = Connection.client(server_key.public_key(), send_messages_per_record=10_000)
    server = Connection.server(server_key, max_messages_per_record=3)
    server.receive_data(client.initiate())
    events(server)
    client.receive_data(server.data_to_send())
    events(client)
    server.receive_data(client.send([PingRequest(str(i)) for i in range(4)]))
    with pytest.raises(RemoteProtocolError, match="more than the 3 allowed"):
        server.next_event()
    with pytest.raises(LocalProtocolError):
        Connection.server(server_key, max_messages_per_record=0)


def test_a_client_splits_its_batches_at_the_limit(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    pings = [PingRequest(str(i)) for i in range(2 * MAX_MESSAGES_PER_RECORD + 1)]
    wire = client.send(pings)
    assert len(FrameDecoder().feed(wire)) == 3
    server.receive_data(wire)
    assert events(server) == pings


def test_a_client_takes_a_server_record_of_any_count(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    acks = [Ack(f"id{i}", i, 1) for i in range(1_000)]  # a history page, acks of a burst
    wire = server.send(acks)
    assert len(FrameDecoder().feed(wire)) == 1
    client.receive_data(wire)
    assert events(client) == acks
