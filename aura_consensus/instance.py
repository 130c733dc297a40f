"""The consensus instance: a pure state machine over votes, signing packages and shares.

    state = new_instance(params, public_key_package)
    state, actions = step(state, Start(initiator=True))
    ...

`step` never mutates its argument: on bad input it raises a typed error and the caller still
holds the unchanged state; otherwise it returns the next state and the actions to perform.

Phases: PENDING → (Start) FAST_PATH → (FallbackTimeout) FALLBACK; COMMITTED and FAILED are
final (except that a valid `Commit` received by a node that gave up still records the
decision: the commit exists whether or not this node waited for it).

Votes. Each witness's first share fixes its vote (result id, prestate hash). A later share with
the same vote may add a signature share for another signing package; one for another prestate
is refused (`AlreadyVoted`); one for another result on the same prestate makes the witness an
*equivocator*: an `EquivocationProof` enters the evidence, and the witness is never counted
again (its shares are dropped, anything it sends later is refused with `KnownEquivocator`).
Evidence received from elsewhere excludes witnesses the same way when its proofs were recorded
in this instance or are about this instance's prestate (from any instance).

Commit. Votes are tallied per (result id, prestate hash). The instance commits when every
signer of one of its signing packages (a package names at least t witnesses, and the
initiator forms them with exactly t) has a counted vote for the instance's own (rid, prestate)
and has sent its signature share for that package: the shares are aggregated (FROST) into the
threshold signature of the `CommitFact`. So a commit always has at least t distinct,
non-equivocating attesters, and an instance commits at most once. Votes for other results are
tallied but never committed here: a node can only form the transcript of the operation it was
given. Shares FROST finds invalid are dropped (`SharesRejected`) and may be replaced.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import attrs

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
    FailureReason,
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
from aura_consensus.params import ConsensusParams, PackageInfo
from aura_core.crypto import frost
from aura_core.errors import (
    AlreadyVoted,
    ConflictingShare,
    ConsensusError,
    CryptoError,
    InstanceNotActive,
    InvalidArgument,
    InvalidShare,
    InvalidSigningPackage,
    InvalidTransition,
    InvalidWitnessSet,
    KnownEquivocator,
    MissingShare,
    NonceReuse,
    UnknownSigningPackage,
    UnknownWitness,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ConsensusId

__all__ = [
    "Phase",
    "Vote",
    "InstanceState",
    "Step",
    "new_instance",
    "step",
    "apply_share",
    "gossip",
    "eligible_witnesses",
]


class Phase(enum.Enum):
    PENDING = "pending"
    FAST_PATH = "fast_path"
    FALLBACK = "fallback"
    COMMITTED = "committed"
    FAILED = "failed"


_ACTIVE = (Phase.FAST_PATH, Phase.FALLBACK)
_ALL_TIMERS = (CancelTimer(Timer.FALLBACK), CancelTimer(Timer.GOSSIP), CancelTimer(Timer.DEADLINE))


@attrs.frozen
class Vote:
    """What a witness voted for."""

    result_id: Hash32
    prestate_hash: Hash32


@attrs.frozen
class InstanceState:
    """Everything one node knows about one instance. Treat as immutable; build the first one
    with `new_instance` and every later one with `step`."""

    params: ConsensusParams
    public_key_package: frost.PublicKeyPackage
    phase: Phase = Phase.PENDING
    initiator: bool = False
    votes: Mapping[AuthorityId, Vote] = attrs.field(factory=dict)
    """Each witness's first vote (kept for equivocators too, so they stay refused)."""
    packages: Mapping[Hash32, PackageInfo] = attrs.field(factory=dict)
    """Signing packages of this instance, by package id."""
    shares: Mapping[Hash32, Mapping[AuthorityId, frost.SignatureShare]] = attrs.field(factory=dict)
    """Package id → witness → its signature share (counted witnesses only)."""
    commitments: Mapping[AuthorityId, frost.SigningCommitments] = attrs.field(factory=dict)
    """(Initiator) nonce commitments received and not yet placed in a package."""
    used_commitments: frozenset[bytes] = frozenset()
    """Encodings of every commitment placed in a package: none is ever used twice."""
    equivocators: frozenset[AuthorityId] = frozenset()
    mismatches: Mapping[AuthorityId, Hash32] = attrs.field(factory=dict)
    """Witnesses that answered `StateMismatch`, with the prestate hash they hold."""
    evidence: Evidence = attrs.field(factory=Evidence)
    commit: CommitFact | None = None
    failure: FailureReason | None = None

    @property
    def consensus_id(self) -> ConsensusId:
        return self.params.consensus_id

    @property
    def threshold(self) -> int:
        return self.params.threshold

    @property
    def is_active(self) -> bool:
        return self.phase in _ACTIVE

    @property
    def own_vote(self) -> Vote:
        """The vote honest witnesses cast: this instance's (result id, prestate hash)."""
        return Vote(self.params.result_id, self.params.prestate_hash)

    def counted(self, vote: Vote) -> frozenset[AuthorityId]:
        """The non-equivocating witnesses that voted `vote`."""
        return frozenset(
            w for w, v in self.votes.items() if v == vote and w not in self.equivocators
        )

    def tally(self) -> dict[Vote, frozenset[AuthorityId]]:
        """Counted voters per (result id, prestate hash)."""
        return {vote: self.counted(vote) for vote in set(self.votes.values())}


