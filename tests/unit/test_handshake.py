"""Handshake: the state machine, failures that must end it, interop with a spec-only peer, KAT."""

from __future__ import annotations

import hashlib
import struct

import pytest
from Crypto.PublicKey import RSA

from common import crypto
from common.connection import Connection
from common.errors import LocalProtocolError, RemoteProtocolError
from common.framing import encode_frame
from common.handshake import (
    CLIENT_HELLO_TYPE,
    KEY_REQUEST,
    SERVER_HELLO_TYPE,
    ClientHandshake,
    ServerHandshake,
    State,
    encode_key_response,
    parse_hello,
    parse_key_response,
)
from tests.unit.conftest import deterministic_rand
from tests.unit.spec_peer import SpecClient, SpecServer


def test_both_sides_derive_the_same_keys(server_key: RSA.RsaKey) -> None:
    client = ClientHandshake(server_key.public_key())
    server = ServerHandshake(server_key)
    server_hello, server_keys = server.respond(client.start())
    client_keys = client.finish(server_hello)
    assert client_keys == server_keys
    assert client.state is server.state is State.ESTABLISHED
    assert len({client_keys.c2s_key, client_keys.s2c_key}) == 2  # one key per direction
    assert len(server_hello) == 1 + 1 + 32 + 32 + 2 + 384


def test_two_sessions_never_share_keys(server_key: RSA.RsaKey) -> None:
    """Forward secrecy needs fresh shares: same server key, different session keys."""
    seen = set()
    for _ in range(3):
        client = ClientHandshake(server_key.public_key())
        hello, keys = ServerHandshake(server_key).respond(client.start())
        assert client.finish(hello) == keys
        seen.add(keys.c2s_key)
    assert len(seen) == 3


def test_wrong_pinned_key_fails_at_the_client(server_key: RSA.RsaKey, other_key: RSA.RsaKey):
    """A man in the middle with its own key can answer, but not sign as the pinned server."""
    client = ClientHandshake(server_key.public_key())
    mitm = ServerHandshake(other_key)
    # the MITM cannot open the envelope made for the real key: it fails before answering
    with pytest.raises(RemoteProtocolError):
        mitm.respond(client.start())
    # a client that pinned the real key rejects a hello signed by another key
    client = ClientHandshake(server_key.public_key())
    fooled = ClientHandshake(other_key.public_key())
    hello, _ = ServerHandshake(other_key).respond(fooled.start())
    client.start()
    with pytest.raises(RemoteProtocolError, match="signature"):
        client.finish(hello)
    assert client.state is State.FAILED


@pytest.mark.parametrize("position", [0, 1, 2, 40, 66, 67, 68, 200, 451])
def test_any_flipped_bit_in_server_hello_fails(server_key: RSA.RsaKey, position: int) -> None:
    client = ClientHandshake(server_key.public_key())
    hello, _ = ServerHandshake(server_key).respond(client.start())
    tampered = bytearray(hello)
    tampered[position] ^= 0x01
    with pytest.raises(RemoteProtocolError):
        client.finish(bytes(tampered))


@pytest.mark.parametrize("position", [0, 1, 2, 40, 66, 67, 68, 300, 451])
def test_any_flipped_bit_in_client_hello_fails_or_splits_keys(
    server_key: RSA.RsaKey, position: int
) -> None:
    """A changed ClientHello either fails at the server or yields keys the client never gets."""
    client = ClientHandshake(server_key.public_key())
    tampered = bytearray(client.start())
    tampered[position] ^= 0x01
    try:
        hello, _ = ServerHandshake(server_key).respond(bytes(tampered))
    except RemoteProtocolError:
        return
    with pytest.raises(RemoteProtocolError):  # the signature covers the ClientHello it saw
        client.finish(hello)


def test_version_2_and_truncation_and_random_envelope(server_key: RSA.RsaKey) -> None:
    good = ClientHandshake(server_key.public_key()).start()
    version_2 = good[:1] + b"\x02" + good[2:]
    with pytest.raises(RemoteProtocolError, match="version"):
        ServerHandshake(server_key).respond(version_2)
    for cut in (0, 1, 67, 68, len(good) - 1):
        with pytest.raises(RemoteProtocolError):
            ServerHandshake(server_key).respond(good[:cut])
    random_envelope = good[:68] + crypto.random_bytes(384)
    server = ServerHandshake(server_key)
    with pytest.raises(RemoteProtocolError, match="did not open"):
        server.respond(random_envelope)
    assert server.state is State.FAILED
    with pytest.raises(RemoteProtocolError):
        ServerHandshake(server_key).respond(good + b"extra")


def test_low_order_x25519_share_is_rejected(server_key: RSA.RsaKey) -> None:
    good = ClientHandshake(server_key.public_key()).start()
    zero_share = good[:34] + bytes(32) + good[66:]
    with pytest.raises(RemoteProtocolError):
        ServerHandshake(server_key).respond(zero_share)


def test_state_machine_refuses_steps_out_of_order(server_key: RSA.RsaKey) -> None:
    client = ClientHandshake(server_key.public_key())
    with pytest.raises(LocalProtocolError):
        client.finish(b"\x02")
    client.start()
    with pytest.raises(LocalProtocolError):
        client.start()
    server = ServerHandshake(server_key)
    server.respond(ClientHandshake(server_key.public_key()).start())
    with pytest.raises(LocalProtocolError):
        server.respond(ClientHandshake(server_key.public_key()).start())


