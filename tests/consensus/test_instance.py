"""The instance state machine, scenario by scenario: fast path, pipelining, fallback, gossip,
equivocation, invalid shares, commits from others, deadlines, and refused input."""

from __future__ import annotations

import attrs
import pytest

from aura_consensus.events import (
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
    RequestNonces,
    SendExecute,
    SendGossip,
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
from aura_consensus.instance import Phase, apply_share, gossip, new_instance, step
from aura_consensus.nonces import NonceRegistry
from aura_consensus.params import ConsensusParams
from aura_core.crypto import frost
from aura_core.errors import (
    AlreadyVoted,
    ConflictingShare,
    InstanceNotActive,
    InvalidArgument,
    InvalidCommitFact,
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
from aura_core.ids import AuthorityId
from tests.consensus.support import (
    Group,
    HonestWitness,
    authority,
    fresh_seed,
    group,
    honest,
    sign_requests,
    snapshot,
)
from tests.core.crypto.frost_support import corrupt

OTHER = Hash32.of(b"another result")


class Run:
    """An initiator instance driven by honest witnesses, for the scenarios below."""

    def __init__(self, g: Group, params: ConsensusParams | None = None) -> None:
        self.g = g
        self.params = params or g.params()
        self.witnesses = honest(g)
        self.state = new_instance(self.params, g.public)
        self.actions: list[object] = []

    def feed(self, event: Event) -> tuple[object, ...]:
        self.state, actions = step(self.state, event)
        self.actions += actions
        return actions

    def start(self) -> tuple[object, ...]:
        return self.feed(Start(initiator=True))

    def commit_nonce(self, who: AuthorityId) -> tuple[object, ...]:
        return self.feed(NonceCommitReceived(who, self.witnesses[who].commit()))

    def sign(self, who: AuthorityId, package: frost.SigningPackage) -> WitnessShare:
        return self.witnesses[who].sign(self.params, package)

    def only_package(self) -> frost.SigningPackage:
        (request,) = sign_requests(self.actions)
        return request.package


def test_fast_path_commits_a_verified_fact() -> None:
    g = group(2, 3)
    run = Run(g)
    actions = run.start()
    assert run.state.phase is Phase.FAST_PATH
    assert actions == (
        SendExecute(g.authorities, run.params, None, Evidence()),
        StartTimer(Timer.FALLBACK),
        StartTimer(Timer.DEADLINE),
    )
    a, b, c = g.authorities
    assert run.commit_nonce(a) == ()
    (request,) = sign_requests(run.commit_nonce(b))
    assert request.to == (a, b)
    assert run.commit_nonce(c) == ()  # the fast path forms one package
    assert run.feed(ShareReceived(run.sign(a, request.package))) == ()
    actions = run.feed(ShareReceived(run.sign(b, request.package)))
    fact = run.state.commit
    assert fact is not None and run.state.phase is Phase.COMMITTED
    assert actions == (
        BroadcastCommit(fact, Evidence()),
        Decided(fact),
        CancelTimer(Timer.FALLBACK),
        CancelTimer(Timer.GOSSIP),
        CancelTimer(Timer.DEADLINE),
    )
    fact.verify(g.public.group_public_key)
    assert fact.participants == (a, b) and fact.fast_path
    assert fact.consensus_id == run.params.consensus_id
    assert fact.result_id == run.params.result_id
    # a late share changes nothing: the instance is closed
    with pytest.raises(InstanceNotActive):
        step(run.state, ShareReceived(WitnessShare(c, run.params.result_id, Hash32.zero())))


def test_pipelined_start_puts_the_package_in_execute() -> None:
    g = group(3, 4)
    run = Run(g)
    registry = NonceRegistry(epoch=5)
    for w in g.authorities:
        registry = registry.offer(5, w, run.witnesses[w].commit())
    assert registry.can_pipeline(g.authorities, 3)
    cached, registry = registry.take(5, g.authorities)
    actions = run.feed(Start(initiator=True, cached_commitments=cached))
    execute = actions[0]
    assert isinstance(execute, SendExecute) and execute.package is not None
    signers = run.params.describe_package(execute.package).signers
    assert len(signers) == 3
    for w in signers:
        run.feed(ShareReceived(run.sign(w, execute.package)))
    assert run.state.commit is not None and run.state.commit.participants == signers
    # the registry hands each commitment out once
    assert not registry.can_pipeline(g.authorities, 1)
    with pytest.raises(NonceReuse):
        registry.offer(5, g.authorities[0], cached[g.authorities[0]])


def test_a_witness_commits_from_gossip_alone() -> None:
    g = group(2, 3)
    run = Run(g)
    observer = new_instance(run.params, g.public)
    observer, actions = step(observer, Start())
    assert actions == (StartTimer(Timer.FALLBACK), StartTimer(Timer.DEADLINE))
    run.start()
    a, b, _ = g.authorities
    run.commit_nonce(a)
    run.commit_nonce(b)
    package = run.only_package()
    run.feed(ShareReceived(run.sign(a, package)))
    run.feed(ShareReceived(run.sign(b, package)))
    assert run.state.commit is not None
    # the observer learns packages and shares by gossip and aggregates on its own
    payload = gossip(run.state)
    observer, actions = step(
        observer, GossipReceived(payload.packages, payload.shares, payload.evidence)
    )
    assert observer.commit is not None and observer.commit.participants == (a, b)
    observer.commit.verify(g.public.group_public_key)
    assert Decided(observer.commit) in actions
    assert observer.commit.consensus_id == run.state.commit.consensus_id


def test_fallback_forms_a_new_package_without_the_stalled_signer() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, c = g.authorities
    run.commit_nonce(a)
    run.commit_nonce(b)
    first = run.only_package()
    run.feed(ShareReceived(run.sign(a, first)))  # b never answers
    actions = run.feed(FallbackTimeout())
    assert run.state.phase is Phase.FALLBACK
    assert StartTimer(Timer.GOSSIP) in actions and RequestNonces((a, b, c)) in actions
    assert any(isinstance(x, SendGossip) for x in actions)
    with pytest.raises(InvalidTransition):  # fallback only from the fast path
        step(run.state, FallbackTimeout())
    gossip_actions = run.feed(GossipTick())
    assert gossip_actions[1] == StartTimer(Timer.GOSSIP)
    run.commit_nonce(a)
    (second,) = sign_requests(run.commit_nonce(c))
    assert second.to == (a, c)
    run.feed(ShareReceived(run.sign(a, second.package)))  # same vote, a second share
    run.feed(ShareReceived(run.sign(c, second.package)))
    fact = run.state.commit
    assert fact is not None and fact.participants == (a, c) and not fact.fast_path
    fact.verify(g.public.group_public_key)


def test_an_equivocator_is_recorded_excluded_and_never_counted() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, c = g.authorities
    run.commit_nonce(a)
    run.commit_nonce(b)
    package = run.only_package()
    run.feed(ShareReceived(run.sign(a, package)))
    # a also votes for another result on the same prestate
    actions = run.feed(ShareReceived(WitnessShare(a, OTHER, run.params.prestate_hash)))
    proof = EquivocationProof.of(
        a, run.params.consensus_id, run.params.prestate_hash, run.params.result_id, OTHER
    )
    assert actions == (EquivocationDetected(proof),)
    assert a in run.state.equivocators and proof in run.state.evidence
    assert a not in run.state.counted(run.state.own_vote)
    run.feed(ShareReceived(run.sign(b, package)))
    assert run.state.commit is None  # the package needs a, which is excluded
    with pytest.raises(KnownEquivocator):
        step(run.state, ShareReceived(WitnessShare(a, run.params.result_id, Hash32.zero())))
    run.feed(FallbackTimeout())
    assert RequestNonces((b, c)) in run.actions  # a is not asked again
    with pytest.raises(KnownEquivocator):
        step(run.state, NonceCommitReceived(a, run.witnesses[a].commit()))
    run.commit_nonce(b)
    (request,) = sign_requests(run.commit_nonce(c))
    run.feed(ShareReceived(run.sign(b, request.package)))
    run.feed(ShareReceived(run.sign(c, request.package)))
    assert run.state.commit is not None and run.state.commit.participants == (b, c)


def test_an_invalid_share_is_rejected_and_can_be_replaced() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, _ = g.authorities
    run.commit_nonce(a)
    run.commit_nonce(b)
    package = run.only_package()
    good_b = run.sign(b, package)
    run.feed(ShareReceived(run.sign(a, package)))
    assert good_b.share is not None
    forged = attrs.evolve(good_b, share=corrupt(good_b.share))
    actions = run.feed(ShareReceived(forged))
    pid = run.params.describe_package(package).package_id
    assert actions == (SharesRejected(pid, (b,)),)
    assert run.state.commit is None and b not in run.state.shares[pid]
    run.feed(ShareReceived(good_b))
    assert run.state.commit is not None


def test_commits_are_accepted_from_anyone_once() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, c = g.authorities
    for w in (a, b):
        run.commit_nonce(w)
    package = run.only_package()
    for w in (a, b):
        run.feed(ShareReceived(run.sign(w, package)))
    fact = run.state.commit
    assert fact is not None
    follower = new_instance(run.params, g.public)
    follower, actions = step(follower, CommitReceived(fact))  # even before Start
    assert follower.phase is Phase.COMMITTED and follower.commit == fact
    assert actions[0] == Decided(fact)
    # a sibling commit (another package) is valid but adds nothing
    rounds = {w: frost.commit(g.key_packages[w], fresh_seed()) for w in (b, c)}
    sibling_package = frost.signing_package(
        {g.witnesses.signer_of(w): cm for w, (_, cm) in rounds.items()},
        run.params.transcript((b, c), False),
    )
    shares = {
        g.witnesses.signer_of(w): frost.sign(sibling_package, n, g.key_packages[w])
        for w, (n, _) in rounds.items()
    }
    sibling = run.params.commit_fact(
        (b, c), False, frost.aggregate(sibling_package, shares, g.public)
    )
    again, actions = step(follower, CommitReceived(sibling))
    assert again is follower and actions == ()
    tampered = attrs.evolve(fact, fast_path=not fact.fast_path)
    for state in (follower, new_instance(run.params, g.public)):
        before = snapshot(state)
        with pytest.raises(InvalidCommitFact):
            step(state, CommitReceived(tampered))
        assert snapshot(state) == before
    with pytest.raises(WrongInstance):
        step(new_instance(g.params(nonce=9), g.public), CommitReceived(fact))


def test_the_deadline_fails_the_instance_but_a_commit_still_counts() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    actions = run.feed(DeadlineExpired())
    assert run.state.phase is Phase.FAILED and run.state.failure is FailureReason.TIMEOUT
    assert actions[0] == InstanceFailed(FailureReason.TIMEOUT)
    with pytest.raises(InstanceNotActive):
        step(
            run.state,
            NonceCommitReceived(g.authorities[0], run.witnesses[g.authorities[0]].commit()),
        )
    with pytest.raises(InvalidTransition):
        step(run.state, Cancel())
    other = Run(g)
    other.start()
    for w in g.authorities[:2]:
        other.commit_nonce(w)
    package = other.only_package()
    for w in g.authorities[:2]:
        other.feed(ShareReceived(other.sign(w, package)))
    assert other.state.commit is not None
    late, actions = step(run.state, CommitReceived(other.state.commit))
    assert late.phase is Phase.COMMITTED and late.failure is None
    assert Decided(other.state.commit) in actions


def test_cancel() -> None:
    g = group(2, 3)
    state = new_instance(g.params(), g.public)
    cancelled, actions = step(state, Cancel())
    assert cancelled.phase is Phase.FAILED and cancelled.failure is FailureReason.CANCELLED
    assert InstanceFailed(FailureReason.CANCELLED) in actions


def test_evidence_from_elsewhere_excludes_a_witness() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, _ = g.authorities
    run.commit_nonce(a)
    run.commit_nonce(b)
    package = run.only_package()
    run.feed(ShareReceived(run.sign(a, package)))
    elsewhere = EquivocationProof.of(
        a,
        g.params(nonce=77).consensus_id,  # recorded in another instance on this prestate
        run.params.prestate_hash,
        Hash32.of(b"x"),
        Hash32.of(b"y"),
    )
    unrelated = EquivocationProof.of(  # another instance, another prestate
        b, g.params(nonce=78).consensus_id, OTHER, OTHER, Hash32.zero()
    )
    run.feed(EvidenceReceived(Evidence.of([elsewhere, unrelated])))
    assert run.state.equivocators == {a}  # b's proof is about another prestate
    assert a not in run.state.shares[run.params.describe_package(package).package_id]
    assert elsewhere in run.state.evidence and unrelated in run.state.evidence


def test_a_state_mismatch_keeps_the_witness_out_of_new_packages() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, c = g.authorities
    run.feed(StateMismatchReceived(b, Hash32.of(b"their prestate")))
    assert run.state.mismatches == {b: Hash32.of(b"their prestate")}
    run.commit_nonce(a)
    run.feed(NonceCommitReceived(b, run.witnesses[b].commit()))  # ignored for packages
    assert sign_requests(run.actions) == []
    (request,) = sign_requests(run.commit_nonce(c))
    assert request.to == (a, c)


def test_votes_for_another_prestate_or_result_are_tallied_but_never_committed() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, c = g.authorities
    for w in (a, b, c):
        run.feed(ShareReceived(WitnessShare(w, OTHER, run.params.prestate_hash)))
    tally = run.state.tally()
    assert tally[attrs.evolve(run.state.own_vote, result_id=OTHER)] == {a, b, c}
    assert run.state.commit is None and run.state.phase is Phase.FAST_PATH
    with pytest.raises(AlreadyVoted):
        step(run.state, ShareReceived(WitnessShare(a, OTHER, Hash32.of(b"elsewhere"))))


def test_new_instance_checks_the_group() -> None:
    g, other = group(2, 3), group(2, 3, "other")
    with pytest.raises(InvalidWitnessSet):
        new_instance(g.params(), other.public)  # other identifiers' key, other group key
    params = ConsensusParams(Hash32.zero(), b"op", 1, g.witnesses, other.public.group_public_key)
    with pytest.raises(InvalidWitnessSet):
        new_instance(params, g.public)
    with pytest.raises(InvalidArgument):
        new_instance("params", g.public)  # type: ignore[arg-type]


# ----------------------------------------------------------------- refused input, state kept


def _started(g: Group) -> Run:
    run = Run(g)
    run.start()
    a, b, _ = g.authorities
    run.commit_nonce(a)
    run.commit_nonce(b)
    run.feed(ShareReceived(run.sign(a, run.only_package())))
    return run


def _bad_events(run: Run) -> list[tuple[str, Event, type[Exception]]]:
    g, p = run.g, run.params
    a, b, c = g.authorities
    package = run.only_package()
    pid = p.describe_package(package).package_id
    a_share = run.state.shares[pid][a]
    other_package = frost.signing_package(
        {
            g.witnesses.signer_of(w): frost.commit(g.key_packages[w], fresh_seed())[1]
            for w in (b, c)
        },
        b"not the transcript",
    )
    stranger = authority("stranger")
    reused = run.state.packages[pid].package.commitments[g.witnesses.signer_of(a)]
    return [
        (
            "unknown witness",
            ShareReceived(WitnessShare(stranger, p.result_id, p.prestate_hash, pid, a_share)),
            UnknownWitness,
        ),
        (
            "vote on another prestate",
            ShareReceived(WitnessShare(a, p.result_id, OTHER)),
            AlreadyVoted,
        ),
        (
            "own vote without share",
            ShareReceived(WitnessShare(b, p.result_id, p.prestate_hash)),
            MissingShare,
        ),
        (
            "unknown package",
            ShareReceived(WitnessShare(b, p.result_id, p.prestate_hash, OTHER, a_share)),
            UnknownSigningPackage,
        ),
        (
            "not a signer",
            ShareReceived(WitnessShare(c, p.result_id, p.prestate_hash, pid, a_share)),
            InvalidSigningPackage,
        ),
        (
            "conflicting share",
            ShareReceived(WitnessShare(a, p.result_id, p.prestate_hash, pid, corrupt(a_share))),
            ConflictingShare,
        ),
        ("reused commitment", NonceCommitReceived(c, reused), NonceReuse),
        (
            "package for another message",
            SigningPackageReceived(other_package),
            InvalidSigningPackage,
        ),
        ("start twice", Start(initiator=True), InvalidTransition),
        ("gossip tick on the fast path", GossipTick(), InvalidTransition),
        (
            "mismatch naming our prestate",
            StateMismatchReceived(c, p.prestate_hash),
            InvalidArgument,
        ),
        ("not an event", "share", InvalidArgument),  # type: ignore[list-item]
        ("share of the wrong type", ShareReceived("share"), InvalidArgument),  # type: ignore[arg-type]
        ("gossip of a list", GossipReceived([package], (), Evidence()), InvalidArgument),  # type: ignore[arg-type]
        ("evidence of the wrong type", EvidenceReceived("proofs"), InvalidArgument),  # type: ignore[arg-type]
    ]


BAD_NAMES = [name for name, _, _ in _bad_events(_started(group(2, 3)))]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_refused_events_raise_typed_errors_and_change_nothing(name: str) -> None:
    run = _started(group(2, 3))
    (event, error) = next((e, err) for n, e, err in _bad_events(run) if n == name)
    before = snapshot(run.state)
    with pytest.raises(error):
        step(run.state, event)
    assert snapshot(run.state) == before


def _pending_events(g: Group) -> list[Event]:
    a = g.authorities[0]
    witness = HonestWitness(a, g.key_packages[a])
    package = frost.signing_package(
        {g.witnesses.signer_of(a): witness.commit()}, g.params().transcript([a], True)
    )
    return [
        FallbackTimeout(),
        DeadlineExpired(),
        GossipTick(),
        SigningPackageReceived(package),
        NonceCommitReceived(a, witness.commit()),
        ShareReceived(WitnessShare(a, OTHER, Hash32.zero())),
        GossipReceived(),
    ]


@pytest.mark.parametrize("index", range(len(_pending_events(group(2, 3)))))
def test_a_pending_instance_refuses_running_events(index: int) -> None:
    g = group(2, 3)
    state = new_instance(g.params(), g.public)
    before = snapshot(state)
    with pytest.raises(InvalidTransition):  # InstanceNotActive is one
        step(state, _pending_events(g)[index])
    assert snapshot(state) == before


def test_a_non_initiator_collects_no_commitments() -> None:
    g = group(2, 3)
    state, _ = step(new_instance(g.params(), g.public), Start())
    before = snapshot(state)
    witness = HonestWitness(g.authorities[0], g.key_packages[g.authorities[0]])
    with pytest.raises(InvalidTransition):
        step(state, NonceCommitReceived(g.authorities[0], witness.commit()))
    with pytest.raises(InvalidArgument):
        step(
            new_instance(g.params(), g.public),
            Start(cached_commitments={g.authorities[0]: witness.commit()}),
        )
    assert snapshot(state) == before


def test_apply_share_is_the_share_event() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, _ = g.authorities
    run.commit_nonce(a)
    run.commit_nonce(b)
    package = run.only_package()
    share = run.sign(a, package)
    by_event = step(run.state, ShareReceived(share))
    by_function = apply_share(
        run.state,
        share.witness,
        share.result_id,
        share.prestate_hash,
        package_id=share.package_id,
        share=share.share,
    )
    assert snapshot(by_event.state) == snapshot(by_function.state)
    assert by_event.actions == by_function.actions
    with pytest.raises(UnknownWitness):
        apply_share(run.state, authority("nobody"), share.result_id, share.prestate_hash)
