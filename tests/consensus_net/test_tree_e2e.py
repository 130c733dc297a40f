"""End to end: a 2-of-3 authority adds a fourth device and removes one, each via consensus.

Four device nodes in the simulator, each with its own journal of the authority's facts and a
`ConsensusNode`. The tree starts with devices 0-2 (a FROST group from a DKG, threshold 2).

1. Device 0 proposes `AddLeaf(device 3)`; devices 0-2 witness (device 3 holds no share yet).
2. The four devices run a DKG for a 2-of-4 group (keys pending until committed); device 0
   proposes `RotateEpoch(new key)`, signed by the old group. Everyone switches groups.
3. Device 3 proposes `RemoveLeaf(device 0)`; the new device's share counts.
4. Devices 1-3 refresh their shares without device 0 (same group key) and commit one more
   operation with the refreshed shares; device 0's old share no longer combines, and its
   instances on the old group are refused.

The key ceremonies (DKG, refresh) are computed in the test, standing in for their networked
protocols; every tree change goes through the networked consensus and lands in every journal
as a `TreeCommit` fact the journal validates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AsyncExitStack

import anyio
import attrs
import pytest

import aura_sim
from aura_consensus.commit import CommitFact
from aura_consensus.params import ConsensusParams
from aura_consensus.tree import (
    authority_registry,
    frost_identifier,
    tree_prestate,
    tree_witnesses,
)
from aura_core.crypto import frost
from aura_core.encoding import encode, record_tag
from aura_core.errors import ConsensusFailed, InvalidArgument, InvalidShare
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, DeviceId
from aura_core.time import OrderTime, PhysicalTime
from aura_core.tree import LeafNode, LeafRole
from aura_journal.fact import (
    Fact,
    FactBody,
    JournalNamespace,
    ThresholdAttestation,
    signing_message,
)
from aura_journal.tree import (
    TREE_REDUCER,
    AddLeaf,
    RemoveLeaf,
    RotateEpoch,
    TreeGenesis,
    TreeOp,
    TreeState,
)
from aura_protocol import Dispatcher
from aura_protocol.consensus import (
    CAPABILITIES,
    ConsensusConfig,
    ConsensusNode,
    Group,
    record_tree_change,
)
from tests.protocol.cluster import CONTEXT, Node, authority, make_nodes
from tests.protocol.networks import LatencyNetwork

ALICE = AuthorityId(b"\xa1" * 16)
NS = JournalNamespace.of(ALICE)
CONFIG = ConsensusConfig(fallback_s=0.2, gossip_s=0.1, deadline_s=5.0)


def seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def dkg(
    ids: Sequence[int], threshold: int, label: str
) -> tuple[dict[int, frost.KeyPackage], frost.PublicKeyPackage]:
    """A DKG among `ids`, every participant's rounds computed here."""
    r1 = {i: frost.dkg_part1(i, threshold, len(ids), seed(f"{label} {i}")) for i in ids}
    r2 = {i: frost.dkg_part2(r1[i][0], {j: r1[j][1] for j in ids if j != i}) for i in ids}
    keys: dict[int, frost.KeyPackage] = {}
    public = None
    for i in ids:
        keys[i], public = frost.dkg_part3(
            r2[i][0], {j: r1[j][1] for j in ids if j != i}, {j: r2[j][1][i] for j in ids if j != i}
        )
    assert public is not None
    return keys, public


def refresh(
    ids: Sequence[int],
    keys: dict[int, frost.KeyPackage],
    public: frost.PublicKeyPackage,
    label: str,
) -> tuple[dict[int, frost.KeyPackage], frost.PublicKeyPackage]:
    """A DKG-style refresh among `ids` only: same group key, new shares, the others dropped."""
    threshold = public.min_signers
    r1 = {i: frost.refresh_dkg_part1(i, threshold, len(ids), seed(f"{label} {i}")) for i in ids}
    r2 = {i: frost.refresh_dkg_part2(r1[i][0], {j: r1[j][1] for j in ids if j != i}) for i in ids}
    fresh: dict[int, frost.KeyPackage] = {}
    new_public = None
    for i in ids:
        fresh[i], new_public = frost.refresh_dkg_shares(
            r2[i][0],
            {j: r1[j][1] for j in ids if j != i},
            {j: r2[j][1][i] for j in ids if j != i},
            public,
            keys[i],
        )
    assert new_public is not None
    return fresh, new_public