class Step(NamedTuple):
    """The outcome of one event."""

    state: InstanceState
    actions: tuple[Action, ...]


def new_instance(
    params: ConsensusParams, public_key_package: frost.PublicKeyPackage
) -> InstanceState:
    """A PENDING instance. `public_key_package` is the witnesses' FROST group (every node that
    aggregates needs it); it must hold every witness's identifier, sign under
    `params.group_public_key`, and need no more than t shares."""
    if type(params) is not ConsensusParams:
        raise InvalidArgument("expected ConsensusParams")
    params.witnesses.check_group(public_key_package)
    if public_key_package.group_public_key != params.group_public_key:
        raise InvalidWitnessSet(f"{params.consensus_id}: the group signs under another key")
    return InstanceState(params, public_key_package)


def step(state: InstanceState, event: Event) -> Step:
    """Apply one event. Raises a `ConsensusError` (or a core error such as `NonceReuse` or
    `InvalidArgument`) for input the instance refuses; `state` is never modified."""
    if type(state) is not InstanceState:
        raise InvalidArgument("expected an InstanceState")
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise InvalidArgument(f"not a consensus event: {type(event).__name__}")
    return handler(state, event)


def apply_share(
    state: InstanceState,
    witness: AuthorityId,
    result_id: Hash32,
    prestate_hash: Hash32,
    *,
    package_id: Hash32 | None = None,
    share: frost.SignatureShare | None = None,
) -> Step:
    """`step(state, ShareReceived(WitnessShare(...)))`, spelled as the reference's
    `apply_share`: the vote rules, then a commit if a package completes."""
    return step(
        state,
        ShareReceived(WitnessShare(witness, result_id, prestate_hash, package_id, share)),
    )


# ------------------------------------------------------------------------------- helpers


def _require_active(state: InstanceState, what: str) -> None:
    if not state.is_active:
        raise InstanceNotActive(f"{state.consensus_id} is {state.phase.value}: {what} refused")


def _check_witness(state: InstanceState, witness: object) -> AuthorityId:
    if type(witness) is not AuthorityId:
        raise InvalidArgument("a witness is an AuthorityId")
    if witness not in state.params.witnesses:
        raise UnknownWitness(f"{witness} is not a witness of {state.consensus_id}")
    if witness in state.equivocators:
        raise KnownEquivocator(f"{witness} equivocated in {state.consensus_id}")
    return witness


def _check_commitment(state: InstanceState, witness: object, commitments: object) -> bytes:
    _check_witness(state, witness)
    if not isinstance(commitments, frost.SigningCommitments):
        raise InvalidArgument("expected frost.SigningCommitments")
    encoded = commitments.to_bytes()
    if encoded in state.used_commitments:
        raise NonceReuse(f"{witness}'s commitment was already used in {state.consensus_id}")
    return encoded


def eligible_witnesses(state: InstanceState) -> tuple[AuthorityId, ...]:
    """Witnesses that may still usefully sign: not equivocators, no mismatch, no foreign vote
    (whom the initiator asks for fresh nonce commitments in fallback)."""
    own = state.own_vote
    return tuple(
        w
        for w in state.params.witnesses.authorities
        if w not in state.equivocators
        and w not in state.mismatches
        and state.votes.get(w, own) == own
    )


