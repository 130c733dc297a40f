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
packs the messages it has queued into as few frames as they fit, so a burst of small messages
costs one encryption and one frame; a message too large for a pack is fragmented. A message is
at most `max_message` bytes and a reader never holds more than that of one. Both halves are
native calls on the channel, one per write and one per read (`NoiseChannel.seal`,
`NoiseOpener.open`): the handshake's frames go through `FrameDecoder`, the data frames after
it only through the opener, which takes over the stream where the handshake's reader stopped.

Channels here are one-way for data: only the initiator sends messages; a responder that sends
anything after message 2 has broken the protocol.
"""

from __future__ import annotations

from collections import deque
from typing import Final, NoReturn

import anyio
import attrs
from anyio.abc import ByteStream

from aura_core.encoding import encode, record
from aura_core.errors import InvalidArgument, MalformedFrame
from aura_core.ids import AuthorityId, ContextId
from aura_core.noise import (
    NoiseChannel,
    NoiseInitiator,
    NoiseOpener,
    NoiseResponder,
    StaticKeypair,
)
from aura_effects.framing import HEADER_LEN, VERSION, FrameDecoder, encode_frame, prologue

__all__ = [
    "READY",
    "MORE",
    "LAST",
    "PACK",
    "Hello",
    "FrameReader",
    "SecureConnection",
    "initiate",
    "read_hello",
    "answer",
]

READY: Final = 0x01
MORE: Final = 0x02
LAST: Final = 0x03
PACK: Final = 0x04
"""The frame kinds (the first plaintext byte); the native core's `noise::wire` writes and
reads the data kinds, this module only `READY`."""
_READ_SIZE: Final = 262144
"""Bytes asked of the socket per read: several 64 KiB frames per wake-up of the reading task
when a sender is busy (its cost is per read, not per byte)."""


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

    def rest(self) -> bytes:
        """The bytes read past the last frame taken, as they came on the stream, which this
        reader then forgets (for the data reader that takes over after the handshake)."""
        frames = [len(f).to_bytes(HEADER_LEN, "big") + f for f in self._pending]
        self._pending.clear()
        return b"".join(frames) + self._decoder.rest()


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
    _opener: NoiseOpener = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: NoiseOpener(self.max_frame, self.max_message), takes_self=True
        ),
    )

    async def send(self, messages: list[bytes]) -> None:
        """Encrypt `messages` (packed together and fragmented as they fit) and write them with
        one socket send."""
        self.activity += 1
        await self.stream.send(self.channel.seal(messages, self.max_frame, self.max_message))
        self.activity += 1

    async def receive(self) -> list[bytes]:
        """The messages completed by the next bytes read (possibly none yet). Raises
        `anyio.EndOfStream` at a clean end, `MalformedFrame` / `DecryptionFailed` otherwise."""
        data = self.reader.rest()  # what the handshake's reader read past READY, once
        if not data:
            try:
                data = await self.stream.receive(_READ_SIZE)
            except anyio.EndOfStream:
                if not self._opener.at_boundary:
                    raise MalformedFrame("connection closed inside a frame (truncated)") from None
                raise
        self.activity += 1
        return self._opener.open(self.channel, data)

    async def expect_nothing(self) -> NoReturn:
        """Read until the peer closes (a responder sends nothing after the handshake);
        `MalformedFrame` if it sends anything."""
        await self.reader.frame()
        raise MalformedFrame("a responder sent data after the handshake")

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()