def threshold_sign(
    keys: dict[int, frost.KeyPackage], public: frost.PublicKeyPackage, message: bytes
) -> bytes:
    nonces = {i: frost.commit(k, seed(f"genesis nonce {i}")) for i, k in keys.items()}
    package = frost.signing_package({i: c for i, (_, c) in nonces.items()}, message)
    shares = {i: frost.sign(package, nonces[i][0], keys[i]) for i in keys}
    return frost.aggregate(package, shares, public)


@attrs.define
class Device:
    index: int
    node: Node
    leaf: LeafNode
    consensus: ConsensusNode | None = None
    key: frost.KeyPackage | None = None

    @property
    def authority(self) -> AuthorityId:
        return self.node.authority

    async def state(self) -> TreeState:
        journal = await self.node.effects.journal.journal(NS)
        current = journal.view(TREE_REDUCER).current
        assert current is not None
        return current

    async def record(self, fact: Fact) -> None:
        await self.node.effects.journal.merge(NS, [fact])


def genesis_fact(
    devices: list[Device], keys: dict[int, frost.KeyPackage], public: frost.PublicKeyPackage
) -> Fact:
    genesis = TreeGenesis(ALICE, tuple(d.leaf for d in devices), 2, public.group_public_key)
    type_id, version = record_tag(TreeGenesis)
    body = FactBody(NS, type_id, version, encode(genesis), OrderTime(bytes(32)), PhysicalTime(0))
    signers = dict(sorted(keys.items())[:2])
    signature = threshold_sign(signers, public, signing_message(body))
    return Fact(body, ThresholdAttestation(public.group_public_key, signature, tuple(signers)))


def test_add_a_device_then_remove_one_through_consensus() -> None:
    async def main() -> None:
        network = LatencyNetwork(0.01)
        authorities = [authority(i + 1) for i in range(4)]
        nodes = make_nodes(
            authorities,
            seed=aura_sim.current_loop().seed,
            capabilities=CAPABILITIES,
            attach=network.attach,
            registry=authority_registry(),
        )
        devices = [
            Device(
                i,
                nodes[a],
                LeafNode(i, DeviceId(a.raw[::-1]), LeafRole.DEVICE, nodes[a].key.verifying_key.raw),
            )
            for i, a in enumerate(authorities)
        ]
        witness_of = {d.leaf.device_id: d.authority for d in devices}
        ids0 = [frost_identifier(d.leaf) for d in devices[:3]]
        keys0, public0 = dkg(ids0, 2, "genesis group")
        genesis = genesis_fact(devices[:3], keys0, public0)
        for d in devices:
            await d.record(genesis)
        state0 = await devices[0].state()
        group0 = Group(0, tree_witnesses(state0, public0, witness_of), public0)

        async with AsyncExitStack() as stack:
            dispatchers = [
                await stack.enter_async_context(Dispatcher(d.node.guarded, d.node.effects.trace))
                for d in devices
            ]
            await scenario(stack, devices, dispatchers, witness_of, keys0, public0, group0)

    aura_sim.run(main, seed=21)


