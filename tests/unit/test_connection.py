"""Connection: two ends joined in memory, the way the server and client will drive them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from Crypto.PublicKey import RSA

from common.connection import (
    NEED_DATA,
    BadMessage,
    Connection,
    ConnectionClosed,
    HandshakeComplete,
    KeyRequested,
)
from common.crypto import fingerprint
from common.errors import LocalProtocolError, RemoteProtocolError
from common.framing import MAX_FRAME, FrameDecoder, encode_frame
from common.handshake import KEY_REQUEST, parse_key_response
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    LoginRequest,
    LoginResult,
    PingRequest,
    Pong,
    encode_message,
)
from common.protocol import MAX_MESSAGES_PER_RECORD
from tests.unit.conftest import deterministic_rand
from tests.unit.spec_peer import SpecClient, unframe


def events(conn: Connection) -> list[object]:
    out = []
    while (event := conn.next_event()) is not NEED_DATA:
        out.append(event)
        if isinstance(event, ConnectionClosed):  # repeats forever, like h11's
            break
    return out


def pair(server_key: RSA.RsaKey) -> tuple[Connection, Connection]:
    client, server = Connection.client(server_key.public_key()), Connection.server(server_key)
    server.receive_data(client.initiate())
    assert events(server) == [HandshakeComplete(fingerprint(server_key))]
    client.receive_data(server.data_to_send())
    assert events(client) == [HandshakeComplete(fingerprint(server_key))]
    return client, server


def test_messages_flow_both_ways(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    wire = client.send(LoginRequest("user1", "111111"))
    assert b"111111" not in wire and b"user1" not in wire
    server.receive_data(wire)
    assert events(server) == [LoginRequest("user1", "111111")]
    reply = [
        LoginResult(True, "wang_yuan", "user1", "tok"),
        ChatDelivery(1, "lobby", "a", "A", 5, "é|\n中"),
    ]
    client.receive_data(server.send(reply))
    assert events(client) == reply


def test_several_messages_coalesce_into_one_record(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    acks = [Ack(f"id{i}", i, 1000 + i) for i in range(50)]
    wire = server.send(acks)
    assert len(FrameDecoder().feed(wire)) == 1 and server.records_sent == 1
    client.receive_data(wire)
    assert events(client) == acks


def test_large_batches_split_under_the_frame_cap(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    big = [ChatDelivery(i, "lobby", "u", "n", 1, "x" * 4000) for i in range(40)]
    wire = server.send(big)
    frames = FrameDecoder().feed(wire)
    assert len(frames) >= 3 and all(len(f) <= 65_536 for f in frames)
    client.receive_data(wire)
    assert events(client) == big


def test_any_chunking_of_the_stream_gives_the_same_events(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    wire = client.send([PingRequest(str(i)) for i in range(5)]) + client.send(PingRequest("x"))
    for i in range(len(wire)):
        server.receive_data(wire[i : i + 1])
    assert [e.nonce for e in events(server)] == ["0", "1", "2", "3", "4", "x"]  # type: ignore[union-attr]


def test_bad_message_is_reported_and_the_connection_survives(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    bad = [b"0099|what", b"0002|lobby|too|many|fields", b"0006|ok"]
    server.receive_data(client.send_lines(bad))
    got = events(server)
    assert [type(e) for e in got] == [BadMessage, BadMessage, PingRequest]
    assert isinstance(got[0], BadMessage) and got[0].code_word == "bad_request"
    server.receive_data(client.send(PingRequest("still here")))
    assert events(server) == [PingRequest("still here")]


def test_server_only_accepts_client_codes(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    server.receive_data(client.send_lines([encode_message(Ack("x", 1, 1)).encode()]))
    (event,) = events(server)
    assert isinstance(event, BadMessage)


@pytest.mark.parametrize("attack", ["flip", "replay", "reorder", "reflect", "truncate"])
def test_interference_ends_the_connection_and_releases_nothing(
    server_key: RSA.RsaKey, attack: str
) -> None:
    client, server = pair(server_key)
    first = client.send(ChatRequest("lobby", "1", "first secret"))
    second = client.send(ChatRequest("lobby", "2", "second secret"))
    if attack == "flip":
        wire = first[:-3] + bytes([first[-3] ^ 1]) + first[-2:]
    elif attack == "replay":
        server.receive_data(first)
        assert len(events(server)) == 1
        wire = first
    elif attack == "reorder":
        wire = second + first
    elif attack == "reflect":
        wire = server.send(ChatDelivery(1, "lobby", "u", "n", 1, "echo"))
    else:
        wire = first[:-1]
        server.receive_data(wire)
        server.receive_data(b"")
        wire = b""
    server.receive_data(wire)
    with pytest.raises(RemoteProtocolError):
        events(server)
    assert server.failed
    with pytest.raises(LocalProtocolError, match="already failed"):  # and it stays dead
        server.next_event()
    with pytest.raises(LocalProtocolError, match="already failed"):
        server.send(Ack("1", 1, 1))


def test_garbage_and_oversized_frames_are_fatal(server_key: RSA.RsaKey) -> None:
    for wire in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", encode_frame(b"garbage" * 10)):
        server = Connection.server(server_key)
        server.receive_data(wire)
        with pytest.raises(RemoteProtocolError):
            events(server)
        assert server.data_to_send() == b""  # no ServerHello, no record


def test_wrong_server_key_fails_before_any_record(server_key: RSA.RsaKey, other_key) -> None:
    client = Connection.client(server_key.public_key())
    impostor = Connection.server(other_key)
    fooled = Connection.client(other_key.public_key())
    impostor.receive_data(fooled.initiate())
    events(impostor)
    client.initiate()
    client.receive_data(impostor.data_to_send())
    with pytest.raises(RemoteProtocolError):
        events(client)
    with pytest.raises(LocalProtocolError):
        client.send(LoginRequest("user1", "111111"))


def test_clean_close_and_close_mid_frame(server_key: RSA.RsaKey) -> None:
    client, server = pair(server_key)
    server.receive_data(client.send(PingRequest("a")))
    server.receive_data(b"")
    assert events(server) == [PingRequest("a"), ConnectionClosed()]
    assert isinstance(server.next_event(), ConnectionClosed)
    client2, server2 = pair(server_key)
    server2.receive_data(client2.send(PingRequest("a"))[:-2])
    server2.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="middle of a frame"):
        events(server2)


def test_sending_before_the_handshake_is_our_error(server_key: RSA.RsaKey) -> None:
    early = Connection.client(server_key.public_key())
    with pytest.raises(LocalProtocolError, match="before the handshake"):
        early.send(PingRequest("x"))
    assert early.failed
    with pytest.raises(LocalProtocolError):
        Connection.server(server_key).initiate()
    with pytest.raises(LocalProtocolError):
        Connection.server(server_key.public_key())


def test_record_limit_closes_instead_of_wrapping(server_key: RSA.RsaKey) -> None:
    client = Connection.client(server_key.public_key(), seq_limit=2)
    server = Connection.server(server_key, seq_limit=2)
    server.receive_data(client.initiate())
    events(server)
    client.receive_data(server.data_to_send())
    events(client)
    client.send(PingRequest("1"))
    client.send(PingRequest("2"))
    assert client.send_exhausted
    with pytest.raises(LocalProtocolError):
        client.send(PingRequest("3"))


def test_key_request_before_hello_returns_the_public_key(server_key: RSA.RsaKey) -> None:
    server = Connection.server(server_key)
    server.receive_data(encode_frame(KEY_REQUEST))
    assert events(server) == [KeyRequested()]
    (body,) = FrameDecoder().feed(server.data_to_send())
    assert fingerprint(parse_key_response(body)) == fingerprint(server_key)
    client = Connection.client(server_key.public_key())  # the hello may follow on the same socket
    server.receive_data(client.initiate())
    assert isinstance(events(server)[0], HandshakeComplete)
    server.receive_data(encode_frame(KEY_REQUEST))  # but never after it
    with pytest.raises(RemoteProtocolError):
        events(server)


def test_spec_client_exchanges_records_with_our_server(server_key: RSA.RsaKey) -> None:
    peer = SpecClient(server_key.public_key())
    server = Connection.server(server_key)
    server.receive_data(peer.hello_frame())
    events(server)
    server_hello, rest = unframe(server.data_to_send())
    assert rest == b""
    peer.finish(server_hello)
    server.receive_data(peer.seal(b"0001|user1|111111\n0002|lobby|m1|a%7Cb%0Ac"))
    assert events(server) == [LoginRequest("user1", "111111"), ChatRequest("lobby", "m1", "a|b\nc")]
    record, _ = unframe(server.send(Ack("m1", 7, 1234)))
    assert peer.open(record) == b"1007|m1|7|1234"


def test_known_answer_first_records(server_key: RSA.RsaKey) -> None:
    """Fixed randomness on both sides pins the exact bytes of a whole short conversation."""
    client = Connection.client(server_key.public_key(), randfunc=deterministic_rand(b"client"))
    server = Connection.server(server_key, randfunc=deterministic_rand(b"server"))
    transcript = client.initiate()
    server.receive_data(transcript)
    events(server)
    transcript += server.data_to_send()
    client.receive_data(transcript[len(transcript) - 456 :])
    events(client)
    transcript += client.send(LoginRequest("user1", "111111"))
    transcript += server.send(LoginResult(True, "wang_yuan", "user1", "token"))
    assert len(transcript) == 456 + 456 + (4 + 17 + 16) + (4 + 28 + 16)
    assert hashlib.sha256(transcript).hexdigest() == KAT_TRANSCRIPT


KAT_TRANSCRIPT = "780bdd5582c687c81338cb07328411e4d654698561b895ad616bf1f94f5b6d38"


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
    client = Connection.client(server_key.public_key(), seq_limit=2)
    server = Connection.server(server_key, seq_limit=2)
    server.receive_data(client.initiate())
    events(server)
    client.receive_data(server.data_to_send())
    events(client)
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
