"""`ConsensusNode`: one node's consensus, driving the pure instance machine over choreographies.

Everything that decides lives in `aura_consensus` (sans-IO): this module feeds it events —
messages, timer expiries — and carries out the actions it returns by running choreography
sessions (`protocols`) on the node's `Dispatcher`, arming timers on the loop's clock, drawing
nonce seeds and session ids from `RandomEffects`, keeping the vote ledger in storage and handing
decided commits to the application (`on_decided`, which records them in a journal).

Every state change happens synchronously between two awaits: the node runs on one event loop,
so its instances never see interleaved half-updates. Network and timer work runs in tasks of
the node's task group, which ends with the node.

Roles. The node that calls `propose` is the *initiator* of that instance; every other node is a
witness of it (the initiator may be a witness too). Sessions:

- fast path (round 0): one `AuraConsensus` round — the package (formed from commitments cached
  from earlier rounds) to its signers, the instance to the other witnesses, the shares back,
  the commit to everyone. Without cached commitments an `AuraNonces` round comes first;
- fallback (the round stalled, or a timer fired): every node gossips what it knows to a few
  random witnesses (`AuraGossip`) on a timer, and the initiator keeps running nonce rounds and
  signing rounds (without observers) with the witnesses that are still eligible, until some
  node aggregates a commit or the deadline passes. Whoever aggregates announces the commit;
- rounds (a prestate that did not commit in time, e.g. two proposals split the votes): each
  witness moves on and sends a signed round change to the round's leader (`AuraRoundChange`);
  the leader proposes the result the round changes allow (`aura_consensus.rounds`) as an
  `AuraNonces` round whose replies carry the witnesses' votes, then a signing round whose
  package carries the lock certificate.

Every vote is a signed statement, checked by the pure instance wherever it came from; the
guard chain's receipts authenticate who sent each message. A peer that forwards forged
statements or evidence is scored down, and past `ConsensusConfig.misbehaviour_limit` its
gossip is ignored (docs/consensus.md, "Misbehaviour"). Instances are opened only for the
node's current witness group and only by its witnesses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType

import anyio
import attrs
from anyio.abc import TaskGroup

from aura_consensus.commit import CommitFact
from aura_consensus.events import (
    Action,
    BroadcastCommit,
    Cancel,
    CancelTimer,
    CommitReceived,
    DeadlineExpired,
    Decided,
    EquivocationDetected,
    Event,
    EvidenceReceived,
    FallbackTimeout,
    GossipReceived,
    GossipTick,
    InstanceFailed,
    NonceCommitReceived,
    Rejected,
    RequestNonces,
    SendExecute,
    SendGossip,
    SendSignRequest,
    ShareReceived,
    SharesRejected,
    SigningPackageReceived,
    Start,
    StartTimer,
    StateMismatchReceived,
    Timer,
    WitnessShare,
)
from aura_consensus.evidence import EquivocationProof, Evidence
from aura_consensus.instance import (
    InstanceState,
    Phase,
    eligible_witnesses,
    lock_certificate,
    new_instance,
    step,
)
from aura_consensus.nonces import NonceRegistry, WitnessNonces
from aura_consensus.params import ConsensusParams, package_id_of
from aura_consensus.rounds import Justification, leader, round_params, tiebreak
from aura_consensus.statements import LockCertificate, SignedRoundChange, SignedVote
from aura_consensus.witness import (
    VoteLedger,
    cast_vote,
    change_round,
    prestate_matches,
    sign_share,
)
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode
from aura_core.errors import (
    AuraError,
    ConsensusError,
    ConsensusFailed,
    EncodingError,
    ErrorKind,
    ForgedEvidence,
    ForgedStatement,
    InvalidArgument,
    InvalidCertificate,
    PrestateDecided,
    RoundPassed,
    StaleEpoch,
    StaleStatement,
)
from aura_core.failures import raise_single
from aura_core.hashing import Hash32, tagged_hash
from aura_core.ids import AuthorityId, ConsensusId, ContextId, SessionId
from aura_effects.bundle import Effects
from aura_protocol.choreography import Session
from aura_protocol.consensus import byzantine, protocols
from aura_protocol.consensus.config import (
    Behavior,
    ConsensusConfig,
    DecidedHook,
    Group,
    PrestateView,
)
from aura_protocol.consensus.ledger import load_ledger, store_entry
from aura_protocol.consensus.wire import (
    Decision,
    ExecuteRequest,
    Gossip,
    NonceReply,
    NonceRequest,
    RoundChangeMessage,
    ShareVote,
    WitnessReply,
)
from aura_protocol.dispatch import Accepted, Dispatcher
from aura_protocol.endpoint import Endpoint, Received, TimerFired
from aura_protocol.outcome import Aborted, Outcome
from aura_protocol.wire import SessionMessage

__all__ = ["ConsensusNode"]

_FORGERIES = (ForgedStatement, StaleStatement, ForgedEvidence, InvalidCertificate)
"""Refusals that convict whoever forwarded the item (an honest node never relays them)."""

_SILENT = (
    Behavior.WITHHOLD,
    Behavior.EQUIVOCATE,
    Behavior.FORGE_EVIDENCE,
    Behavior.FORGE_RELAY,
    Behavior.REPLAY,
    Behavior.LIE_PRESTATE,
)
"""Behaviours that never sign, vote, change rounds or lead."""

_FORGING = (Behavior.FORGE_EVIDENCE, Behavior.FORGE_RELAY, Behavior.REPLAY)


_TIMER_EVENTS: dict[Timer, Callable[[], Event]] = {
    Timer.FALLBACK: FallbackTimeout,
    Timer.GOSSIP: GossipTick,
    Timer.DEADLINE: DeadlineExpired,
}


@attrs.define
class _Live:
    """Per-instance bookkeeping that is not consensus state."""

    done: anyio.Event = attrs.field(factory=anyio.Event)
    timers: dict[Timer, anyio.CancelScope] = attrs.field(factory=dict)
    mismatched: Hash32 | None = None
    """(Witness) The prestate this node holds instead of the instance's: it never shares."""
    announcing: set[AuthorityId] = attrs.field(factory=set)
    """Witnesses a running signing round will tell the outcome to."""
    fallback_driver: bool = False
    attempted: set[Hash32] = attrs.field(factory=set)
    """Signing packages this node tried to sign: each is tried once, never again."""
    declined: set[AuthorityId] = attrs.field(factory=set)
    """(Round leader) Witnesses that answered the proposal without a vote."""
    aborted: str | None = None
    """The latest reason one of this node's own rounds of the instance was aborted (a guard
    denial of its own send): named in `ConsensusFailed`, so the deadline says why."""


@attrs.define
class _Slot:
    """Per-prestate bookkeeping: the rounds this node takes part in and the decision."""

    instances: set[ConsensusId] = attrs.field(factory=set)
    values: dict[Hash32, ConsensusParams] = attrs.field(factory=dict)
    """Instances known on the prestate, by result id (what a round leader can propose)."""
    changes: dict[int, dict[AuthorityId, tuple[SignedRoundChange, LockCertificate | None]]] = (
        attrs.field(factory=dict)
    )
    """(Leader) Round changes received, by round and witness."""
    proposed: set[int] = attrs.field(factory=set)
    reached: dict[AuthorityId, int] = attrs.field(factory=dict)
    """The highest round each witness announced a round change to."""
    seen: dict[tuple[int, AuthorityId], SignedVote] = attrs.field(factory=dict)
    """The first verified vote of each witness in each round, across the instances here: a
    witness that votes for two results in one round is proven in all of them."""
    sent: RoundChangeMessage | None = None
    """This node's latest round change (resent to its leader while the round lasts)."""
    led: set[int] = attrs.field(factory=set)
    """Rounds whose proposal reached this node (no need to resend their change)."""
    timer: anyio.CancelScope | None = None
    timer_round: int = -1
    decided: CommitFact | None = None