def test_parse_hello_checks_type() -> None:
    body = struct.pack(">BB32s32sH", SERVER_HELLO_TYPE, 1, bytes(32), bytes(32), 1) + b"x"
    assert parse_hello(body, SERVER_HELLO_TYPE).tail == b"x"
    with pytest.raises(RemoteProtocolError):
        parse_hello(body, CLIENT_HELLO_TYPE)


def test_key_response_round_trip_and_rejects(server_key: RSA.RsaKey) -> None:
    assert KEY_REQUEST == b"\x03\x01"
    key = parse_key_response(encode_key_response(server_key))
    assert crypto.fingerprint(key) == crypto.fingerprint(server_key)
    assert not key.has_private()
    for bad in (b"", b"\x04\x01\x00\x05abcde", encode_key_response(server_key)[:-1]):
        with pytest.raises(RemoteProtocolError):
            parse_key_response(bad)


# --- interop with an implementation written from the contract alone ---------------------------


def test_spec_client_talks_to_our_server(server_key: RSA.RsaKey) -> None:
    peer = SpecClient(server_key.public_key())
    server_hello, keys = ServerHandshake(server_key).respond(peer.client_hello)
    peer.finish(server_hello)
    assert (peer.c2s_key, peer.c2s_iv, peer.s2c_key, peer.s2c_iv) == (
        keys.c2s_key,
        keys.c2s_iv,
        keys.s2c_key,
        keys.s2c_iv,
    )


def test_our_client_talks_to_a_spec_server(server_key: RSA.RsaKey) -> None:
    client = ClientHandshake(server_key.public_key())
    server_hello, c2s_key, c2s_iv = SpecServer(server_key).respond(client.start())
    keys = client.finish(server_hello)
    assert (keys.c2s_key, keys.c2s_iv) == (c2s_key, c2s_iv)


# --- known answer: fixed randomness pins every byte -------------------------------------------

KAT = {
    "client_hello": "2328a344b835a700d0b4a7e97a39cda7dfc281fa7a6c09335920f8187910c2e1",
    "server_hello": "1ea094ea7675af64a11a6f05309972032d6bcff1df3a1f65777d5efb27942b63",
    "c2s_key": "db53409bda1771e803edbdeac873f0a2ec142c74f94fc73501827bccd3d56990",
    "s2c_iv": "cdb7ece9f9a39d7b65b79d2e",
}


def test_known_answer_transcript(server_key: RSA.RsaKey) -> None:
    client = ClientHandshake(server_key.public_key(), randfunc=deterministic_rand(b"client"))
    server = ServerHandshake(server_key, randfunc=deterministic_rand(b"server"))
    client_hello = client.start()
    server_hello, keys = server.respond(client_hello)
    assert client.finish(server_hello) == keys
    got = {
        "client_hello": hashlib.sha256(client_hello).hexdigest(),
        "server_hello": hashlib.sha256(server_hello).hexdigest(),
        "c2s_key": keys.c2s_key.hex(),
        "s2c_iv": keys.s2c_iv.hex(),
    }
    assert got == KAT


@pytest.fixture
def signer_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every message the server signs, recorded by wrapping ``common.crypto.pss_sign``."""
    calls: list[bytes] = []
    real_sign = crypto.pss_sign

    def counting_sign(
        private_key: RSA.RsaKey, message: bytes, randfunc: crypto.RandFunc | None = None
    ) -> bytes:
        calls.append(message)
        return real_sign(private_key, message, randfunc)

    monkeypatch.setattr(crypto, "pss_sign", counting_sign)
    return calls


def test_garbage_hellos_cost_no_signature(
    server_key: RSA.RsaKey, signer_calls: list[bytes]
) -> None:
    """The amplification attack: hellos that parse but cannot open must not make the server sign.

    A random envelope and an all-zero X25519 share (which yields the all-zero secret) both fail
    with no RSA private-key signature spent on them; a good hello still gets exactly one.
    """
    good = ClientHandshake(server_key.public_key()).start()
    random_envelope = good[:68] + crypto.random_bytes(384)
    zero_share = good[:34] + bytes(32) + good[66:]
    for garbage in (random_envelope, zero_share):
        server = ServerHandshake(server_key)
        with pytest.raises(RemoteProtocolError, match="did not open"):
            server.respond(garbage)
        assert server.state is State.FAILED
    assert signer_calls == []
    ServerHandshake(server_key).respond(good)
    assert len(signer_calls) == 1


def test_garbage_hello_through_a_server_connection_is_not_signed(
    server_key: RSA.RsaKey, signer_calls: list[bytes]
) -> None:
    """The same attack on the path the listener drives: no ServerHello, no signature, no bytes."""
    good = ClientHandshake(server_key.public_key()).start()
    server = Connection.server(server_key)
    server.receive_data(encode_frame(good[:68] + crypto.random_bytes(384)))
    with pytest.raises(RemoteProtocolError):
        server.next_event()
    assert server.data_to_send() == b""
    assert signer_calls == []
