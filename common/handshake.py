"""The two-frame handshake: a digital envelope for authentication, X25519 for forward secrecy.

ClientHello carries a fresh X25519 share and a random ``envelope_secret`` wrapped with RSA-OAEP
under the server's long-term key: only the holder of that key can derive the session keys.
ServerHello carries the server's X25519 share and an RSA-PSS signature over both hellos, which
the client checks against the *pinned* key before sending anything else: a man in the middle
or a downgrade fails right there. Keys come from HKDF over the envelope secret and the X25519
secret, so a key stolen later does not open recorded traffic.

No I/O here: the classes take and return frame bodies. Each side moves through the states in
``TRANSITIONS``; any other move is a ``LocalProtocolError``.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass

from Crypto.PublicKey import RSA

from common import crypto
from common.errors import LocalProtocolError, RemoteProtocolError

CLIENT_HELLO_TYPE = 0x01
SERVER_HELLO_TYPE = 0x02
KEY_REQUEST_TYPE = 0x03  # optional, before ClientHello: "show me your public key" (PROTOCOL.md)
KEY_RESPONSE_TYPE = 0x04
VERSION = 1
RANDOM_BYTES = 32
ENVELOPE_SECRET_BYTES = 32
SIGNATURE_CONTEXT = b"chat-envelope v1 server signature\x00"
KEY_INFO = b"chat-envelope v1 keys"
CIPHER_SUITE = "AES-256-GCM · X25519 + RSA-3072"

# type u8 | version u8 | random[32] | share[32] | length u16 -- then envelope or signature
_HELLO_PREFIX = struct.Struct(">BB32s32sH")


class State(enum.Enum):
    """Where a handshake stands."""

    START = "start"  # client: nothing sent yet
    HELLO_SENT = "hello sent"  # client: waiting for ServerHello
    AWAIT_HELLO = "await hello"  # server: waiting for ClientHello
    ESTABLISHED = "established"  # keys derived; records may flow
    FAILED = "failed"  # nothing more may happen


# (state, step) -> next state. Read straight down: this is the whole handshake.
TRANSITIONS: dict[tuple[State, str], State] = {
    (State.START, "send client hello"): State.HELLO_SENT,
    (State.HELLO_SENT, "receive server hello"): State.ESTABLISHED,
    (State.AWAIT_HELLO, "receive client hello"): State.ESTABLISHED,
}


@dataclass(frozen=True)
class SessionKeys:
    """Keys for both directions plus the transcript hash they were bound to."""

    c2s_key: bytes
    c2s_iv: bytes
    s2c_key: bytes
    s2c_iv: bytes
    transcript_hash: bytes

    def __repr__(self) -> str:  # keys must never reach a log line
        return f"SessionKeys(transcript={self.transcript_hash.hex()[:16]}…)"


@dataclass(frozen=True)
class Hello:
    """A parsed hello: ``tail`` is the envelope (client) or the signature (server)."""

    kind: int
    version: int
    random: bytes
    share: bytes
    tail: bytes


def encode_hello(kind: int, random: bytes, share: bytes, tail: bytes) -> bytes:
    """The body of a hello frame."""
    return _HELLO_PREFIX.pack(kind, VERSION, random, share, len(tail)) + tail


def parse_hello(body: bytes, expected_kind: int) -> Hello:
    """Parse a hello body strictly: right type, version 1, exact length."""
    if len(body) < _HELLO_PREFIX.size:
        raise RemoteProtocolError("truncated hello")
    kind, version, random, share, tail_len = _HELLO_PREFIX.unpack_from(body)
    if kind != expected_kind:
        raise RemoteProtocolError(f"expected hello type {expected_kind}, got {kind}")
    if version != VERSION:
        raise RemoteProtocolError(f"unsupported protocol version {version}")
    tail = body[_HELLO_PREFIX.size :]
    if len(tail) != tail_len or tail_len == 0:
        raise RemoteProtocolError("hello length field does not match its body")
    return Hello(kind, version, random, share, tail)


def signature_input(client_hello: bytes, server_hello_prefix: bytes) -> bytes:
    """What the server signs: context + SHA-256(ClientHello + ServerHello up to signature_len)."""
    return SIGNATURE_CONTEXT + hashlib.sha256(client_hello + server_hello_prefix).digest()


def derive_keys(
    envelope_secret: bytes,
    shared: bytes,
    client_random: bytes,
    server_random: bytes,
    client_hello: bytes,
    server_hello: bytes,
) -> SessionKeys:
    """The key schedule of the contract (HKDF-SHA256 over envelope secret + X25519 secret)."""
    transcript = hashlib.sha256(client_hello + server_hello).digest()
    okm = crypto.hkdf_sha256(
        envelope_secret + shared, client_random + server_random, KEY_INFO + transcript, 88
    )
    return SessionKeys(okm[0:32], okm[32:44], okm[44:76], okm[76:88], transcript)


KEY_REQUEST = bytes([KEY_REQUEST_TYPE, VERSION])


def encode_key_response(public_key: RSA.RsaKey) -> bytes:
    """``0x04 | version | der_len u16 | DER SubjectPublicKeyInfo``: the server's public key.

    Only for trust on first use: the client shows the fingerprint to a person and pins the key
    once they accept; nothing is trusted because it arrived here.
    """
    der = public_key.public_key().export_key(format="DER")
    return struct.pack(">BBH", KEY_RESPONSE_TYPE, VERSION, len(der)) + der


def parse_key_response(body: bytes) -> RSA.RsaKey:
    """The public key from a key response; malformed or non-RSA bodies are the peer's fault."""
    if len(body) < 4:
        raise RemoteProtocolError("truncated key response")
    kind, version, length = struct.unpack_from(">BBH", body)
    if kind != KEY_RESPONSE_TYPE or version != VERSION or len(body) != 4 + length:
        raise RemoteProtocolError("malformed key response")
    try:
        key = RSA.import_key(body[4:])
    except (ValueError, IndexError, TypeError):
        raise RemoteProtocolError("key response does not hold an RSA public key") from None
    if key.has_private() or key.size_in_bits() < 2048:
        raise RemoteProtocolError("key response holds an unacceptable key")
    return key


