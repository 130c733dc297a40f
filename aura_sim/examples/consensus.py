"""CONSENSUS: every node is a witness; operations are agreed by the networked consensus.

All nodes of a run form one t-of-n FROST group (t = n // 2 + 1, a strict majority; the key
shares are dealt from the run's seed). A `propose` action makes an honest node ask for a new
operation on a slot of its own (each slot is its own prestate, so honest witnesses may sign
every one); the node runs `ConsensusNode.propose` until it commits, retrying with a new
instance when one fails, and again after a restart. Decided commits go into the node's context
journal, and every node keeps announcing what it decided to a random peer (a stand-in for
journal sync, so nodes that missed a commit learn it).

Byzantine nodes (the run's last ones) misbehave as witnesses: they withhold their shares or
equivocate (`Behavior`), on top of the byzantine transport's replays and corruption. They never
give a share for an instance's own result, so a commit needs t honest signers.

Invariants (`always = ["workload"]`), checked at every decision and by the monitor:
    every decided commit verifies under the group key and decides its slot's operation on its
    slot's prestate; all nodes that decide an instance decide the same operation; every commit
    has at least t participants, all honest; with fewer than t honest nodes nothing commits;
    no node ever holds an equivocation proof against an honest witness.
Goal (`require = ["workload"]`): once a connected core of at least t honest nodes is healed,
every operation proposed by a core node is decided at every core node within the bound. A core
smaller than t has no goal (the invariants then say that nothing commits).

Options (`[workload]`): fallback_s, gossip_s, deadline_s (consensus timers), retry_s (pause
before re-proposing, default 0.5), sync_s (announcement period, default 1.0), byzantine
("mixed" (default): each byzantine node draws "withhold" or "equivocate"; or one of them).
"""

from __future__ import annotations

from typing import Any

import anyio
import attrs
from anyio.abc import TaskGroup

from aura_consensus.commit import CommitFact
from aura_consensus.facts import consensus_fact_types
from aura_consensus.params import ConsensusParams
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import AuraError, ConsensusFailed, EncodingError
from aura_core.hashing import Hash32, tagged_hash, u64
from aura_core.ids import AuthorityId, ConsensusId
from aura_effects.bundle import Effects
from aura_journal.fact import JournalNamespace
from aura_journal.registry import FactRegistry, JournalState
from aura_protocol import Dispatcher
from aura_protocol.consensus import (
    CAPABILITIES,
    Behavior,
    ConsensusConfig,
    ConsensusNode,
    DecidedHook,
    Group,
    record_in_journal,
)
from aura_sim.node import SimNode
from aura_sim.runner import SimRun
from aura_sim.scenario import Action

__all__ = ["SimOperation", "ConsensusWorkload", "workload", "slot_prestate"]

PROPERTY = "workload"
HANG_SLACK_S = 1.0
"""How far past the longest bound (the deadline) a session may stay open before it counts as
hung: every role the workload runs has a timer or a run limit."""


@record("sim.consensus_op")
@attrs.frozen
class SimOperation:
    """The operation of one slot."""

    slot: int
    author: AuthorityId
    text: str


def slot_prestate(slot: int) -> Hash32:
    """The prestate of a slot: every honest node holds it (slots are independent)."""
    return tagged_hash("aura.sim.consensus.slot", u64(slot))


@attrs.frozen
class _Intent:
    initiator: str
    operation: bytes


@attrs.frozen
class _Keys:
    witnesses: WitnessSet
    public: frost.PublicKeyPackage
    shares: dict[str, frost.KeyPackage]
    honest: frozenset[AuthorityId]

    @property
    def group_key(self) -> VerifyingKey:
        return self.public.group_public_key


