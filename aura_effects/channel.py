"""One Noise channel over one byte stream: the handshake flights and the message frames.

    initiator                                       responder
    prologue || frame(msg 1: Hello)  ---------->    (check prologue, read Hello, decide)
                                     <----------    prologue, frame(msg 2)
    frame(READY)                     ---------->    (the caller proved its PSK: established)
    frame(LAST | data) ...           ---------->

Message 1's payload is a `Hello`: the context the channel is for, the caller's authority, the
context epoch whose PSK it used, and a stamp that grows with every handshake the caller starts
(against replays of message 1). It is encrypted to the responder's static key; nothing but the
prologue and the frame lengths is in the clear, and the envelope's source, destination and
context are implied by the channel, never sent.

After the handshake every frame is one Noise transport message whose plaintext starts with a
kind byte: `READY` (the initiator's first, confirming the channel), `MORE` (a fragment, more
follow), `LAST` (a message's last fragment; a message that fits one frame alone is one `LAST`)
or `PACK` (two or more whole messages, each a u32 big-endian length and its bytes). A writer
packs the messages it has queued into as few frames as they fit (`seal_plaintexts`), so a
burst of small messages costs one encryption and one frame; a message too large for a pack is
fragmented. A message is at most `max_message` bytes and a reader (`Reassembler`) never holds
more than that of one.

Channels here are one-way for data: only the initiator sends messages; a responder that sends
anything after message 2 has broken the protocol.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final, NoReturn

import anyio
import attrs
from anyio.abc import ByteStream

from aura_core.encoding import encode, record
from aura_core.errors import InvalidArgument, MalformedFrame
from aura_core.ids import AuthorityId, ContextId
from aura_core.noise import (
    MAX_PLAINTEXT_LEN,
    TAG_LEN,
    NoiseChannel,
    NoiseInitiator,
    NoiseResponder,
    StaticKeypair,
)
from aura_effects.framing import HEADER_LEN, VERSION, FrameDecoder, encode_frame, prologue

__all__ = [
    "READY",
    "MORE",
    "LAST",
    "PACK",
    "PACKED_LEN",
    "Hello",
    "FrameReader",
    "SecureConnection",
    "initiate",
    "read_hello",
    "answer",
    "seal_plaintexts",
    "Reassembler",
]

READY: Final = 0x01
MORE: Final = 0x02
LAST: Final = 0x03
PACK: Final = 0x04
PACKED_LEN: Final = 4
"""Bytes of the length before each message in a `PACK`."""
_READ_SIZE: Final = 65536
_MORE, _LAST, _PACK = bytes([MORE]), bytes([LAST]), bytes([PACK])


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} is an unsigned 64-bit int")


@record("net.hello")
@attrs.frozen
class Hello:
    """Payload 1 of a handshake: who calls, for which context, under which epoch's PSK."""

    context: ContextId
    authority: AuthorityId
    epoch: int = attrs.field(validator=_u64)
    stamp: int = attrs.field(validator=_u64)
    """Greater than the stamp of every earlier handshake this caller started in this
    context: the responder refuses one that is not (a replayed message 1)."""


def seal_plaintexts(messages: Sequence[bytes], piece: int, max_message: int) -> list[bytes]:
    """The frame plaintexts (kind byte first, each at most `piece + 1` bytes) that carry
    `messages` in order: runs of messages that fit together go in one `PACK` (a lone one as
    `LAST`), a message too large for a pack is fragmented into `MORE`s and a `LAST`. Raises
    `InvalidArgument` for a message over `max_message` (before producing anything)."""
    for message in messages:
        if len(message) > max_message:
            raise InvalidArgument(f"a message is at most {max_message} bytes")
    plaintexts: list[bytes] = []
    group: list[bytes] = []
    size = 0  # the group's bytes in a pack: each message and its length

    def flush() -> None:
        if len(group) == 1:
            plaintexts.append(_LAST + group[0])
        elif group:
            parts = [_PACK]
            for each in group:
                parts.append(len(each).to_bytes(PACKED_LEN, "big"))
                parts.append(each)
            plaintexts.append(b"".join(parts))
        group.clear()

    for message in messages:
        packed = PACKED_LEN + len(message)
        if size + packed <= piece:
            group.append(message)
            size += packed
            continue
        flush()
        if packed <= piece:
            group.append(message)
            size = packed
            continue
        size = 0
        start = 0
        while len(message) - start > piece:
            plaintexts.append(_MORE + message[start : start + piece])
            start += piece
        plaintexts.append(_LAST + message[start:])
    flush()
    return plaintexts