def _form_package(state: InstanceState) -> tuple[InstanceState, PackageInfo | None]:
    """(Initiator) Form a signing package of exactly t witnesses from unused commitments: once
    on the fast path, and again whenever t fresh ones are held during fallback. Witnesses that
    left fewer earlier packages unsigned go first, then by authority id."""
    if not state.initiator or (state.phase is Phase.FAST_PATH and state.packages):
        return state, None
    eligible = set(eligible_witnesses(state))
    ready = [w for w in state.commitments if w in eligible]
    if len(ready) < state.threshold:
        return state, None
    # Prefer witnesses that have not left an earlier package of this instance unsigned, so a
    # witness that commits nonces but never signs cannot stall every package in turn.
    misses = {
        w: sum(
            1
            for pid, info in state.packages.items()
            if w in info.signers and w not in state.shares.get(pid, {})
        )
        for w in ready
    }
    signers = tuple(sorted(sorted(ready, key=lambda w: (misses[w], w))[: state.threshold]))
    witnesses = state.params.witnesses
    fast_path = state.phase is Phase.FAST_PATH
    package = frost.signing_package(
        {witnesses.signer_of(w): state.commitments[w] for w in signers},
        state.params.transcript(signers, fast_path),
    )
    info = state.params.describe_package(package)
    used = {state.commitments[w].to_bytes() for w in signers}
    return (
        attrs.evolve(
            state,
            packages={**state.packages, info.package_id: info},
            commitments={w: c for w, c in state.commitments.items() if w not in signers},
            used_commitments=state.used_commitments | used,
        ),
        info,
    )


def _exclude(state: InstanceState, witnesses: Iterable[AuthorityId]) -> InstanceState:
    """Mark witnesses as equivocators and forget their shares and commitments."""
    excluded = frozenset(witnesses) - state.equivocators
    if not excluded:
        return state
    return attrs.evolve(
        state,
        equivocators=state.equivocators | excluded,
        shares={
            pid: {w: s for w, s in held.items() if w not in excluded}
            for pid, held in state.shares.items()
        },
        commitments={w: c for w, c in state.commitments.items() if w not in excluded},
    )


def _delta(state: InstanceState) -> Evidence:
    return state.evidence.about(state.consensus_id, state.params.prestate_hash)


def _merge_evidence(state: InstanceState, evidence: object) -> InstanceState:
    if type(evidence) is not Evidence:
        raise InvalidArgument("expected Evidence")
    joined = state.evidence.join(evidence)
    if joined is state.evidence:
        return state
    merged = attrs.evolve(state, evidence=joined)
    relevant = joined.about(state.consensus_id, state.params.prestate_hash)
    proven = relevant.equivocators() & set(state.params.witnesses.authorities)
    return _exclude(merged, proven)


def _accept_package(state: InstanceState, package: object) -> InstanceState:
    if not isinstance(package, frost.SigningPackage):
        raise InvalidSigningPackage("expected a frost.SigningPackage")
    info = state.params.describe_package(package)
    if info.package_id in state.packages:
        return state
    encodings = {c.to_bytes() for c in package.commitments.values()}
    if encodings & state.used_commitments:
        raise NonceReuse(f"{state.consensus_id}: a package reuses a nonce commitment")
    return attrs.evolve(
        state,
        packages={**state.packages, info.package_id: info},
        commitments={w: c for w, c in state.commitments.items() if c.to_bytes() not in encodings},
        used_commitments=state.used_commitments | encodings,
    )


def _apply_share(state: InstanceState, share: object) -> Step:
    """The vote rules for one share (no commit check)."""
    if type(share) is not WitnessShare:
        raise InvalidArgument("expected a WitnessShare")
    if type(share.result_id) is not Hash32 or type(share.prestate_hash) is not Hash32:
        raise InvalidArgument("a share names its result id and prestate hash as Hash32")
    witness = _check_witness(state, share.witness)
    vote = Vote(share.result_id, share.prestate_hash)
    held = state.votes.get(witness)
    if held is not None and held.prestate_hash != vote.prestate_hash:
        raise AlreadyVoted(f"{witness} already voted on another prestate in {state.consensus_id}")
    if held is not None and held.result_id != vote.result_id:
        proof = EquivocationProof.of(
            witness, state.consensus_id, vote.prestate_hash, held.result_id, vote.result_id
        )
        excluded = _exclude(attrs.evolve(state, evidence=state.evidence.add(proof)), [witness])
        return Step(excluded, (EquivocationDetected(proof),))
    votes = state.votes if held is not None else {**state.votes, witness: vote}
    if vote != state.own_vote:
        return Step(attrs.evolve(state, votes=votes) if held is None else state, ())
    if share.package_id is None or share.share is None:
        raise MissingShare(f"{witness}'s vote for {state.consensus_id} carries no share")
    if not isinstance(share.share, frost.SignatureShare):
        raise InvalidArgument("expected a frost.SignatureShare")
    info = state.packages.get(share.package_id)
    if info is None:
        raise UnknownSigningPackage(f"{state.consensus_id}: no package {share.package_id}")
    if witness not in info.signers:
        raise InvalidSigningPackage(f"{witness} is not a signer of package {share.package_id}")
    held_shares = state.shares.get(share.package_id, {})
    existing = held_shares.get(witness)
    if existing is not None:
        if existing != share.share:
            raise ConflictingShare(f"{witness} sent two shares for one package")
        return Step(state, ())
    shares = {**state.shares, share.package_id: {**held_shares, witness: share.share}}
    return Step(attrs.evolve(state, votes=votes, shares=shares), ())


