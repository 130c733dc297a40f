"""The data reader takes the stream over from the handshake's reader: frames that arrived in the
same read as `READY` (whole or cut) are read by the channel's opener, once, in order."""

from __future__ import annotations

import anyio
import pytest

from aura_core.ids import AuthorityId, ContextId
from aura_core.noise import NoiseInitiator, StaticKeypair
from aura_effects.channel import READY, FrameReader, SecureConnection, answer, read_hello
from aura_effects.framing import MAX_FRAME, VERSION, encode_frame, prologue

pytestmark = pytest.mark.anyio

ALICE, BOB = StaticKeypair.from_seed(b"\x01" * 32), StaticKeypair.from_seed(b"\x02" * 32)
PSK = b"\x03" * 32


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("cut", [0, 3, 700, None])
async def test_frames_sent_with_ready_are_read_by_the_opener(cut: int | None) -> None:
    """The caller writes `READY` and its first data frames in one send (then, when `cut` is
    given, the rest of a frame cut after `cut` bytes in a second send)."""
    messages = [bytes([i]) * 1000 for i in range(5)]
    received: list[bytes] = []
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:

        async def respond(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                await read(stream)

        async def read(stream: anyio.abc.SocketStream) -> None:
            reader = FrameReader(stream, MAX_FRAME)
            responder, _, _ = await read_hello(stream, reader, local=BOB, seed=bytes(32))
            channel = await answer(stream, reader, responder, PSK)
            connection = SecureConnection(
                stream,
                reader,
                channel,
                AuthorityId(b"\xa1" * 16),
                ContextId(b"\xc1" * 16),
                0,
                True,
                MAX_FRAME,
                1 << 17,
            )
            while len(received) < len(messages):
                received.extend(await connection.receive())
            listener_done.set()

        listener_done = anyio.Event()
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, respond)
            stream = await anyio.connect_tcp("127.0.0.1", port)
            async with stream:
                initiator = NoiseInitiator(ALICE, BOB.public, PSK, VERSION, bytes(32))
                await stream.send(prologue() + encode_frame(initiator.write_first()))
                reader = FrameReader(stream, MAX_FRAME)
                _, channel = initiator.read_second(await reader.frame())
                flight = encode_frame(channel.encrypt(bytes([READY])))
                flight += channel.seal(messages[:2], 1100, 1 << 17)  # two whole frames
                rest = channel.seal(messages[2:], 1100, 1 << 17)
                if cut is None:
                    await stream.send(flight + rest)
                else:
                    await stream.send(flight + rest[:cut])
                    await anyio.sleep(0.05)
                    await stream.send(rest[cut:])
                with anyio.fail_after(5):
                    await listener_done.wait()
            group.cancel_scope.cancel()
    assert received == messages
