"""Record layer: AES-256-GCM (OpenSSL) with counter nonces; every kind of interference must fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import LocalProtocolError, RemoteProtocolError
from common.framing import FrameDecoder, frame_header
from common.record import RecordOpener, RecordSealer, record_nonce
from tests.unit.test_gcm import reference_seal

KEY_A, IV_A = bytes(range(32)), bytes(range(100, 112))
KEY_B, IV_B = bytes(range(32, 64)), bytes(range(200, 212))


def body(frame: bytes) -> bytes:
    return frame[4:]


def test_nonce_is_iv_xor_counter() -> None:
    iv = bytes(12)
    assert record_nonce(iv, 0) == bytes(12)
    assert record_nonce(iv, 1) == bytes(11) + b"\x01"
    assert record_nonce(b"\xff" * 12, 2**32) == b"\xff" * 7 + b"\xfe" + b"\xff" * 4
    assert record_nonce(IV_A, 5) != record_nonce(IV_A, 6)


@given(st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=8))
def test_round_trip_in_order(plaintexts: list[bytes]) -> None:
    sealer, opener = RecordSealer(KEY_A, IV_A), RecordOpener(KEY_A, IV_A)
    frames = b"".join(sealer.seal(p) for p in plaintexts)
    bodies = FrameDecoder().feed(frames)
    assert [opener.open(b) for b in bodies] == plaintexts
    assert sealer.seq == opener.seq == len(plaintexts)


def test_ciphertext_hides_plaintext_and_differs_per_record() -> None:
    sealer = RecordSealer(KEY_A, IV_A)
    first, second = sealer.seal(b"0002|lobby|x|secret"), sealer.seal(b"0002|lobby|x|secret")
    assert b"secret" not in first and first != second


@pytest.mark.parametrize("position", [0, 5, 19, 20, 34])
def test_flipped_bit_fails(position: int) -> None:
    frame = bytearray(RecordSealer(KEY_A, IV_A).seal(b"hello, world, hello"))
    frame[4 + position] ^= 0x80
    with pytest.raises(RemoteProtocolError):
        RecordOpener(KEY_A, IV_A).open(bytes(frame[4:]))


def test_replay_reorder_drop_and_reflection_fail() -> None:
    sealer = RecordSealer(KEY_A, IV_A)
    r0, r1, r2 = (body(sealer.seal(m)) for m in (b"zero", b"one", b"two"))
    replay = RecordOpener(KEY_A, IV_A)
    replay.open(r0)
    with pytest.raises(RemoteProtocolError):
        replay.open(r0)
    with pytest.raises(RemoteProtocolError):  # reordered
        RecordOpener(KEY_A, IV_A).open(r1)
    dropped = RecordOpener(KEY_A, IV_A)
    dropped.open(r0)
    with pytest.raises(RemoteProtocolError):  # r1 never arrived
        dropped.open(r2)
    with pytest.raises(RemoteProtocolError):  # sent back the other way: other key
        RecordOpener(KEY_B, IV_B).open(r0)


def test_header_is_authenticated() -> None:
    """A record cut short (or padded) changes the length header, its AAD, and fails."""
    frame = RecordSealer(KEY_A, IV_A).seal(b"some plaintext here")
    with pytest.raises(RemoteProtocolError):
        RecordOpener(KEY_A, IV_A).open(frame[4:-1])
    with pytest.raises(RemoteProtocolError):
        RecordOpener(KEY_A, IV_A).open(frame[4:] + b"\x00")
    with pytest.raises(RemoteProtocolError):
        RecordOpener(KEY_A, IV_A).open(b"\x00" * 16)


def test_counter_limit_closes_instead_of_wrapping() -> None:
    sealer = RecordSealer(KEY_A, IV_A, seq_limit=2)
    opener = RecordOpener(KEY_A, IV_A, seq_limit=2)
    frames = [sealer.seal(b"a"), sealer.seal(b"b")]
    assert sealer.exhausted
    with pytest.raises(LocalProtocolError, match="exhausted"):
        sealer.seal(b"c")
    for frame in frames:
        opener.open(body(frame))
    with pytest.raises(RemoteProtocolError, match="limit"):
        opener.open(body(frames[0]))


def test_plaintext_size_bounds() -> None:
    sealer = RecordSealer(KEY_A, IV_A, max_frame=1000)
    assert sealer.max_plaintext == 984
    assert len(sealer.seal(b"x" * 984)) == 1004
    for bad in (b"", b"x" * 985):
        with pytest.raises(LocalProtocolError):
            sealer.seal(bad)
    with pytest.raises(LocalProtocolError):
        RecordSealer(b"short", IV_A)


@settings(max_examples=100, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=12, max_size=12),
    plaintexts=st.lists(st.binary(min_size=1, max_size=2000), min_size=1, max_size=4),
)
def test_frames_are_byte_identical_to_pycryptodome_mode_gcm(
    key: bytes, iv: bytes, plaintexts: list[bytes]
) -> None:
    """The wire format, rebuilt independently: nonce = iv XOR seq, AAD = the 4-byte header."""
    sealer = RecordSealer(key, iv)
    for seq, plaintext in enumerate(plaintexts):
        header = frame_header(len(plaintext) + 16)
        assert sealer.seal(plaintext) == header + reference_seal(
            key, record_nonce(iv, seq), plaintext, header
        )


@settings(max_examples=150, deadline=None)
@given(plaintext=st.binary(min_size=1, max_size=200), data=st.data())
def test_any_flipped_bit_in_header_ciphertext_or_tag_is_refused(
    plaintext: bytes, data: st.DataObject
) -> None:
    """Flip one bit anywhere in the frame; the stream then goes on with more bytes.

    A flipped header bit changes where the frame ends (and the AAD): the decoder refuses the
    length, or the body it cuts fails authentication. Nothing is ever released.
    """
    frame = bytearray(RecordSealer(KEY_A, IV_A).seal(plaintext))
    bit = data.draw(st.integers(0, len(frame) * 8 - 1))
    frame[bit // 8] ^= 1 << (bit % 8)
    stream = bytes(frame) + bytes(70_000)  # enough to complete any frame the header allows
    opener = RecordOpener(KEY_A, IV_A)
    with pytest.raises(RemoteProtocolError):
        for record in FrameDecoder().feed(stream):
            opener.open(record)
    assert opener.seq == 0
