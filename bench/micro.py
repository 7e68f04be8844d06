"""Scenario (v): the record layer alone, no sockets and no server.

How many records can one core seal and open, at 100 B and 16 KiB messages, one message per
record versus 32 messages coalesced into as few records as fit (the server's writer threads
coalesce everything queued for a peer)? This is the number that decides how much fan-out a
core can encrypt, and it shows how much of AES-GCM's cost is per record rather than per byte.
The records use OpenSSL's AES-GCM (pyca ``cryptography``); the same run measures the same
records through pycryptodome's ``MODE_GCM`` built per record, as the baseline it replaced.
Also the CPU cost of one handshake on each side, which bounds handshakes per second per core.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from Crypto.Cipher import AES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from common import crypto
from common.connection import NEED_DATA, Connection
from common.framing import frame_header
from common.messages import ChatDelivery, encode_message
from common.record import RecordOpener, RecordSealer, record_nonce


@dataclass(frozen=True)
class MicroResult:
    """One micro measurement."""

    name: str
    message_bytes: int
    per_record: int  # messages per record (after splitting at the frame cap)
    messages_per_s: float
    records_per_s: float
    mb_per_s: float


def _timed(loop: Callable[[], int], seconds: float) -> tuple[int, float]:
    """Run ``loop`` (returns work units per call) for about ``seconds``; (units, elapsed).

    A tenth of the time is spent first, untimed, so lazy imports and caches are warm.
    """
    warm_until = time.perf_counter() + seconds / 10
    while time.perf_counter() < warm_until:
        loop()
    units = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        units += loop()
        now = time.perf_counter()
        if now >= deadline:
            return units, now - t0


def _keys() -> tuple[bytes, bytes]:
    return crypto.random_bytes(32), crypto.random_bytes(12)


def record_round_trip(message_bytes: int, batch: int, seconds: float) -> MicroResult:
    """Seal and open ``batch`` messages of ``message_bytes``, coalesced when ``batch`` > 1."""
    key, iv = _keys()
    sealer, opener = RecordSealer(key, iv), RecordOpener(key, iv)
    message = b"m" * message_bytes
    limit = sealer.max_plaintext
    per_record = max(1, min(batch, (limit + 1) // (message_bytes + 1)))
    records_needed = -(-batch // per_record)
    plaintexts = []
    left = batch
    for _ in range(records_needed):
        n = min(per_record, left)
        plaintexts.append(b"\n".join([message] * n))
        left -= n

    def loop() -> int:
        for plaintext in plaintexts:
            frame = sealer.seal(plaintext)
            opener.open(frame[4:])
        return batch

    messages, elapsed = _timed(loop, seconds)
    records = messages / batch * records_needed
    name = "one per record" if batch == 1 else f"{batch} coalesced"
    return MicroResult(
        name,
        message_bytes,
        per_record,
        messages / elapsed,
        records / elapsed,
        messages * message_bytes / elapsed / 1e6,
    )


def mode_gcm_round_trip(message_bytes: int, seconds: float) -> MicroResult:
    """The baseline: one record per message, sealed and opened with pycryptodome's ``MODE_GCM``.

    Same nonces, associated data and bytes on the wire as the records; only the library and its
    per-message set-up differ, so the two lines side by side show what the switch bought.
    """
    key, iv = _keys()
    message = b"m" * message_bytes
    header = frame_header(message_bytes + crypto.TAG_BYTES)
    seq = 0

    def loop() -> int:
        nonlocal seq
        nonce = record_nonce(iv, seq)
        seq += 1
        sealer = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=crypto.TAG_BYTES)
        sealer.update(header)
        ciphertext, tag = sealer.encrypt_and_digest(message)
        opener = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=crypto.TAG_BYTES)
        opener.update(header)
        opener.decrypt_and_verify(ciphertext, tag)
        return 1

    messages, elapsed = _timed(loop, seconds)
    return MicroResult(
        "reference: pycryptodome MODE_GCM, one per record",
        message_bytes,
        1,
        messages / elapsed,
        messages / elapsed,
        messages * message_bytes / elapsed / 1e6,
    )


def connection_fanout(batch: int, seconds: float, text_bytes: int = 100) -> MicroResult:
    """The real send path: ``Connection.send_lines`` + receive + decode of ``1002`` messages."""
    key = crypto.generate_rsa_key(2048)  # key size is irrelevant to the record path
    client, server = Connection.client(key.public_key()), Connection.server(key)
    server.receive_data(client.initiate())
    server.next_event()
    client.receive_data(server.data_to_send())
    client.next_event()
    line = encode_message(
        ChatDelivery(123456, "lobby", "bench0001", "bench0001", 1_763_830_000_000, "x" * text_bytes)
    ).encode()
    lines = [line] * batch

    def loop() -> int:
        client.receive_data(server.send_lines(lines))
        while client.next_event() is not NEED_DATA:
            pass
        return batch

    messages, elapsed = _timed(loop, seconds)
    name = "Connection one per record" if batch == 1 else f"Connection {batch} coalesced"
    records = messages if batch == 1 else messages / batch
    return MicroResult(
        name, len(line), batch, messages / elapsed, records / elapsed,
        messages * len(line) / elapsed / 1e6,
    )


@dataclass(frozen=True)
class HandshakeCost:
    """CPU milliseconds of one handshake on each side (in-process, no network)."""

    server_ms: float
    client_ms: float

    @property
    def server_per_core(self) -> float:
        """The upper bound on handshakes per second one core of server can do."""
        return 1000 / self.server_ms if self.server_ms else 0.0


def handshake_cost(rounds: int = 20) -> HandshakeCost:
    """Time ``ServerHandshake.respond`` and the client's two steps with an RSA-3072 key."""
    key = crypto.generate_rsa_key()
    public = key.public_key()
    server_ns = client_ns = 0
    for _ in range(rounds):
        client, server = Connection.client(public), Connection.server(key)
        t0 = time.thread_time_ns()
        hello = client.initiate()
        t1 = time.thread_time_ns()
        server.receive_data(hello)
        server.next_event()
        reply = server.data_to_send()
        t2 = time.thread_time_ns()
        client.receive_data(reply)
        client.next_event()
        t3 = time.thread_time_ns()
        client_ns += (t1 - t0) + (t3 - t2)
        server_ns += t2 - t1
    return HandshakeCost(server_ns / rounds / 1e6, client_ns / rounds / 1e6)


