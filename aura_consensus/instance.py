"""The consensus instance: a pure state machine over signed votes, signing packages and shares.

    state = new_instance(params, public_key_package)
    state, actions = step(state, Start(initiator=True))
    ...

`step` never mutates its argument: on bad input it raises a typed error and the caller still
holds the unchanged state; otherwise it returns the next state and the actions to perform.

Phases: PENDING → (Start) FAST_PATH → (FallbackTimeout) FALLBACK; COMMITTED and FAILED are
final (except that a valid `Commit` received by a node that gave up still records the
decision: the commit exists whether or not this node waited for it).

An instance belongs to one round of its prestate (`params.round`: 0 for a proposal, r ≥ 1
for an instance a round leader started; `aura_consensus.rounds`). Its signing packages name
`fast_quorum` witnesses in round 0 and t in later rounds, and sign a transcript that includes
the round.

Votes. Every vote is a signed statement (`aura_consensus.statements`) and is believed only if
it verifies under its witness's key in the witness set, wherever it came from: a forged or
replayed one is refused (`ForgedStatement`, `StaleStatement`), so relayed votes are as good as
direct ones. A vote for another prestate or round is not this instance's (`WrongInstance`).
Each witness's first vote in the instance fixes its choice; a later vote for another result
makes it an *equivocator*: the two signed votes form an `EquivocationProof` that enters the
evidence, and the witness is never counted again (its shares are dropped, anything it sends
later is refused with `KnownEquivocator`). Evidence received from elsewhere excludes witnesses
the same way when its proofs are about this instance's prestate; each new proof is verified
first and a forged one is reported (`Rejected(ForgedEvidence)`), never believed.

Commit. Votes are tallied per result id. The instance commits when every signer of one of its
signing packages has a counted vote for the instance's own result and has sent its signature
share for that package (the vote's attachment names the share, so nobody can pair a
witness's vote with a share it did not make): the shares are aggregated (FROST) into the
threshold signature of the `CommitFact`. So a commit always has at least t distinct,
non-equivocating attesters, and an instance commits at most once. Votes for other results are
tallied but never committed here: a node can only form the transcript of the operation it was
given. Shares FROST finds invalid are dropped (`SharesRejected`).
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
from aura_consensus.statements import LockCertificate, SignedVote, share_digest
from aura_core.crypto import frost
from aura_core.encoding import encode
from aura_core.errors import (
    ConflictingShare,
    ConsensusError,
    CryptoError,
    ForgedEvidence,
    ForgedStatement,
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
    WrongInstance,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ConsensusId

__all__ = [
    "Phase",
    "InstanceState",
    "Step",
    "new_instance",
    "step",
    "gossip",
    "eligible_witnesses",
    "lock_certificate",
]


class Phase(enum.Enum):
    PENDING = "pending"
    FAST_PATH = "fast_path"
    FALLBACK = "fallback"
    COMMITTED = "committed"
    FAILED = "failed"


_ACTIVE = (Phase.FAST_PATH, Phase.FALLBACK)
_ALL_TIMERS = (CancelTimer(Timer.FALLBACK), CancelTimer(Timer.GOSSIP), CancelTimer(Timer.DEADLINE))
_RELAY_ERRORS = (ConsensusError, CryptoError, InvalidArgument)


@attrs.frozen
class InstanceState:
    """Everything one node knows about one instance. Treat as immutable; build the first one
    with `new_instance` and every later one with `step`."""

    params: ConsensusParams
    public_key_package: frost.PublicKeyPackage
    phase: Phase = Phase.PENDING
    initiator: bool = False
    votes: Mapping[AuthorityId, SignedVote] = attrs.field(factory=dict)
    """Each witness's first verified vote in this round of this prestate (kept for
    equivocators too, so they stay refused)."""
    packages: Mapping[Hash32, PackageInfo] = attrs.field(factory=dict)
    """Signing packages of this instance, by package id."""
    shares: Mapping[Hash32, Mapping[AuthorityId, WitnessShare]] = attrs.field(factory=dict)
    """Package id → witness → its signed vote with the signature share (counted witnesses)."""
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
    def round(self) -> int:
        return self.params.round

    @property
    def is_active(self) -> bool:
        return self.phase in _ACTIVE

    @property
    def own_result(self) -> Hash32:
        """The result honest witnesses vote for here: `params.result_id`."""
        return self.params.result_id

    def counted(self, result_id: Hash32) -> frozenset[AuthorityId]:
        """The non-equivocating witnesses that voted for `result_id`."""
        return frozenset(
            w
            for w, v in self.votes.items()
            if v.result_id == result_id and w not in self.equivocators
        )

    def tally(self) -> dict[Hash32, frozenset[AuthorityId]]:
        """Counted voters per result id."""
        return {rid: self.counted(rid) for rid in {v.result_id for v in self.votes.values()}}


class Step(NamedTuple):
    """The outcome of one event."""

    state: InstanceState
    actions: tuple[Action, ...]


def new_instance(
    params: ConsensusParams, public_key_package: frost.PublicKeyPackage
) -> InstanceState:
    """A PENDING instance. `public_key_package` is the witnesses' FROST group (every node that
    aggregates needs it); it must hold every witness's identifier, sign under
    `params.group_public_key`, and need no more than t shares. The witness set must carry
    every witness's vote key."""
    if type(params) is not ConsensusParams:
        raise InvalidArgument("expected ConsensusParams")
    if not params.witnesses.has_keys:
        raise InvalidWitnessSet(f"{params.consensus_id}: the witnesses carry no vote keys")
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


