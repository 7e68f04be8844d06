"""Frames (PROTOCOL.md §1): any chunking of a stream yields the same frames; bad lengths fail.

A frame is ``length: u32 big-endian`` then ``length`` bytes, ``1 <= length <= 65,536``.
"""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import LocalProtocolError, RemoteProtocolError
from common.framing import MAX_FRAME, FrameDecoder, encode_frame, frame_header

SLOW_OK = [HealthCheck.too_slow]  # a loaded CI machine must not turn slowness into failure

small_bodies = st.binary(min_size=1, max_size=2000)
# Near the cap: generating 64 KiB of random bytes is slow, a patterned body tests the same thing.
big_bodies = st.builds(
    lambda size, byte: bytes([byte]) * (size - 1) + b"\xa5",
    st.integers(min_value=MAX_FRAME - 2, max_value=MAX_FRAME),
    st.integers(min_value=0, max_value=255),
)
body_lists = st.lists(small_bodies, min_size=1, max_size=12) | st.lists(
    small_bodies | big_bodies, min_size=1, max_size=4
)


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    """``stream`` cut at the given positions (duplicates give empty chunks, which must be fine)."""
    points = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(points)]


def expected_buffered(ends: list[int], fed: int) -> int:
    """What the decoder must hold after ``fed`` bytes, given where each frame ends."""
    start = max([0, *(end for end in ends if end <= fed)])
    partial = fed - start
    return partial - 4 if partial >= 4 else partial  # a complete header is consumed at once


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK)
@given(bodies=body_lists, data=st.data())
def test_any_split_gives_exactly_the_frames(bodies: list[bytes], data: st.DataObject) -> None:
    encoded = [encode_frame(body) for body in bodies]
    stream = b"".join(encoded)
    ends, total = [], 0
    for frame in encoded:
        total += len(frame)
        ends.append(total)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=40))

    decoder, got, fed = FrameDecoder(), [], 0
    for chunk in split(stream, cuts):
        got.extend(decoder.feed(chunk))
        fed += len(chunk)
        # No frame early, none late, and exactly the incomplete tail is held back.
        assert got == bodies[: sum(end <= fed for end in ends)]
        assert decoder.buffered == expected_buffered(ends, fed)
    assert got == bodies
    assert decoder.buffered == 0


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW_OK)
@given(st.lists(small_bodies, min_size=1, max_size=6))
def test_byte_by_byte_equals_all_at_once(bodies: list[bytes]) -> None:
    stream = b"".join(encode_frame(body) for body in bodies)
    one_by_one = FrameDecoder()
    got = [frame for i in range(len(stream)) for frame in one_by_one.feed(stream[i : i + 1])]
    assert got == FrameDecoder().feed(stream) == bodies


@pytest.mark.parametrize("size", [1, 2, 255, 256, 65_535, MAX_FRAME])
def test_encoding_is_a_big_endian_u32_length(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = encode_frame(body)
    assert frame[:4] == size.to_bytes(4, "big") == frame_header(size)
    assert frame[4:] == body


@pytest.mark.parametrize("length", [0, MAX_FRAME + 1, 0x7FFFFFFF, 0xFFFFFFFF])
def test_bad_lengths_are_fatal_peer_errors(length: int) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        FrameDecoder().feed(struct.pack(">I", length))
    assert info.value.fatal is True


@pytest.mark.parametrize("length", [0, MAX_FRAME + 1, 0xFFFFFFFF])
def test_bad_length_is_refused_on_the_fourth_header_byte(length: int) -> None:
    decoder = FrameDecoder()
    header = struct.pack(">I", length)
    for i in range(3):
        assert decoder.feed(header[i : i + 1]) == []  # partial header: wait, no error
    with pytest.raises(RemoteProtocolError):
        decoder.feed(header[3:])  # before a single body byte arrives


def test_bad_length_after_good_frames_in_later_chunks() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(b"one") + encode_frame(b"two")) == [b"one", b"two"]
    with pytest.raises(RemoteProtocolError):
        decoder.feed(struct.pack(">I", 0))


def test_frames_before_a_bad_length_do_not_depend_on_chunking() -> None:
    """The module promises any split yields the same frames; that must hold up to an error.

    Fed in two chunks the good frame is delivered, then the error raised. Fed in one chunk the
    good frame must not be thrown away with the error: either ``feed`` returns it and raises on
    the next call, or it is delivered some other way before the connection dies.
    """
    stream = encode_frame(b"logout") + struct.pack(">I", 0)

    def delivered(chunks: list[bytes]) -> tuple[list[bytes], bool]:
        decoder, got, failed = FrameDecoder(), [], False
        for chunk in [*chunks, b""]:  # one extra empty feed gives a deferred error its chance
            try:
                got.extend(decoder.feed(chunk))
            except RemoteProtocolError:
                failed = True
                break
        return got, failed

    assert delivered([stream[:10], stream[10:]]) == ([b"logout"], True)
    assert delivered([stream]) == ([b"logout"], True)


def test_encoder_refuses_what_a_peer_would_reject() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(b"")
    with pytest.raises(LocalProtocolError):
        encode_frame(bytes(MAX_FRAME + 1))
    assert len(encode_frame(bytes(MAX_FRAME))) == MAX_FRAME + 4


def test_custom_cap_applies_to_both_ends() -> None:
    decoder = FrameDecoder(max_frame=10)
    assert decoder.feed(encode_frame(b"x" * 10, max_frame=10)) == [b"x" * 10]
    with pytest.raises(LocalProtocolError):
        encode_frame(b"x" * 11, max_frame=10)
    with pytest.raises(RemoteProtocolError):
        decoder.feed(encode_frame(b"x" * 11))  # fine under the default cap, not under 10


def test_partial_header_and_body_wait_and_buffered_counts() -> None:
    decoder = FrameDecoder()
    frame = encode_frame(b"hello")
    assert decoder.buffered == 0
    assert decoder.feed(b"") == [] and decoder.buffered == 0
    assert decoder.feed(frame[:2]) == [] and decoder.buffered == 2  # half a header
    assert decoder.feed(frame[2:4]) == [] and decoder.buffered == 0  # header read, body awaited
    assert decoder.feed(frame[4:6]) == [] and decoder.buffered == 2
    assert decoder.feed(frame[6:] + frame[:5]) == [b"hello"] and decoder.buffered == 1
    assert decoder.feed(frame[5:]) == [b"hello"] and decoder.buffered == 0


def test_huge_declared_length_within_cap_does_not_emit_early() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(frame_header(MAX_FRAME) + bytes(MAX_FRAME - 1)) == []
    assert decoder.buffered == MAX_FRAME - 1
    assert decoder.feed(b"\x01") == [bytes(MAX_FRAME - 1) + b"\x01"]
