"""Generated interleavings of one consensus instance on two replicas (issue 8, item 1).

An initiator replica and a witness replica run the same instance. Hypothesis interleaves:
honest witnesses committing nonces and signing the packages they are asked to sign; byzantine
witnesses voting for other results, on other prestates, signing votes over corrupted FROST
shares, and also signing honestly (so they can equivocate); relays forging votes, shares and
equivocation proofs in honest witnesses' names; shares delivered to either replica in any
order, duplicated or late; fallback, gossip and evidence exchange between the replicas;
commits forwarded; deadlines. Real FROST and Ed25519 signatures throughout (keys dealt once
per group).

After every step:
- at most one commit per replica, never replaced; both replicas' commits decide the same
  (consensus id, prestate, operation);
- a commit has at least t distinct attesters from W, none an equivocator when it was made,
  and verifies under the group key;
- equivocators are never counted, each has a proof that verifies, proofs survive every merge,
  and no honest witness is ever accused (forged votes and proofs are refused);
- every refused event raised a typed error and left the replica's state exactly as it was.
"""

from __future__ import annotations

import attrs
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aura_consensus.commit import CommitFact
from aura_consensus.events import (
    CommitReceived,
    DeadlineExpired,
    Event,
    EvidenceReceived,
    FallbackTimeout,
    GossipReceived,
    GossipTick,
    NonceCommitReceived,
    SendExecute,
    SendSignRequest,
    ShareReceived,
    SigningPackageReceived,
    Start,
    WitnessShare,
)
from aura_consensus.evidence import EquivocationProof, Evidence
from aura_consensus.instance import InstanceState, Phase, gossip, new_instance, step
from aura_consensus.params import ConsensusParams
from aura_consensus.statements import SignedVote, share_digest
from aura_core.crypto import frost
from aura_core.errors import (
    ConsensusError,
    CryptoError,
    ForgedEvidence,
    ForgedStatement,
    InvalidArgument,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from tests.consensus.support import Group, HonestWitness, group, snapshot
from tests.core.crypto.frost_support import corrupt

REPLICAS = ("initiator", "witness")
OTHER_RESULTS = (Hash32.of(b"result x"), Hash32.of(b"result y"))
OTHER_PRESTATE = Hash32.of(b"another prestate")


class ConsensusInterleavings(RuleBasedStateMachine):
    g: Group
    params: ConsensusParams

    def __init__(self) -> None:
        super().__init__()
        self.states: dict[str, InstanceState] = {}
        self.witnesses: dict[AuthorityId, HonestWitness] = {}
        self.byzantine: frozenset[AuthorityId] = frozenset()
        self.packages: list[frost.SigningPackage] = []
        self.shares: list[WitnessShare] = []
        self.first_commit: dict[str, CommitFact] = {}
        self.steps = 0

    # ------------------------------------------------------------------ plumbing

    def apply(self, replica: str, event_in: Event) -> bool:
        """Feed one event; a refusal must be typed and change nothing."""
        self.steps += 1
        state = self.states[replica]
        before = snapshot(state)
        try:
            after, actions = step(state, event_in)
        except (ConsensusError, CryptoError, InvalidArgument):
            assert snapshot(state) == before
            return False
        assert snapshot(state) == before  # step never mutates its input
        for action in actions:
            package = action.package if isinstance(action, SendSignRequest | SendExecute) else None
            if package is not None:
                self.packages.append(package)
        for action in actions:
            event(f"action {type(action).__name__}")
        if after.commit is not None and replica not in self.first_commit:
            self.first_commit[replica] = after.commit
            event(f"{replica} committed ({type(event_in).__name__})")
            if not isinstance(event_in, CommitReceived):
                # made here: its attesters were counted, non-equivocating witnesses
                assert not set(after.commit.participants) & after.equivocators
                own = after.own_result
                assert all(after.votes[p].result_id == own for p in after.commit.participants)
        self.states[replica] = after
        return True

    # ------------------------------------------------------------------ setup

    @initialize(
        config=st.sampled_from([(2, 3), (3, 4), (3, 5)]),
        byzantine=st.sets(st.integers(0, 3), max_size=2),
        pipelined=st.booleans(),
    )
    def setup(self, config: tuple[int, int], byzantine: set[int], pipelined: bool) -> None:
        t, n = config
        self.g = group(t, n)
        self.params = self.g.params(operation=b"change policy", nonce=t * 10 + n)
        chosen = sorted(i for i in byzantine if i < n)[: n - 1]  # at least one honest witness
        self.byzantine = frozenset(self.g.authorities[i] for i in chosen)
        self.witnesses = {
            a: HonestWitness(a, kp, self.g.vote_keys[a]) for a, kp in self.g.key_packages.items()
        }
        for replica in REPLICAS:
            self.states[replica] = new_instance(self.params, self.g.public)
        cached = {a: w.commit() for a, w in self.witnesses.items()} if pipelined else {}
        assert self.apply("initiator", Start(initiator=True, cached_commitments=cached))
        assert self.apply("witness", Start())

    # ------------------------------------------------------------------ witnesses

    @rule(data=st.data())
    def nonce_commit(self, data: st.DataObject) -> None:
        who = data.draw(st.sampled_from(self.g.authorities))
        self.apply("initiator", NonceCommitReceived(who, self.witnesses[who].commit()))

    @precondition(lambda self: bool(self.packages))
    @rule(data=st.data())
    def sign(self, data: st.DataObject) -> None:
        package = data.draw(st.sampled_from(self.packages))
        signers = self.params.describe_package(package).signers
        who = data.draw(st.sampled_from(signers))
        try:
            share = self.witnesses[who].sign(self.params, package)
        except (ConsensusError, CryptoError):
            return  # nonces already used for this package, or the ledger refuses
        if who in self.byzantine and data.draw(st.booleans()):
            share = self.bad_share(share)
        self.shares.append(share)

    def bad_share(self, share: WitnessShare) -> WitnessShare:
        """A byzantine witness's vote signed over a corrupted FROST share."""
        assert share.share is not None and share.package_id is not None
        bad = corrupt(share.share)
        attachment = share_digest(share.package_id, bad)
        vote = self.g.vote(share.witness, self.params, attachment=attachment)
        return WitnessShare(vote, share.package_id, bad)

    @rule(data=st.data())
    def every_witness_commits_a_nonce(self, data: st.DataObject) -> None:
        order = data.draw(st.permutations(self.g.authorities))
        for who in order:
            self.apply("initiator", NonceCommitReceived(who, self.witnesses[who].commit()))

    @precondition(lambda self: bool(self.packages))
    @rule(data=st.data(), replica=st.sampled_from(REPLICAS))
    def a_package_is_signed_and_delivered(self, data: st.DataObject, replica: str) -> None:
        """Every signer of one package signs; the shares reach one replica in any order, one
        of them possibly lost."""
        package = data.draw(st.sampled_from(self.packages))
        if replica == "witness":
            self.apply(replica, SigningPackageReceived(package))
        signers = data.draw(st.permutations(self.params.describe_package(package).signers))
        lost = data.draw(st.none() | st.sampled_from(signers))
        for who in signers:
            try:
                share = self.witnesses[who].sign(self.params, package)
            except (ConsensusError, CryptoError):
                continue
            if who in self.byzantine and data.draw(st.booleans()):
                share = self.bad_share(share)
            self.shares.append(share)
            if who != lost:
                self.apply(replica, ShareReceived(share))

    @precondition(lambda self: bool(self.packages))
    @rule(replica=st.sampled_from(REPLICAS))
    def honest_witnesses_catch_up(self, replica: str) -> None:
        """Every honest signer of every known package signs it, and one replica hears all."""
        for package in list(self.packages):
            if replica == "witness":
                self.apply(replica, SigningPackageReceived(package))
            for who in self.params.describe_package(package).signers:
                if who in self.byzantine:
                    continue
                try:
                    share = self.witnesses[who].sign(self.params, package)
                except (ConsensusError, CryptoError):
                    continue
                self.shares.append(share)
                self.apply(replica, ShareReceived(share))

    @precondition(lambda self: bool(self.byzantine))
    @rule(data=st.data())
    def byzantine_vote(self, data: st.DataObject) -> None:
        who = data.draw(st.sampled_from(sorted(self.byzantine)))
        result = data.draw(st.sampled_from([*OTHER_RESULTS, self.params.result_id]))
        prestate = data.draw(st.sampled_from([self.params.prestate_hash, OTHER_PRESTATE]))
        params = attrs.evolve(self.params, prestate_hash=prestate)
        self.shares.append(WitnessShare(self.g.vote(who, params, result=result)))

    @precondition(
        lambda self: any(w in self.byzantine for s in self.states.values() for w in s.votes)
    )
    @rule(data=st.data())
    def byzantine_equivocates(self, data: st.DataObject) -> None:
        """A byzantine witness that has a vote at a replica sends it another result."""
        replica, who = data.draw(
            st.sampled_from(
                sorted(
                    (r, w) for r, s in self.states.items() for w in s.votes if w in self.byzantine
                )
            )
        )
        held = self.states[replica].votes[who]
        result = data.draw(
            st.sampled_from(
                [r for r in (*OTHER_RESULTS, self.params.result_id) if r != held.result_id]
            )
        )
        self.deliver(replica, WitnessShare(self.g.vote(who, self.params, result=result)))

    @rule(data=st.data(), replica=st.sampled_from(REPLICAS))
    def a_relay_forges(self, data: st.DataObject, replica: str) -> None:
        """Anyone may relay: a vote in an honest witness's name it never signed, a genuine
        share vote paired with a corrupted share, or a proof with a made-up signature. Each is
        refused as forged and changes nothing."""
        honest = sorted(set(self.g.authorities) - self.byzantine)
        who = data.draw(st.sampled_from(honest))
        result = data.draw(st.sampled_from([*OTHER_RESULTS, self.params.result_id]))
        made_up = SignedVote(self.g.vote(who, self.params, result=result).vote, bytes(64))
        genuine = [s for s in self.shares if s.share is not None and s.witness in honest]
        kind = data.draw(st.sampled_from(["vote", "share", "proof"]))
        state = self.states[replica]
        if kind == "vote":
            forged: object = WitnessShare(made_up)
        elif kind == "share" and genuine:
            share = data.draw(st.sampled_from(genuine))
            assert share.share is not None
            forged = attrs.evolve(share, share=corrupt(share.share))
        else:
            second = next(r for r in OTHER_RESULTS if r != result)
            other = SignedVote(self.g.vote(who, self.params, result=second).vote, bytes(64))
            proof = EquivocationProof.of(made_up, other)
            after, actions = step(state, EvidenceReceived(Evidence.of([proof])))
            assert after.equivocators == state.equivocators
            assert all(isinstance(getattr(a, "error", None), ForgedEvidence) for a in actions)
            return
        before = snapshot(state)
        try:
            after, _ = step(state, ShareReceived(forged))  # type: ignore[arg-type]
        except ForgedStatement:
            assert snapshot(state) == before
            event("forged relay refused")
        except ConsensusError:
            assert snapshot(state) == before  # e.g. the instance already ended
        else:
            raise AssertionError(f"a forged {kind} was accepted")

    @precondition(lambda self: bool(self.shares))
    @rule(data=st.data(), replica=st.sampled_from(REPLICAS))
    def deliver_share(self, data: st.DataObject, replica: str) -> None:
        self.deliver(replica, data.draw(st.sampled_from(self.shares)))

    def deliver(self, replica: str, share: WitnessShare) -> None:
        state = self.states[replica]
        prior = state.votes.get(share.witness)
        if self.apply(replica, ShareReceived(share)):
            after = self.states[replica]
            if prior is not None and prior.conflicts_with(share.vote):
                assert share.witness in after.equivocators  # a double vote always yields a proof

    @precondition(lambda self: bool(self.packages))
    @rule(data=st.data())
    def deliver_package(self, data: st.DataObject) -> None:
        self.apply("witness", SigningPackageReceived(data.draw(st.sampled_from(self.packages))))

    # ------------------------------------------------------------------ timers and gossip

    @rule(replica=st.sampled_from(REPLICAS))
    def fallback(self, replica: str) -> None:
        self.apply(replica, FallbackTimeout())

    @rule(replica=st.sampled_from(REPLICAS))
    def gossip_tick(self, replica: str) -> None:
        self.apply(replica, GossipTick())

    @rule(source=st.sampled_from(REPLICAS), to=st.sampled_from(REPLICAS))
    def gossip_between(self, source: str, to: str) -> None:
        payload = gossip(self.states[source])
        self.apply(to, GossipReceived(payload.packages, payload.shares, payload.evidence))

    @rule(source=st.sampled_from(REPLICAS), to=st.sampled_from(REPLICAS))
    def exchange_evidence(self, source: str, to: str) -> None:
        evidence = self.states[source].evidence
        assert self.apply(to, EvidenceReceived(evidence))
        merged = self.states[to].evidence
        assert merged.join(evidence) == merged  # the proofs survived the merge
        assert evidence.equivocators() <= merged.equivocators()

    @precondition(lambda self: bool(self.first_commit))
    @rule(to=st.sampled_from(REPLICAS))
    def forward_commit(self, to: str) -> None:
        fact = next(iter(self.first_commit.values()))
        assert self.apply(to, CommitReceived(fact))  # a valid commit is always accepted

    @precondition(lambda self: self.steps >= 40)  # late, so that most runs can decide first
    @rule(replica=st.sampled_from(REPLICAS))
    def deadline(self, replica: str) -> None:
        self.apply(replica, DeadlineExpired())

    # ------------------------------------------------------------------ invariants

    @invariant()
    def commits_are_unique_and_valid(self) -> None:
        if not self.states:
            return
        decisions = set()
        for replica, state in self.states.items():
            assert (state.phase is Phase.COMMITTED) == (state.commit is not None)
            if state.commit is None:
                continue
            fact = state.commit
            assert fact == self.first_commit[replica]  # never replaced
            assert len(set(fact.participants)) == len(fact.participants) >= self.params.threshold
            assert set(fact.participants) <= set(self.g.authorities)
            fact.verify(self.g.public.group_public_key)
            assert fact.result_id == self.params.result_id
            decisions.add((fact.consensus_id, fact.prestate_hash, fact.operation_bytes))
        assert len(decisions) <= 1

    @invariant()
    def equivocators_are_never_counted(self) -> None:
        if not self.states:
            return
        honest = set(self.g.authorities) - self.byzantine
        for state in self.states.values():
            relevant = state.evidence.about(self.params.prestate_hash)
            assert state.equivocators <= relevant.equivocators()
            for proof in state.evidence.proofs:
                proof.verify(self.g.witnesses, self.g.public.group_public_key)
            assert not honest & state.evidence.equivocators()
            for voters in state.tally().values():
                assert not voters & state.equivocators


ConsensusInterleavings.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None
)
test_consensus_interleavings = ConsensusInterleavings.TestCase