def lock_certificate(state: InstanceState) -> LockCertificate | None:
    """(Round r ≥ 1) t counted votes for the instance's own result: what a signer of one of
    its packages must see before it gives its share. None in round 0 or below t votes."""
    voters = sorted(state.counted(state.own_result))
    if state.round == 0 or len(voters) < state.threshold:
        return None
    return LockCertificate.of(state.votes[w] for w in voters[: state.threshold])


# -------------------------------------------------------------------------------- helpers


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
    """Witnesses that may still usefully sign: not equivocators, no mismatch, no vote for
    another result (whom the initiator asks for fresh nonce commitments in fallback)."""
    own = state.own_result
    return tuple(
        w
        for w in state.params.witnesses.authorities
        if w not in state.equivocators
        and w not in state.mismatches
        and (w not in state.votes or state.votes[w].result_id == own)
    )


def _form_package(state: InstanceState) -> tuple[InstanceState, PackageInfo | None]:
    """(Initiator) Form a signing package from unused commitments: once on the fast path, and
    again whenever enough fresh ones are held during fallback. Round 0 packages name exactly
    `fast_quorum` witnesses; later rounds name exactly t witnesses that voted for the
    instance's result in the round (their votes are the package's lock certificate).
    Witnesses that left fewer earlier packages unsigned go first, then by authority id."""
    if not state.initiator or (state.phase is Phase.FAST_PATH and state.packages):
        return state, None
    eligible = set(eligible_witnesses(state))
    ready = [w for w in state.commitments if w in eligible]
    witnesses = state.params.witnesses
    if state.round == 0:
        size = witnesses.fast_quorum
    else:
        size = state.threshold
        voters = state.counted(state.own_result)
        ready = [w for w in ready if w in voters]
    if len(ready) < size:
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
    signers = tuple(sorted(sorted(ready, key=lambda w: (misses[w], w))[:size]))
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
    return state.evidence.about(state.params.prestate_hash)