def _try_commit(state: InstanceState, actions: list[Action]) -> Step:
    """Aggregate the first complete package (in package-id order), if any."""
    if not state.is_active:
        return Step(state, tuple(actions))
    own = state.own_vote
    witnesses = state.params.witnesses
    for pid in sorted(state.packages):
        info = state.packages[pid]
        held = state.shares.get(pid, {})
        if not all(
            signer in held and signer not in state.equivocators and state.votes.get(signer) == own
            for signer in info.signers
        ):
            continue
        try:
            signature = frost.aggregate(
                info.package,
                {witnesses.signer_of(w): held[w] for w in info.signers},
                state.public_key_package,
            )
        except InvalidShare as exc:
            by_signer = {witnesses.signer_of(w): w for w in info.signers}
            named = {by_signer[c] for c in exc.culprits if c in by_signer}
            culprits = tuple(sorted(named or info.signers))
            kept = {w: s for w, s in held.items() if w not in culprits}
            state = attrs.evolve(state, shares={**state.shares, pid: kept})
            actions.append(SharesRejected(pid, culprits))
            continue
        fact = state.params.commit_fact(info.signers, info.fast_path, signature)
        committed = attrs.evolve(state, phase=Phase.COMMITTED, commit=fact)
        evidence = _delta(state)
        actions += [BroadcastCommit(fact, evidence), Decided(fact), *_ALL_TIMERS]
        return Step(committed, tuple(actions))
    return Step(state, tuple(actions))


def gossip(state: InstanceState) -> SendGossip:
    """Everything this node can tell a peer: packages, counted votes with their shares, and
    the evidence about this prestate (what `GossipTick` sends; also usable to answer a peer
    that asks)."""
    own = state.own_vote
    shares: list[WitnessShare] = []
    for witness in sorted(state.votes):
        vote = state.votes[witness]
        if witness in state.equivocators:
            continue
        if vote != own:
            shares.append(WitnessShare(witness, vote.result_id, vote.prestate_hash))
            continue
        for pid in sorted(state.shares):
            share = state.shares[pid].get(witness)
            if share is not None:
                shares.append(WitnessShare(witness, vote.result_id, vote.prestate_hash, pid, share))
    return SendGossip(
        tuple(state.packages[pid].package for pid in sorted(state.packages)),
        tuple(shares),
        _delta(state),
    )


# ------------------------------------------------------------------------------- handlers


def _start(state: InstanceState, event: Start) -> Step:
    if state.phase is not Phase.PENDING:
        raise InvalidTransition(f"{state.consensus_id} already started")
    if type(event.initiator) is not bool:
        raise InvalidArgument("initiator is a bool")
    cached = dict(event.cached_commitments)
    if cached and not event.initiator:
        raise InvalidArgument("only the initiator brings cached nonce commitments")
    encodings = [_check_commitment(state, w, c) for w, c in cached.items()]
    if len(set(encodings)) != len(encodings):
        raise NonceReuse("two witnesses offered the same nonce commitment")
    started = attrs.evolve(
        state, phase=Phase.FAST_PATH, initiator=event.initiator, commitments=cached
    )
    actions: list[Action] = []
    if event.initiator:
        started, info = _form_package(started)
        evidence = _delta(started)
        actions.append(
            SendExecute(
                started.params.witnesses.authorities,
                started.params,
                None if info is None else info.package,
                evidence,
            )
        )
    actions += [StartTimer(Timer.FALLBACK), StartTimer(Timer.DEADLINE)]
    return Step(started, tuple(actions))


def _nonce_commit(state: InstanceState, event: NonceCommitReceived) -> Step:
    _require_active(state, "nonce commitment")
    if not state.initiator:
        raise InvalidTransition("only the initiator collects nonce commitments")
    _check_commitment(state, event.witness, event.commitments)
    if state.commitments.get(event.witness) == event.commitments:
        return Step(state, ())
    held = attrs.evolve(state, commitments={**state.commitments, event.witness: event.commitments})
    formed, info = _form_package(held)
    if info is None:
        return Step(formed, ())
    return Step(formed, (SendSignRequest(info.signers, info.package),))


