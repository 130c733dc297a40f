"""CONSENSUS: every node is a witness; operations are agreed by the networked consensus.

All nodes of a run form one t-of-n FROST group with the largest fault bound n nodes allow,
f = (n - 1) // 3, and the smallest threshold safe for it, t = (n + f) // 2 + 1 (the key shares
are dealt from the run's seed; each witness votes with its node's identity key). A `propose`
action makes an honest node ask for a new operation on a slot of its own (each slot is its
own prestate); a `contend` action makes it propose another operation on the latest slot, so
two honest proposals compete for one prestate. A node runs `ConsensusNode.propose` until its
slot is decided (by its operation or a contending one), retrying with a new instance when one
fails, and again after a restart. Decided commits go into the node's context journal, and every
node keeps announcing what it decided to a random peer (a stand-in for journal sync).

Byzantine nodes (the run's last ones) draw a strategy each (`Behavior`): double-signing every
package and proposal (and proposing conflicting operations on honest slots), forging
equivocation evidence, forging relayed votes, replaying votes from other instances and rounds,
selective withholding, lying about the prestate, withholding, or equivocating about made-up
results; on top of that their transport replays and corrupts. At most f of them may sign: when
a run draws more byzantine nodes than f, the ones past f draw only strategies that never sign
twice, and the run checks safety only (`over_fault_bound`; no liveness goal), since no
protocol can promise liveness with more than f faults.

Invariants (`always = ["workload"]`), checked at every decision and by the monitor:
    every decided commit verifies under the group key, decides an operation someone proposed
    on its slot's prestate, with at least t witnesses; at most one operation is decided per
    slot (safety); no node ever holds an equivocation proof against an honest witness; no
    session stays open past its bound.
Goal (`require = ["workload"]`), when at most f nodes are byzantine: once the honest nodes are
healed, every slot an honest node proposed is decided at every honest node within the bound,
with the proposal itself if nobody contended it and with one of the proposals otherwise.

Options (`[workload]`): fallback_s, gossip_s, deadline_s, round_s (consensus timers), retry_s
(pause before re-proposing, default 0.5), sync_s (announcement period, default 1.0),
byzantine ("mixed" (default): each byzantine node draws a strategy; or one `Behavior` value).
"""

from __future__ import annotations

from typing import Any

import anyio
import attrs
from anyio.abc import TaskGroup

from aura_consensus.commit import CommitFact
from aura_consensus.facts import consensus_fact_types
from aura_consensus.params import ConsensusParams
from aura_consensus.witnesses import WitnessSet, safe_threshold
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import AuraError, ConsensusFailed, EncodingError, PrestateDecided
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

STRATEGIES = (
    Behavior.DOUBLE_SIGN,
    Behavior.FORGE_EVIDENCE,
    Behavior.FORGE_RELAY,
    Behavior.REPLAY,
    Behavior.SELECTIVE,
    Behavior.LIE_PRESTATE,
    Behavior.WITHHOLD,
    Behavior.EQUIVOCATE,
)
NEVER_DOUBLE_SIGN = tuple(b for b in STRATEGIES if b is not Behavior.DOUBLE_SIGN)
PROPOSERS = (Behavior.DOUBLE_SIGN, Behavior.SELECTIVE)
"""Byzantine strategies whose node also proposes conflicting operations on honest slots."""


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
    honest: bool


@attrs.frozen
class _Keys:
    witnesses: WitnessSet
    public: frost.PublicKeyPackage
    shares: dict[str, frost.KeyPackage]
    honest: frozenset[AuthorityId]
    behaviors: dict[str, Behavior]
    over_bound: bool
    """More byzantine nodes than f: safety only."""

    @property
    def group_key(self) -> VerifyingKey:
        return self.public.group_public_key