def _per_call_ms(fn: Callable[[], object], seconds: float) -> float:
    fn()  # warm up
    calls, elapsed = _timed(lambda: (fn(), 1)[1], seconds)
    return elapsed / calls * 1e3


def primitive_costs(seconds: float) -> dict[str, float]:
    """Milliseconds per call of the primitives that bound the server, with references for scale.

    The OpenSSL RSA figures and pycryptodome's ``MODE_GCM`` are not used by the chat; they show
    how much of a cost is the algorithm and how much the library.
    """
    key = crypto.generate_rsa_key()
    envelope = crypto.oaep_wrap(key.public_key(), b"s" * 32)
    priv, share = crypto.x25519_keypair()
    k, iv = _keys()
    nonce, aad, text = iv, b"\0\0\0\x74", b"m" * 100
    records_gcm = crypto.AesGcm(k)

    def per_record_mode_gcm() -> None:
        cipher = AES.new(k, AES.MODE_GCM, nonce=nonce, mac_len=crypto.TAG_BYTES)
        cipher.update(aad)
        cipher.encrypt_and_digest(text)

    costs = {
        "pycryptodome RSA-3072 OAEP unwrap": _per_call_ms(
            lambda: crypto.oaep_unwrap(key, envelope), seconds),
        "pycryptodome RSA-3072 PSS sign": _per_call_ms(
            lambda: crypto.pss_sign(key, b"transcript"), seconds),
        "pycryptodome X25519 keypair + shared": _per_call_ms(
            lambda: crypto.x25519_shared(crypto.x25519_keypair()[0], share), seconds),
        "OpenSSL AES-256-GCM seal, 100 B, key set up once (the records)": _per_call_ms(
            lambda: records_gcm.seal(nonce, text, aad), seconds),
        "reference: pycryptodome AES-256-GCM seal, 100 B, MODE_GCM built per record":
            _per_call_ms(per_record_mode_gcm, seconds),
    }
    del priv
    try:
        from argon2 import PasswordHasher, Type

        for lanes in (2, 1):  # the server's parameters first (the notes quote the first)
            hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=lanes,
                                    type=Type.ID)
            costs[f"argon2id verify (m=19 MiB, t=2, p={lanes})"] = _per_call_ms(
                partial(hasher.verify, hasher.hash("bench"), "bench"), seconds)
    except ImportError:
        pass
    ossl = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    wrapped = ossl.public_key().encrypt(b"s" * 32, oaep)
    costs["reference: OpenSSL RSA-3072 OAEP decrypt"] = _per_call_ms(
        lambda: ossl.decrypt(wrapped, oaep), seconds)
    costs["reference: OpenSSL RSA-3072 PSS sign"] = _per_call_ms(
        lambda: ossl.sign(b"transcript", pss, hashes.SHA256()), seconds)
    return costs


def run_all(
    seconds: float,
) -> tuple[list[MicroResult], HandshakeCost, dict[str, float]]:
    """Every micro measurement, each for about ``seconds``."""
    results = [
        record_round_trip(size, batch, seconds)
        for size in (100, 16 * 1024)
        for batch in (1, 32)
    ]
    results += [mode_gcm_round_trip(size, seconds) for size in (100, 16 * 1024)]
    results += [connection_fanout(1, seconds), connection_fanout(32, seconds)]
    cost = handshake_cost(10 if seconds < 0.5 else 20)
    return results, cost, primitive_costs(min(seconds, 0.5))
