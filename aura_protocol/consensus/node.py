"""`ConsensusNode`: one node's consensus, driving the pure instance machine over choreographies.

Everything that decides lives in `aura_consensus` (sans-IO): this module feeds it events —
messages, timer expiries — and carries out the actions it returns by running choreography
sessions (`protocols`) on the node's `Dispatcher`, arming timers on the loop's clock, drawing
nonce seeds and session ids from `RandomEffects`, keeping the vote ledger in storage and handing
decided commits to the application (`on_decided`, which records them in a journal).

Every state change happens in `_apply`, synchronously, between two awaits: the node runs on one
event loop, so its instances never see interleaved half-updates. Network and timer work runs in
tasks of the node's task group, which ends with the node.

Roles. The node that calls `propose` is the *initiator* of that instance; every other node is a
witness of it (the initiator may be a witness too). Sessions:

- fast path: one `AuraConsensus` round — the package (formed from commitments cached from
  earlier rounds) to its t signers, the instance to the other witnesses, t shares back, the
  commit to everyone. Without cached commitments an `AuraNonces` round comes first (2 round
  trips);
- fallback (the round stalled, or a timer fired): every node gossips what it knows to a few
  random witnesses (`AuraGossip`) on a timer, and the initiator keeps running nonce rounds and
  signing rounds (without observers) with the witnesses that are still eligible, until some
  node aggregates a commit or the deadline passes. Whoever aggregates announces the commit.

Senders are authenticated by the guard chain's receipts (the dispatcher drops messages from
anyone but the session's roster); a vote or nonce commitment is accepted only as its
authenticated sender's own. Instances are opened only for the node's current witness group
and only by its witnesses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType

import anyio
import attrs
from anyio.abc import TaskGroup

from aura_consensus.commit import CommitFact
from aura_consensus.events import (
    Action,
    BroadcastCommit,
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
from aura_consensus.evidence import Evidence
from aura_consensus.instance import (
    InstanceState,
    Phase,
    eligible_witnesses,
    new_instance,
    step,
)
from aura_consensus.nonces import NonceRegistry, WitnessNonces
from aura_consensus.params import ConsensusParams
from aura_consensus.witness import VoteLedger, prestate_matches, sign_share
from aura_core.crypto import frost
from aura_core.encoding import decode, encode
from aura_core.errors import (
    AuraError,
    ConsensusFailed,
    EncodingError,
    ErrorKind,
    InvalidArgument,
    StaleEpoch,
)
from aura_core.hashing import Hash32, tagged_hash
from aura_core.ids import AuthorityId, ConsensusId, ContextId, SessionId
from aura_effects.bundle import Effects
from aura_protocol.choreography import Session
from aura_protocol.consensus import protocols
from aura_protocol.consensus.config import (
    Behavior,
    ConsensusConfig,
    DecidedHook,
    Group,
    PrestateView,
)
from aura_protocol.consensus.ledger import load_ledger, store_vote
from aura_protocol.consensus.wire import (
    Decision,
    ExecuteRequest,
    Gossip,
    NonceReply,
    NonceRequest,
    ShareVote,
    WitnessReply,
)
from aura_protocol.dispatch import Accepted, Dispatcher
from aura_protocol.endpoint import Endpoint, Received, TimerFired
from aura_protocol.outcome import Outcome
from aura_protocol.wire import SessionMessage

__all__ = ["ConsensusNode"]


def _fallback_targets(state: InstanceState) -> tuple[AuthorityId, ...]:
    """Whom a fallback nonce round asks: the eligible witnesses that left no earlier package
    unsigned, when there are at least t of them; otherwise every eligible witness. (A package
    forms from the first t commitments, so asking a witness that stalls would let it stall the
    next package too.)"""
    eligible = eligible_witnesses(state)
    reliable = tuple(
        w
        for w in eligible
        if not any(
            w in info.signers and w not in state.shares.get(pid, {})
            for pid, info in state.packages.items()
        )
    )
    return reliable if len(reliable) >= state.threshold else eligible


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


class ConsensusNode:
    """One node's consensus. Use as `async with ConsensusNode(...) as node:` inside the node's
    running `Dispatcher`; `await node.propose(operation)` runs one instance to its commit."""

    def __init__(
        self,
        effects: Effects,
        dispatcher: Dispatcher,
        *,
        context: ContextId,
        group: Group,
        prestate: PrestateView,
        on_decided: DecidedHook,
        config: ConsensusConfig | None = None,
        behavior: Behavior = Behavior.HONEST,
    ) -> None:
        if type(group) is not Group:
            raise InvalidArgument("group must be a consensus Group")
        self._fx = effects
        self._dispatcher = dispatcher
        self.local: AuthorityId = dispatcher.local
        self._context = context
        self._group = group
        self._prestate = prestate
        self._on_decided = on_decided
        self.config = config or ConsensusConfig()
        self.behavior = behavior
        self._instances: dict[ConsensusId, InstanceState] = {}
        self._live: dict[ConsensusId, _Live] = {}
        self._nonces = WitnessNonces(group.epoch)
        self._registry = NonceRegistry(group.epoch)
        self._ledger = VoteLedger()
        self.evidence = Evidence()
        """Everything this node has learned about equivocators (joined across instances)."""
        self.decided: dict[ConsensusId, CommitFact] = {}
        self._group_tasks: TaskGroup | None = None

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
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        tasks = self._group_tasks
        assert tasks is not None
        for name in ("AuraConsensus", "AuraNonces", "AuraGossip"):
            self._dispatcher.unserve(name)
        tasks.cancel_scope.cancel()
        self._group_tasks = None
        return await tasks.__aexit__(exc_type, exc, traceback)

    # ------------------------------------------------------------------------- public API

    @property
    def group(self) -> Group:
        return self._group

    @property
    def instances(self) -> Mapping[ConsensusId, InstanceState]:
        """Every instance this node knows, by consensus id (read-only)."""
        return dict(self._instances)

    def set_group(self, group: Group) -> None:
        """Move to a new witness group (membership change, key refresh): nonce material of the
        old epoch is dropped and refused from now on. The epoch must increase."""
        if type(group) is not Group:
            raise InvalidArgument("group must be a consensus Group")
        if group.epoch <= self._group.epoch:
            raise StaleEpoch(f"epoch {group.epoch} is not after {self._group.epoch}")
        self._nonces = self._nonces.advance(group.epoch)
        self._registry = self._registry.advance(group.epoch)
        self._group = group

    async def propose(self, operation: bytes, prestate_hash: Hash32) -> CommitFact:
        """Run one instance deciding `operation` on `prestate_hash` and return its commit.

        Raises `ConsensusFailed` when the deadline passes (or the instance is cancelled) with
        no commit; other `AuraError`s for input the instance refuses.
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
        state = new_instance(params, group.public_key_package)
        cid = params.consensus_id
        self._instances[cid] = state
        live = self._live.setdefault(cid, _Live())
        cached = self._take_cached(group)
        self._apply(cid, Start(initiator=True, cached_commitments=cached))
        await live.done.wait()
        final = self._instances[cid]
        if final.commit is None:
            reason = final.failure.value if final.failure is not None else "unknown"
            raise ConsensusFailed(f"instance {cid} ended without a commit ({reason})")
        return final.commit

    async def announce(self, fact: CommitFact, peers: Sequence[AuthorityId]) -> None:
        """Send a decided commit to `peers` (one `AuraGossip` each), e.g. to nodes that may have
        missed it (a stand-in for journal sync). The commit must be of the current group."""
        state = self._instances.get(fact.consensus_id)
        if state is not None:
            params = state.params
        else:
            group = self._group
            params = ConsensusParams(
                fact.prestate_hash,
                fact.operation_bytes,
                fact.nonce,
                group.witnesses,
                group.public_key_package.group_public_key,
            )
            params.check_commit(fact)
        payload = Gossip(params, (), (), self.evidence, fact)
        for peer in sorted(set(peers) - {self.local}):
            await self._gossip_to(peer, payload)

    # ------------------------------------------------------------------------- state changes

    def _apply(self, cid: ConsensusId, event: Event) -> InstanceState | None:
        """Feed one event; perform the actions. Refused input is traced and changes nothing."""
        state = self._instances.get(cid)
        if state is None:
            return None
        try:
            state, actions = step(state, event)
        except AuraError as exc:
            self._trace("consensus.refused", cid, event=type(event).__name__, detail=exc.message)
            return None
        self._instances[cid] = state
        self._perform(cid, state, actions)
        return state

    def _perform(self, cid: ConsensusId, state: InstanceState, actions: Sequence[Action]) -> None:
        live = self._live.setdefault(cid, _Live())
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
                if self.behavior is not Behavior.WITHHOLD:
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
        if state.phase is Phase.COMMITTED or state.phase is Phase.FAILED:
            self.evidence = self.evidence.join(state.evidence)
        if state.phase is Phase.COMMITTED and self.behavior is Behavior.HONEST:
            return
        if state.phase is Phase.FALLBACK:
            self._sign_known_packages(cid)

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

    # ------------------------------------------------------------------------- instances

    def _open(self, params: ConsensusParams, source: AuthorityId) -> ConsensusId | None:
        """The instance of `params` here, started as a witness if new. None (and traced) if this
        node does not take part: another group, or a sender outside the witness set."""
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
        try:
            state = new_instance(params, group.public_key_package)
        except AuraError as exc:
            self._trace("consensus.refused", cid, event="open", detail=exc.message)
            return None
        self._instances[cid] = state
        self._live.setdefault(cid, _Live())
        self._apply(cid, Start())
        return cid

    def _take_cached(self, group: Group) -> dict[AuthorityId, frost.SigningCommitments]:
        """Commitments cached from earlier rounds, if t witnesses have one (pipelining)."""
        witnesses = group.witnesses
        t = witnesses.threshold
        if not self._registry.can_pipeline(witnesses.authorities, t):
            return {}
        ready = sorted(w for w in witnesses.authorities if w in self._registry.cached)[:t]
        taken, self._registry = self._registry.take(group.epoch, ready)
        return taken

    # ------------------------------------------------------------------------- witness side

    async def _matches(self, cid: ConsensusId, params: ConsensusParams) -> Hash32 | None:
        """None if this node holds the instance's prestate, else the prestate it holds."""
        live = self._live.setdefault(cid, _Live())
        if live.mismatched is not None:
            return live.mismatched
        local = await self._prestate(params)
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

    async def _sign(self, cid: ConsensusId, package: frost.SigningPackage) -> WitnessShare | None:
        """Sign `package` for instance `cid` if this honest node may: it holds the prestate,
        is a signer, has the nonces and has not signed another result on this prestate. The
        ledger reaches storage before the share is returned (and sent)."""
        state = self._instances.get(cid)
        key = self._group.key_package
        if state is None or key is None or self.behavior is not Behavior.HONEST:
            return None
        if await self._matches(cid, state.params) is not None:
            return None
        state = self._instances[cid]
        try:
            info = state.params.describe_package(package)
            if self.local in state.shares.get(info.package_id, {}):
                return None  # already signed (the nonces are spent)
            signed = sign_share(
                state.params,
                self.local,
                key,
                package,
                nonces=self._nonces,
                ledger=self._ledger,
            )
        except AuraError as exc:
            self._trace("consensus.no_share", cid, detail=exc.message)
            return None
        self._nonces, self._ledger = signed.nonces, signed.ledger
        await store_vote(self._fx.storage, state.params.prestate_hash, state.params.result_id)
        self._apply(cid, ShareReceived(signed.share))
        return signed.share

    def _sign_known_packages(self, cid: ConsensusId) -> None:
        """(Fallback) Sign packages that name this node and that it learned by gossip."""
        state = self._instances.get(cid)
        if state is None or self._group.key_package is None or self.behavior is not Behavior.HONEST:
            return
        for pid in sorted(state.packages):
            info = state.packages[pid]
            if self.local in info.signers and self.local not in state.shares.get(pid, {}):
                self._spawn(self._sign_once, cid, pid)

    async def _sign_once(self, cid: ConsensusId, pid: Hash32) -> None:
        state = self._instances.get(cid)
        if state is None or not state.is_active:
            return
        info = state.packages.get(pid)
        if info is None or self.local in state.shares.get(pid, {}):
            return
        await self._sign(cid, info.package)

    def _bogus_vote(self, cid: ConsensusId, params: ConsensusParams, which: int) -> ShareVote:
        """(EQUIVOCATE) A vote for a made-up result on the instance's prestate."""
        result = tagged_hash("aura.sim.bogus_result", params.result_id.digest, bytes([which]))
        return ShareVote(self.local, result, params.prestate_hash)

    async def _reply_to_sign_request(
        self, request: ExecuteRequest, package: frost.SigningPackage
    ) -> WitnessReply | None:
        params = request.params
        cid = params.consensus_id
        if self.behavior is Behavior.WITHHOLD:
            return None
        mismatch = await self._matches(cid, params)
        vote: ShareVote | None = None
        if mismatch is None and self.behavior is Behavior.EQUIVOCATE:
            vote = self._bogus_vote(cid, params, 1)
        elif mismatch is None:
            self._apply(cid, SigningPackageReceived(package))
            share = await self._sign(cid, package)
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
        if self.local in info.signers:
            await self._sign(cid, package)
            await self._offer_own_commitments()
        signers = tuple(s for s in info.signers if s != self.local)
        observers: tuple[AuthorityId, ...] = ()
        if fast_path:
            others = set(params.witnesses.authorities) - set(info.signers) - {self.local}
            observers = tuple(sorted(others))
        state = self._instances.get(cid)
        if not signers or state is None or not state.is_active:
            return  # nobody else signs this package (t = 1), or the instance already ended
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
        request = ExecuteRequest(params, signers, observers, package.to_bytes(), state.evidence)
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
        self._apply(cid, EvidenceReceived(reply.evidence))
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
        self._apply(cid, ShareReceived(share))

    def _offer(self, witness: AuthorityId, data: bytes) -> None:
        try:
            commitments = frost.SigningCommitments.from_bytes(data)
            self._registry = self._registry.offer(self._group.epoch, witness, commitments)
        except AuraError as exc:
            self._fx.trace.event("consensus.offer_refused", source=str(witness), detail=exc.message)

    async def _nonce_round(self, cid: ConsensusId, witnesses: tuple[AuthorityId, ...]) -> None:
        """Run one `AuraNonces` round as the initiator: ask `witnesses`, feed the first t (the
        initiator's own commitment, if it is one of them, is made here, not asked for)."""
        state = self._instances.get(cid)
        if state is None or not state.is_active:
            return
        wanted = state.threshold
        if self.local in witnesses and await self._matches(cid, state.params) is None:
            fresh = await self._fresh_commitments()
            if fresh is not None:
                self._apply(cid, NonceCommitReceived(self.local, fresh))
                wanted -= 1
        targets = tuple(sorted(set(witnesses) - {self.local}))
        state = self._instances.get(cid)
        if wanted < 1 or len(targets) < wanted or state is None or not state.is_active:
            return
        choreography = protocols.nonce_round(len(targets), wanted)
        session = Session(
            choreography,
            await self._new_session(),
            self._context,
            {"Initiator": (self.local,), "Witness": targets},
        )
        request = NonceRequest(state.params, targets, wanted, state.evidence)

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
            await self._nonce_round(cid, _fallback_targets(state))
            await self._fx.time.sleep(self.config.fallback_s)

    async def _gossip_round(self, cid: ConsensusId, action: SendGossip) -> None:
        state = self._instances.get(cid)
        if state is None:
            return
        votes = [ShareVote.of(share) for share in action.shares]
        if self.behavior is Behavior.EQUIVOCATE:
            votes = [v for v in votes if v.witness != self.local]
            votes.append(self._bogus_vote(cid, state.params, 2))
        payload = Gossip(
            state.params,
            tuple(p.to_bytes() for p in action.packages),
            tuple(votes),
            action.evidence,
            None,
        )
        peers = sorted(set(state.params.witnesses.authorities) - {self.local})
        chosen: list[AuthorityId] = []
        while peers and len(chosen) < self.config.fanout:
            chosen.append(peers.pop(await self._fx.random.random_range(0, len(peers))))
        for peer in chosen:
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
            self._take_decision(cid, await endpoint.branch())

        async def observer(endpoint: Endpoint) -> None:
            await endpoint.receive("Execute")
            self._apply(cid, EvidenceReceived(request.evidence))
            self._take_decision(cid, await endpoint.branch())

        program = signer if role == "Signer" else observer
        return Accepted(session, role, message.receiver_index, program, self.config.deadline_s)

    def _take_decision(self, cid: ConsensusId, received: Received) -> None:
        try:
            decision = decode(received.payload, Decision)
        except EncodingError as exc:
            self._trace("consensus.garbled", cid, detail=exc.message)
            return
        if decision.consensus_id != cid:
            return
        self._apply(cid, EvidenceReceived(decision.evidence))
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
        cid = self._open(request.params, source)
        if cid is None:
            return None

        async def witness(endpoint: Endpoint) -> None:
            await endpoint.receive("NonceRequest")
            self._apply(cid, EvidenceReceived(request.evidence))
            mismatch = await self._matches(cid, request.params)
            commitments = None
            if mismatch is None:
                fresh = await self._fresh_commitments()
                commitments = None if fresh is None else fresh.to_bytes()
            await endpoint.send("NonceCommit", encode(NonceReply(cid, commitments, mismatch)))

        return Accepted(session, "Witness", message.receiver_index, witness, self.config.deadline_s)

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
        cid = self._open(payload.params, source)
        if cid is None:
            return
        if payload.commit is not None:
            self._apply(cid, CommitReceived(payload.commit))
            return
        state = self._instances[cid]
        if state.phase is Phase.COMMITTED and state.commit is not None:
            # The sender is still working on an instance this node saw decided: tell it.
            self._spawn(
                self._gossip_to, source, Gossip(state.params, (), (), state.evidence, state.commit)
            )
            return
        if not state.is_active:
            return
        packages: list[frost.SigningPackage] = []
        for data in payload.packages:
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
        self._apply(cid, GossipReceived(tuple(packages), tuple(shares), payload.evidence))