async def scenario(
    stack: AsyncExitStack,
    devices: list[Device],
    dispatchers: list[Dispatcher],
    witness_of: dict[object, AuthorityId],
    keys0: dict[int, frost.KeyPackage],
    public0: frost.PublicKeyPackage,
    group0: Group,
) -> None:
    for d, dispatcher in zip(devices, dispatchers, strict=True):
        key = keys0.get(frost_identifier(d.leaf))

        async def prestate(params: ConsensusParams, d: Device = d) -> Hash32:
            return tree_prestate(await d.state()).hash

        d.consensus = await stack.enter_async_context(
            ConsensusNode(
                d.node.effects,
                dispatcher,
                context=CONTEXT,
                group=attrs.evolve(group0, key_package=key),
                prestate=prestate,
                on_decided=record_tree_change(d.node.effects, NS, d.node.key),
                config=CONFIG,
            )
        )
    d0, d1, d2, d3 = devices

    async def change(initiator: Device, kind: object, everyone: Sequence[Device]) -> CommitFact:
        state = await initiator.state()
        op = TreeOp(state.epoch, state.commitment, kind)  # type: ignore[arg-type]
        assert initiator.consensus is not None
        fact = await initiator.consensus.propose(encode(op), tree_prestate(state).hash)
        # The witnesses decide it through consensus; the others get the commit announced
        # (standing in for journal sync).
        others = [d.authority for d in everyone if d.authority not in fact.participants]
        await initiator.consensus.announce(fact, others)
        await settle(everyone, op)
        return fact

    # 1. Add device 3: decided by the 2-of-3 group; device 3 has no share yet.
    added = await change(d0, AddLeaf(d3.leaf), devices)
    state1 = await d0.state()
    assert [leaf.leaf_id for leaf in state1.leaves] == [0, 1, 2, 3]
    assert set(added.participants) <= {d0.authority, d1.authority, d2.authority}

    # 2. A 2-of-4 group for the new membership (pending until its rotation commits).
    keys1, public1 = dkg([1, 2, 3, 4], 2, "four devices")
    await change(d0, RotateEpoch(public1.group_public_key), devices)
    state2 = await d0.state()
    assert state2.epoch == 1 and state2.group_key == public1.group_public_key
    group1 = Group(1, tree_witnesses(state2, public1, witness_of), public1)
    assert len(group1.witnesses) == 4
    for d in devices:
        assert d.consensus is not None
        d.consensus.set_group(attrs.evolve(group1, key_package=keys1[frost_identifier(d.leaf)]))

    # 3. The new device removes device 0; its own share is in the commit.
    removal = await change(d3, RemoveLeaf(0), devices)
    assert d3.authority in removal.participants
    state3 = await d3.state()
    assert state3.epoch == 2 and [leaf.leaf_id for leaf in state3.leaves] == [1, 2, 3]

    # 4. Devices 1-3 refresh their shares without device 0: same group key, new shares.
    remaining = [d1, d2, d3]
    keys2, public2 = refresh([2, 3, 4], keys1, public1, "without device 0")
    assert public2.group_public_key == public1.group_public_key
    group2 = Group(2, tree_witnesses(state3, public2, witness_of), public2)
    assert d0.authority not in group2.witnesses
    for d in remaining:
        assert d.consensus is not None
        d.consensus.set_group(attrs.evolve(group2, key_package=keys2[frost_identifier(d.leaf)]))
    after = await change(d1, RotateEpoch(public2.group_public_key), remaining)
    assert set(after.participants) <= {d1.authority, d2.authority, d3.authority}

    # Device 0's share no longer counts: it does not combine with a refreshed one...
    message = b"any message"
    old = frost.commit(keys1[1], seed("old share nonce"))
    new = frost.commit(keys2[2], seed("new share nonce"))
    package = frost.signing_package({1: old[1], 2: new[1]}, message)
    shares = {1: frost.sign(package, old[0], keys1[1]), 2: frost.sign(package, new[0], keys2[2])}
    with pytest.raises(InvalidArgument):
        frost.aggregate(package, shares, public2)  # device 0 is not in the refreshed group
    with pytest.raises(InvalidShare):
        frost.aggregate(package, shares, public1)  # and the refreshed share is not of the old one
    # ...and an instance on its old group is refused by everyone else.
    assert d0.consensus is not None
    stale = await d0.state()
    with pytest.raises(ConsensusFailed):
        await d0.consensus.propose(
            encode(TreeOp(stale.epoch, stale.commitment, RemoveLeaf(1))), tree_prestate(stale).hash
        )

    # Every replica converged to the same tree; device 0 saw itself removed.
    roots = {(await d.state()).commitment for d in remaining}
    assert roots == {(await d1.state()).commitment}
    assert (await d0.state()).commitment == state3.commitment
    final = await d1.state()
    assert final.epoch == 3 and [leaf.leaf_id for leaf in final.leaves] == [1, 2, 3]


async def settle(devices: Sequence[Device], op: TreeOp) -> None:
    """Wait until every device's journal holds `op` (virtual time; bounded)."""
    with anyio.fail_after(10):
        while True:
            views = [(await d.node.effects.journal.journal(NS)).view(TREE_REDUCER) for d in devices]
            if all(op in view.log.ops for view in views):
                return
            await anyio.sleep(0.05)
