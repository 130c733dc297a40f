"""A device of an authority, assembled: its effects, network endpoint, tree journal and
consensus.

`Device` holds what a device is (its effects bundle, its guarded transport, its signing key and
its leaf in the authority's tree); `online(group)` runs its dispatcher and consensus node, and
its anti-entropy sync when it has a `sync_config`; `change(kind)` proposes a tree change and
returns the commit once every witness agreed. Its journal of the authority gets the genesis
(`found`) and every decided change (a `TreeCommit`, recorded by the consensus node's hook, or
brought by sync from a device that recorded it).

The guarded transport comes from `aura_guards.loopback.connect` (devices of one process) or
from `aura_agent.network.on_tcp` (a device on the real network, which also sets `network`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import attrs

from aura_agent.readiness import check_ready
from aura_consensus.commit import CommitFact
from aura_consensus.params import ConsensusParams
from aura_consensus.tree import TreeCommit, frost_identifier, tree_prestate, tree_witnesses
from aura_consensus.witnesses import WitnessSet, fault_bound
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.encoding import encode, record_tag
from aura_core.errors import AuraError, InvalidArgument, MissingParent, UnsafeThreshold
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_core.tree import LeafNode
from aura_effects.bundle import Effects
from aura_effects.tcpconfig import Connected
from aura_guards.tcp import TcpNode
from aura_guards.transport import GuardedTransport
from aura_journal.context import CONTEXT_REDUCER
from aura_journal.fact import (
    Fact,
    FactBody,
    JournalNamespace,
    ThresholdAttestation,
    signing_message,
)
from aura_journal.tree import TREE_REDUCER, TreeGenesis, TreeOp, TreeOpKind, TreeState
from aura_protocol import Dispatcher
from aura_protocol.consensus import (
    CAPABILITIES,
    ConsensusConfig,
    ConsensusNode,
    Group,
    record_tree_change,
)
from aura_protocol.sync import CAPABILITIES as SYNC_CAPABILITIES
from aura_protocol.sync import AccountDevices, SyncConfig, SyncService, shared_contexts

__all__ = ["Device", "GenesisSigner", "tree_group", "genesis_fact"]


def tree_group(
    state: TreeState,
    public_key_package: frost.PublicKeyPackage,
    key_package: frost.KeyPackage | None,
    witness_of: Mapping[DeviceId, AuthorityId],
) -> Group:
    """The consensus group of a tree state: its epoch, its witnesses (the leaves holding a
    share of its group key, each voting with its leaf's public key), the largest fault bound
    f the tree's policy is safe for, and this device's share (None if it holds none).

    A policy no f makes safe (t ≤ n/2 among the share holders, e.g. 2-of-4: two halves could
    each commit a different change) is refused with `UnsafeThreshold`."""
    holders = [
        leaf for leaf in state.leaves if frost_identifier(leaf) in public_key_package.identifiers
    ]
    try:
        faults = fault_bound(len(holders), state.required_signers)
    except UnsafeThreshold as exc:
        raise UnsafeThreshold(f"tree policy of {state.authority}: {exc.message}") from None
    witnesses = tree_witnesses(state, public_key_package, witness_of)
    keys = {}
    for leaf in holders:
        try:
            keys[witness_of[leaf.device_id]] = VerifyingKey(leaf.public_key)
        except AuraError as exc:
            raise InvalidArgument(
                f"leaf {leaf.leaf_id} has no Ed25519 key: {exc.message}"
            ) from None
    signers = {w.authority: w.signer for w in witnesses.members}
    return Group(
        state.epoch,
        WitnessSet.of(signers, witnesses.threshold, faults=faults, keys=keys),
        public_key_package,
        key_package,
    )


GenesisSigner = Callable[[bytes], Awaitable[tuple[bytes, tuple[int, ...]]]]
"""Given the genesis fact's signing message: the founding group's threshold signature and the
FROST identifiers of its signers (a networked signing ceremony, `CeremonyService.sign`)."""


async def genesis_fact(effects: Effects, genesis: TreeGenesis, sign: GenesisSigner) -> Fact:
    """The genesis fact of an authority, attested by its founding group."""
    type_id, version = record_tag(TreeGenesis)
    body = FactBody(
        JournalNamespace.of(genesis.authority),
        type_id,
        version,
        encode(genesis),
        await effects.order.order_time(),
        await effects.time.now(),
    )
    signature, signers = await sign(signing_message(body))
    return Fact(body, ThresholdAttestation(genesis.group_key, signature, signers))


@attrs.define(eq=False)
class Device:
    """One device of `authority` in this process.

    `guarded.local` is the authority it answers as on the network (its witness identity); its
    consensus messages travel in `context`, the context the account's devices share. With a
    `sync_config`, `online` also syncs the context's journal and the account's authority journal
    with the context's other members (the account's other devices), which needs the context's
    genesis in this device's journal and its secret in `effects.contexts`.
    """

    effects: Effects
    guarded: GuardedTransport
    key: SigningKey
    leaf: LeafNode
    authority: AuthorityId
    context: ContextId
    sync_config: SyncConfig | None = None
    network: TcpNode | None = None
    """The device's TCP endpoint, when it runs on the real network (`on_tcp`)."""
    consensus: ConsensusNode | None = None
    sync: SyncService | None = None

    @property
    def address(self) -> AuthorityId:
        return self.guarded.local

    @property
    def namespace(self) -> JournalNamespace:
        return JournalNamespace.of(self.authority)

    @property
    def frost_identifier(self) -> int:
        return frost_identifier(self.leaf)

    async def devices(self) -> list[AuthorityId]:
        """The account's other devices: the other members of `context` (sorted network
        authorities); `InvalidArgument` if this device's journal has no genesis of it."""
        journal = await self.effects.journal.journal(JournalNamespace.of(self.context))
        genesis = journal.view(CONTEXT_REDUCER).genesis
        if genesis is None:
            raise InvalidArgument(f"no genesis of {self.context} on this device")
        return sorted(m.authority for m in genesis.members if m.authority != self.address)

    async def tree(self) -> TreeState:
        """The current state of the authority's tree in this device's journal."""
        journal = await self.effects.journal.journal(self.namespace)
        current = journal.view(TREE_REDUCER).current
        if current is None:
            raise MissingParent(f"no genesis of {self.authority} on this device yet")
        return current

    async def _prestate(self, params: ConsensusParams) -> Hash32:
        return tree_prestate(await self.tree()).hash

    @asynccontextmanager
    async def online(
        self,
        group: Group,
        config: ConsensusConfig | None = None,
        *,
        dispatcher: Dispatcher | None = None,
    ) -> AsyncIterator[ConsensusNode]:
        """Run this device's dispatcher and consensus node (as witness of `group`), and its sync
        service if it has a `sync_config`; leaving stops them all. With `dispatcher` (running,
        on `guarded`: an agent's, which outlives its account), the node runs on it instead."""
        if dispatcher is None:
            own = Dispatcher(self.guarded, self.effects.trace)
            async with own, self._online(own, group, config) as node:
                yield node
        else:
            async with self._online(dispatcher, group, config) as node:
                yield node

    @asynccontextmanager
    async def _online(
        self, dispatcher: Dispatcher, group: Group, config: ConsensusConfig | None
    ) -> AsyncIterator[ConsensusNode]:
        syncing = SYNC_CAPABILITIES if self.sync_config is not None else ()
        await check_ready(  # what would otherwise surface as a consensus timeout
            self.effects,
            local=self.address,
            context=self.context,
            peers=[witness.authority for witness in group.witnesses.members],
            capabilities=(*CAPABILITIES, *syncing),
            records=[TreeCommit],
        )
        node = ConsensusNode(
            self.effects,
            dispatcher,
            context=self.context,
            group=group,
            prestate=self._prestate,
            on_decided=record_tree_change(self.effects, self.namespace, self.key),
            signing_key=self.key,
            config=config,
        )
        async with node, self._syncing(dispatcher):
            self.consensus = node
            try:
                yield node
            finally:
                self.consensus = None

    @asynccontextmanager
    async def _syncing(self, dispatcher: Dispatcher) -> AsyncIterator[None]:
        """The sync service while online: periodic with each of the account's other devices,
        and at once when starting (a restarted device catches up first)."""
        if self.sync_config is None:
            yield
            return
        peers = await self.devices()
        account = AccountDevices(self.authority, self.context, frozenset(peers))
        service = SyncService(
            self.effects,
            dispatcher,
            peers=peers,
            shared=shared_contexts(self.effects, self.address, account=account),
            config=self.sync_config,
        )
        async with service:
            self.sync = service
            try:
                for peer in peers:
                    service.request(peer)
                yield
            finally:
                self.sync = None

    def connected(self, event: Connected) -> None:
        """A channel with a peer was (re)established: sync with it now, if online (the
        transport's `on_connected` hook; the peer may have been cut off or restarted)."""
        if self.sync is not None:
            self.sync.request(event.peer, event.context)

    async def change(self, kind: TreeOpKind) -> CommitFact:
        """Propose `kind` on the current tree state; the commit once the witnesses agreed
        (`ConsensusFailed` if they did not by the deadline)."""
        if self.consensus is None:
            raise InvalidArgument("the device is not online")
        state = await self.tree()
        op = TreeOp(state.epoch, state.commitment, kind)
        return await self.consensus.propose(encode(op), tree_prestate(state).hash)
