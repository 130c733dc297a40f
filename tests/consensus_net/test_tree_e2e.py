"""End to end: a 2-of-3 authority adds a fourth device, moves to 3-of-4 and removes a device,
each via consensus.

Four devices (`aura_agent.device.Device`) in the simulator on a seeded-latency network, each
with its own journal of the authority's facts. The tree starts with devices 0-2 (a FROST group
from a DKG, threshold 2).

1. Device 0 proposes `AddLeaf(device 3)`; devices 0-2 witness (device 3 holds no share yet).
2. The four devices run a DKG for a 3-of-4 group (keys pending until committed); device 0
   proposes `ChangePolicy(3, new key)`, signed by the old group. Everyone switches groups.
   (A 2-of-4 policy is refused: two halves could each commit a different change.)
3. Device 3 proposes `RemoveLeaf(device 0)`; the new device's share counts.
4. Devices 1-3 refresh their shares without device 0 (same group key) and commit one more
   change with the refreshed shares; device 0's old share no longer combines, and its
   instances on the old group are refused.

The key ceremonies (DKG, refresh, the genesis signature) run as networked choreographies
(`aura_protocol.ceremonies`) on the devices' dispatchers; every tree change goes through the
networked consensus and lands in every journal as a `TreeCommit` the journal validates.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack

import anyio
import attrs
import pytest

import aura_sim
from aura_agent.device import Device, genesis_fact, tree_group
from aura_consensus.commit import CommitFact
from aura_consensus.tree import authority_registry
from aura_core.crypto import frost
from aura_core.encoding import encode
from aura_core.errors import ConsensusFailed, InvalidArgument, InvalidShare, UnsafeThreshold
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, CeremonyId, DeviceId
from aura_core.tree import LeafNode, LeafRole
from aura_journal.tree import (
    TREE_REDUCER,
    AddLeaf,
    ChangePolicy,
    RemoveLeaf,
    RotateEpoch,
    TreeGenesis,
)
from aura_protocol import Dispatcher
from aura_protocol.ceremonies import CAPABILITIES as CEREMONY_CAPABILITIES
from aura_protocol.ceremonies import (
    DKG,
    REFRESH,
    CeremonyMember,
    CeremonyService,
    CeremonyTimes,
    KeyApproval,
    KeyCeremonyStart,
    SignRequest,
    TrustingHolder,
)
from aura_protocol.consensus import CAPABILITIES, ConsensusConfig
from tests.protocol.cluster import CONTEXT, authority, make_nodes
from tests.protocol.networks import LatencyNetwork

UNFOUNDED = AuthorityId(b"\xa1" * 16)
"""The devices' account until its genesis derives the real id (set after the DKG)."""
CONFIG = ConsensusConfig(fallback_s=0.2, gossip_s=0.1, deadline_s=5.0)


TIMES = CeremonyTimes(round1_s=2.0, round2_s=2.0, limit_s=6.0)


class Ceremonies:
    """Each device's `CeremonyService` and `TrustingHolder`, and the ceremonies the tests run."""

    def __init__(self) -> None:
        self.services: dict[AuthorityId, CeremonyService] = {}
        self.holders: dict[AuthorityId, TrustingHolder] = {}
        self.dispatchers: dict[AuthorityId, Dispatcher] = {}

    async def start(self, stack: AsyncExitStack, devices: Sequence[Device]) -> None:
        for d in devices:
            dispatcher = await stack.enter_async_context(Dispatcher(d.guarded, d.effects.trace))
            holder = TrustingHolder()
            service = CeremonyService(d.effects, dispatcher, holder, TIMES)
            await stack.enter_async_context(service)
            self.dispatchers[d.address], self.holders[d.address] = dispatcher, holder
            self.services[d.address] = service

    async def keys(
        self, kind: str, threshold: int, members: Sequence[Device], label: str
    ) -> tuple[dict[int, frost.KeyPackage], frost.PublicKeyPackage]:
        """A DKG or refresh coordinated by `members[0]`: every member's new key package (by
        FROST identifier) and the public key package."""
        roster = tuple(CeremonyMember(d.address, d.frost_identifier) for d in members)
        ceremony = CeremonyId(Hash32.of(label.encode()))
        start = KeyCeremonyStart(ceremony, members[0].authority, CONTEXT, kind, threshold, roster)
        first = self.holders[members[0].address]
        mine = await self.services[members[0].address].keys(
            start, KeyApproval(first.key, first.public) if kind == REFRESH else KeyApproval()
        )
        keys = {members[0].frost_identifier: mine.key_package}
        with anyio.fail_after(5):
            for d in members[1:]:
                while ceremony not in self.holders[d.address].told:
                    await anyio.sleep(0.01)
                keys[d.frost_identifier] = self.holders[d.address].told[ceremony].key_package
        return keys, mine.public_key_package

    def hold(
        self,
        devices: Sequence[Device],
        keys: dict[int, frost.KeyPackage],
        public: frost.PublicKeyPackage,
    ) -> None:
        for d in devices:
            holder = self.holders[d.address]
            holder.key, holder.public = keys.get(d.frost_identifier), public