class Reassembler:
    """Messages from the frame plaintexts of one direction, in order (sans-IO): `LAST` and
    `PACK` complete messages, `MORE` starts or continues one. Anything else, a `PACK` while a
    message is half received, a pack of fewer than two messages or cut inside one, and a
    message over `max_message` raise `MalformedFrame`; after that the reassembler is dead."""

    __slots__ = ("_failed", "_max", "_partial", "_partial_len")

    def __init__(self, max_message: int) -> None:
        self._max = max_message
        self._partial: list[bytes] = []
        self._partial_len = 0
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes held of a message not yet complete (at most `max_message`)."""
        return self._partial_len

    def add(self, plain: bytes) -> list[bytes]:
        """The messages `plain` completes (possibly none)."""
        if self._failed:
            raise MalformedFrame("the channel already broke the message format")
        try:
            return self._add(plain)
        except MalformedFrame:
            self._failed = True
            self._partial.clear()
            self._partial_len = 0
            raise

    def _add(self, plain: bytes) -> list[bytes]:
        kind = plain[0] if plain else None
        if kind == PACK:
            if self._partial:
                raise MalformedFrame("a pack inside a fragmented message")
            return self._unpack(plain)
        if kind not in (MORE, LAST):
            raise MalformedFrame(f"unexpected frame kind {kind}")
        size = self._partial_len + len(plain) - 1
        if size > self._max:
            raise MalformedFrame(f"a message over {self._max} bytes")
        if kind == LAST and not self._partial:
            return [plain[1:]]
        self._partial.append(plain[1:])
        self._partial_len = size
        if kind == MORE:
            return []
        message = b"".join(self._partial)
        self._partial.clear()
        self._partial_len = 0
        return [message]

    def _unpack(self, plain: bytes) -> list[bytes]:
        messages: list[bytes] = []
        at, end = 1, len(plain)
        while at < end:
            if end - at < PACKED_LEN:
                raise MalformedFrame("a pack cut inside a length")
            length = int.from_bytes(plain[at : at + PACKED_LEN], "big")
            at += PACKED_LEN
            if length > self._max:
                raise MalformedFrame(f"a message over {self._max} bytes")
            if end - at < length:
                raise MalformedFrame("a pack cut inside a message")
            messages.append(plain[at : at + length])
            at += length
        if len(messages) < 2:
            raise MalformedFrame("a pack of fewer than two messages")
        return messages


class FrameReader:
    """Frames from a byte stream, through a `FrameDecoder` (the prologue is checked first)."""

    def __init__(self, stream: ByteStream, limit: int) -> None:
        self._stream = stream
        self._decoder = FrameDecoder(limit=limit, version=VERSION)
        self._pending: deque[bytes] = deque()

    async def _fill(self) -> None:
        try:
            chunk = await self._stream.receive(_READ_SIZE)
        except anyio.EndOfStream:
            self._decoder.eof()  # raises if the peer stopped inside a frame
            raise
        self._pending.extend(self._decoder.feed(chunk))

    async def frame(self) -> bytes:
        """The next frame; `anyio.EndOfStream` if the peer closed at a frame boundary."""
        while not self._pending:
            await self._fill()
        return self._pending.popleft()

    async def frames(self) -> list[bytes]:
        """Every frame available now (at least one)."""
        while not self._pending:
            await self._fill()
        frames = list(self._pending)
        self._pending.clear()
        return frames


async def initiate(
    stream: ByteStream,
    reader: FrameReader,
    *,
    local: StaticKeypair,
    remote_static: bytes,
    psk: bytes,
    hello: Hello,
    seed: bytes,
) -> NoiseChannel:
    """The initiator's handshake: prologue and message 1 in one write, then message 2, then
    READY. Raises `VersionMismatch`, `MalformedFrame`, `HandshakeFailed` (another PSK, not
    the expected responder) or `anyio.EndOfStream` (the responder refused)."""
    initiator = NoiseInitiator(local, remote_static, psk, VERSION, seed)
    first = initiator.write_first(encode(hello))
    await stream.send(prologue() + encode_frame(first))
    _, channel = initiator.read_second(await reader.frame())
    await stream.send(encode_frame(channel.encrypt(bytes([READY]))))
    return channel


async def read_hello(
    stream: ByteStream, reader: FrameReader, *, local: StaticKeypair, seed: bytes
) -> tuple[NoiseResponder, bytes, bytes]:
    """The responder's first step: write the prologue, read message 1. Returns the handshake,
    the caller's static key and payload 1 (for the caller to check before `answer`)."""
    await stream.send(prologue())
    responder = NoiseResponder(local, VERSION, seed)
    caller, payload = responder.read_first(await reader.frame())
    return responder, caller, payload