class ConsensusWorkload:
    """See the module docstring."""

    capabilities = CAPABILITIES

    def __init__(self, options: dict[str, Any]) -> None:
        known = {
            "fallback_s",
            "gossip_s",
            "deadline_s",
            "round_s",
            "retry_s",
            "sync_s",
            "byzantine",
        }
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown consensus options {sorted(unknown)}")
        self.config = ConsensusConfig(
            fallback_s=float(options.get("fallback_s", 0.3)),
            gossip_s=float(options.get("gossip_s", 0.2)),
            deadline_s=float(options.get("deadline_s", 8.0)),
            round_s=float(options.get("round_s", 1.0)),
        )
        self.retry_s = float(options.get("retry_s", 0.5))
        self.sync_s = float(options.get("sync_s", 1.0))
        self.byzantine = str(options.get("byzantine", "mixed"))
        if self.byzantine != "mixed" and self.byzantine not in {b.value for b in STRATEGIES}:
            raise ValueError(f"unknown byzantine behaviour {self.byzantine!r}")
        self.intents: dict[int, list[_Intent]] = {}
        """Slot → every operation proposed on it, in order."""
        self.decisions: dict[ConsensusId, tuple[bytes, Hash32]] = {}
        """Consensus id → (operation, prestate) as first decided anywhere."""
        self.slot_decisions: dict[int, bytes] = {}
        """Slot → the operation first decided on it anywhere."""
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
            faults = (n - 1) // 3
            threshold = safe_threshold(n, faults)
            seed = run.seeds.child("consensus").stream("dealer").bytes(32)
            dealt, public = frost.generate_with_dealer(threshold, n, seed)
            ids = sorted(dealt)
            shares = {name: frost.key_package(dealt[i]) for name, i in zip(names, ids, strict=True)}
            witnesses = WitnessSet.of(
                {run.nodes[name].authority: shares[name].identifier for name in names},
                threshold,
                faults=faults,
                keys={
                    run.nodes[name].authority: run.nodes[name].key.verifying_key for name in names
                },
            )
            honest = frozenset(
                run.nodes[name].authority for name in names if run.honest(run.nodes[name])
            )
            byzantine = [name for name in names if not run.honest(run.nodes[name])]
            behaviors = {
                name: self._draw(run, name, may_sign=index < faults)
                for index, name in enumerate(byzantine)
            }
            self._keys = _Keys(
                witnesses, public, shares, honest, behaviors, len(byzantine) > faults
            )
            if self._keys.over_bound:
                run.hit("over_fault_bound")
            for behavior in sorted({b.value for b in behaviors.values()}):
                run.hit(f"strategy:{behavior}")
        return self._keys

    def _draw(self, run: SimRun, name: str, *, may_sign: bool) -> Behavior:
        """A byzantine node's strategy; only the first f of them may double-sign."""
        choices = STRATEGIES if may_sign else NEVER_DOUBLE_SIGN
        if self.byzantine != "mixed":
            wanted = Behavior(self.byzantine)
            return wanted if wanted in choices else Behavior.WITHHOLD
        return run.seeds.child("node", name).stream("behavior").choice(list(choices))

    def _trusted(self, _: JournalState, __: CommitFact) -> VerifyingKey:
        assert self._keys is not None, "commits arrive only after the group exists"
        return self._keys.group_key

    def register(self, registry: FactRegistry) -> None:
        for fact_type in consensus_fact_types(self._trusted):
            registry.register(fact_type)

    def _behavior(self, run: SimRun, node: SimNode) -> Behavior:
        return self._group(run).behaviors.get(node.name, Behavior.HONEST)

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
                signing_key=node.key,
                config=self.config,
                behavior=self._behavior(run, node),
            ) as consensus:
                self._nodes[node.name] = consensus
                async with anyio.create_task_group() as proposers:
                    self._proposers[node.name] = proposers
                    done = await self._decided_slots(effects, run.namespace)
                    for slot in sorted(self.intents):
                        for intent in self.intents[slot]:
                            if intent.initiator == node.name and slot not in done:
                                proposers.start_soon(
                                    self._pursue, run, node, consensus, slot, intent.operation
                                )
                    proposers.start_soon(self._sync, run, node, effects, consensus)
                    await anyio.sleep_forever()

    async def act(self, run: SimRun, node: SimNode, action: Action) -> None:
        if action.do not in ("propose", "contend"):
            raise ValueError(f"the consensus workload does not know the action {action.do!r}")
        behavior = self._behavior(run, node)
        honest = run.honest(node)
        if honest and action.do == "propose":
            slot = len(self.intents)
        elif self.intents and (honest or behavior in PROPOSERS):
            slot = max(self.intents)  # contend on the latest slot
        else:
            run.note(f"{node.name} ({behavior.value}) proposes nothing")
            return
        text = f"{node.name} op {slot}" + ("" if honest else " (byzantine)")
        operation = encode(SimOperation(slot, node.authority, text))
        intents = self.intents.setdefault(slot, [])
        if any(i.operation == operation for i in intents):
            return
        intents.append(_Intent(node.name, operation, honest))
        if len(intents) > 1:
            run.hit("contended_slot" if honest else "byzantine_contender")
        run.note(f"{node.name} proposes on slot {slot}")
        proposers = self._proposers.get(node.name)
        consensus = self._nodes.get(node.name)
        if proposers is not None and consensus is not None and node.alive:
            proposers.start_soon(self._pursue, run, node, consensus, slot, operation)

    async def _pursue(
        self, run: SimRun, node: SimNode, consensus: ConsensusNode, slot: int, operation: bytes
    ) -> None:
        while True:
            try:
                await consensus.propose(operation, slot_prestate(slot))
                run.note(f"{node.name} decided slot {slot}")
                return
            except PrestateDecided:
                run.note(f"{node.name} saw slot {slot} decided with another proposal")
                run.hit("contention_lost")
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
    async def _decided(effects: Effects, namespace: JournalNamespace) -> dict[int, set[bytes]]:
        """Slot → the operations this node's journal holds commits of."""
        journal = await effects.journal.journal(namespace)
        slots: dict[int, set[bytes]] = {}
        for fact in journal.of_type("consensus.commit_fact"):
            commit = decode(fact.body.payload, CommitFact)
            slot = decode(commit.operation_bytes, SimOperation).slot
            slots.setdefault(slot, set()).add(commit.operation_bytes)
        return slots

    @classmethod
    async def _decided_slots(cls, effects: Effects, namespace: JournalNamespace) -> set[int]:
        return set(await cls._decided(effects, namespace))

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
        proposed = [i.operation for i in self.intents.get(operation.slot, [])]
        if fact.operation_bytes not in proposed:
            run.violate(PROPERTY, f"{where}: an operation nobody proposed")
        if fact.prestate_hash != slot_prestate(operation.slot):
            run.violate(PROPERTY, f"{where}: not on its slot's prestate")
        participants = set(fact.participants)
        witnesses = set(keys.witnesses.authorities)
        if len(participants) < keys.witnesses.threshold or not participants <= witnesses:
            run.violate(PROPERTY, f"{where}: participants are not t witnesses")
        if fact.round > 0:
            run.hit("decided_in_round")
        run.hit("decided_fast_path" if fact.fast_path else "decided_in_fallback")
        if len(proposed) > 1:
            run.hit("contended_slot_decided")
        decision = (fact.operation_bytes, fact.prestate_hash)
        held = self.decisions.setdefault(fact.consensus_id, decision)
        if held != decision:
            run.violate(PROPERTY, f"{where}: another node decided something else")
        first = self.slot_decisions.setdefault(operation.slot, fact.operation_bytes)
        if first != fact.operation_bytes:
            run.violate(
                PROPERTY, f"{where}: SAFETY: two operations committed on slot {operation.slot}"
            )

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
            node = self._nodes[name]
            proven = node.evidence.equivocators()
            if proven:
                run.hit("equivocators_proven")
            if node.counters["forgeries_dropped"]:
                run.hit("forgeries_dropped")
            framed = proven & self._keys.honest
            if framed:
                run.violate(PROPERTY, f"{name} holds equivocation proofs against honest witnesses")

    async def settled(self, run: SimRun, core: list[SimNode]) -> str | None:
        keys = self._group(run)
        if keys.over_bound:
            return None  # more than f byzantine: safety only (see the module docstring)
        names = {node.name for node in core}
        wanted = {
            slot
            for slot, intents in self.intents.items()
            if any(i.initiator in names and i.honest for i in intents)
        }
        for node in core:
            if node.effects is None:
                return f"{node.name} is down"
            decided = await self._decided(node.effects, run.namespace)
            missing = wanted - set(decided)
            if missing:
                return f"{node.name} has not decided slots {sorted(missing)}"
            for slot in sorted(wanted):
                intents = self.intents[slot]
                if len(intents) == 1 and decided[slot] != {intents[0].operation}:
                    return f"{node.name} decided slot {slot} with another operation"
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
