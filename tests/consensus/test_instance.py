"""The instance state machine, scenario by scenario: fast path, pipelining, fallback, gossip,
equivocation, forged and invalid votes, shares and evidence, commits from others, deadlines,
and refused input."""

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
    Rejected,
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
from aura_consensus.instance import Phase, gossip, new_instance, step
from aura_consensus.nonces import NonceRegistry
from aura_consensus.params import ConsensusParams
from aura_consensus.statements import SignedVote, share_digest
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.errors import (
    ConflictingShare,
    ForgedEvidence,
    ForgedStatement,
    InstanceNotActive,
    InvalidArgument,
    InvalidCommitFact,
    InvalidSigningPackage,
    InvalidTransition,
    InvalidWitnessSet,
    KnownEquivocator,
    MissingShare,
    NonceReuse,
    StaleStatement,
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
    seed,
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
    # a late vote changes nothing: the instance is closed
    with pytest.raises(InstanceNotActive):
        step(run.state, ShareReceived(WitnessShare(g.vote(c, run.params))))


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
    first = run.state.votes[a]
    # a also signs a vote for another result on the same prestate, in the same round
    other = g.vote(a, run.params, result=OTHER)
    actions = run.feed(ShareReceived(WitnessShare(other)))
    proof = EquivocationProof.of(first, other)
    assert actions == (EquivocationDetected(proof),)
    proof.verify(g.witnesses, g.public.group_public_key)  # anyone can check it
    assert a in run.state.equivocators and proof in run.state.evidence
    assert a not in run.state.counted(run.state.own_result)
    run.feed(ShareReceived(run.sign(b, package)))
    assert run.state.commit is None  # the package needs a, which is excluded
    with pytest.raises(KnownEquivocator):
        step(run.state, ShareReceived(WitnessShare(g.vote(a, run.params))))
    run.feed(FallbackTimeout())
    assert RequestNonces((b, c)) in run.actions  # a is not asked again
    with pytest.raises(KnownEquivocator):
        step(run.state, NonceCommitReceived(a, run.witnesses[a].commit()))
    run.commit_nonce(b)
    (request,) = sign_requests(run.commit_nonce(c))
    run.feed(ShareReceived(run.sign(b, request.package)))
    run.feed(ShareReceived(run.sign(c, request.package)))
    assert run.state.commit is not None and run.state.commit.participants == (b, c)


def test_votes_in_another_round_are_not_a_double_vote() -> None:
    g = group(2, 3)
    run = Run(g)
    run.start()
    a = g.authorities[0]
    run.feed(ShareReceived(WitnessShare(g.vote(a, run.params))))
    later = g.params(round=1)  # the same prestate, a later round: another instance
    before = snapshot(run.state)
    with pytest.raises(WrongInstance):
        step(run.state, ShareReceived(WitnessShare(g.vote(a, later, result=OTHER))))
    assert snapshot(run.state) == before and run.state.equivocators == set()


def test_a_relayed_share_nobody_signed_is_refused_and_the_genuine_one_counts() -> None:
    """A relay pairs b's signed vote with a corrupted share: the vote's signature does not
    cover it, so it is refused as forged (b is not blamed) and b's real share still counts."""
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
    before = snapshot(run.state)
    with pytest.raises(ForgedStatement):
        step(run.state, ShareReceived(forged))
    assert snapshot(run.state) == before
    # in gossip it is one refused item among others
    state, actions = step(run.state, GossipReceived((), (forged,), Evidence()))
    assert [type(x.error) for x in actions if isinstance(x, Rejected)] == [ForgedStatement]
    assert snapshot(state) == before
    run.feed(ShareReceived(good_b))
    assert run.state.commit is not None and b not in run.state.equivocators


def test_a_share_its_witness_signed_but_frost_refuses_is_dropped() -> None:
    """A byzantine b signs its vote over a bad share: FROST names b, its share is dropped, and
    the good share it sends later still completes the package."""
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, _ = g.authorities
    run.commit_nonce(a)
    run.commit_nonce(b)
    package = run.only_package()
    good_b = run.sign(b, package)
    run.feed(ShareReceived(run.sign(a, package)))
    assert good_b.share is not None and good_b.package_id is not None
    bad = corrupt(good_b.share)
    signed_bad = g.vote(b, run.params, attachment=share_digest(good_b.package_id, bad))
    actions = run.feed(ShareReceived(WitnessShare(signed_bad, good_b.package_id, bad)))
    assert actions == (SharesRejected(good_b.package_id, (b,)),)
    assert run.state.commit is None and b not in run.state.shares[good_b.package_id]
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
    elsewhere = g.params(nonce=77)  # another instance on this prestate
    proof = EquivocationProof.of(
        g.vote(a, elsewhere, result=Hash32.of(b"x")), g.vote(a, elsewhere, result=Hash32.of(b"y"))
    )
    unrelated_params = g.params(nonce=78, prestate=OTHER)  # another prestate
    unrelated = EquivocationProof.of(
        g.vote(b, unrelated_params, result=OTHER), g.vote(b, unrelated_params)
    )
    run.feed(EvidenceReceived(Evidence.of([proof, unrelated])))
    assert run.state.equivocators == {a}  # b's proof is about another prestate
    assert a not in run.state.shares[run.params.describe_package(package).package_id]
    assert proof in run.state.evidence and unrelated not in run.state.evidence


def test_forged_evidence_is_refused_and_nobody_is_excluded() -> None:
    """Proofs whose votes the accused did not sign: one with a made-up signature, one mixing
    a's genuine vote with one signed by another key, one under another group. Each is
    reported as forged; the accused stays counted."""
    g = group(2, 3)
    run = Run(g)
    run.start()
    a, b, c = g.authorities
    run.feed(ShareReceived(WitnessShare(g.vote(a, run.params))))
    genuine = run.state.votes[a]
    impostor = SigningKey(seed("impostor"))
    made_up = SignedVote(g.vote(a, run.params, result=OTHER).vote, bytes(64))
    wrong_key = g.vote(a, run.params, result=OTHER, key=impostor)
    other_group = group(2, 3, "other")
    foreign = other_group.params()
    stale = EquivocationProof.of(
        other_group.vote(other_group.authorities[0], foreign),
        other_group.vote(other_group.authorities[0], foreign, result=OTHER),
    )
    b_made_up = EquivocationProof.of(
        SignedVote(g.vote(b, run.params).vote, bytes(64)),
        SignedVote(g.vote(b, run.params, result=OTHER).vote, bytes(64)),
    )
    forged = [EquivocationProof.of(genuine, made_up), EquivocationProof.of(genuine, wrong_key)]
    for proof in (*forged, b_made_up):
        with pytest.raises(ForgedEvidence):
            proof.verify(g.witnesses, g.public.group_public_key)
    before = snapshot(run.state)
    state, actions = step(run.state, EvidenceReceived(Evidence.of([*forged, b_made_up, stale])))
    # the stale proof is about another prestate (another group's params), so it is not even
    # looked at; the three others are refused one by one
    assert (
        sorted(type(x.error).__name__ for x in actions if isinstance(x, Rejected))
        == ["ForgedEvidence"] * 3
    )
    assert snapshot(state) == before and state.equivocators == set()
    assert {a, b, c} >= state.counted(state.own_result) == {a}


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
        run.feed(ShareReceived(WitnessShare(g.vote(w, run.params, result=OTHER))))
    assert run.state.tally()[OTHER] == {a, b, c}
    assert run.state.commit is None and run.state.phase is Phase.FAST_PATH
    elsewhere = g.params(prestate=Hash32.of(b"elsewhere"))
    with pytest.raises(WrongInstance):
        step(run.state, ShareReceived(WitnessShare(g.vote(a, elsewhere))))


def test_new_instance_checks_the_group() -> None:
    g, other = group(2, 3), group(2, 3, "other")
    with pytest.raises(InvalidWitnessSet):
        new_instance(g.params(), other.public)  # other identifiers' key, other group key
    params = ConsensusParams(Hash32.zero(), b"op", 1, g.witnesses, other.public.group_public_key)
    with pytest.raises(InvalidWitnessSet):
        new_instance(params, g.public)
    with pytest.raises(InvalidArgument):
        new_instance("params", g.public)  # type: ignore[arg-type]
    keyless = WitnessSet.of({w.authority: w.signer for w in g.witnesses.members}, 2)
    params = ConsensusParams(Hash32.zero(), b"op", 1, keyless, g.public.group_public_key)
    with pytest.raises(InvalidWitnessSet):
        new_instance(params, g.public)  # votes could not be checked


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
    assert a_share.share is not None
    other_package = frost.signing_package(
        {
            g.witnesses.signer_of(w): frost.commit(g.key_packages[w], fresh_seed())[1]
            for w in (b, c)
        },
        b"not the transcript",
    )
    stranger = authority("stranger")
    stranger_key = SigningKey(seed("stranger key"))
    reused = run.state.packages[pid].package.commitments[g.witnesses.signer_of(a)]
    bad = corrupt(a_share.share)

    def share(who: AuthorityId, package_id: Hash32, value: frost.SignatureShare) -> WitnessShare:
        vote = g.vote(who, p, attachment=share_digest(package_id, value))
        return WitnessShare(vote, package_id, value)

    foreign_key = group(2, 3, "other").public.group_public_key
    replayed = attrs.evolve(g.vote(b, p).vote, group_key=foreign_key).sign(g.vote_keys[b])
    return [
        (
            "unknown witness",
            ShareReceived(WitnessShare(g.vote(stranger, p, key=stranger_key))),
            UnknownWitness,
        ),
        (
            "vote on another prestate",
            ShareReceived(WitnessShare(g.vote(a, g.params(prestate=OTHER)))),
            WrongInstance,
        ),
        (
            "vote in another round",
            ShareReceived(WitnessShare(g.vote(b, g.params(round=2)))),
            WrongInstance,
        ),
        (
            "vote signed by another key",
            ShareReceived(WitnessShare(g.vote(b, p, key=stranger_key))),
            ForgedStatement,
        ),
        (
            "vote of another group (an earlier epoch's key)",
            ShareReceived(WitnessShare(replayed)),
            StaleStatement,
        ),
        (
            "share without its package",
            ShareReceived(WitnessShare(a_share.vote, None, a_share.share)),
            MissingShare,
        ),
        (
            "share its vote does not name",
            ShareReceived(WitnessShare(a_share.vote, pid, bad)),
            ForgedStatement,
        ),
        (
            "unknown package",
            ShareReceived(share(b, OTHER, a_share.share)),
            UnknownSigningPackage,
        ),
        (
            "not a signer",
            ShareReceived(share(c, pid, a_share.share)),
            InvalidSigningPackage,
        ),
        ("conflicting share", ShareReceived(share(a, pid, bad)), ConflictingShare),
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
    witness = HonestWitness(a, g.key_packages[a], g.vote_keys[a])
    package = frost.signing_package(
        {g.witnesses.signer_of(a): witness.commit()}, g.params().transcript([a], True)
    )
    return [
        FallbackTimeout(),
        DeadlineExpired(),
        GossipTick(),
        SigningPackageReceived(package),
        NonceCommitReceived(a, witness.commit()),
        ShareReceived(WitnessShare(g.vote(a, g.params(), result=OTHER))),
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
    a = g.authorities[0]
    witness = HonestWitness(a, g.key_packages[a], g.vote_keys[a])
    with pytest.raises(InvalidTransition):
        step(state, NonceCommitReceived(g.authorities[0], witness.commit()))
    with pytest.raises(InvalidArgument):
        step(
            new_instance(g.params(), g.public),
            Start(cached_commitments={g.authorities[0]: witness.commit()}),
        )
    assert snapshot(state) == before