async def answer(
    stream: ByteStream, reader: FrameReader, responder: NoiseResponder, psk: bytes
) -> NoiseChannel:
    """The responder's second step: message 2 under `psk`, then the caller's READY, which only
    a caller holding `psk` can produce. Raises `DecryptionFailed` / `MalformedFrame` /
    `anyio.EndOfStream` if it does not come."""
    message, channel = responder.write_second(psk)
    await stream.send(encode_frame(message))
    confirm = channel.decrypt(await reader.frame())
    if confirm != bytes([READY]):
        raise MalformedFrame("the caller's first frame is not READY")
    return channel


@attrs.define(eq=False)
class SecureConnection:
    """An established channel on its stream, with the peer and context it is for.

    One task writes (`send`) and one reads (`receive`); `activity` counts both, for the idle
    watchdog.
    """

    stream: ByteStream
    reader: FrameReader
    channel: NoiseChannel
    peer: AuthorityId
    context: ContextId
    epoch: int
    inbound: bool
    max_frame: int
    max_message: int
    activity: int = 0
    _reassembler: Reassembler = attrs.field(
        init=False,
        default=attrs.Factory(lambda self: Reassembler(self.max_message), takes_self=True),
    )

    @property
    def _piece(self) -> int:
        return min(MAX_PLAINTEXT_LEN, self.max_frame - TAG_LEN) - 1

    async def send(self, messages: Sequence[bytes]) -> None:
        """Encrypt `messages` (packed together and fragmented as they fit) and write them with
        one socket send."""
        self.activity += 1
        channel = self.channel
        out: list[bytes] = []
        for plain in seal_plaintexts(messages, self._piece, self.max_message):
            sealed = channel.encrypt(plain)
            out.append(len(sealed).to_bytes(HEADER_LEN, "big"))
            out.append(sealed)
        await self.stream.send(b"".join(out))
        self.activity += 1

    async def receive(self) -> list[bytes]:
        """The messages completed by the next bytes read (possibly none yet). Raises
        `anyio.EndOfStream` at a clean end, `MalformedFrame` / `DecryptionFailed` otherwise."""
        frames = await self.reader.frames()
        self.activity += 1
        done: list[bytes] = []
        for frame in frames:
            done += self._reassembler.add(self.channel.decrypt(frame))
        return done

    async def expect_nothing(self) -> NoReturn:
        """Read until the peer closes (a responder sends nothing after the handshake);
        `MalformedFrame` if it sends anything."""
        await self.reader.frame()
        raise MalformedFrame("a responder sent data after the handshake")

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()
