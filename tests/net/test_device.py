"""The device assembly on TCP (`aura_agent.network`): the seeded locator, the descriptor a
device publishes, and what `on_tcp` refuses before anything listens."""

from __future__ import annotations

import pytest

from aura_agent.network import SeededLocator, TcpSetup, on_tcp, tcp_hint
from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId
from aura_core.noise import StaticKeypair
from aura_core.tree import LeafNode, LeafRole
from aura_effects.locator import PeerAddress, StaticLocator
from aura_effects.tcpconfig import TcpConfig
from aura_journal.fact import JournalNamespace
from aura_journal.rendezvous import RENDEZVOUS_REDUCER, parse_hint
from aura_protocol.rendezvous import RendezvousLocator, publish_descriptor
from tests.net.harness import (
    ALICE,
    BOB,
    CAROL,
    CONTEXT,
    FAST,
    Device,
    make_device,
    signing_key,
)
from tests.net.multihost import free_ports

pytestmark = pytest.mark.anyio

ACCOUNT = AuthorityId(b"\xac" * 16)
SEEDED = StaticKeypair.from_seed(b"\x21" * 32).public
MOVED = StaticKeypair.from_seed(b"\x22" * 32).public


def leaf(device: Device) -> LeafNode:
    return LeafNode(0, device.device, LeafRole.DEVICE, device.key.verifying_key.raw)


async def descriptor_ids(device: Device) -> set[object]:
    journal = await device.effects.journal.journal(JournalNamespace.of(CONTEXT))
    return set(journal.view(RENDEZVOUS_REDUCER).descriptors)


async def publish(device: Device, member: AuthorityId, static_key: bytes, port: int) -> None:
    """`member`'s descriptor, as sync would bring it into `device`'s journal."""
    now = (await device.effects.time.now()).ts_ms
    await publish_descriptor(
        device.effects,
        CONTEXT,
        signing_key(member),
        authority=member,
        device=device.device,
        static_key=static_key,
        hints=[f"tcp://127.0.0.1:{port}"],
        not_before_ms=now - 1000,
        not_after_ms=now + 60_000,
    )


async def test_the_seed_table_answers_until_a_descriptor_names_the_member() -> None:
    alice = await make_device(ALICE)
    seeds = StaticLocator({BOB: PeerAddress("127.0.0.1", 1111, SEEDED)})
    locator = SeededLocator(RendezvousLocator(alice.effects), seeds)

    assert await locator.locate(BOB, CONTEXT) == PeerAddress("127.0.0.1", 1111, SEEDED)
    assert await locator.identify(SEEDED, CONTEXT) == BOB
    assert await locator.locate(CAROL, CONTEXT) is None
    assert await locator.identify(MOVED, CONTEXT) is None

    # Bob publishes where he is now, with another key: the descriptor wins, the seeded key is
    # retired at once.
    await publish(alice, BOB, MOVED, 2222)
    assert await locator.locate(BOB, CONTEXT) == PeerAddress("127.0.0.1", 2222, MOVED)
    assert await locator.identify(MOVED, CONTEXT) == BOB
    assert await locator.identify(SEEDED, CONTEXT) is None


async def test_a_descriptor_naming_the_seeded_key_keeps_it() -> None:
    alice = await make_device(ALICE)
    locator = SeededLocator(
        RendezvousLocator(alice.effects),
        StaticLocator({BOB: PeerAddress("127.0.0.1", 1111, SEEDED)}),
    )
    await publish(alice, BOB, SEEDED, 3333)
    assert await locator.identify(SEEDED, CONTEXT) == BOB
    assert await locator.locate(BOB, CONTEXT) == PeerAddress("127.0.0.1", 3333, SEEDED)


async def test_a_device_publishes_its_descriptor_once_per_address_and_key() -> None:
    alice = await make_device(ALICE)
    (port,) = free_ports(1)
    setup = TcpSetup(
        tcp=TcpConfig(host="127.0.0.1", port=port, handshake_timeout=FAST.handshake_timeout),
        keypair=alice.keypair,
    )

    async def run(setup: TcpSetup) -> None:
        async with on_tcp(
            alice.effects,
            address=ALICE,
            key=alice.key,
            leaf=leaf(alice),
            account=ACCOUNT,
            context=CONTEXT,
            setup=setup,
        ) as device:
            assert device.network is not None and device.address == ALICE
            assert device.network.static_key == setup.keypair.public  # type: ignore[union-attr]

    await run(setup)
    first = await descriptor_ids(alice)
    own = (await RendezvousLocator(alice.effects).descriptors(CONTEXT))[ALICE].descriptor
    assert len(first) == 1
    assert own.hints == (f"tcp://127.0.0.1:{port}",) and own.static_key == alice.keypair.public
    # The same device at the same address again: its descriptor in force still says it.
    await run(setup)
    assert await descriptor_ids(alice) == first
    # A new static key (a device that lost its key): a new descriptor, which wins.
    moved = TcpSetup(tcp=setup.tcp, keypair=StaticKeypair.from_seed(b"\x23" * 32))
    await run(moved)
    assert len(await descriptor_ids(alice)) == 2
    located = await RendezvousLocator(alice.effects).locate(ALICE, CONTEXT)
    assert located == PeerAddress("127.0.0.1", port, moved.keypair.public)  # type: ignore[union-attr]


async def test_the_device_learns_the_members_receipt_keys() -> None:
    alice = await make_device(ALICE)
    alice.effects.peers.remove(BOB)
    assert await alice.effects.peers.peer_key(BOB) is None
    async with on_tcp(
        alice.effects,
        address=ALICE,
        key=alice.key,
        leaf=leaf(alice),
        account=ACCOUNT,
        context=CONTEXT,
        setup=TcpSetup(),
    ) as device:
        assert await device.devices() == sorted([BOB, CAROL])
    assert await alice.effects.peers.peer_key(BOB) == signing_key(BOB).verifying_key


@pytest.mark.parametrize("problem", ["not a member", "no secret", "wildcard"])
async def test_on_tcp_refuses_before_anything_listens(problem: str) -> None:
    alice = await make_device(ALICE)
    address, setup = ALICE, TcpSetup()
    if problem == "not a member":
        address = AuthorityId(b"\x99" * 16)
    elif problem == "no secret":
        alice.effects.contexts.remove(CONTEXT)
    else:
        setup = TcpSetup(tcp=TcpConfig(host="0.0.0.0"))
    before = await descriptor_ids(alice)
    with pytest.raises(InvalidArgument):
        async with on_tcp(
            alice.effects,
            address=address,
            key=alice.key,
            leaf=leaf(alice),
            account=ACCOUNT,
            context=CONTEXT,
            setup=setup,
        ):
            pytest.fail("the device ran")
    assert await descriptor_ids(alice) == before
    assert alice.effects.trace.events("net.listening") == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("host", "hint"),
    [
        ("127.0.0.1", "tcp://127.0.0.1:7400"),
        ("::1", "tcp://[::1]:7400"),
        ("fe80:0:0:0:0:0:0:1", "tcp://[fe80::1]:7400"),
        ("device.example", "tcp://device.example:7400"),
    ],
)
def test_hints_are_written_in_their_canonical_spelling(host: str, hint: str) -> None:
    assert tcp_hint(host, 7400) == hint
    parse_hint(hint)  # the form descriptors accept


def test_a_malformed_ipv6_host_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        tcp_hint("fe80::1::2", 7400)