def devices_on(network: LatencyNetwork) -> list[Device]:
    addresses = [authority(i + 1) for i in range(4)]
    nodes = make_nodes(
        addresses,
        seed=aura_sim.current_loop().seed,
        capabilities=[*CAPABILITIES, *CEREMONY_CAPABILITIES],
        attach=network.attach,
        registry=authority_registry(),
    )
    return [
        Device(
            nodes[a].effects,
            nodes[a].guarded,
            nodes[a].key,
            LeafNode(i, DeviceId(a.raw[::-1]), LeafRole.DEVICE, nodes[a].key.verifying_key.raw),
            UNFOUNDED,
            CONTEXT,
        )
        for i, a in enumerate(addresses)
    ]


async def settle(devices: Sequence[Device], fact: CommitFact) -> None:
    """Wait until every device's journal holds the decided op (bounded virtual time)."""
    with anyio.fail_after(10):
        while True:
            views = [
                (await d.effects.journal.journal(d.namespace)).view(TREE_REDUCER) for d in devices
            ]
            if all(any(encode(op) == fact.operation_bytes for op in v.log.ops) for v in views):
                return
            await anyio.sleep(0.05)


async def change(initiator: Device, kind: object, everyone: Sequence[Device]) -> CommitFact:
    fact = await initiator.change(kind)  # type: ignore[arg-type]
    # The witnesses learn it through consensus; the others get it announced (standing in for
    # journal sync).
    assert initiator.consensus is not None
    others = [d.address for d in everyone if d.address not in fact.participants]
    await initiator.consensus.announce(fact, others)
    await settle(everyone, fact)
    return fact