def _fallback_targets(state: InstanceState, declined: set[AuthorityId]) -> tuple[AuthorityId, ...]:
    """Whom a fallback nonce round asks: the eligible witnesses that left no earlier package
    unsigned (and, in a round r ≥ 1, did not decline to vote), when there are at least t of
    them; otherwise every eligible witness. (A package forms from the first replies, so asking
    a witness that stalls would let it stall the next package too.)"""
    eligible = eligible_witnesses(state)
    reliable = tuple(
        w
        for w in eligible
        if w not in declined
        and not any(
            w in info.signers and w not in state.shares.get(pid, {})
            for pid, info in state.packages.items()
        )
    )
    return reliable if len(reliable) >= state.threshold else eligible


class ConsensusNode:
    """One node's consensus. Use as `async with ConsensusNode(...) as node:` inside the node's
    running `Dispatcher`; `await node.propose(operation, prestate)` runs one instance to its
    commit. `signing_key` is the node's identity key: its votes are signed with it, and it
    must be the key the group's witness set names for this node."""

    def __init__(
        self,
        effects: Effects,
        dispatcher: Dispatcher,
        *,
        context: ContextId,
        group: Group,
        prestate: PrestateView,
        on_decided: DecidedHook,
        signing_key: SigningKey,
        config: ConsensusConfig | None = None,
        behavior: Behavior = Behavior.HONEST,
    ) -> None:
        if not isinstance(signing_key, SigningKey):
            raise InvalidArgument("signing_key must be an ed25519.SigningKey")
        self._fx = effects
        self._dispatcher = dispatcher
        self.local: AuthorityId = dispatcher.local
        self._signing_key = signing_key
        self._check_identity(group)
        self._context = context
        self._group = group
        self._prestate = prestate
        self._on_decided = on_decided
        self.config = config or ConsensusConfig()
        self.behavior = behavior
        self._instances: dict[ConsensusId, InstanceState] = {}
        self._live: dict[ConsensusId, _Live] = {}
        self._slots: dict[Hash32, _Slot] = {}
        self._justifications: dict[ConsensusId, Justification] = {}
        self._nonces = WitnessNonces(group.epoch)
        self._registry = NonceRegistry(group.epoch)
        self._ledger = VoteLedger()
        self._scores: dict[AuthorityId, int] = {}
        self.evidence = Evidence()
        """Everything this node has learned about equivocators (joined across instances)."""
        self.decided: dict[ConsensusId, CommitFact] = {}
        self.counters: Counter[str] = Counter()
        """`signing_attempts`, `round_changes`, `proposals`, `forgeries_dropped`, ..."""
        self._group_tasks: TaskGroup | None = None

    def _check_identity(self, group: Group) -> None:
        if type(group) is not Group:
            raise InvalidArgument("group must be a consensus Group")
        if self.local in group.witnesses and (
            group.witnesses.key_of(self.local) != self._signing_key.verifying_key
        ):
            raise InvalidArgument(f"the group names another vote key for {self.local}")

    # ------------------------------------------------------------------------- lifetime

    async def __aenter__(self) -> ConsensusNode:
        if self._group_tasks is not None:
            raise InvalidArgument("the consensus node is already running")
        self._ledger = await load_ledger(self._fx.storage)
        tasks = anyio.create_task_group()
        await tasks.__aenter__()
        self._group_tasks = tasks
        self._dispatcher.serve("AuraConsensus", self._accept_signing)
        self._dispatcher.serve("AuraNonces", self._accept_nonces)
        self._dispatcher.serve("AuraGossip", self._accept_gossip)
        self._dispatcher.serve("AuraRoundChange", self._accept_round_change)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        tasks = self._group_tasks
        assert tasks is not None
        for name in ("AuraConsensus", "AuraNonces", "AuraGossip", "AuraRoundChange"):
            self._dispatcher.unserve(name)
        tasks.cancel_scope.cancel()
        self._group_tasks = None
        try:
            return await tasks.__aexit__(exc_type, exc, traceback)
        except BaseExceptionGroup as failures:
            raise_single(failures)

    # ------------------------------------------------------------------------- public API

    @property
    def group(self) -> Group:
        return self._group

    @property
    def instances(self) -> Mapping[ConsensusId, InstanceState]:
        """Every instance this node knows, by consensus id (read-only)."""
        return dict(self._instances)

    def decision(self, prestate_hash: Hash32) -> CommitFact | None:
        """The commit this node saw decide `prestate_hash`, if any."""
        slot = self._slots.get(prestate_hash)
        return None if slot is None else slot.decided

    def misbehaviour(self, peer: AuthorityId) -> int:
        """How many forged statements or proofs `peer` has forwarded to this node."""
        return self._scores.get(peer, 0)

    def set_group(self, group: Group) -> None:
        """Move to a new witness group (membership change, key refresh): nonce material of the
        old epoch is dropped and refused from now on. The epoch must increase."""
        self._check_identity(group)
        if group.epoch <= self._group.epoch:
            raise StaleEpoch(f"epoch {group.epoch} is not after {self._group.epoch}")
        self._nonces = self._nonces.advance(group.epoch)
        self._registry = self._registry.advance(group.epoch)
        self._group = group

    async def propose(self, operation: bytes, prestate_hash: Hash32) -> CommitFact:
        """Decide `operation` on `prestate_hash` and return the commit that decided it.

        Raises `PrestateDecided` if the prestate was decided with another operation (a
        contending proposal won), `ConsensusFailed` when this instance's deadline passes (or it
        is cancelled) with no decision, other `AuraError`s for input the instance refuses.
        """
        group = self._group
        nonce = await self._fx.random.random_u64()
        params = ConsensusParams(
            prestate_hash,
            operation,
            nonce,
            group.witnesses,
            group.public_key_package.group_public_key,
        )
        decided = self._outcome(params)
        if decided is not None:
            return decided
        state = new_instance(params, group.public_key_package)
        cid = params.consensus_id
        self._instances[cid] = state
        live = self._live.setdefault(cid, _Live())
        self._register(params)
        cached = self._take_cached(group)
        self._apply(cid, Start(initiator=True, cached_commitments=cached))
        await live.done.wait()
        decided = self._outcome(params)
        if decided is not None:
            return decided
        final = self._instances[cid]
        reason = final.failure.value if final.failure is not None else "unknown"
        if live.aborted is not None:
            reason += f"; this node's own round was aborted: {live.aborted}"
        raise ConsensusFailed(f"instance {cid} ended without a commit ({reason})")

    def _outcome(self, params: ConsensusParams) -> CommitFact | None:
        """The commit deciding `params`'s prestate, if this node saw one: returned if it
        decides the same operation, `PrestateDecided` otherwise."""
        fact = self.decision(params.prestate_hash)
        if fact is None:
            return None
        if fact.result_id != params.result_id:
            raise PrestateDecided(
                f"{params.prestate_hash} was decided with another operation ({fact.consensus_id})"
            )
        return fact

    async def announce(self, fact: CommitFact, peers: Sequence[AuthorityId]) -> None:
        """Send a decided commit to `peers` (one `AuraGossip` each), e.g. to nodes that may have
        missed it (a stand-in for journal sync). The commit must be of the current group."""
        params = self._params_of(fact)
        payload = Gossip(params, (), (), self.evidence.about(fact.prestate_hash), fact)
        for peer in sorted(set(peers) - {self.local}):
            await self._gossip_to(peer, payload)

    def _params_of(self, fact: CommitFact) -> ConsensusParams:
        state = self._instances.get(fact.consensus_id)
        if state is not None:
            return state.params
        group = self._group
        params = ConsensusParams(
            fact.prestate_hash,
            fact.operation_bytes,
            fact.nonce,
            group.witnesses,
            group.public_key_package.group_public_key,
            fact.round,
        )
        params.check_commit(fact)
        return params

    # ------------------------------------------------------------------------- state changes

    def _apply(
        self, cid: ConsensusId, event: Event, source: AuthorityId | None = None
    ) -> InstanceState | None:
        """Feed one event; perform the actions. Refused input is traced and changes nothing;
        a forgery convicts `source`, the peer it came from."""
        state = self._instances.get(cid)
        if state is None:
            return None
        try:
            state, actions = step(state, event)
        except AuraError as exc:
            self._trace("consensus.refused", cid, event=type(event).__name__, detail=exc.message)
            if isinstance(exc, _FORGERIES) and source is not None:
                self._score(source, exc)
            return None
        self._instances[cid] = state
        self._perform(cid, state, actions, source)
        return state

    def _perform(
        self,
        cid: ConsensusId,
        state: InstanceState,
        actions: Sequence[Action],
        source: AuthorityId | None,
    ) -> None:
        live = self._live.setdefault(cid, _Live())
        forged: list[AuraError] = []
        for action in actions:
            if isinstance(action, StartTimer):
                self._arm(cid, live, action.timer)
            elif isinstance(action, CancelTimer):
                scope = live.timers.pop(action.timer, None)
                if scope is not None:
                    scope.cancel()
            elif isinstance(action, SendExecute):
                if action.package is None:
                    self._spawn(self._nonce_round, cid, tuple(action.to))
                else:
                    self._spawn(self._signing_round, cid, action.package, True)
            elif isinstance(action, SendSignRequest):
                self._spawn(self._signing_round, cid, action.package, False)
            elif isinstance(action, RequestNonces):
                if not live.fallback_driver:
                    live.fallback_driver = True
                    self._spawn(self._drive_fallback, cid)
            elif isinstance(action, SendGossip):
                if self.behavior not in (Behavior.WITHHOLD, Behavior.LIE_PRESTATE):
                    self._spawn(self._gossip_round, cid, action)
            elif isinstance(action, BroadcastCommit):
                others = set(state.params.witnesses.authorities) - live.announcing
                payload = Gossip(state.params, (), (), action.evidence, action.fact)
                for peer in sorted(others - {self.local}):
                    self._spawn(self._gossip_to, peer, payload)
            elif isinstance(action, Decided):
                self.decided[cid] = action.fact
                live.done.set()
                self._spawn(self._deliver, action.fact)
                self._decide(action.fact)
            elif isinstance(action, InstanceFailed):
                self._trace("consensus.failed", cid, reason=action.reason.value)
                live.done.set()
            elif isinstance(action, EquivocationDetected):
                self.evidence = self.evidence.add(action.proof)
                self._trace("consensus.equivocation", cid, witness=str(action.proof.witness))
            elif isinstance(action, SharesRejected):
                self._trace("consensus.shares_rejected", cid, count=len(action.witnesses))
            elif isinstance(action, Rejected):
                self._trace("consensus.gossip_rejected", cid, detail=action.error.message)
                if isinstance(action.error, _FORGERIES):
                    forged.append(action.error)
        if forged and source is not None:
            self._score(source, forged[0], len(forged))
        if state.phase is Phase.COMMITTED or state.phase is Phase.FAILED:
            self.evidence = self.evidence.join(state.evidence)
        if state.phase is Phase.FALLBACK:
            # A prestate's round clock starts when one of its instances falls back (a fast
            # path that commits never needs it), and keeps running while instances are active.
            self._arm_round(state.params.prestate_hash)
            self._sign_known_packages(cid)

    def _score(self, peer: AuthorityId, error: AuraError, items: int = 1) -> None:
        """`peer` forwarded a message with `items` forgeries: one strike against it (past the
        limit, its gossip is ignored). The witness a forged statement names is never blamed."""
        self._scores[peer] = self._scores.get(peer, 0) + 1
        self.counters["forgeries_dropped"] += items
        self._fx.trace.event(
            "consensus.misbehaviour",
            node=str(self.local),
            source=str(peer),
            kind=error.code,
            score=self._scores[peer],
        )

    def _ignored(self, peer: AuthorityId) -> bool:
        return self._scores.get(peer, 0) >= self.config.misbehaviour_limit

    def _decide(self, fact: CommitFact) -> None:
        """A commit decided its prestate: stop the prestate's rounds and every other instance
        on it (nothing else can commit there), and wake whoever proposed on it."""
        slot = self._slot(fact.prestate_hash)
        if slot.decided is not None:
            return
        slot.decided = fact
        if slot.timer is not None:
            slot.timer.cancel()
            slot.timer = None
        # What the rounds needed is no longer needed: keep only the decision.
        slot.changes.clear()
        slot.reached.clear()
        slot.seen.clear()
        slot.sent = None
        for other in sorted(slot.instances):
            state = self._instances.get(other)
            if other != fact.consensus_id and state is not None and state.is_active:
                self._apply(other, Cancel())

    async def _deliver(self, fact: CommitFact) -> None:
        """Hand a decision to the application, retrying with backoff while it fails with an
        error that may pass (storage trouble): a decision must not be lost between consensus
        and the journal. A permanent error (the application refuses it) is traced."""
        delay = self.config.gossip_s
        while True:
            try:
                await self._on_decided(fact)
                return
            except AuraError as exc:
                self._trace(
                    "consensus.decision_not_recorded", fact.consensus_id, error=type(exc).__name__
                )
                if exc.kind is ErrorKind.PERMANENT:
                    return
            await self._fx.time.sleep(delay)
            delay = min(delay * 2, self.config.deadline_s)

    def _arm(self, cid: ConsensusId, live: _Live, timer: Timer) -> None:
        old = live.timers.pop(timer, None)
        if old is not None:
            old.cancel()
        scope = anyio.CancelScope()
        live.timers[timer] = scope
        self._spawn(self._timer, cid, timer, scope)

    async def _timer(self, cid: ConsensusId, timer: Timer, scope: anyio.CancelScope) -> None:
        with scope:
            await self._fx.time.sleep(self.config.timer_s(timer))
            live = self._live.get(cid)
            if live is not None and live.timers.get(timer) is scope:
                del live.timers[timer]
            if timer is Timer.FALLBACK:  # a signing round's own timer may have got there first
                self._apply_if(cid, Phase.FAST_PATH, FallbackTimeout())
            else:
                self._apply(cid, _TIMER_EVENTS[timer]())

    def _spawn(self, function: Callable[..., Awaitable[object]], *args: object) -> None:
        tasks = self._group_tasks
        if tasks is None:
            raise InvalidArgument("the consensus node is not running")
        tasks.start_soon(self._guarded_task, function, args)

    async def _guarded_task(
        self, function: Callable[..., Awaitable[object]], args: tuple[object, ...]
    ) -> None:
        """Run one piece of network or application work; an `AuraError` (a guard denial, a
        storage failure) ends only that piece, traced."""
        try:
            await function(*args)
        except AuraError as exc:
            self._fx.trace.event(
                "consensus.task_failed", task=function.__name__, error=type(exc).__name__
            )

    def _trace(self, name: str, cid: ConsensusId, **fields: str | int) -> None:
        self._fx.trace.event(name, node=str(self.local), instance=str(cid)[:16], **fields)

    def _trace_slot(self, name: str, prestate_hash: Hash32, **fields: str | int) -> None:
        self._fx.trace.event(
            name, node=str(self.local), prestate=prestate_hash.hex()[:16], **fields
        )

    # ------------------------------------------------------------------------- instances

    def _slot(self, prestate_hash: Hash32) -> _Slot:
        return self._slots.setdefault(prestate_hash, _Slot())

    def _register(self, params: ConsensusParams) -> None:
        slot = self._slot(params.prestate_hash)
        slot.instances.add(params.consensus_id)
        slot.values.setdefault(params.result_id, params)

    def _open(self, params: ConsensusParams, source: AuthorityId) -> ConsensusId | None:
        """The instance of `params` here, started as a witness if new. None (and traced) if this
        node does not take part: another group, or a sender outside the witness set. On a
        prestate this node saw decided, the sender is told the decision instead."""
        cid = params.consensus_id
        if cid in self._instances:
            return cid
        group = self._group
        if params.group_public_key != group.public_key_package.group_public_key:
            self._trace("consensus.foreign_group", cid, source=str(source))
            return None
        if source not in group.witnesses or params.witnesses != group.witnesses:
            self._trace("consensus.stranger", cid, source=str(source))
            return None
        decided = self.decision(params.prestate_hash)
        if decided is not None:
            self._tell_decision(source, decided)
            return None
        try:
            state = new_instance(params, group.public_key_package)
        except AuraError as exc:
            self._trace("consensus.refused", cid, event="open", detail=exc.message)
            return None
        self._instances[cid] = state
        self._live.setdefault(cid, _Live())
        self._register(params)
        self._apply(cid, Start())
        if self.behavior in _FORGING:
            self._spawn(self._push_forgeries, cid)
        return cid

    def _tell_decision(self, peer: AuthorityId, fact: CommitFact) -> None:
        """Send `peer` the commit that decided a prestate it is still working on."""
        if peer == self.local:
            return
        try:
            params = self._params_of(fact)
        except AuraError:
            return  # a commit of an earlier group: the peer learns it by journal sync
        evidence = self.evidence.about(fact.prestate_hash)
        self._spawn(self._gossip_to, peer, Gossip(params, (), (), evidence, fact))

    def _take_cached(self, group: Group) -> dict[AuthorityId, frost.SigningCommitments]:
        """Commitments cached from earlier rounds, if a fast quorum of witnesses has one
        (pipelining)."""
        witnesses = group.witnesses
        size = witnesses.fast_quorum
        if not self._registry.can_pipeline(witnesses.authorities, size):
            return {}
        ready = sorted(w for w in witnesses.authorities if w in self._registry.cached)[:size]
        taken, self._registry = self._registry.take(group.epoch, ready)
        return taken

    def _index_votes(self, cid: ConsensusId) -> None:
        """Compare the instance's verified votes with those seen in other instances of the
        prestate: a witness that voted for two results in one round is proven everywhere."""
        state = self._instances.get(cid)
        if state is None:
            return
        slot = self._slot(state.params.prestate_hash)
        found: list[EquivocationProof] = []
        for witness in sorted(state.votes):
            vote = state.votes[witness]
            held = slot.seen.setdefault((vote.round, witness), vote)
            if held.conflicts_with(vote):
                found.append(EquivocationProof.of(held, vote))
        if found:
            proven = Evidence.of(found)
            for other in sorted(slot.instances):
                self._apply(other, EvidenceReceived(proven))

    # ------------------------------------------------------------------------- rounds

    @property
    def _takes_part(self) -> bool:
        """Whether this node votes, signs and changes rounds (a witness with a share)."""
        return self._group.key_package is not None and self.behavior not in _SILENT

    def _arm_round(self, prestate_hash: Hash32, *, restart: bool = False) -> None:
        """Run the round timer of an undecided prestate (from the start again if `restart`);
        called when an instance of it falls back, when this node votes in a round and after
        each round change."""
        if not self._takes_part or self.local not in self._group.witnesses:
            return
        slot = self._slot(prestate_hash)
        current = self._ledger.of(prestate_hash).round
        running = slot.timer is not None and slot.timer_round == current
        if slot.decided is not None or (running and not restart):
            return
        if slot.timer is not None:
            slot.timer.cancel()
        scope = anyio.CancelScope()
        slot.timer, slot.timer_round = scope, current
        self._spawn(self._round_timer, prestate_hash, current, scope)

    async def _round_timer(
        self, prestate_hash: Hash32, round: int, scope: anyio.CancelScope
    ) -> None:
        with scope:
            # Resend this round's change to its leader a few times while waiting: one lost
            # message must not cost the round.
            steps = max(1, _nearest(self.config.round_timeout(round) / self.config.fallback_s))
            for _ in range(steps):
                await self._fx.time.sleep(self.config.round_timeout(round) / steps)
                self._resend_change(prestate_hash, round)
        slot = self._slot(prestate_hash)
        if slot.timer is not scope:
            return
        slot.timer = None
        active = [
            c
            for c in sorted(slot.instances)
            if c in self._instances and self._instances[c].is_active
        ]
        if slot.decided is not None or not active:
            return
        if await self._matches(active[0], self._instances[active[0]].params) is not None:
            return  # this node holds another prestate: it takes no part in this one's rounds
        if self._ledger.of(prestate_hash).round == round:
            await self._change_round(prestate_hash, round + 1)
        self._arm_round(prestate_hash)

    def _resend_change(self, prestate_hash: Hash32, round: int) -> None:
        slot = self._slot(prestate_hash)
        message = slot.sent
        if message is None or slot.decided is not None or message.change.change.round != round:
            return
        target = leader(self._group.witnesses, prestate_hash, round)
        if target != self.local and round not in slot.led:
            self._spawn(self._send_round_change, target, message)

    async def _change_round(self, prestate_hash: Hash32, round: int) -> None:
        """Leave for `round` (if still above this node's round): record it, then send the
        signed round change to every witness (its leader proposes with it, the others use it
        to catch up)."""
        group = self._group
        try:
            report = change_round(
                group.public_key_package.group_public_key,
                self.local,
                prestate_hash,
                round,
                signing_key=self._signing_key,
                ledger=self._ledger,
            )
        except RoundPassed:
            return  # another task moved this node at least as far
        self._ledger = report.ledger
        self.counters["round_changes"] += 1
        await store_entry(self._fx.storage, report.entry)
        message = RoundChangeMessage(report.change, report.lock, report.values)
        self._slot(prestate_hash).sent = message
        target = leader(group.witnesses, prestate_hash, round)
        self._trace_slot("consensus.round_change", prestate_hash, round=round, leader=str(target))
        self._take_round_change(self.local, message)
        for peer in sorted(set(group.witnesses.authorities) - {self.local}):
            self._spawn(self._send_round_change, peer, message)

    async def _send_round_change(self, peer: AuthorityId, message: RoundChangeMessage) -> None:
        session = Session(
            protocols.round_change(),
            await self._new_session(),
            self._context,
            {"Witness": (self.local,), "Peer": (peer,)},
        )
        body = encode(message)

        async def program(endpoint: Endpoint) -> None:
            await endpoint.send("RoundChange", body)

        await self._dispatcher.run(session, "Witness", program)

    def _accept_round_change(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "RoundChange" or message.receiver != "Peer":
            return None
        try:
            payload = decode(message.payload, RoundChangeMessage)
            session = Session(
                protocols.round_change(),
                message.session,
                self._context,
                {"Witness": (source,), "Peer": (self.local,)},
            )
        except AuraError as exc:
            self._fx.trace.event("consensus.declined", source=str(source), detail=exc.message)
            return None

        async def receiver(endpoint: Endpoint) -> None:
            await endpoint.receive("RoundChange")
            self._take_round_change(source, payload)

        return Accepted(session, "Peer", 0, receiver, self.config.deadline_s)

    def _take_round_change(self, source: AuthorityId, message: RoundChangeMessage) -> None:
        """A witness's round change: note how far it is (to catch up with f + 1 witnesses
        ahead) and, as the round's leader, keep it and propose once n - f are usable."""
        change = message.change.change
        group = self._group
        prestate_hash = change.prestate_hash
        if change.witness != source or source not in group.witnesses:
            self._trace_slot("consensus.impersonation", prestate_hash, source=str(source))
            return
        decided = self.decision(prestate_hash)
        if decided is not None:
            self._tell_decision(source, decided)
            return
        try:
            message.change.verify(group.witnesses, group.public_key_package.group_public_key)
        except ConsensusError as exc:
            self._trace_slot(
                "consensus.refused", prestate_hash, event="RoundChange", detail=exc.message
            )
            if isinstance(exc, _FORGERIES):
                self._score(source, exc)
            return
        slot = self._slot(prestate_hash)
        slot.reached[source] = max(slot.reached.get(source, 0), change.round)
        if leader(group.witnesses, prestate_hash, change.round) == self.local:
            for params in message.values:
                if (
                    params.prestate_hash == prestate_hash
                    and params.witnesses == group.witnesses
                    and params.group_public_key == group.public_key_package.group_public_key
                ):
                    slot.values.setdefault(params.result_id, params)
            slot.changes.setdefault(change.round, {})[source] = (message.change, message.lock)
            self._try_propose(prestate_hash, change.round)
        self._catch_up(prestate_hash)

    def _catch_up(self, prestate_hash: Hash32) -> None:
        """Join a later round once f + 1 witnesses are in it or beyond (at least one of them
        honest, so the round is not made up): witnesses whose timers started late would
        otherwise always reach a round after the others left it."""
        slot = self._slot(prestate_hash)
        if not self._takes_part or slot.decided is not None:
            return
        own = self._ledger.of(prestate_hash).round
        ahead = sorted(
            (r for w, r in slot.reached.items() if w != self.local and r > own), reverse=True
        )
        faults = self._group.faults
        if len(ahead) > faults:
            self._spawn(self._join, prestate_hash, ahead[faults])

    async def _join(self, prestate_hash: Hash32, round: int) -> None:
        slot = self._slot(prestate_hash)
        active = [
            c
            for c in sorted(slot.instances)
            if c in self._instances and self._instances[c].is_active
        ]
        if not active or slot.decided is not None:
            return
        if await self._matches(active[0], self._instances[active[0]].params) is not None:
            return
        await self._change_round(prestate_hash, round)
        self._arm_round(prestate_hash)

    def _leads(self) -> bool:
        return self.behavior in (Behavior.HONEST, Behavior.DOUBLE_SIGN, Behavior.SELECTIVE) and (
            self._group.key_package is not None
        )

    def _try_propose(self, prestate_hash: Hash32, round: int) -> None:
        """(Leader of `round`) Propose the result the round changes allow, once."""
        slot = self._slot(prestate_hash)
        if round in slot.proposed or slot.decided is not None or not self._leads():
            return
        group = self._group
        key = group.public_key_package.group_public_key
        justification = Justification.assemble(
            group.witnesses, key, prestate_hash, round, slot.changes.get(round, {}).values()
        )
        if justification is None:
            return
        try:
            required = justification.value(group.witnesses, key, prestate_hash, round)
        except ConsensusError as exc:
            self._trace_slot(
                "consensus.refused", prestate_hash, event="propose", detail=exc.message
            )
            return
        if required is None:
            known = sorted(slot.values, key=lambda rid: tiebreak(prestate_hash, round, rid))
            required = known[0] if known else None
        base = None if required is None else slot.values.get(required)
        if base is None:
            self._trace_slot("consensus.no_value", prestate_hash, round=round)
            return
        slot.proposed.add(round)
        slot.led.add(round)
        params = round_params(base, round)
        cid = params.consensus_id
        self._justifications[cid] = justification
        self.counters["proposals"] += 1
        self._trace_slot("consensus.propose", prestate_hash, round=round)
        if cid not in self._instances:
            self._instances[cid] = new_instance(params, group.public_key_package)
            self._live.setdefault(cid, _Live())
            self._register(params)
        self._spawn(self._lead, cid, justification)

    async def _lead(self, cid: ConsensusId, justification: Justification) -> None:
        """(Leader) Vote for the own proposal, then start its instance: the nonce round that
        asks the witnesses for theirs."""
        vote = await self._cast(cid, justification)
        state = self._instances.get(cid)
        if state is None or state.phase is not Phase.PENDING:
            return
        self._apply(cid, Start(initiator=True))
        if vote is not None:
            self._apply(cid, ShareReceived(WitnessShare(vote)))

    async def _cast(self, cid: ConsensusId, justification: Justification) -> SignedVote | None:
        """Vote for a round proposal, recorded before it leaves (the caller applies it to the
        instance); None if this node may not."""
        state = self._instances.get(cid)
        if state is None or not self._takes_part or not self._votes_for(cid):
            return None
        params = state.params
        double = self.behavior is Behavior.DOUBLE_SIGN
        first = self._ledger.of(params.prestate_hash).voted(params.round) is None
        try:
            vote, ledger, entry = cast_vote(
                params,
                self.local,
                justification,
                signing_key=self._signing_key,
                ledger=VoteLedger() if double else self._ledger,
            )
        except AuraError as exc:
            self._trace("consensus.no_vote", cid, detail=exc.message)
            return None
        if not double:
            self._ledger = ledger
            await store_entry(self._fx.storage, entry)
        # A first vote in a round is progress: the round gets its full time from now on.
        self._arm_round(params.prestate_hash, restart=first)
        return vote

    def _votes_for(self, cid: ConsensusId) -> bool:
        """SELECTIVE witnesses take part only in instances with an even consensus id."""
        return self.behavior is not Behavior.SELECTIVE or cid.hash.digest[0] % 2 == 0

    # ------------------------------------------------------------------------- witness side

    async def _matches(self, cid: ConsensusId, params: ConsensusParams) -> Hash32 | None:
        """None if this node holds the instance's prestate, else the prestate it holds."""
        live = self._live.setdefault(cid, _Live())
        if live.mismatched is not None:
            return live.mismatched
        local = await self._prestate(params)
        if self.behavior is Behavior.LIE_PRESTATE:
            local = tagged_hash("aura.sim.lie", local.digest)
        if prestate_matches(params, local):
            return None
        live.mismatched = local
        return local

    async def _fresh_commitments(self) -> frost.SigningCommitments | None:
        """New round-1 nonces, kept for a later package; their public commitments."""
        key = self._group.key_package
        if key is None:
            return None
        seed = await self._fx.random.random_bytes(32)
        nonces, commitments = frost.commit(key, seed)
        self._nonces = self._nonces.add(self._group.epoch, nonces)
        return commitments

    async def _sign(
        self,
        cid: ConsensusId,
        package: frost.SigningPackage,
        lock: LockCertificate | None = None,
    ) -> WitnessShare | None:
        """Sign `package` for instance `cid` if this node may: it holds the prestate, is a
        signer, has the nonces, the ledger allows it (round, vote) and, in a round r ≥ 1, the
        lock certificate holds. Each package is tried at most once. The ledger reaches storage
        before the share is returned (and sent)."""
        state = self._instances.get(cid)
        key = self._group.key_package
        if state is None or key is None or not self._takes_part or not self._votes_for(cid):
            return None
        if await self._matches(cid, state.params) is not None:
            return None
        state = self._instances[cid]
        live = self._live.setdefault(cid, _Live())
        try:
            info = state.params.describe_package(package)
        except AuraError as exc:
            self._trace("consensus.no_share", cid, detail=exc.message)
            return None
        if info.package_id in live.attempted:
            return state.shares.get(info.package_id, {}).get(self.local)
        live.attempted.add(info.package_id)
        self.counters["signing_attempts"] += 1
        if lock is None and state.round > 0:
            lock = lock_certificate(state)
        double = self.behavior is Behavior.DOUBLE_SIGN
        try:
            signed = sign_share(
                state.params,
                self.local,
                key,
                package,
                signing_key=self._signing_key,
                nonces=self._nonces,
                ledger=VoteLedger() if double else self._ledger,
                lock=lock,
            )
        except AuraError as exc:
            self._trace("consensus.no_share", cid, detail=exc.message)
            return None
        self._nonces = signed.nonces
        if not double:
            self._ledger = signed.ledger
            await store_entry(self._fx.storage, signed.entry)
        self._apply(cid, ShareReceived(signed.share))
        return signed.share

    def _sign_known_packages(self, cid: ConsensusId) -> None:
        """(Fallback) Sign packages that name this node and that it learned by gossip; each
        package once."""
        state = self._instances.get(cid)
        if state is None or self._group.key_package is None or not self._takes_part:
            return
        live = self._live.setdefault(cid, _Live())
        for pid in sorted(state.packages):
            info = state.packages[pid]
            if self.local in info.signers and pid not in live.attempted:
                if state.round > 0 and lock_certificate(state) is None:
                    continue  # not signable before t votes are known here
                self._spawn(self._sign_once, cid, pid)

    async def _sign_once(self, cid: ConsensusId, pid: Hash32) -> None:
        state = self._instances.get(cid)
        if state is None or not state.is_active:
            return
        info = state.packages.get(pid)
        if info is None:
            return
        await self._sign(cid, info.package)

    async def _reply_to_sign_request(
        self, request: ExecuteRequest, package: frost.SigningPackage
    ) -> WitnessReply | None:
        params = request.params
        cid = params.consensus_id
        if self.behavior is Behavior.WITHHOLD:
            return None
        mismatch = await self._matches(cid, params)
        vote: ShareVote | None = None
        state = self._instances.get(cid)
        if mismatch is None and self.behavior is Behavior.EQUIVOCATE and state is not None:
            vote = byzantine.bogus_vote(state, self.local, self._signing_key, 1)
        elif mismatch is None:
            self._apply(cid, SigningPackageReceived(package))
            share = await self._sign(cid, package, request.lock)
            vote = None if share is None else ShareVote.of(share)
        next_commitments = None
        if mismatch is None:
            fresh = await self._fresh_commitments()
            next_commitments = None if fresh is None else fresh.to_bytes()
        state = self._instances.get(cid)
        evidence = state.evidence if state is not None else Evidence()
        return WitnessReply(cid, vote, mismatch, next_commitments, evidence)

    # ------------------------------------------------------------------------- sessions: initiator

    async def _new_session(self) -> SessionId:
        return SessionId.from_entropy(await self._fx.random.random_bytes(32))

    async def _signing_round(
        self, cid: ConsensusId, package: frost.SigningPackage, fast_path: bool
    ) -> None:
        """Run one `AuraConsensus` round as the initiator (see `protocols`). The initiator's
        own part (its share, if it is a signer) is done here, not sent to itself."""
        state = self._instances.get(cid)
        if state is None or not state.is_active:
            return
        params = state.params
        info = params.describe_package(package)
        lock = lock_certificate(state) if params.round > 0 else None
        if self.local in info.signers:
            await self._sign(cid, package, lock)
            await self._offer_own_commitments()
        signers = tuple(s for s in info.signers if s != self.local)
        observers: tuple[AuthorityId, ...] = ()
        if fast_path and params.round == 0:
            others = set(params.witnesses.authorities) - set(info.signers) - {self.local}
            observers = tuple(sorted(others))
        state = self._instances.get(cid)
        if not signers or state is None or not state.is_active:
            return  # nobody else signs this package (t = 1), or the instance already ended
        if params.round > 0:
            # Every share of a round package is needed and rounds run when messages go
            # missing: each signer gets a session of its own, so one lost message fails only
            # its own session (a fan-out ends at its first failed send).
            for signer in signers:
                self._spawn(self._signing_session, cid, package, (signer,), (), lock)
            return
        await self._signing_session(cid, package, signers, observers, lock)

    async def _signing_session(
        self,
        cid: ConsensusId,
        package: frost.SigningPackage,
        signers: tuple[AuthorityId, ...],
        observers: tuple[AuthorityId, ...],
        lock: LockCertificate | None,
    ) -> None:
        state = self._instances.get(cid)
        if state is None or not state.is_active:
            return
        params = state.params
        choreography = protocols.signing_round(
            len(signers), len(observers), round(self.config.fallback_s * 1000)
        )
        roster: dict[str, tuple[AuthorityId, ...]] = {
            "Initiator": (self.local,),
            "Signer": signers,
        }
        if observers:
            roster["Observer"] = observers
        session = Session(choreography, await self._new_session(), self._context, roster)
        request = ExecuteRequest(
            params, signers, observers, package.to_bytes(), state.evidence, lock
        )
        live = self._live.setdefault(cid, _Live())
        told = set(signers) | set(observers)
        live.announcing |= told

        async def program(endpoint: Endpoint) -> None:
            if observers:
                await endpoint.send("Execute", encode(attrs.evolve(request, package=None)))
            await endpoint.send("SignRequest", encode(request))
            try:
                replies = await endpoint.collect("SignShare")
            except TimerFired:
                await self._tell(endpoint, cid, None, observers)
                self._apply_if(cid, Phase.FAST_PATH, FallbackTimeout())
                return
            for reply in replies:
                self._take_reply(cid, session.authority(reply.sender), reply)
            now = self._instances.get(cid)
            commit = now.commit if now is not None else None
            await endpoint.select("commit" if commit is not None else "stalled")
            await self._tell(endpoint, cid, commit, observers)
            if commit is None:
                self._apply_if(cid, Phase.FAST_PATH, FallbackTimeout())

        try:
            outcome = await self._dispatcher.run(session, "Initiator", program)
        finally:
            live.announcing -= told
        self._trace_outcome(cid, "signing", outcome)

    async def _offer_own_commitments(self) -> None:
        """(Initiator and witness) Keep fresh nonces of its own for its next instance."""
        fresh = await self._fresh_commitments()
        if fresh is not None:
            self._offer(self.local, fresh.to_bytes())

    async def _tell(
        self,
        endpoint: Endpoint,
        cid: ConsensusId,
        commit: CommitFact | None,
        observers: tuple[AuthorityId, ...],
    ) -> None:
        state = self._instances.get(cid)
        evidence = state.evidence if state is not None else Evidence()
        label = "Commit" if commit is not None else "Fallback"
        body = encode(Decision(cid, commit, evidence))
        await endpoint.send(label, body)
        if observers:
            await endpoint.send(label, body)

    def _apply_if(self, cid: ConsensusId, phase: Phase, event: Event) -> None:
        state = self._instances.get(cid)
        if state is not None and state.phase is phase:
            self._apply(cid, event)

    def _take_reply(self, cid: ConsensusId, sender: AuthorityId, received: Received) -> None:
        """One signer's `SignShare`, as the instance's events."""
        try:
            reply = decode(received.payload, WitnessReply)
        except EncodingError as exc:
            self._trace("consensus.garbled", cid, source=str(sender), detail=exc.message)
            return
        if reply.consensus_id != cid:
            self._trace("consensus.garbled", cid, source=str(sender), detail="another instance")
            return
        self._apply(cid, EvidenceReceived(reply.evidence), sender)
        if reply.next_commitments is not None:
            self._offer(sender, reply.next_commitments)
        if reply.mismatch is not None:
            self._apply(cid, StateMismatchReceived(sender, reply.mismatch))
        if reply.vote is not None:
            self._take_vote(cid, sender, reply.vote)

    def _take_vote(self, cid: ConsensusId, sender: AuthorityId, vote: ShareVote) -> None:
        if vote.witness != sender:
            self._trace("consensus.impersonation", cid, source=str(sender))
            return
        try:
            share = vote.parse()
        except AuraError as exc:
            self._trace("consensus.garbled", cid, source=str(sender), detail=exc.message)
            return
        self._apply(cid, ShareReceived(share), sender)
        self._index_votes(cid)

    def _offer(self, witness: AuthorityId, data: bytes) -> None:
        try:
            commitments = frost.SigningCommitments.from_bytes(data)
            self._registry = self._registry.offer(self._group.epoch, witness, commitments)
        except AuraError as exc:
            self._fx.trace.event("consensus.offer_refused", source=str(witness), detail=exc.message)

    async def _nonce_round(self, cid: ConsensusId, witnesses: tuple[AuthorityId, ...]) -> None:
        """Run one `AuraNonces` round as the initiator: ask `witnesses`, feed the first replies
        (the initiator's own commitment, if it is one of them, is made here, not asked for).
        For a round proposal the request carries the justification and the replies the votes."""
        state = self._instances.get(cid)
        if state is None or not state.is_active:
            return
        wanted = state.threshold if state.round else state.params.witnesses.fast_quorum
        if self.local in witnesses and await self._matches(cid, state.params) is None:
            voted = self.local in self._instances[cid].counted(state.own_result)
            if state.round == 0 or voted:
                fresh = await self._fresh_commitments()
                if fresh is not None:
                    self._apply(cid, NonceCommitReceived(self.local, fresh))
                    wanted -= 1
        targets = tuple(sorted(set(witnesses) - {self.local}))
        state = self._instances.get(cid)
        if wanted < 1 or len(targets) < wanted or state is None or not state.is_active:
            return
        if state.round > 0:
            # A round proposal needs every vote it can get and rounds run when messages go
            # missing: each witness is asked in a session of its own (see `_signing_round`).
            for target in targets:
                self._spawn(self._nonce_session, cid, (target,), 1)
            return
        await self._nonce_session(cid, targets, wanted)

    async def _nonce_session(
        self, cid: ConsensusId, targets: tuple[AuthorityId, ...], wanted: int
    ) -> None:
        state = self._instances.get(cid)
        if state is None or not state.is_active:
            return
        choreography = protocols.nonce_round(len(targets), wanted)
        session = Session(
            choreography,
            await self._new_session(),
            self._context,
            {"Initiator": (self.local,), "Witness": targets},
        )
        request = NonceRequest(
            state.params, targets, wanted, state.evidence, self._justifications.get(cid)
        )

        async def program(endpoint: Endpoint) -> None:
            await endpoint.send("NonceRequest", encode(request))
            for received in await endpoint.collect("NonceCommit"):
                self._take_nonce_reply(cid, session.authority(received.sender), received)

        outcome = await self._dispatcher.run(
            session, "Initiator", program, limit=self.config.fallback_s
        )
        self._trace_outcome(cid, "nonces", outcome)

    def _take_nonce_reply(self, cid: ConsensusId, sender: AuthorityId, received: Received) -> None:
        try:
            reply = decode(received.payload, NonceReply)
            if reply.consensus_id != cid:
                raise InvalidArgument("a reply for another instance")
            if reply.mismatch is not None:
                self._apply(cid, StateMismatchReceived(sender, reply.mismatch))
            if reply.vote is not None:
                self._take_vote(cid, sender, ShareVote(reply.vote))
            state = self._instances.get(cid)
            if state is not None and state.round > 0 and reply.vote is None:
                self._live.setdefault(cid, _Live()).declined.add(sender)
            if reply.commitments is not None:
                commitments = frost.SigningCommitments.from_bytes(reply.commitments)
                self._apply(cid, NonceCommitReceived(sender, commitments))
        except AuraError as exc:
            self._trace("consensus.garbled", cid, source=str(sender), detail=exc.message)

    async def _drive_fallback(self, cid: ConsensusId) -> None:
        """(Initiator) While the instance is in fallback, ask for fresh commitments every
        T_fallback, so new packages can form without the witnesses that stalled earlier ones."""
        while True:
            state = self._instances.get(cid)
            if state is None or state.phase is not Phase.FALLBACK:
                return
            declined = self._live.setdefault(cid, _Live()).declined
            await self._nonce_round(cid, _fallback_targets(state, declined))
            await self._fx.time.sleep(self.config.fallback_s)

    def _gossip_peers(self, state: InstanceState) -> list[AuthorityId]:
        """Whom this node may gossip to: the other witnesses, those that forwarded forgeries
        last (SELECTIVE witnesses: only the first half)."""
        peers = sorted(set(state.params.witnesses.authorities) - {self.local})
        if self.behavior is Behavior.SELECTIVE:
            peers = peers[: max(1, len(peers) // 2)]
        trusted = [p for p in peers if not self._ignored(p)]
        return trusted or peers

    async def _gossip_round(self, cid: ConsensusId, action: SendGossip) -> None:
        state = self._instances.get(cid)
        if state is None:
            return
        votes = [ShareVote.of(share) for share in action.shares]
        evidence = action.evidence
        if self.behavior is Behavior.EQUIVOCATE:
            votes = [v for v in votes if v.witness != self.local]
            votes.append(byzantine.bogus_vote(state, self.local, self._signing_key, 2))
        votes += self._forgeries(state)
        if self.behavior is Behavior.FORGE_EVIDENCE:
            evidence = evidence.join(byzantine.forged_evidence(state, self.local, b"gossip"))
        payload = Gossip(
            state.params,
            tuple(p.to_bytes() for p in action.packages),
            tuple(votes),
            evidence,
            None,
        )
        peers = self._gossip_peers(state)
        chosen: list[AuthorityId] = []
        while peers and len(chosen) < self.config.fanout:
            chosen.append(peers.pop(await self._fx.random.random_range(0, len(peers))))
        for peer in chosen:
            await self._gossip_to(peer, payload)

    def _forgeries(self, state: InstanceState) -> list[ShareVote]:
        if self.behavior is Behavior.FORGE_RELAY:
            return list(byzantine.forged_relays(state, self.local, b"relay"))
        if self.behavior is Behavior.REPLAY:
            seen = [
                slot.seen[key]
                for _, slot in sorted(self._slots.items())
                for key in sorted(slot.seen, key=lambda k: (k[0], k[1].raw))
            ]
            return list(byzantine.replayed_votes(state, seen))
        return []

    async def _push_forgeries(self, cid: ConsensusId) -> None:
        """(Forging behaviours) Send made-up content to every other witness at once."""
        await self._fx.time.sleep(self.config.fallback_s / 3)
        state = self._instances.get(cid)
        if state is None:
            return
        evidence = state.evidence
        if self.behavior is Behavior.FORGE_EVIDENCE:
            evidence = evidence.join(byzantine.forged_evidence(state, self.local, b"push"))
        payload = Gossip(state.params, (), tuple(self._forgeries(state)), evidence, None)
        for peer in sorted(set(state.params.witnesses.authorities) - {self.local}):
            await self._gossip_to(peer, payload)

    async def _gossip_to(self, peer: AuthorityId, payload: Gossip) -> None:
        session = Session(
            protocols.gossip(),
            await self._new_session(),
            self._context,
            {"Sender": (self.local,), "Receiver": (peer,)},
        )
        body = encode(payload)

        async def program(endpoint: Endpoint) -> None:
            await endpoint.send("Gossip", body)

        await self._dispatcher.run(session, "Sender", program)

    def _trace_outcome(self, cid: ConsensusId, what: str, outcome: Outcome) -> None:
        self._trace("consensus.round", cid, round=what, outcome=type(outcome).__name__)
        live = self._live.get(cid)
        if isinstance(outcome, Aborted) and live is not None:
            live.aborted = outcome.reason

    # ------------------------------------------------------------------------- sessions: witness

    def _accept_signing(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        """A signing round's first message to this node: `SignRequest` (a signer) or
        `Execute` (an observer). Rebuild the session from the request and play the role."""
        role = {"SignRequest": "Signer", "Execute": "Observer"}.get(message.label)
        if role is None or message.receiver != role:
            return None
        try:
            request = decode(message.payload, ExecuteRequest)
            params = request.params
            package = (
                None
                if request.package is None
                else frost.SigningPackage.from_bytes(request.package)
            )
            if role == "Signer":
                if package is None:
                    raise InvalidArgument("a SignRequest carries the package")
                named = set(params.describe_package(package).signers) - {source}
                if named != set(request.signers):
                    raise InvalidArgument("the signers are not the package's")
            roster: dict[str, tuple[AuthorityId, ...]] = {
                "Initiator": (source,),
                "Signer": request.signers,
            }
            if request.observers:
                roster["Observer"] = request.observers
            choreography = protocols.signing_round(
                len(request.signers), len(request.observers), round(self.config.fallback_s * 1000)
            )
            session = Session(choreography, message.session, self._context, roster)
        except AuraError as exc:
            self._fx.trace.event("consensus.declined", source=str(source), detail=exc.message)
            return None
        cid = self._open(params, source)
        if cid is None:
            return None

        async def signer(endpoint: Endpoint) -> None:
            await endpoint.receive("SignRequest")
            assert package is not None
            reply = await self._reply_to_sign_request(request, package)
            if reply is None:
                return  # a withholding witness: never answers
            await endpoint.send("SignShare", encode(reply))
            self._take_decision(cid, source, await endpoint.branch())

        async def observer(endpoint: Endpoint) -> None:
            await endpoint.receive("Execute")
            self._apply(cid, EvidenceReceived(request.evidence), source)
            self._take_decision(cid, source, await endpoint.branch())

        program = signer if role == "Signer" else observer
        return Accepted(session, role, message.receiver_index, program, self.config.deadline_s)

    def _take_decision(self, cid: ConsensusId, source: AuthorityId, received: Received) -> None:
        try:
            decision = decode(received.payload, Decision)
        except EncodingError as exc:
            self._trace("consensus.garbled", cid, detail=exc.message)
            return
        if decision.consensus_id != cid:
            return
        self._apply(cid, EvidenceReceived(decision.evidence), source)
        if decision.commit is not None:
            self._apply(cid, CommitReceived(decision.commit))
        else:
            self._apply_if(cid, Phase.FAST_PATH, FallbackTimeout())

    def _accept_nonces(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "NonceRequest" or message.receiver != "Witness":
            return None
        try:
            request = decode(message.payload, NonceRequest)
            choreography = protocols.nonce_round(len(request.witnesses), request.replies)
            session = Session(
                choreography,
                message.session,
                self._context,
                {"Initiator": (source,), "Witness": request.witnesses},
            )
        except AuraError as exc:
            self._fx.trace.event("consensus.declined", source=str(source), detail=exc.message)
            return None
        params = request.params
        if params.round > 0 and (
            request.justification is None
            or leader(self._group.witnesses, params.prestate_hash, params.round) != source
        ):
            self._fx.trace.event("consensus.declined", source=str(source), detail="not a leader")
            return None
        cid = self._open(params, source)
        if cid is None:
            return None
        if params.round > 0:
            self._slot(params.prestate_hash).led.add(params.round)

        async def witness(endpoint: Endpoint) -> None:
            await endpoint.receive("NonceRequest")
            self._apply(cid, EvidenceReceived(request.evidence), source)
            mismatch = await self._matches(cid, params)
            commitments = None
            vote = None
            if mismatch is None and self._can_sign_in(params):
                if request.justification is not None:
                    vote = await self._cast(cid, request.justification)
                    if vote is not None:
                        self._apply(cid, ShareReceived(WitnessShare(vote)))
                if params.round == 0 or vote is not None:
                    fresh = await self._fresh_commitments()
                    commitments = None if fresh is None else fresh.to_bytes()
            reply = NonceReply(cid, commitments, mismatch, vote)
            await endpoint.send("NonceCommit", encode(reply))

        return Accepted(session, "Witness", message.receiver_index, witness, self.config.deadline_s)

    def _can_sign_in(self, params: ConsensusParams) -> bool:
        """Whether this witness may still act in the instance's round (it never goes back)."""
        if self.behavior in (Behavior.WITHHOLD, Behavior.DOUBLE_SIGN):
            return True  # WITHHOLD commits and stalls; DOUBLE_SIGN ignores its rounds
        return self._ledger.of(params.prestate_hash).round <= params.round

    def _accept_gossip(self, message: SessionMessage, source: AuthorityId) -> Accepted | None:
        if message.label != "Gossip" or message.receiver != "Receiver":
            return None
        try:
            payload = decode(message.payload, Gossip)
            session = Session(
                protocols.gossip(),
                message.session,
                self._context,
                {"Sender": (source,), "Receiver": (self.local,)},
            )
        except AuraError as exc:
            self._fx.trace.event("consensus.declined", source=str(source), detail=exc.message)
            return None

        async def receiver(endpoint: Endpoint) -> None:
            await endpoint.receive("Gossip")
            self._take_gossip(source, payload)

        return Accepted(session, "Receiver", 0, receiver, self.config.deadline_s)

    def _take_gossip(self, source: AuthorityId, payload: Gossip) -> None:
        if payload.commit is None and self._ignored(source):
            self._fx.trace.event("consensus.ignored", node=str(self.local), source=str(source))
            return
        cid = self._open(payload.params, source)
        if cid is None:
            return
        if payload.commit is not None:
            self._apply(cid, CommitReceived(payload.commit))
            return
        state = self._instances[cid]
        decided = self.decision(state.params.prestate_hash)
        if decided is not None:
            # The sender is still working on a prestate this node saw decided: tell it.
            self._tell_decision(source, decided)
            return
        if not state.is_active:
            return
        packages: list[frost.SigningPackage] = []
        for data in payload.packages:
            if package_id_of(data) in state.packages:
                continue  # known (its id is the hash of its canonical bytes): nothing to parse
            try:
                packages.append(frost.SigningPackage.from_bytes(data))
            except AuraError as exc:
                self._trace("consensus.garbled", cid, source=str(source), detail=exc.message)
        shares: list[WitnessShare] = []
        for vote in payload.votes:
            try:
                shares.append(vote.parse())
            except AuraError as exc:
                self._trace("consensus.garbled", cid, source=str(source), detail=exc.message)
        self._apply(cid, GossipReceived(tuple(packages), tuple(shares), payload.evidence), source)
        self._index_votes(cid)


def _nearest(value: float) -> int:
    """`value` rounded to the nearest int (`round` is a parameter name where this is used)."""
    return int(value + 0.5)
