"""A device that lacks a registry, a grant, a flow budget or a peer's key says so when it goes
online (not as a consensus timeout); errors inside `online()` arrive unwrapped; `Effects`
closes its storage."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import anyio
import pytest

import aura_sim
from aura_agent.device import Device, genesis_fact, tree_group
from aura_consensus.tree import authority_registry
from aura_core.errors import ConsensusFailed, NotConfigured, StorageError
from aura_core.ids import ContextId, DeviceId
from aura_core.tree import LeafNode, LeafRole
from aura_effects.bundle import production_effects
from aura_journal.budget import UNLIMITED, Capped, Unlimited
from aura_journal.registry import FactRegistry
from aura_journal.standard import standard_registry
from aura_journal.tree import AddLeaf, TreeGenesis
from aura_protocol.consensus import CAPABILITIES, ConsensusConfig, Group
from aura_protocol.consensus.protocols import GOSSIP
from aura_sim.handlers import MemoryStorage
from tests.core.crypto.frost_support import dealer, signature
from tests.protocol.cluster import CONTEXT, authority, make_nodes

DEVICE_4 = DeviceId(b"\x04" * 16)
CONFIG = ConsensusConfig(fallback_s=0.2, gossip_s=0.1, deadline_s=5.0)


async def account(
    *,
    registry: FactRegistry | None = None,
    capabilities: Iterable[str] = CAPABILITIES,
    flow_limit: Capped | Unlimited = UNLIMITED,
) -> list[tuple[Device, Group]]:
    """Three founding devices of a 2-of-3 account and their groups, on one loopback network."""
    addresses = [authority(i + 1) for i in range(3)]
    nodes = make_nodes(
        addresses,
        seed=aura_sim.current_loop().seed,
        capabilities=capabilities,
        registry=registry if registry is not None else authority_registry(),
        flow_limit=flow_limit,
    )
    devices = []
    for i, a in enumerate(addresses):
        node = nodes[a]
        leaf = LeafNode(i, DeviceId(a.raw[::-1]), LeafRole.DEVICE, node.key.verifying_key.raw)
        devices.append(Device(node.effects, node.guarded, node.key, leaf, a, CONTEXT))
    ids = [d.frost_identifier for d in devices]
    keys, public = dealer(2, 3, b"readiness", ids)
    genesis = TreeGenesis.found(tuple(d.leaf for d in devices), 2, public.group_public_key)
    signers = dict(sorted(keys.items())[:2])

    async def sign(message: bytes) -> tuple[bytes, tuple[int, ...]]:
        return signature(keys, public, signers, message, b"genesis"), tuple(signers)

    fact = await genesis_fact(devices[0].effects, genesis, sign)
    witness_of = {d.leaf.device_id: d.address for d in devices}
    for d in devices:
        d.authority = genesis.authority
        await d.effects.journal.merge(d.namespace, [fact])
    state = await devices[0].tree()
    return [(d, tree_group(state, public, keys[d.frost_identifier], witness_of)) for d in devices]


@pytest.mark.simulation(seeds=[7])
async def test_a_configured_account_goes_online_and_agrees() -> None:
    # The baseline the failures below differ from by one missing piece each.
    (d0, g0), (d1, g1), (d2, g2) = await account()
    async with d0.online(g0, CONFIG), d1.online(g1, CONFIG), d2.online(g2, CONFIG):
        fact = await d0.change(AddLeaf(LeafNode(3, DEVICE_4, LeafRole.DEVICE, bytes(32))))
        assert len(fact.participants) >= 2


async def refused(device: Device, group: Group) -> str:
    """Going online fails at once with `NotConfigured`; the device stays offline."""
    with pytest.raises(NotConfigured) as caught:
        async with device.online(group, CONFIG):
            raise AssertionError("went online")
    assert device.consensus is None and device.sync is None
    return caught.value.message


@pytest.mark.simulation(seeds=[7])
async def test_a_journal_without_the_tree_commit_type_is_refused_when_going_online() -> None:
    (device, group), *_ = await account(registry=standard_registry())
    message = await refused(device, group)
    assert "fact registry has no 'consensus.tree_commit'" in message
    assert "authority_registry()" in message


@pytest.mark.simulation(seeds=[7])
async def test_a_missing_grant_is_refused_when_going_online() -> None:
    (device, group), *_ = await account(capabilities=set(CAPABILITIES) - {GOSSIP})
    message = await refused(device, group)
    assert f"no grant of {GOSSIP} in context {CONTEXT}" in message
    assert "registry" not in message and "budget" not in message


@pytest.mark.simulation(seeds=[7])
async def test_a_missing_flow_budget_and_an_unknown_peer_are_refused_when_going_online() -> None:
    (device, group), (peer, _), _ = await account()
    elsewhere = ContextId(b"\x0c" * 16)  # a context with neither budget nor grants
    device.context = elsewhere
    device.effects.peers.remove(peer.address)
    message = await refused(device, group)
    assert f"no flow budget for {peer.address} in context {elsewhere}" in message
    assert f"peer {peer.address} is unknown" in message
    assert "no grant of consensus:initiate" in message  # every missing piece, at once


@pytest.mark.simulation(seeds=[7])
async def test_an_error_inside_online_arrives_as_itself() -> None:
    (d0, g0), (d1, g1), _ = await account()
    with pytest.raises(KeyError) as caught:
        async with d0.online(g0, CONFIG), d1.online(g1, CONFIG):
            raise KeyError("mine")
    assert type(caught.value) is KeyError and caught.value.args == ("mine",)
    assert d0.consensus is None and d1.consensus is None


@pytest.mark.simulation(seeds=[7])
async def test_a_consensus_failure_inside_online_is_not_wrapped() -> None:
    # One witness of a 2-of-3 group online: the change cannot be agreed, and the caller
    # catches ConsensusFailed itself, not a group of groups.
    (device, group), *_ = await account()
    with pytest.raises(ConsensusFailed):
        async with device.online(group, ConsensusConfig(fallback_s=0.2, deadline_s=1.0)):
            await device.change(AddLeaf(LeafNode(3, DEVICE_4, LeafRole.DEVICE, bytes(32))))


def test_effects_close_their_storage(tmp_path: Path) -> None:
    async def main() -> None:
        async with await production_effects(
            tmp_path / "device.db", authority=None, device=DEVICE_4
        ) as effects:
            await effects.storage.put("k", b"v")
        with pytest.raises(StorageError, match="closed"):
            await effects.storage.get("k")
        await effects.aclose()  # a second close does nothing

        memory = MemoryStorage()
        await memory.put("k", b"v")
        await memory.close()
        with pytest.raises(StorageError, match="closed"):
            await memory.put("k", b"w")
        assert memory.disk.data == {"k": b"v"}  # refused, unchanged

    anyio.run(main)


@pytest.mark.simulation(seeds=[7])
async def test_a_budget_that_runs_out_is_named_in_the_error_that_ends_the_wait() -> None:
    # Configured, so the device goes online; too small for one consensus message, so its own
    # guard chain denies its request and the deadline's error says so.
    (d0, g0), (d1, g1), (d2, g2) = await account(flow_limit=Capped(10))
    config = ConsensusConfig(fallback_s=0.2, gossip_s=0.1, deadline_s=1.0)
    with pytest.raises(ConsensusFailed) as caught:
        async with d0.online(g0, config), d1.online(g1, config), d2.online(g2, config):
            await d0.change(AddLeaf(LeafNode(3, DEVICE_4, LeafRole.DEVICE, bytes(32))))
    assert "own round was aborted: guard chain denied" in caught.value.message
    assert "(budget)" in caught.value.message
