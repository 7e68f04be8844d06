"""Length-prefixed frames: ``length: u32 big-endian`` then ``length`` bytes of body.

The original chat read ``recv(1024)`` and hoped one call held one message. TCP promises no such
thing, so the decoder buffers: any split of the stream into chunks yields the same frames, and a
declared length outside ``1..max_frame`` is the peer's fault before a single body byte is read.
"""

from __future__ import annotations

import struct

from common.errors import LocalProtocolError, RemoteProtocolError

MAX_FRAME = 65_536
HEADER = struct.Struct(">I")


def frame_header(length: int) -> bytes:
    """The 4-byte header of a frame whose body has ``length`` bytes (also the record's AAD)."""
    return HEADER.pack(length)


def encode_frame(body: bytes, max_frame: int = MAX_FRAME) -> bytes:
    """Prefix ``body`` with its length; refusing empty or oversized bodies is our own rule."""
    if not 1 <= len(body) <= max_frame:
        raise LocalProtocolError(f"frame body of {len(body)} bytes is outside 1..{max_frame}")
    return HEADER.pack(len(body)) + body


class FrameDecoder:
    """Feed it bytes as they arrive; it returns every complete frame body, in order."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._max_frame = max_frame
        self._buffer = bytearray()
        self._need: int | None = None  # body length of the frame being read, once known
        self._error: RemoteProtocolError | None = None  # a bad header, reported after its frames

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the bodies of all frames now complete (possibly none).

        A bad length header raises, but only after the frames before it were returned: frames
        that came first are delivered the same whatever the chunking.
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        frames: list[bytes] = []
        while True:
            if self._need is None:
                if len(self._buffer) < HEADER.size:
                    return frames
                (length,) = HEADER.unpack_from(self._buffer)
                if not 1 <= length <= self._max_frame:
                    self._error = RemoteProtocolError(
                        f"frame length {length} outside 1..{self._max_frame}"
                    )
                    if frames:
                        return frames
                    raise self._error
                del self._buffer[: HEADER.size]
                self._need = length
            if len(self._buffer) < self._need:
                return frames
            frames.append(bytes(self._buffer[: self._need]))
            del self._buffer[: self._need]
            self._need = None