class _Machine:
    def __init__(self, state: State) -> None:
        self.state = state

    def _advance(self, step: str) -> None:
        next_state = TRANSITIONS.get((self.state, step))
        if next_state is None:
            raise LocalProtocolError(f"cannot {step} in state {self.state.value}")
        self.state = next_state

    def _fail(self) -> None:
        self.state = State.FAILED


class ClientHandshake(_Machine):
    """Client side: knows the server's pinned public key, never its private key."""

    def __init__(self, server_key: RSA.RsaKey, randfunc: crypto.RandFunc | None = None) -> None:
        super().__init__(State.START)
        self._server_key = server_key
        self._rand = randfunc or crypto.random_bytes
        self._hello = b""

    def start(self) -> bytes:
        """The ClientHello body."""
        self._advance("send client hello")
        self._random = self._rand(RANDOM_BYTES)
        self._x25519, share = crypto.x25519_keypair(self._rand(32))
        self._secret = self._rand(ENVELOPE_SECRET_BYTES)
        envelope = crypto.oaep_wrap(self._server_key, self._secret, randfunc=self._rand)
        self._hello = encode_hello(CLIENT_HELLO_TYPE, self._random, share, envelope)
        return self._hello

    def finish(self, server_hello: bytes) -> SessionKeys:
        """Check the ServerHello's signature against the pinned key, then derive keys."""
        self._advance("receive server hello")
        try:
            hello = parse_hello(server_hello, SERVER_HELLO_TYPE)
            prefix = server_hello[: _HELLO_PREFIX.size - 2]
            if not crypto.pss_verify(
                self._server_key, signature_input(self._hello, prefix), hello.tail
            ):
                raise RemoteProtocolError("server signature does not verify with the pinned key")
            try:
                shared = crypto.x25519_shared(self._x25519, hello.share)
            except ValueError:
                raise RemoteProtocolError("server sent an invalid X25519 share") from None
        except RemoteProtocolError:
            self._fail()
            raise
        return derive_keys(
            self._secret, shared, self._random, hello.random, self._hello, server_hello
        )


class ServerHandshake(_Machine):
    """Server side: holds the long-term private key."""

    def __init__(self, private_key: RSA.RsaKey, randfunc: crypto.RandFunc | None = None) -> None:
        super().__init__(State.AWAIT_HELLO)
        self._key = private_key
        self._rand = randfunc or crypto.random_bytes

    def respond(self, client_hello: bytes) -> tuple[bytes, SessionKeys]:
        """Answer a ClientHello with the ServerHello body and the session keys.

        After the hello parses, a bad envelope and a bad X25519 share cost the same (unwrap and
        X25519 both run), so the time to close does not tell which of the two failed. A failing
        hello is never signed: the client learns that its envelope opened from whether a
        ServerHello comes back at all, so signing would hide nothing, and a full RSA private
        operation per garbage hello would let anyone spend the server's CPU for free.
        """
        self._advance("receive client hello")
        try:
            hello = parse_hello(client_hello, CLIENT_HELLO_TYPE)
        except RemoteProtocolError:
            self._fail()
            raise
        ok = True
        try:
            secret = crypto.oaep_unwrap(self._key, hello.tail)
            ok = len(secret) == ENVELOPE_SECRET_BYTES
        except ValueError:
            ok, secret = False, b""
        private, share = crypto.x25519_keypair(self._rand(32))
        try:
            shared = crypto.x25519_shared(private, hello.share)
        except ValueError:
            ok, shared = False, b""
        if not ok:
            self._fail()
            raise RemoteProtocolError("client hello did not open (bad envelope or share)")
        server_random = self._rand(RANDOM_BYTES)
        prefix = struct.pack(">BB32s32s", SERVER_HELLO_TYPE, VERSION, server_random, share)
        signature = crypto.pss_sign(
            self._key, signature_input(client_hello, prefix), randfunc=self._rand
        )
        server_hello = encode_hello(SERVER_HELLO_TYPE, server_random, share, signature)
        keys = derive_keys(secret, shared, hello.random, server_random, client_hello, server_hello)
        return server_hello, keys
