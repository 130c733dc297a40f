"""Hand-driven connections for the hostile tests: raw bytes, and handshakes run step by step
with the same primitives the transport uses, so a test can stop, cut or replay any of them."""

from __future__ import annotations

import os

import anyio
from anyio.abc import SocketStream

from aura_core.encoding import encode
from aura_core.ids import AuthorityId, ContextId
from aura_core.kdf import derive_context_key
from aura_core.noise import NoiseChannel, NoiseInitiator, StaticKeypair
from aura_effects.channel import LAST, READY, Hello
from aura_effects.framing import VERSION, FrameDecoder, encode_frame, prologue
from aura_effects.tcp import PSK_APP
from tests.net.harness import CONTEXT, SECRET


async def connect(port: int) -> SocketStream:
    return await anyio.connect_tcp("127.0.0.1", port)


async def read_to_end(stream: SocketStream, timeout: float = 5.0) -> bytes:
    """Everything the other side sends until it closes the connection (then closes ours)."""
    received = bytearray()
    async with stream:
        with anyio.fail_after(timeout):
            while True:
                try:
                    received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return bytes(received)


class Caller:
    """An initiator driven by hand: message 1 built now, the rest on request."""

    def __init__(
        self,
        keypair: StaticKeypair,
        authority: AuthorityId,
        responder: bytes,
        *,
        stamp: int,
        epoch: int = 0,
        secret: bytes = SECRET,
        context: ContextId = CONTEXT,
    ) -> None:
        psk = derive_context_key(secret, app=PSK_APP, context=context, epoch=epoch)
        self.initiator = NoiseInitiator(keypair, responder, psk, VERSION, os.urandom(32))
        hello = Hello(context, authority, epoch, stamp)
        self.first_flight = prologue() + encode_frame(self.initiator.write_first(encode(hello)))
        self.decoder = FrameDecoder()
        self.channel: NoiseChannel | None = None

    async def frame(self, stream: SocketStream, timeout: float = 5.0) -> bytes:
        """The next frame from the responder (its prologue checked on the way)."""
        with anyio.fail_after(timeout):
            while True:
                frames = self.decoder.feed(await stream.receive(1))
                if frames:
                    return frames[0]

    async def handshake(self, stream: SocketStream) -> NoiseChannel:
        """The whole handshake: first flight, message 2, READY."""
        await stream.send(self.first_flight)
        _, channel = self.initiator.read_second(await self.frame(stream))
        await stream.send(encode_frame(channel.encrypt(bytes([READY]))))
        self.channel = channel
        return channel

    def message(self, payload: bytes, kind: int = LAST) -> bytes:
        """One frame of `kind` carrying `payload` on the established channel."""
        assert self.channel is not None
        return encode_frame(self.channel.encrypt(bytes([kind]) + payload))
