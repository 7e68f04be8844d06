"""Frames: any chunking of the stream yields the same frames; bad lengths are the peer's fault."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import LocalProtocolError, RemoteProtocolError
from common.framing import MAX_FRAME, FrameDecoder, encode_frame

bodies = st.lists(st.binary(min_size=1, max_size=2000), min_size=1, max_size=10)


@given(bodies, st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=40))
def test_any_split_gives_the_same_frames(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(f) for f in frames)
    decoder, got, pos, i = FrameDecoder(), [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        got.extend(decoder.feed(stream[pos : pos + step]))
        pos, i = pos + step, i + 1
    assert got == frames and decoder.buffered == 0


@settings(max_examples=10)
@given(st.integers(min_value=MAX_FRAME - 3, max_value=MAX_FRAME))
def test_frames_at_the_cap(size: int) -> None:
    body = bytes(size)
    assert FrameDecoder().feed(encode_frame(body)) == [body]


@pytest.mark.parametrize("length", [0, MAX_FRAME + 1, 0xFFFFFFFF])
def test_bad_lengths_are_rejected_before_the_body(length: int) -> None:
    with pytest.raises(RemoteProtocolError):
        FrameDecoder().feed(struct.pack(">I", length))


def test_encoder_refuses_what_the_peer_would_reject() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(b"")
    with pytest.raises(LocalProtocolError):
        encode_frame(bytes(MAX_FRAME + 1))


def test_partial_header_and_body_wait() -> None:
    decoder = FrameDecoder()
    frame = encode_frame(b"hello")
    assert decoder.feed(frame[:2]) == [] and decoder.buffered == 2
    assert decoder.feed(frame[2:6]) == [] and decoder.buffered == 2  # header consumed
    assert decoder.feed(frame[6:] + frame) == [b"hello", b"hello"]


def test_custom_cap() -> None:
    decoder = FrameDecoder(max_frame=10)
    assert decoder.feed(encode_frame(b"x" * 10, max_frame=10)) == [b"x" * 10]
    with pytest.raises(RemoteProtocolError):
        decoder.feed(struct.pack(">I", 11))
