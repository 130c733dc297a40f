"""Devices exchange guarded messages over TCP: channels are reused, dialled again after the
peer restarts (with capped, jittered exponential backoff), and re-established under the new
PSK when the context's epoch moves."""

from __future__ import annotations

import anyio
import pytest

from aura_core.errors import TransportError
from aura_effects.tcpconfig import Connected, TcpConfig
from aura_journal.fact import MAX_PAYLOAD
from tests.net.harness import (
    ALICE,
    BOB,
    CONTEXT,
    FAST,
    introduce,
    make_device,
    network,
    receive,
    started,
    wait_for,
)

pytestmark = pytest.mark.anyio


async def test_guarded_messages_flow_both_ways_with_verified_receipts() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        await alice.send(BOB, b"hello bob")
        await bob.send(ALICE, b"hello alice")
        with anyio.fail_after(5):
            to_bob = await bob.running.guarded.receive()
            to_alice = await alice.running.guarded.receive()
        assert (to_bob.source, to_bob.context, to_bob.body) == (ALICE, CONTEXT, b"hello bob")
        assert (to_alice.source, to_alice.body) == (BOB, b"hello alice")
        to_bob.receipt.verify(alice.key.verifying_key)
        to_alice.receipt.verify(bob.key.verifying_key)
        assert (to_bob.receipt.body.nonce, to_alice.receipt.body.nonce) == (1, 1)
        assert bob.running.guarded.rejected == alice.running.guarded.rejected == 0


async def test_one_channel_per_peer_and_context_carries_every_message() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        bodies = [b"message %d" % i for i in range(40)]
        for body in bodies:
            await alice.send(BOB, body)
        assert [await receive(bob) for _ in bodies] == [(ALICE, b) for b in bodies]
        await bob.send(ALICE, b"reply")
        assert await receive(alice) == (BOB, b"reply")
        assert len(alice.events("net.outbound.connected")) == 1
        assert len(bob.events("net.inbound.connected")) == 1
        assert len(bob.events("net.outbound.connected")) == 1
        assert len(alice.events("net.inbound.connected")) == 1


async def test_a_message_larger_than_one_noise_message_arrives_whole() -> None:
    body = bytes(range(256)) * (MAX_PAYLOAD // 256)  # the guard chain's largest body
    async with network(ALICE, BOB) as (alice, bob):
        await alice.send(BOB, body)
        await alice.send(BOB, b"after")
        assert await receive(bob) == (ALICE, body)
        assert await receive(bob) == (ALICE, b"after")


async def test_channel_events_report_each_established_channel() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        seen: list[tuple[str, Connected]] = []
        alice.running.on_connected(lambda event: seen.append(("alice", event)))
        bob.running.on_connected(lambda event: seen.append(("bob", event)))
        await alice.send(BOB, b"hi")
        await receive(bob)
        assert sorted(seen, key=lambda s: s[0]) == [
            ("alice", Connected(BOB, CONTEXT, inbound=False)),
            ("bob", Connected(ALICE, CONTEXT, inbound=True)),
        ]


async def test_the_sender_dials_again_with_backoff_after_the_peer_restarts() -> None:
    alice, bob = await make_device(ALICE), await make_device(BOB)
    async with started(alice):
        async with started(bob):
            introduce([alice, bob])
            port = bob.running.port
            await alice.send(BOB, b"before")
            assert await receive(bob) == (ALICE, b"before")
        await wait_for(lambda: len(alice.events("net.outbound.closed")) == 1)
        assert alice.events("net.outbound.closed")[0].get("reason") == "eof"

        await alice.send(BOB, b"while down")  # waits in the queue while dials fail
        await wait_for(lambda: len(alice.events("net.outbound.failed")) >= 4)
        async with started(bob, TcpConfig(port=port, backoff_base=0.02, backoff_cap=0.2)):
            assert await receive(bob) == (ALICE, b"while down")

    failures = alice.events("net.outbound.failed")
    attempts = [f.get("attempt") for f in failures]
    assert attempts == list(range(1, len(failures) + 1))
    for failure in failures:
        attempt, delay = failure.get("attempt"), failure.get("delay_ms")
        assert isinstance(attempt, int) and isinstance(delay, int)
        ceiling_ms = int(min(FAST.backoff_cap, FAST.backoff_base * 2 ** (attempt - 1)) * 1000)
        assert ceiling_ms // 2 <= delay <= ceiling_ms  # jittered in the upper half
        assert failure.get("reason") == "network"  # connection refused
    assert len(alice.events("net.outbound.connected")) == 2


async def test_an_epoch_change_closes_the_channel_and_dials_under_the_new_psk() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        await alice.send(BOB, b"epoch 0")
        assert await receive(bob) == (ALICE, b"epoch 0")
        await alice.rotate_epoch(1)
        await bob.rotate_epoch(1)
        await alice.send(BOB, b"epoch 1")
        message = await bob.running.guarded.receive()
        assert (message.body, message.receipt.body.epoch) == (b"epoch 1", 1)
        closed = alice.events("net.outbound.closed")
        assert [c.get("reason") for c in closed] == ["epoch"]
        assert [e.get("epoch") for e in alice.events("net.outbound.connected")] == [0, 1]
        assert [e.get("epoch") for e in bob.events("net.inbound.connected")] == [0, 1]


async def test_a_device_behind_on_the_epoch_is_refused_and_reachable_by_the_one_ahead() -> None:
    async with network(ALICE, BOB) as (alice, bob):
        await alice.send(BOB, b"epoch 0")
        assert await receive(bob) == (ALICE, b"epoch 0")

        await bob.rotate_epoch(1)  # Alice has not heard of epoch 1 yet
        await alice.send(BOB, b"stale")  # arrives on the epoch-0 channel: Bob closes it
        await wait_for(lambda: bool(bob.events("net.inbound.closed")))
        assert bob.events("net.inbound.closed")[0].get("reason") == "epoch"
        await alice.send(BOB, b"retry")  # Alice dials again under epoch 0: refused
        await wait_for(lambda: bool(bob.events("net.inbound.refused")))
        assert bob.events("net.inbound.refused")[0].get("reason") == "stale_epoch"

        await bob.send(ALICE, b"from epoch 1")  # Bob, ahead, can reach Alice
        await wait_for(lambda: bool(alice.events("net.inbound.connected")))
        assert alice.events("net.inbound.connected")[0].get("epoch") == 1

        await alice.rotate_epoch(1)  # Alice catches up: her queue drains under epoch 1
        await alice.send(BOB, b"caught up")
        message = await bob.running.guarded.receive()
        assert (message.body, message.receipt.body.epoch) == (b"caught up", 1)
        # "stale" was dropped with its channel; "retry", signed in epoch 0, waited in Alice's
        # queue and reached Bob under epoch 1, where the guard chain refused its receipt.
        assert bob.running.guarded.rejected == 1


async def test_leaving_the_transport_stops_every_task_and_closes_the_port() -> None:
    alice, bob = await make_device(ALICE), await make_device(BOB)
    async with started(alice), started(bob):
        introduce([alice, bob])
        await alice.send(BOB, b"hi")
        assert await receive(bob) == (ALICE, b"hi")
        node = bob.running
        port = node.port
    with pytest.raises(TransportError):
        await node.guarded.receive()
    with pytest.raises(OSError):
        await anyio.connect_tcp("127.0.0.1", port)
    assert [e.get("port") for e in bob.events("net.stopped")] == [port]
