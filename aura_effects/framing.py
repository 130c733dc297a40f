"""The TCP wire format below the Noise channel: a version prologue, then length-prefixed frames.

    connection := prologue frame*
    prologue   := u8 n (1..16) || n bytes of version text   (b"\\x06aura/1")
    frame      := u32 big-endian length L (1..limit) || L bytes

Each side writes its prologue first; the reader checks the peer's before anything else and
refuses another version with `VersionMismatch` (garbage on the port is refused the same way).
Every frame after it carries exactly one Noise message, so the protocol limit is 65535 bytes;
a length of zero or over the limit is refused as soon as the 4-byte header is read, before any
of the body is buffered. The length is four bytes although two would hold every valid frame,
so that an oversized claim is visible and refused instead of wrapping round.

`FrameDecoder` is sans-IO: it is fed whatever the socket returned and hands back complete
frames, holding at most one incomplete frame (under `HEADER_LEN + limit` bytes). After an error
it is dead: the connection must be closed.
"""

from __future__ import annotations

from typing import Final

from aura_core.errors import InvalidArgument, MalformedFrame, VersionMismatch
from aura_core.noise import MAX_MESSAGE_LEN

__all__ = [
    "VERSION",
    "HEADER_LEN",
    "MAX_FRAME",
    "MAX_VERSION_LEN",
    "prologue",
    "encode_frame",
    "FrameDecoder",
]

VERSION: Final = b"aura/1"
"""This protocol's version: exchanged in the clear first, and the Noise prologue."""
HEADER_LEN: Final = 4
MAX_FRAME: Final = MAX_MESSAGE_LEN
"""The protocol's frame limit: one Noise message (65535 bytes)."""
MAX_VERSION_LEN: Final = 16

_PROLOGUE_LENGTH, _PROLOGUE_TEXT, _HEADER, _BODY, _FAILED = range(5)


def prologue(version: bytes = VERSION) -> bytes:
    """The bytes a side writes first: the version's length, then the version."""
    if type(version) is not bytes or not 1 <= len(version) <= MAX_VERSION_LEN:
        raise InvalidArgument(f"a version is 1..{MAX_VERSION_LEN} bytes")
    return bytes([len(version)]) + version


def encode_frame(body: bytes, limit: int = MAX_FRAME) -> bytes:
    """One frame around `body` (1..`limit` bytes)."""
    if not 1 <= len(body) <= limit:
        raise InvalidArgument(f"a frame body is 1..{limit} bytes, not {len(body)}")
    return len(body).to_bytes(HEADER_LEN, "big") + body


def _shown(version: bytes) -> str:
    """The peer's version for an error message: printable ASCII as text, anything else in hex."""
    if all(0x20 < b < 0x7F for b in version):
        return version.decode("ascii")
    return "0x" + version.hex()


class FrameDecoder:
    """Incremental decoder of one direction of a connection (prologue, then frames)."""

    __slots__ = ("_buffer", "_expected", "_limit", "_need", "_state")

    def __init__(self, *, limit: int = MAX_FRAME, version: bytes = VERSION) -> None:
        if type(limit) is not int or not 1 <= limit <= MAX_FRAME:
            raise InvalidArgument(f"the frame limit is 1..{MAX_FRAME}")
        self._expected = prologue(version)[1:]
        self._limit = limit
        self._buffer = bytearray()
        self._state = _PROLOGUE_LENGTH
        self._need = 1

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete prologue or frame (always under `HEADER_LEN + limit`)."""
        return len(self._buffer)

    @property
    def at_boundary(self) -> bool:
        """Whether the bytes so far end exactly after a frame (a clean place to stop)."""
        return self._state == _HEADER and not self._buffer

    def feed(self, data: bytes) -> list[bytes]:
        """The frames that `data` completes, in order. Raises `VersionMismatch` or
        `MalformedFrame` (and stays failed) on bytes that break the format."""
        if self._state == _FAILED:
            raise MalformedFrame("the connection already broke the frame format")
        buffer = self._buffer
        buffer += data
        try:
            if self._state in (_PROLOGUE_LENGTH, _PROLOGUE_TEXT):
                while self._state != _HEADER:
                    if len(buffer) < self._need:
                        return []
                    self._read_prologue(buffer)
            return self._frames(buffer)
        except (MalformedFrame, VersionMismatch):
            self._fail()
            raise

    def _frames(self, buffer: bytearray) -> list[bytes]:
        """Every complete frame in `buffer`, which is then cut down to what remains."""
        frames: list[bytes] = []
        end, at, limit = len(buffer), 0, self._limit
        if self._state == _BODY:  # a header read earlier, its body now complete?
            if end < self._need:
                return frames
            frames.append(bytes(buffer[: self._need]))
            at = self._need
            self._state, self._need = _HEADER, HEADER_LEN
        while end - at >= HEADER_LEN:
            length = int.from_bytes(buffer[at : at + HEADER_LEN], "big")
            if not 1 <= length <= limit:
                raise MalformedFrame(f"frame length {length} outside 1..{limit}")
            start = at + HEADER_LEN
            if end - start < length:
                self._state, self._need = _BODY, length
                at = start
                break
            at = start + length
            frames.append(bytes(buffer[start:at]))
        del buffer[:at]
        return frames

    def _read_prologue(self, buffer: bytearray) -> None:
        if self._state == _PROLOGUE_LENGTH:
            length = buffer[0]
            if not 1 <= length <= MAX_VERSION_LEN:
                raise VersionMismatch(f"not an aura peer (first byte 0x{length:02x})")
            del buffer[:1]
            self._state, self._need = _PROLOGUE_TEXT, length
            return
        theirs = bytes(buffer[: self._need])
        if theirs != self._expected:
            raise VersionMismatch(
                f"peer speaks {_shown(theirs)}, this device {_shown(self._expected)}"
            )
        del buffer[: self._need]
        self._state, self._need = _HEADER, HEADER_LEN

    def rest(self) -> bytes:
        """The bytes fed after the last complete frame, exactly as they came (the header of an
        incomplete frame included), which this decoder then forgets: for handing the stream to
        another reader at a frame boundary once the prologue is read."""
        if self._state not in (_HEADER, _BODY):
            raise InvalidArgument("the stream is not past its prologue")
        header = self._need.to_bytes(HEADER_LEN, "big") if self._state == _BODY else b""
        rest = header + bytes(self._buffer)
        self._buffer.clear()
        self._state, self._need = _HEADER, HEADER_LEN
        return rest

    def eof(self) -> None:
        """The peer closed its side: fine at a frame boundary, else `MalformedFrame`."""
        if self._state == _FAILED:
            return
        if self._state in (_PROLOGUE_LENGTH, _PROLOGUE_TEXT):
            if self._state == _PROLOGUE_LENGTH and not self._buffer:
                return
            self._fail()
            raise VersionMismatch("connection closed inside the version prologue")
        if not self.at_boundary:
            self._fail()
            raise MalformedFrame("connection closed inside a frame (truncated)")

    def _fail(self) -> None:
        self._state = _FAILED
        self._buffer.clear()
