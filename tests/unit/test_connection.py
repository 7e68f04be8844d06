"""Connection: two ends joined in memory, the way the server and client will drive them."""

from __future__ import annotations

import hashlib

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
from common.framing import FrameDecoder, encode_frame
from common.handshake import KEY_REQUEST, parse_key_response
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    LoginRequest,
    LoginResult,
    PingRequest,
    encode_message,
)
from tests.unit.conftest import deterministic_rand
from tests.unit.spec_peer import SpecClient, unframe


def events(conn: Connection) -> list[object]:
    out = []
    while (event := conn.next_event()) is not NEED_DATA:
        out.append(event)
        if isinstance(event, ConnectionClosed):  # repeats forever, like h11's
            break
    return out


def pair(server_key: RSA.RsaKey, **limits: int) -> tuple[Connection, Connection]:
    """Two ends with the handshake done; ``limits`` (e.g. ``seq_limit``) go to both."""
    client = Connection.client(server_key.public_key(), **limits)
    server = Connection.server(server_key, **limits)
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
    client, _server = pair(server_key, seq_limit=2)
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