class ConsensusWorkload:
    """See the module docstring."""

    capabilities = CAPABILITIES

    def __init__(self, options: dict[str, Any]) -> None:
        known = {"fallback_s", "gossip_s", "deadline_s", "retry_s", "sync_s", "byzantine"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown consensus options {sorted(unknown)}")
        self.config = ConsensusConfig(
            fallback_s=float(options.get("fallback_s", 0.3)),
            gossip_s=float(options.get("gossip_s", 0.2)),
            deadline_s=float(options.get("deadline_s", 8.0)),
        )
        self.retry_s = float(options.get("retry_s", 0.5))
        self.sync_s = float(options.get("sync_s", 1.0))
        self.byzantine = str(options.get("byzantine", "mixed"))
        if self.byzantine not in ("mixed", "withhold", "equivocate"):
            raise ValueError(f"unknown byzantine behaviour {self.byzantine!r}")
        self.intents: dict[int, _Intent] = {}
        self.decisions: dict[ConsensusId, tuple[bytes, Hash32]] = {}
        """Consensus id → (operation, prestate) as first decided anywhere."""
        self._keys: _Keys | None = None
        self._nodes: dict[str, ConsensusNode] = {}
        self._dispatchers: dict[str, Dispatcher] = {}
        self._proposers: dict[str, TaskGroup] = {}
        self._checked: dict[str, set[ConsensusId]] = {}

    # ------------------------------------------------------------------------- the group

    def _group(self, run: SimRun) -> _Keys:
        if self._keys is None:
            names = sorted(run.nodes)
            n = len(names)
            threshold = n // 2 + 1
            seed = run.seeds.child("consensus").stream("dealer").bytes(32)
            dealt, public = frost.generate_with_dealer(threshold, n, seed)
            ids = sorted(dealt)
            shares = {name: frost.key_package(dealt[i]) for name, i in zip(names, ids, strict=True)}
            witnesses = WitnessSet.of(
                {run.nodes[name].authority: shares[name].identifier for name in names}, threshold
            )
            honest = frozenset(
                run.nodes[name].authority for name in names if run.honest(run.nodes[name])
            )
            self._keys = _Keys(witnesses, public, shares, honest)
        return self._keys

    def _trusted(self, _: JournalState, __: CommitFact) -> VerifyingKey:
        assert self._keys is not None, "commits arrive only after the group exists"
        return self._keys.group_key

    def register(self, registry: FactRegistry) -> None:
        for fact_type in consensus_fact_types(self._trusted):
            registry.register(fact_type)

    def _behavior(self, run: SimRun, node: SimNode) -> Behavior:
        if run.honest(node):
            return Behavior.HONEST
        if self.byzantine == "withhold":
            return Behavior.WITHHOLD
        if self.byzantine == "equivocate":
            return Behavior.EQUIVOCATE
        draw = run.seeds.child("node", node.name).stream("behavior")
        return draw.choice([Behavior.WITHHOLD, Behavior.EQUIVOCATE])

    # ------------------------------------------------------------------------- a node

    async def run_node(self, run: SimRun, node: SimNode) -> None:
        assert node.effects is not None and node.guarded is not None
        effects, guarded = node.effects, node.guarded
        keys = self._group(run)
        group = Group(0, keys.witnesses, keys.public, keys.shares[node.name])

        journal = record_in_journal(effects, run.namespace, node.key)

        async def decided(fact: CommitFact) -> None:
            await self._record(run, node, journal, fact)

        async with Dispatcher(guarded, effects.trace) as dispatcher:
            self._dispatchers[node.name] = dispatcher
            async with ConsensusNode(
                effects,
                dispatcher,
                context=run.context,
                group=group,
                prestate=_prestate,
                on_decided=decided,
                config=self.config,
                behavior=self._behavior(run, node),
            ) as consensus:
                self._nodes[node.name] = consensus
                async with anyio.create_task_group() as proposers:
                    self._proposers[node.name] = proposers
                    done = await self._decided_slots(effects, run.namespace)
                    for slot in sorted(self.intents):
                        intent = self.intents[slot]
                        if intent.initiator == node.name and slot not in done:
                            proposers.start_soon(self._pursue, run, node, consensus, slot)
                    proposers.start_soon(self._sync, run, node, effects, consensus)
                    await anyio.sleep_forever()

    async def act(self, run: SimRun, node: SimNode, action: Action) -> None:
        if action.do != "propose":
            raise ValueError(f"the consensus workload does not know the action {action.do!r}")
        if not run.honest(node):
            run.note(f"{node.name} is byzantine: it proposes nothing")
            return
        slot = len(self.intents)
        operation = encode(SimOperation(slot, node.authority, f"{node.name} op {slot}"))
        self.intents[slot] = _Intent(node.name, operation)
        run.note(f"{node.name} proposes slot {slot}")
        proposers = self._proposers.get(node.name)
        consensus = self._nodes.get(node.name)
        if proposers is not None and consensus is not None and node.alive:
            proposers.start_soon(self._pursue, run, node, consensus, slot)

    async def _pursue(
        self, run: SimRun, node: SimNode, consensus: ConsensusNode, slot: int
    ) -> None:
        operation = self.intents[slot].operation
        while True:
            try:
                await consensus.propose(operation, slot_prestate(slot))
                run.note(f"{node.name} decided slot {slot}")
                return
            except ConsensusFailed:
                run.hit("consensus_retried")
            except AuraError as exc:  # e.g. an injected storage failure while signing
                run.note(f"{node.name} slot {slot}: {type(exc).__name__}")
            await anyio.sleep(self.retry_s)

    async def _sync(
        self, run: SimRun, node: SimNode, effects: Effects, consensus: ConsensusNode
    ) -> None:
        peers = [p.authority for name, p in sorted(run.nodes.items()) if p is not node]
        while True:
            await anyio.sleep(self.sync_s)
            journal = await effects.journal.journal(run.namespace)
            facts = [
                decode(f.body.payload, CommitFact) for f in journal.of_type("consensus.commit_fact")
            ]
            if not facts or not peers:
                continue
            peer = peers[await effects.random.random_range(0, len(peers))]
            for fact in sorted(facts, key=lambda f: f.consensus_id):
                try:
                    await consensus.announce(fact, [peer])
                except AuraError:
                    run.hit("announce_failed")

    async def _record(
        self, run: SimRun, node: SimNode, journal: DecidedHook, fact: CommitFact
    ) -> None:
        """Check a decision against the invariants (once per node), then journal it."""
        if fact.consensus_id not in self._checked.setdefault(node.name, set()):
            self._checked[node.name].add(fact.consensus_id)
            self._check_decision(run, node, fact)
        try:
            await journal(fact)
        except AuraError as exc:  # an injected storage failure: the consensus node retries
            run.note(f"{node.name} could not journal a commit: {type(exc).__name__}")
            raise

    @staticmethod
    async def _decided_slots(effects: Effects, namespace: JournalNamespace) -> set[int]:
        journal = await effects.journal.journal(namespace)
        slots = set()
        for fact in journal.of_type("consensus.commit_fact"):
            commit = decode(fact.body.payload, CommitFact)
            slots.add(decode(commit.operation_bytes, SimOperation).slot)
        return slots

    # ------------------------------------------------------------------------- properties

    def _check_decision(self, run: SimRun, node: SimNode, fact: CommitFact) -> None:
        keys = self._group(run)
        where = f"{node.name} decided {fact.consensus_id}"
        try:
            fact.verify(keys.group_key)
            operation = decode(fact.operation_bytes, SimOperation)
        except (AuraError, EncodingError) as exc:
            run.violate(PROPERTY, f"{where}: {exc}")
            return
        intent = self.intents.get(operation.slot)
        if intent is None or intent.operation != fact.operation_bytes:
            run.violate(PROPERTY, f"{where}: an operation nobody proposed")
        if fact.prestate_hash != slot_prestate(operation.slot):
            run.violate(PROPERTY, f"{where}: not on its slot's prestate")
        participants = set(fact.participants)
        if len(participants) < keys.witnesses.threshold or not participants <= keys.honest:
            run.violate(PROPERTY, f"{where}: participants are not t honest witnesses")
        if len(keys.honest) < keys.witnesses.threshold:
            run.violate(PROPERTY, f"{where}: committed with fewer than t honest witnesses")
        run.hit("decided_fast_path" if fact.fast_path else "decided_in_fallback")
        decision = (fact.operation_bytes, fact.prestate_hash)
        held = self.decisions.setdefault(fact.consensus_id, decision)
        if held != decision:
            run.violate(PROPERTY, f"{where}: another node decided something else")

    def check(self, run: SimRun) -> None:
        if self._keys is None:
            return
        bound = self.config.deadline_s + HANG_SLACK_S
        for name in sorted(self._dispatchers):
            if not run.nodes[name].alive:
                continue
            oldest = self._dispatchers[name].oldest_open()
            if oldest is not None and anyio.current_time() - oldest > bound:
                run.violate(PROPERTY, f"{name} has a session open for more than {bound} s")
        for name in sorted(self._nodes):
            proven = self._nodes[name].evidence.equivocators()
            if proven:
                run.hit("equivocators_proven")
            framed = proven & self._keys.honest
            if framed:
                run.violate(PROPERTY, f"{name} holds equivocation proofs against honest witnesses")

    async def settled(self, run: SimRun, core: list[SimNode]) -> str | None:
        keys = self._group(run)
        if len(core) < keys.witnesses.threshold:
            run.hit("core_below_threshold")
            return None
        names = {node.name for node in core}
        wanted = {slot for slot, intent in self.intents.items() if intent.initiator in names}
        for node in core:
            if node.effects is None:
                return f"{node.name} is down"
            missing = wanted - await self._decided_slots(node.effects, run.namespace)
            if missing:
                return f"{node.name} has not decided slots {sorted(missing)}"
        return None

    async def state(self, node: SimNode) -> frozenset[object]:
        assert node.effects is not None
        return frozenset(await self._decided_slots(node.effects, JournalNamespace.of(node.context)))


async def _prestate(params: ConsensusParams) -> Hash32:
    try:
        return slot_prestate(decode(params.operation_bytes, SimOperation).slot)
    except EncodingError:
        return Hash32.of(b"not a slot operation")


def workload(options: dict[str, Any]) -> ConsensusWorkload:
    """The factory a scenario names."""
    return ConsensusWorkload(options)
