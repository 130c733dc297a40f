"""The raw transport on its own: what `send` refuses, fragmentation at its edges, idle close,
and every timeout sleeping through `PhysicalTimeEffects` (so a simulator can drive them)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import cast

import anyio
import anyio.lowlevel
import pytest

from aura_core.effects import Envelope, PhysicalTimeEffects
from aura_core.errors import InvalidArgument, NoRoute, TransportError
from aura_core.ids import AuthorityId, ContextId
from aura_core.noise import MAX_PLAINTEXT_LEN
from aura_core.time import PhysicalTime
from aura_effects.channel import SecureConnection
from aura_effects.clock import SystemClock
from aura_effects.framing import prologue
from aura_effects.keyring import ContextKeyring
from aura_effects.locator import PeerAddress, StaticLocator
from aura_effects.random import OsRandom
from aura_effects.tcp import TcpTransport, _within
from aura_effects.tcpconfig import TcpConfig
from aura_effects.trace import Tracer
from tests.net.harness import ALICE, BOB, CONTEXT, FAST, SECRET, static_keypair, wait_for
from tests.net.wire import connect, read_to_end

pytestmark = pytest.mark.anyio

SECOND = ContextId(b"\x5c" * 16)
SECOND_SECRET = b"\x5d" * 32


async def zero_epoch(context: ContextId) -> int:
    return 0


def raw(
    authority: AuthorityId,
    config: TcpConfig = FAST,
    time: PhysicalTimeEffects | None = None,
    keyring: ContextKeyring | None = None,
) -> tuple[TcpTransport, StaticLocator, Tracer]:
    locator, tracer = StaticLocator(), Tracer()
    if keyring is None:
        keyring = ContextKeyring()
        keyring.add(CONTEXT, SECRET)
        keyring.add(SECOND, SECOND_SECRET)
    transport = TcpTransport(
        keypair=static_keypair(authority),
        local=authority,
        locator=locator,
        keyring=keyring,
        epoch=zero_epoch,
        random=OsRandom(),
        time=time or SystemClock(),
        trace=tracer,
        config=config,
    )
    return transport, locator, tracer


@asynccontextmanager
async def pair(
    config: TcpConfig = FAST, alice_keyring: ContextKeyring | None = None
) -> AsyncIterator[tuple[TcpTransport, TcpTransport, Tracer, Tracer]]:
    alice, alice_locator, alice_trace = raw(ALICE, config, keyring=alice_keyring)
    bob, bob_locator, bob_trace = raw(BOB, config)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(alice)
        await stack.enter_async_context(bob)
        alice_locator.put(BOB, PeerAddress("127.0.0.1", bob.port, bob.static_key))
        bob_locator.put(ALICE, PeerAddress("127.0.0.1", alice.port, alice.static_key))
        yield alice, bob, alice_trace, bob_trace


async def test_send_refuses_what_it_cannot_carry_and_queues_nothing() -> None:
    async with pair() as (alice, _, _, _):
        elsewhere = ContextId(b"\xee" * 16)
        refused: list[tuple[AuthorityId, ContextId, bytes, type[Exception]]] = [
            (ALICE, CONTEXT, b"x", NoRoute),  # to itself
            (BOB, elsewhere, b"x", NoRoute),  # not a member there
            (BOB, CONTEXT, bytes(FAST.max_message + 1), InvalidArgument),
        ]
        for destination, context, payload, error in refused:
            with pytest.raises(error):
                await alice.send(destination, context, payload)
        assert alice.queued(BOB, CONTEXT) == alice.queued(BOB, elsewhere) == 0
    with pytest.raises(TransportError, match="not running"):
        await alice.send(BOB, CONTEXT, b"x")
    with pytest.raises(TransportError, match="runs once"):
        await alice.__aenter__()


async def test_a_context_left_while_its_channel_runs_takes_no_more_messages() -> None:
    """Membership is checked when a (peer, context) first gets a message and before every
    write, not on each `send`: a message queued after the device dropped the context's secret
    is dropped with a trace, never written, and the next send there raises `NoRoute`."""
    keyring = ContextKeyring()
    keyring.add(CONTEXT, SECRET)
    keyring.add(SECOND, SECOND_SECRET)
    async with pair(alice_keyring=keyring) as (alice, bob, alice_trace, _):
        await alice.send(BOB, CONTEXT, b"member")
        with anyio.fail_after(5):
            assert (await bob.receive()).payload == b"member"
        keyring.remove(CONTEXT)
        await alice.send(BOB, CONTEXT, b"left")
        await wait_for(lambda: bool(alice_trace.events("net.outbound.left")))
        assert [e.get("lost") for e in alice_trace.events("net.outbound.left")] == [1]
        assert alice.queued(BOB, CONTEXT) == 0
        with pytest.raises(NoRoute, match="not a member"):
            await alice.send(BOB, CONTEXT, b"refused")
        assert alice.queued(BOB, CONTEXT) == 0
        # The other context's channel goes on, and nothing of the one left reached Bob.
        await alice.send(BOB, SECOND, b"still a member")
        with anyio.fail_after(5):
            arrived = await bob.receive()
        assert (arrived.context, arrived.payload) == (SECOND, b"still a member")


class _YieldingKeyring(ContextKeyring):
    """A keyring whose lookups let other tasks run, as one reading a store would."""

    async def secret(self, context: ContextId) -> bytes | None:
        await anyio.lowlevel.checkpoint()
        return await super().secret(context)


async def test_sends_racing_to_a_new_peer_share_one_channel() -> None:
    keyring = _YieldingKeyring()
    keyring.add(CONTEXT, SECRET)
    async with pair(alice_keyring=keyring) as (alice, bob, alice_trace, _):
        async with anyio.create_task_group() as group:
            for message in (b"first", b"second"):
                group.start_soon(alice.send, BOB, CONTEXT, message)
        with anyio.fail_after(5):
            received = sorted([(await bob.receive()).payload for _ in range(2)])
        assert received == [b"first", b"second"]
        assert len(alice_trace.events("net.outbound.connected")) == 1


async def test_messages_at_every_fragment_edge_arrive_whole_and_in_order() -> None:
    piece = MAX_PLAINTEXT_LEN - 1  # the data one frame carries
    sizes = [0, 1, piece - 1, piece, piece + 1, 2 * piece, 2 * piece + 1, FAST.max_message]
    async with pair() as (alice, bob, _, _):
        messages = [bytes([i]) * size for i, size in enumerate(sizes)]
        for message in messages:
            await alice.send(BOB, CONTEXT, message)
        with anyio.fail_after(5):
            received = [await bob.receive() for _ in messages]
        assert [r.payload for r in received] == messages
        assert {(r.source, r.destination, r.context) for r in received} == {(ALICE, BOB, CONTEXT)}


async def test_receive_many_takes_what_has_arrived_up_to_the_limit() -> None:
    async with pair() as (alice, bob, _, _):
        messages = [b"message %d" % i for i in range(20)]
        for message in messages:
            await alice.send(BOB, CONTEXT, message)
        received: list[Envelope] = []
        with anyio.fail_after(5):
            while len(received) < len(messages):
                batch = await bob.receive_many(8)
                assert 1 <= len(batch) <= 8
                received += batch
        assert [r.payload for r in received] == messages
        with pytest.raises(InvalidArgument):
            await bob.receive_many(0)


async def test_each_context_gets_its_own_channel_to_a_peer() -> None:
    async with pair() as (alice, bob, alice_trace, bob_trace):
        for i in range(3):
            for context in (CONTEXT, SECOND):
                await alice.send(BOB, context, b"%d" % i)
        with anyio.fail_after(5):
            received = [await bob.receive() for _ in range(6)]
        by_context = {c: [r.payload for r in received if r.context == c] for c in (CONTEXT, SECOND)}
        assert by_context == {CONTEXT: [b"0", b"1", b"2"], SECOND: [b"0", b"1", b"2"]}
        connected = sorted(str(e.get("context")) for e in bob_trace.events("net.inbound.connected"))
        assert connected == sorted([str(CONTEXT), str(SECOND)])
        assert len(alice_trace.events("net.outbound.connected")) == 2


async def test_an_idle_channel_is_closed_and_dialled_again_when_needed() -> None:
    config = TcpConfig(idle_timeout=0.1, backoff_base=0.02, backoff_cap=0.2)
    async with pair(config) as (alice, bob, alice_trace, bob_trace):
        await alice.send(BOB, CONTEXT, b"one")
        assert (await bob.receive()).payload == b"one"
        await wait_for(lambda: bool(alice_trace.events("net.outbound.closed")))
        assert alice_trace.events("net.outbound.closed")[0].get("reason") == "idle"
        await wait_for(lambda: bool(bob_trace.events("net.inbound.closed")))
        await alice.send(BOB, CONTEXT, b"two")
        assert (await bob.receive()).payload == b"two"
        assert len(alice_trace.events("net.outbound.connected")) == 2


async def test_a_peer_that_connects_ends_the_back_off_of_messages_waiting_for_it() -> None:
    # A back-off far longer than the test's limit: only the peer's own connection can end it.
    slow = TcpConfig(handshake_timeout=2.0, backoff_base=600.0, backoff_cap=600.0)
    alice, alice_locator, alice_trace = raw(ALICE, slow)
    bob, bob_locator, _ = raw(BOB, slow)
    with socket.socket() as probe:  # a port nothing listens on: Bob is down
        probe.bind(("127.0.0.1", 0))
        down = probe.getsockname()[1]
    async with alice:
        alice_locator.put(BOB, PeerAddress("127.0.0.1", down, bob.static_key))
        await alice.send(BOB, CONTEXT, b"waiting")
        await wait_for(lambda: bool(alice_trace.events("net.outbound.failed")))
        async with bob:  # Bob comes up (elsewhere) and talks to Alice first
            alice_locator.put(BOB, PeerAddress("127.0.0.1", bob.port, bob.static_key))
            bob_locator.put(ALICE, PeerAddress("127.0.0.1", alice.port, alice.static_key))
            await bob.send(ALICE, CONTEXT, b"up")
            with anyio.fail_after(30):
                assert (await alice.receive()).payload == b"up"
                assert (await bob.receive()).payload == b"waiting"
        assert len(alice_trace.events("net.outbound.failed")) == 1


class HeldClock:
    """A clock whose sleeps end only when the test releases them."""

    def __init__(self) -> None:
        self.sleeping: list[float] = []
        self.release = anyio.Event()

    async def now(self) -> PhysicalTime:
        return await SystemClock().now()

    async def sleep(self, seconds: float) -> None:
        self.sleeping.append(seconds)
        await self.release.wait()


async def test_the_handshake_timeout_sleeps_on_the_effects_clock() -> None:
    clock = HeldClock()
    bob, _, tracer = raw(BOB, TcpConfig(handshake_timeout=600.0), time=clock)
    async with bob:
        silent = await connect(bob.port)
        assert await silent.receive() == prologue()
        await wait_for(lambda: 600.0 in clock.sleeping)
        assert not tracer.events("net.inbound.refused")  # ten minutes have not passed...
        clock.release.set()  # ...until the clock says so
        assert await read_to_end(silent) == b""
        assert tracer.events("net.inbound.refused")[0].get("reason") == "timeout"


async def test_a_handshake_that_completes_as_its_caller_is_cancelled_is_closed() -> None:
    # The race a stopping agent hit: the dial's handshake finished, then the link's task was
    # cancelled before `_within` handed the connection over, and its socket was left open.
    class Made:
        closed = False

        async def aclose(self) -> None:
            self.closed = True

    made = Made()
    with anyio.CancelScope() as outer:

        async def handshake() -> SecureConnection:
            outer.cancel()  # the caller is cancelled while the handshake returns
            return cast(SecureConnection, made)

        await _within(SystemClock(), 5.0, handshake)
    assert outer.cancelled_caught
    assert made.closed


async def test_a_transport_stopped_as_a_caller_arrives_leaves_no_error_in_the_loop() -> None:
    # The race `tests/agent/test_accounts.py` hit once (`InvalidStateError` from asyncio's
    # `_sock_accept` callback): the accept was cancelled in the loop iteration the listener
    # became readable, and a callback asyncio had already queued then accepted the caller into
    # a cancelled future. anyio's test runner fails a test on any error the loop reports.
    bob, _, _ = raw(BOB)
    with anyio.CancelScope() as outer:
        async with bob:
            await anyio.wait_all_tasks_blocked()  # the accept task waits on the listener
            caller = socket.create_connection(("127.0.0.1", bob.port))
            # Runs in the next iteration, after the select that sees the caller and before the
            # callbacks that select queued.
            asyncio.get_running_loop().call_soon(outer.cancel)
            await anyio.sleep_forever()
    caller.close()
    assert outer.cancelled_caught


async def test_a_caller_gone_before_it_is_accepted_is_passed_over() -> None:
    # Connected and reset before the transport's task accepts it: the accepted socket is no
    # longer connected (anyio refuses to wrap it). The listener goes on to the next caller.
    bob, _, tracer = raw(BOB)
    async with bob:
        await anyio.wait_all_tasks_blocked()  # the accept task waits on the listener
        gone = socket.create_connection(("127.0.0.1", bob.port))
        gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone.close()  # a reset, before the transport's task has run
        silent = await connect(bob.port)
        assert await silent.receive() == prologue()  # the next caller is served
        await silent.aclose()
    assert not tracer.events("net.accept.failed")