def test_add_a_device_then_remove_one_through_consensus() -> None:
    async def main() -> None:
        devices = devices_on(LatencyNetwork(0.01))
        d0, d1, d2, d3 = devices
        witness_of = {d.leaf.device_id: d.address for d in devices}

        ceremonies = Ceremonies()
        async with AsyncExitStack() as stack:
            await ceremonies.start(stack, devices)
            keys0, public0 = await ceremonies.keys(DKG, 2, devices[:3], "genesis group")
            genesis = TreeGenesis.found(
                tuple(d.leaf for d in devices[:3]), 2, public0.group_public_key
            )
            for d in devices:  # the account's id is the one its genesis derives
                d.authority = genesis.authority
            ceremonies.hold(devices, keys0, public0)
            signers = (
                CeremonyMember(d0.address, d0.frost_identifier),
                CeremonyMember(d1.address, d1.frost_identifier),
            )

            async def sign(message: bytes) -> tuple[bytes, tuple[int, ...]]:
                request = SignRequest(
                    CeremonyId(Hash32.of(message)), genesis.authority, CONTEXT, 0, message, signers
                )
                service = ceremonies.services[d0.address]
                signature = await service.sign(request, keys0[d0.frost_identifier], public0)
                return signature, tuple(m.identifier for m in signers)

            fact = await genesis_fact(d0.effects, genesis, sign)
            for d in devices:
                await d.effects.journal.merge(d.namespace, [fact])
            state0 = await d0.tree()

            for d in devices:
                key = keys0.get(d.frost_identifier)
                group = tree_group(state0, public0, key, witness_of)
                dispatcher = ceremonies.dispatchers[d.address]
                await stack.enter_async_context(d.online(group, CONFIG, dispatcher=dispatcher))

            # 1. Add device 3: decided by the 2-of-3 group; device 3 has no share yet.
            added = await change(d0, AddLeaf(d3.leaf), devices)
            state1 = await d0.tree()
            assert [leaf.leaf_id for leaf in state1.leaves] == [0, 1, 2, 3]
            assert set(added.participants) <= {d0.address, d1.address, d2.address}

            # 2. A 3-of-4 group for the new membership (pending until its policy change
            # commits); 2-of-4 would not be safe for any number of byzantine witnesses.
            unsafe_keys, unsafe_public = await ceremonies.keys(DKG, 2, devices, "unsafe")
            unsafe = await d0.tree()
            unsafe = attrs.evolve(unsafe, group_key=unsafe_public.group_public_key)
            with pytest.raises(UnsafeThreshold, match="2-of-4"):
                tree_group(unsafe, unsafe_public, unsafe_keys[1], witness_of)
            keys1, public1 = await ceremonies.keys(DKG, 3, devices, "four devices")
            await change(d0, ChangePolicy(3, public1.group_public_key), devices)
            state2 = await d0.tree()
            assert state2.epoch == 1 and state2.group_key == public1.group_public_key
            assert state2.threshold == 3
            ceremonies.hold(devices, keys1, public1)
            for d in devices:
                group = tree_group(state2, public1, keys1[d.frost_identifier], witness_of)
                assert (len(group.witnesses), group.faults) == (4, 1)
                assert d.consensus is not None
                d.consensus.set_group(group)

            # 3. The new device removes device 0; its own share is in the commit.
            removal = await change(d3, RemoveLeaf(0), devices)
            assert d3.address in removal.participants
            state3 = await d3.tree()
            assert state3.epoch == 2 and [leaf.leaf_id for leaf in state3.leaves] == [1, 2, 3]

            # 4. Devices 1-3 refresh their shares without device 0: same key, new shares.
            remaining = [d1, d2, d3]
            keys2, public2 = await ceremonies.keys(REFRESH, 3, remaining, "without 0")
            assert public2.group_public_key == public1.group_public_key
            for d in remaining:
                group = tree_group(state3, public2, keys2[d.frost_identifier], witness_of)
                assert d0.address not in group.witnesses
                assert d.consensus is not None
                d.consensus.set_group(group)
            after = await change(d1, RotateEpoch(public2.group_public_key), remaining)
            assert set(after.participants) <= {d1.address, d2.address, d3.address}

            # Device 0's share no longer counts: it does not combine with refreshed ones...
            message = b"any message"
            old = frost.commit(keys1[1], b"\x01" * 32)
            new = {i: frost.commit(keys2[i], bytes([i]) * 32) for i in (2, 3)}
            package = frost.signing_package(
                {1: old[1], **{i: c for i, (_, c) in new.items()}}, message
            )
            shares = {
                1: frost.sign(package, old[0], keys1[1]),
                **{i: frost.sign(package, n, keys2[i]) for i, (n, _) in new.items()},
            }
            with pytest.raises(InvalidArgument):
                frost.aggregate(package, shares, public2)  # device 0 is out of the new group
            with pytest.raises(InvalidShare):
                frost.aggregate(package, shares, public1)  # the refreshed share is not an old one
            # ...and an instance on its old group is refused by everyone else.
            with pytest.raises(ConsensusFailed):
                await d0.change(RemoveLeaf(1))

            # Every replica converged to the same tree; device 0 saw itself removed.
            final = await d1.tree()
            assert {(await d.tree()).commitment for d in remaining} == {final.commitment}
            assert final.epoch == 3 and [leaf.leaf_id for leaf in final.leaves] == [1, 2, 3]
            assert (await d0.tree()).commitment == state3.commitment

    aura_sim.run(main, seed=21)