def _package(state: InstanceState, event: SigningPackageReceived) -> Step:
    _require_active(state, "signing package")
    return _try_commit(_accept_package(state, event.package), [])


def _share(state: InstanceState, event: ShareReceived) -> Step:
    _require_active(state, "share")
    applied, actions = _apply_share(state, event.share)
    return _try_commit(applied, list(actions))


def _mismatch(state: InstanceState, event: StateMismatchReceived) -> Step:
    _require_active(state, "state mismatch")
    witness = _check_witness(state, event.witness)
    if type(event.actual_prestate_hash) is not Hash32:
        raise InvalidArgument("a mismatch names the witness's prestate hash")
    if event.actual_prestate_hash == state.params.prestate_hash:
        raise InvalidArgument(f"{witness} reports a mismatch with the same prestate hash")
    if state.mismatches.get(witness) == event.actual_prestate_hash:
        return Step(state, ())
    return Step(
        attrs.evolve(
            state,
            mismatches={**state.mismatches, witness: event.actual_prestate_hash},
            commitments={w: c for w, c in state.commitments.items() if w != witness},
        ),
        (),
    )


def _fallback(state: InstanceState, _: FallbackTimeout) -> Step:
    if state.phase is not Phase.FAST_PATH:
        raise InvalidTransition(f"fallback is entered only from the fast path, not {state.phase}")
    fallen = attrs.evolve(state, phase=Phase.FALLBACK)
    actions: list[Action] = [StartTimer(Timer.GOSSIP), gossip(fallen)]
    if fallen.initiator:
        actions.append(RequestNonces(eligible_witnesses(fallen)))
    return Step(fallen, tuple(actions))


def _gossip_tick(state: InstanceState, _: GossipTick) -> Step:
    if state.phase is not Phase.FALLBACK:
        raise InvalidTransition(f"gossip runs only in fallback, not {state.phase}")
    return Step(state, (gossip(state), StartTimer(Timer.GOSSIP)))


def _gossip_received(state: InstanceState, event: GossipReceived) -> Step:
    _require_active(state, "gossip")
    if type(event.packages) is not tuple or type(event.shares) is not tuple:
        raise InvalidArgument("gossip carries tuples of packages and shares")
    current = _merge_evidence(state, event.evidence)
    actions: list[Action] = []
    for package in event.packages:
        try:
            current = _accept_package(current, package)
        except (ConsensusError, CryptoError, InvalidArgument) as exc:
            actions.append(Rejected(exc))
    for share in event.shares:
        try:
            current, more = _apply_share(current, share)
        except (ConsensusError, CryptoError, InvalidArgument) as exc:
            actions.append(Rejected(exc))
        else:
            actions += more
    return _try_commit(current, actions)


def _evidence(state: InstanceState, event: EvidenceReceived) -> Step:
    return Step(_merge_evidence(state, event.evidence), ())


def _commit_received(state: InstanceState, event: CommitReceived) -> Step:
    state.params.check_commit(event.fact)
    if state.phase is Phase.COMMITTED:
        return Step(state, ())  # the first decision stands; an equal or sibling one adds nothing
    committed = attrs.evolve(state, phase=Phase.COMMITTED, commit=event.fact, failure=None)
    return Step(committed, (Decided(event.fact), *_ALL_TIMERS))


def _fail(state: InstanceState, reason: FailureReason) -> Step:
    failed = attrs.evolve(state, phase=Phase.FAILED, failure=reason)
    return Step(failed, (InstanceFailed(reason), *_ALL_TIMERS))


def _deadline(state: InstanceState, _: DeadlineExpired) -> Step:
    _require_active(state, "deadline")
    return _fail(state, FailureReason.TIMEOUT)


def _cancel(state: InstanceState, _: Cancel) -> Step:
    if state.phase in (Phase.COMMITTED, Phase.FAILED):
        raise InvalidTransition(f"{state.consensus_id} is already {state.phase.value}")
    return _fail(state, FailureReason.CANCELLED)


_HANDLERS: dict[type[Any], Callable[[InstanceState, Any], Step]] = {
    Start: _start,
    NonceCommitReceived: _nonce_commit,
    SigningPackageReceived: _package,
    ShareReceived: _share,
    StateMismatchReceived: _mismatch,
    FallbackTimeout: _fallback,
    GossipTick: _gossip_tick,
    GossipReceived: _gossip_received,
    EvidenceReceived: _evidence,
    CommitReceived: _commit_received,
    DeadlineExpired: _deadline,
    Cancel: _cancel,
}