def _merge_evidence(state: InstanceState, evidence: object) -> Step:
    """Join the proofs about this prestate that verify; report each forged one."""
    if type(evidence) is not Evidence:
        raise InvalidArgument("expected Evidence")
    params = state.params
    fresh = sorted(
        (
            p
            for p in evidence.proofs
            if p.prestate_hash == params.prestate_hash and p not in state.evidence
        ),
        key=encode,
    )
    if not fresh:
        return Step(state, ())
    valid: list[EquivocationProof] = []
    rejected: list[Action] = []
    for proof in fresh:
        try:
            proof.verify(params.witnesses, params.group_public_key)
        except ForgedEvidence as exc:
            rejected.append(Rejected(exc))
        else:
            valid.append(proof)
    joined = state.evidence.join(Evidence.of(valid))
    if joined is state.evidence:
        return Step(state, tuple(rejected))
    proven = joined.equivocators(params.prestate_hash) & set(params.witnesses.authorities)
    return Step(_exclude(attrs.evolve(state, evidence=joined), proven), tuple(rejected))


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
    """The vote rules for one signed vote, with its share if it carries one (no commit
    check)."""
    if type(share) is not WitnessShare or type(share.vote) is not SignedVote:
        raise InvalidArgument("expected a WitnessShare holding a SignedVote")
    params = state.params
    vote = share.vote.vote
    if vote.prestate_hash != params.prestate_hash or vote.round != params.round:
        raise WrongInstance(f"a vote on another prestate or round than {state.consensus_id}'s")
    witness = _check_witness(state, vote.witness)
    held = state.votes.get(witness)
    if held == share.vote and share.share is None:
        return Step(state, ())  # a vote seen before (gossip repeats them)
    share.vote.verify(params.witnesses, params.group_public_key)
    if (share.share is None) != (share.package_id is None):
        raise MissingShare(f"{witness}'s vote names a package but carries no share, or not")
    if share.share is not None:
        if not isinstance(share.share, frost.SignatureShare) or type(share.package_id) is not (
            Hash32
        ):
            raise InvalidArgument("expected a frost.SignatureShare and its package id")
        if vote.attachment != share_digest(share.package_id, share.share):
            raise ForgedStatement(f"a share {witness} did not sign, under its vote")
    if held is not None and held.result_id != vote.result_id:
        proof = EquivocationProof.of(held, share.vote)
        excluded = _exclude(attrs.evolve(state, evidence=state.evidence.add(proof)), [witness])
        return Step(excluded, (EquivocationDetected(proof),))
    votes = state.votes if held is not None else {**state.votes, witness: share.vote}
    if vote.result_id != state.own_result or share.share is None or share.package_id is None:
        return Step(state if held is not None else attrs.evolve(state, votes=votes), ())
    info = state.packages.get(share.package_id)
    if info is None:
        raise UnknownSigningPackage(f"{state.consensus_id}: no package {share.package_id}")
    if witness not in info.signers:
        raise InvalidSigningPackage(f"{witness} is not a signer of package {share.package_id}")
    held_shares = state.shares.get(share.package_id, {})
    existing = held_shares.get(witness)
    if existing is not None:
        if existing.share != share.share:
            raise ConflictingShare(f"{witness} sent two shares for one package")
        return Step(state, ())
    shares = {**state.shares, share.package_id: {**held_shares, witness: share}}
    return Step(attrs.evolve(state, votes=votes, shares=shares), ())


def _try_commit(state: InstanceState, actions: list[Action]) -> Step:
    """Aggregate the first complete package (in package-id order), if any."""
    if not state.is_active:
        return Step(state, tuple(actions))
    own = state.own_result
    witnesses = state.params.witnesses
    for pid in sorted(state.packages):
        info = state.packages[pid]
        held = state.shares.get(pid, {})
        shares = {
            witnesses.signer_of(w): held[w].share
            for w in info.signers
            if w in held and w not in state.equivocators and state.votes[w].result_id == own
        }
        complete = {i: s for i, s in shares.items() if s is not None}
        if len(complete) < len(info.signers):
            continue
        try:
            signature = frost.aggregate(info.package, complete, state.public_key_package)
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
    """Everything this node can tell a peer: packages, counted votes (with their shares), and
    the evidence about this prestate (what `GossipTick` sends; also usable to answer a peer
    that asks)."""
    shares: list[WitnessShare] = []
    for witness in sorted(state.votes):
        if witness in state.equivocators:
            continue
        shares.append(WitnessShare(state.votes[witness]))
        for pid in sorted(state.shares):
            held = state.shares[pid].get(witness)
            if held is not None:
                shares.append(held)
    return SendGossip(
        tuple(state.packages[pid].package for pid in sorted(state.packages)),
        tuple(shares),
        _delta(state),
    )


# -------------------------------------------------------------------------------- handlers


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
    if state.initiator and applied.round > 0 and applied is not state:
        # A round vote may complete the voters a package needs (their commitments came first).
        formed, info = _form_package(applied)
        if info is not None:
            return _try_commit(formed, [*actions, SendSignRequest(info.signers, info.package)])
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
    current, merged = _merge_evidence(state, event.evidence)
    actions: list[Action] = list(merged)
    for package in event.packages:
        try:
            current = _accept_package(current, package)
        except _RELAY_ERRORS as exc:
            actions.append(Rejected(exc))
    for share in event.shares:
        try:
            current, more = _apply_share(current, share)
        except _RELAY_ERRORS as exc:
            actions.append(Rejected(exc))
        else:
            actions += more
    return _try_commit(current, actions)


def _evidence(state: InstanceState, event: EvidenceReceived) -> Step:
    return _merge_evidence(state, event.evidence)


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
