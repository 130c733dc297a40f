"""Bad input and hostile peers: each closes its own connection (or refuses the send) with a
trace event, and the transport keeps serving a well-behaved peer in the same test."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.abc import SocketStream

from aura_core.errors import SendQueueFull
from aura_effects.channel import MORE, PACK
from aura_effects.framing import MAX_FRAME, encode_frame, prologue
from aura_effects.locator import PeerAddress
from aura_effects.tcpconfig import TcpConfig
from tests.net.harness import (
    ALICE,
    BOB,
    CAROL,
    CONTEXT,
    Device,
    introduce,
    make_device,
    network,
    receive,
    started,
    static_keypair,
    wait_for,
)
from tests.net.wire import Caller, connect, read_to_end

pytestmark = pytest.mark.anyio


async def exchange(alice: Device, bob: Device, body: bytes) -> None:
    """The well-behaved peer still gets through."""
    await alice.send(BOB, body)
    assert await receive(bob) == (ALICE, body)


def refusals(device: Device) -> list[tuple[object, object]]:
    return [(e.get("reason"), e.get("detail")) for e in device.events("net.inbound.refused")]


@asynccontextmanager
async def alice_and(bob_config: TcpConfig) -> AsyncIterator[tuple[Device, Device]]:
    """Alice (test timings) and Bob with `bob_config`, introduced."""
    alice, bob = await make_device(ALICE), await make_device(BOB)
    async with started(alice), started(bob, bob_config):
        introduce([alice, bob])
        yield alice, bob


async def test_garbage_on_the_port_is_refused() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        await exchange(alice, bob, b"before")
        for garbage in (
            b"GET / HTTP/1.1\r\nHost: bob\r\n\r\n",
            prologue() + encode_frame(os.urandom(200)),  # not a message 1 for Bob's key
            b"\x00" * 64,
        ):
            stream = await connect(bob.running.port)
            await stream.send(garbage)
            assert await read_to_end(stream) == prologue()  # Bob's prologue, then closed
        assert [r for r, _ in refusals(bob)] == ["version", "handshake", "version"]
        await exchange(alice, bob, b"after")


async def test_a_truncated_frame_is_refused() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        stream = await connect(bob.running.port)
        await stream.send(prologue() + (200).to_bytes(4, "big") + bytes(50))
        await stream.send_eof()
        assert await read_to_end(stream) == prologue()
        assert refusals(bob) == [("malformed", "connection closed inside a frame (truncated)")]
        await exchange(alice, bob, b"still served")


async def test_an_oversized_frame_is_refused_on_its_header() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        for claimed in (MAX_FRAME + 1, 2**32 - 1, 0):
            stream = await connect(bob.running.port)
            # Only the header: Bob must refuse without waiting for (or buffering) a body.
            await stream.send(prologue() + claimed.to_bytes(4, "big"))
            assert await read_to_end(stream) == prologue()
        assert refusals(bob) == [
            ("malformed", f"frame length {n} outside 1..{MAX_FRAME}")
            for n in (MAX_FRAME + 1, 2**32 - 1, 0)
        ]
        await exchange(alice, bob, b"still served")


async def test_another_protocol_version_is_refused_both_ways() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        stream = await connect(bob.running.port)
        await stream.send(b"\x06aura/2" + bytes(100))
        assert await read_to_end(stream) == b"\x06aura/1"  # the prologues are exchanged
        assert refusals(bob) == [("version", "peer speaks aura/2, this device aura/1")]

        async def future_peer(peer: SocketStream) -> None:
            async with peer:
                await peer.send(b"\x06aura/2")
                await read_to_end(peer)

        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, future_peer)
            port = listener.extra(anyio.abc.SocketAttribute.local_port)
            newer = PeerAddress("127.0.0.1", port, static_keypair(CAROL).public)
            alice.locator.put(CAROL, newer)
            await alice.send(CAROL, b"to a newer peer")
            await wait_for(lambda: bool(alice.events("net.outbound.failed")))
            failed = alice.events("net.outbound.failed")[0]
            assert (failed.get("reason"), failed.get("detail")) == (
                "version",
                "peer speaks aura/2, this device aura/1",
            )
            await exchange(alice, bob, b"still served")
            group.cancel_scope.cancel()


async def test_a_caller_without_the_context_secret_fails_the_handshake() -> None:
    alice, bob, carol = await make_device(ALICE), await make_device(BOB), await make_device(CAROL)
    carol.effects.contexts.remove(CONTEXT)
    carol.effects.contexts.add(CONTEXT, b"\x66" * 32)  # not the members' secret
    async with started(alice), started(bob), started(carol):
        introduce([alice, bob, carol])
        await carol.send(BOB, b"let me in")
        await wait_for(lambda: bool(bob.events("net.inbound.refused")))
        await wait_for(lambda: bool(carol.events("net.outbound.failed")))
        assert [r for r, _ in refusals(bob)] == ["unconfirmed"]
        assert carol.events("net.outbound.failed")[0].get("reason") == "handshake"
        await exchange(alice, bob, b"members only")
        assert not bob.events("net.inbound.connected")[1:]  # only Alice's channel
        assert bob.running.guarded.rejected == 0


async def test_an_unknown_static_key_or_a_false_identity_gets_no_answer() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        stranger = Caller(static_keypair(CAROL), CAROL, bob.keypair.public, stamp=1)
        stream = await connect(bob.running.port)
        await stream.send(stranger.first_flight)
        assert await read_to_end(stream) == prologue()  # no message 2
        impostor = Caller(static_keypair(CAROL), ALICE, bob.keypair.public, stamp=2)
        bob.locator.put(CAROL, PeerAddress("127.0.0.1", 1, static_keypair(CAROL).public))
        stream = await connect(bob.running.port)
        await stream.send(impostor.first_flight)
        assert await read_to_end(stream) == prologue()
        assert [r for r, _ in refusals(bob)] == ["unknown_key", "identity"]
        await exchange(alice, bob, b"still served")


async def test_a_replayed_first_message_is_refused_and_displaces_nothing() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        port = bob.running.port
        recorded = Caller(alice.keypair, ALICE, bob.keypair.public, stamp=1)
        live = await connect(port)
        await recorded.handshake(live)  # the genuine handshake an eavesdropper recorded
        await wait_for(lambda: len(bob.events("net.inbound.connected")) == 1)

        replay = await connect(port)
        await replay.send(recorded.first_flight)
        assert await read_to_end(replay) == prologue()  # refused before message 2

        # A first message Bob never saw passes the stamp check, but whoever replays it cannot
        # prove the PSK: Bob answers, gets no READY, and keeps the live channel.
        unseen = Caller(alice.keypair, ALICE, bob.keypair.public, stamp=2)
        replay = await connect(port)
        await replay.send(unseen.first_flight)
        await unseen.frame(replay)  # message 2
        await replay.aclose()
        await wait_for(lambda: len(refusals(bob)) == 2)
        assert [r for r, _ in refusals(bob)] == ["replay", "unconfirmed"]
        assert not bob.events("net.inbound.closed")

        await live.send(recorded.message(b"over the recorded channel"))
        await exchange(alice, bob, b"after the replays")  # the raw message is dropped first
        assert bob.running.guarded.rejected == 1
        await live.aclose()


async def test_bad_ciphertext_an_oversized_message_or_a_broken_pack_closes_the_channel() -> None:
    async with alice_and(TcpConfig(handshake_timeout=2.0, max_message=4096)) as (alice, bob):
        port = bob.running.port
        caller = Caller(alice.keypair, ALICE, bob.keypair.public, stamp=1)
        stream = await connect(port)
        await caller.handshake(stream)
        await stream.send(encode_frame(os.urandom(64)))
        assert await read_to_end(stream) == b""

        caller = Caller(alice.keypair, ALICE, bob.keypair.public, stamp=2)
        stream = await connect(port)
        await caller.handshake(stream)
        await stream.send(b"".join(caller.message(bytes(2000), MORE) for _ in range(3)))
        assert await read_to_end(stream) == b""

        caller = Caller(alice.keypair, ALICE, bob.keypair.public, stamp=3)
        stream = await connect(port)
        await caller.handshake(stream)
        await stream.send(caller.message((9).to_bytes(4, "big") + b"cut", PACK))
        assert await read_to_end(stream) == b""

        closed = [(e.get("reason"), e.get("detail")) for e in bob.events("net.inbound.closed")]
        assert closed == [
            ("decrypt", "transport message does not authenticate; the channel is closed"),
            ("malformed", "a message over 4096 bytes"),
            ("malformed", "a pack cut inside a message"),
        ]
        await exchange(alice, bob, b"still served")


async def test_a_silent_connection_is_closed_by_the_handshake_timeout() -> None:
    async with alice_and(TcpConfig(handshake_timeout=0.3)) as (alice, bob):
        silent = await connect(bob.running.port)
        await exchange(alice, bob, b"while it hangs")
        assert await read_to_end(silent) == prologue()  # closed by Bob
        assert refusals(bob) == [("timeout", "no handshake within 0.3 s")]
        await exchange(alice, bob, b"after")


async def test_connections_over_the_cap_are_closed_at_once() -> None:
    async with alice_and(TcpConfig(max_inbound=2, handshake_timeout=0.5)) as (alice, bob):
        port = bob.running.port
        await exchange(alice, bob, b"first")  # Alice's channel is one inbound connection
        held = await connect(port)
        assert await held.receive() == prologue()  # accepted: the second, then silent
        over = await connect(port)
        assert await read_to_end(over) == b""  # closed without a word
        assert refusals(bob) == [("cap", "2 connections")]
        await exchange(alice, bob, b"still served")

        assert await read_to_end(held) == b""  # its handshake timed out: a place is free
        again = await connect(port)
        assert await again.receive() == prologue()
        await again.aclose()


def closed_port() -> int:
    """A port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_full_send_queue_refuses_the_send() -> None:
    config = TcpConfig(send_queue=3, backoff_base=0.05, backoff_cap=0.5)
    async with network(ALICE, BOB, config=config) as (alice, bob):
        unreachable = PeerAddress("127.0.0.1", closed_port(), static_keypair(CAROL).public)
        alice.locator.put(CAROL, unreachable)
        for i in range(3):
            await alice.send(CAROL, b"queued %d" % i)
        with pytest.raises(SendQueueFull):
            await alice.send(CAROL, b"one too many")
        [full] = alice.events("net.send.queue_full")
        assert (full.get("queued"), full.get("peer")) == (3, str(CAROL))
        await exchange(alice, bob, b"other peers unaffected")
