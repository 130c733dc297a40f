"""Only ciphertext on the wire: a recording relay between two devices captures both directions
of both channels, and nothing that names the devices, their context or what they said is in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.abc import ByteStream, SocketAttribute, SocketStream

from aura_core.noise import SECOND_MESSAGE_OVERHEAD
from aura_effects.framing import HEADER_LEN, prologue
from aura_effects.locator import PeerAddress
from tests.net.harness import ALICE, BOB, CONTEXT, Device, network, receive, signing_key

pytestmark = pytest.mark.anyio


class Recording:
    """Every byte a relay carried, per direction of each connection."""

    def __init__(self) -> None:
        self.streams: list[bytearray] = []

    def new(self) -> bytearray:
        self.streams.append(bytearray())
        return self.streams[-1]


async def _pipe(source: ByteStream, sink: ByteStream, tape: bytearray) -> None:
    try:
        while True:
            chunk = await source.receive()
            tape += chunk
            await sink.send(chunk)
    except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass
    finally:
        await sink.aclose()


@asynccontextmanager
async def relay(target: int, recording: Recording) -> AsyncIterator[int]:
    """A TCP relay to 127.0.0.1:`target` that records what it forwards; yields its port."""

    async def forward(client: SocketStream) -> None:
        server = await anyio.connect_tcp("127.0.0.1", target)
        async with client, server, anyio.create_task_group() as pair:
            pair.start_soon(_pipe, client, server, recording.new())
            pair.start_soon(_pipe, server, client, recording.new())

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, forward)
        yield listener.extra(SocketAttribute.local_port)
        group.cancel_scope.cancel()


def through(device: Device, port: int) -> PeerAddress:
    return PeerAddress("127.0.0.1", port, device.keypair.public)


async def test_the_captured_stream_holds_no_identity_context_or_payload() -> None:
    recording = Recording()
    to_alice = b"the quarterly numbers are 4, 8, 15, 16, 23, 42"
    to_bob = b"meet at the usual place at noon"
    async with (
        network(ALICE, BOB) as (alice, bob),
        relay(bob.running.port, recording) as bob_relay,
        relay(alice.running.port, recording) as alice_relay,
    ):
        alice.locator.put(BOB, through(bob, bob_relay))
        bob.locator.put(ALICE, through(alice, alice_relay))
        for _ in range(3):
            await alice.send(BOB, to_bob)
            await bob.send(ALICE, to_alice)
            assert await receive(bob) == (ALICE, to_bob)
            assert await receive(alice) == (BOB, to_alice)

    assert len(recording.streams) == 4  # two channels, two directions each
    forbidden = {
        "Alice's authority id": ALICE.raw,
        "Bob's authority id": BOB.raw,
        "Alice's device id": alice.device.raw,
        "Bob's device id": bob.device.raw,
        "the context id": CONTEXT.raw,
        "Alice's message": to_bob,
        "Bob's message": to_alice,
        "Alice's static key": alice.keypair.public,
        "Bob's static key": bob.keypair.public,
        "Alice's receipt key": signing_key(ALICE).verifying_key.raw,
        "Bob's receipt key": signing_key(BOB).verifying_key.raw,
    }
    texts = {name: str(value).encode() for name, value in [("alice", ALICE), ("bob", BOB)]}
    texts["context"] = str(CONTEXT).encode()
    sizes = sorted(len(tape) for tape in recording.streams)
    answer = len(prologue()) + HEADER_LEN + SECOND_MESSAGE_OVERHEAD
    assert sizes[:2] == [answer, answer]  # each responder sends its prologue and message 2
    assert sizes[2] > 3 * len(to_alice) and sizes[3] > 3 * len(to_bob)
    for tape in recording.streams:
        captured = bytes(tape)
        assert captured.startswith(prologue())  # the version is the only plaintext
        for name, value in {**forbidden, **texts}.items():
            for piece in (value, value[:8], value[-8:]):  # not even a part of one
                assert piece not in captured, f"{name} appears on the wire"
