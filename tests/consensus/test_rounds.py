"""Rounds of a prestate: the leader, the round instance, the justification rules, and (a
generated model over the real ledger and certificates) at most one result commits per prestate
whatever up to f byzantine witnesses do."""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aura_consensus.params import ConsensusParams
from aura_consensus.rounds import Justification, check_proposal, leader, round_params, tiebreak
from aura_consensus.statements import (
    LockCertificate,
    RoundChange,
    SignedRoundChange,
    SignedVote,
)
from aura_consensus.witness import VoteLedger, cast_vote, change_round
from aura_core.crypto.ed25519 import SigningKey
from aura_core.errors import (
    ConsensusError,
    InvalidArgument,
    InvalidCertificate,
    RoundPassed,
    WouldEquivocate,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from tests.consensus.support import Group, group, seed

OPS = (b"op x", b"op y", b"op z")
Entry = tuple[SignedRoundChange, LockCertificate | None]


def change(
    g: Group,
    who: AuthorityId,
    round: int,
    *,
    first: Hash32 | None = None,
    lock: LockCertificate | None = None,
    prestate: Hash32 | None = None,
    key: SigningKey | None = None,
) -> tuple[SignedRoundChange, LockCertificate | None]:
    """`who`'s round change (what it reports is up to the caller: a liar's is as good)."""
    body = RoundChange(
        g.public.group_public_key,
        who,
        prestate or g.params().prestate_hash,
        round,
        first,
        0 if lock is None else lock.round,
        None if lock is None else lock.result_id,
    )
    return body.sign(key or g.vote_keys[who]), lock


def justify(
    g: Group, round: int, entries: Iterable[tuple[SignedRoundChange, LockCertificate | None]]
) -> Justification:
    built = Justification.assemble(
        g.witnesses, g.public.group_public_key, g.params().prestate_hash, round, list(entries)
    )
    assert built is not None
    return built


def lock(g: Group, params: ConsensusParams, voters: Iterable[AuthorityId]) -> LockCertificate:
    return LockCertificate.of(g.vote(w, params) for w in voters)


def test_the_leader_is_a_witness_named_by_hash() -> None:
    g = group(3, 4, faults=1)
    p = g.params().prestate_hash
    leaders = [leader(g.witnesses, p, r) for r in range(1, 41)]
    assert set(leaders) <= set(g.authorities) and len(set(leaders)) > 1  # it rotates
    assert leaders == [leader(g.witnesses, p, r) for r in range(1, 41)]  # deterministically
    with pytest.raises(InvalidArgument):
        leader(g.witnesses, p, 0)  # round 0 has no leader


def test_a_round_instance_is_named_alike_everywhere() -> None:
    g = group(2, 3)
    base = g.params(nonce=5)
    r2 = round_params(base, 2)
    assert r2.round == 2 and r2.operation_bytes == base.operation_bytes
    assert r2 == round_params(g.params(nonce=99), 2)  # whichever instance it came from
    assert r2.consensus_id != round_params(base, 3).consensus_id
    assert r2.result_id == base.result_id
    with pytest.raises(InvalidArgument):
        round_params(base, 0)


def test_rule_one_the_highest_proved_lock_wins() -> None:
    g = group(3, 4, faults=1)
    a, b, c, d = g.authorities
    x, y = (round_params(g.params(operation=op), 1) for op in OPS[:2])
    y2 = round_params(y, 2)
    low, high = lock(g, x, (a, b, c)), lock(g, y2, (b, c, d))
    j = justify(g, 3, [change(g, a, 3, lock=low), change(g, b, 3, lock=high), change(g, c, 3)])
    assert j.lock == high
    assert j.value(g.witnesses, g.public.group_public_key, x.prestate_hash, 3) == y.result_id
    check_proposal(round_params(y, 3), j)
    with pytest.raises(InvalidCertificate):
        check_proposal(round_params(x, 3), j)


def test_rule_two_a_result_that_may_have_committed_in_round_zero() -> None:
    g = group(3, 4, faults=1)  # fast quorum 4
    a, b, c, d = g.authorities
    x, y = (g.params(operation=op) for op in OPS[:2])
    # 3 of 4 report x: with the one unknown it may have had 4 round-0 signers
    j = justify(g, 1, [change(g, w, 1, first=x.result_id) for w in (a, b, c)])
    assert j.value(g.witnesses, g.public.group_public_key, x.prestate_hash, 1) == x.result_id
    # a 2/2 split cannot have committed (4 needed): rule 3 breaks the tie by hash
    split = [change(g, w, 1, first=x.result_id) for w in (a, b)] + [
        change(g, w, 1, first=y.result_id) for w in (c, d)
    ]
    j = justify(g, 1, split)
    expected = min((x.result_id, y.result_id), key=lambda r: tiebreak(x.prestate_hash, 1, r))
    assert j.value(g.witnesses, g.public.group_public_key, x.prestate_hash, 1) == expected


def test_rule_three_most_reports_then_anything() -> None:
    g = group(2, 3)
    a, b, c = g.authorities
    x, y = (g.params(operation=op) for op in OPS[:2])
    j = justify(g, 1, [change(g, a, 1, first=x.result_id), change(g, b, 1), change(g, c, 1)])
    key = g.public.group_public_key
    # one report of 3 with q0 = 2 and f = 0 cannot have committed: the most reported wins
    assert j.value(g.witnesses, key, x.prestate_hash, 1) == x.result_id
    empty = justify(g, 1, [change(g, w, 1) for w in (a, b, c)])
    assert empty.value(g.witnesses, key, x.prestate_hash, 1) is None
    check_proposal(round_params(y, 1), empty)  # the leader's choice


def test_assemble_uses_only_changes_that_prove_what_they_claim() -> None:
    g = group(3, 4, faults=1)
    a, b, c, d = g.authorities
    x = round_params(g.params(operation=OPS[0]), 1)
    proved = lock(g, x, (a, b, c))
    impostor = SigningKey(seed("impostor"))
    entries = [
        change(g, a, 2),
        change(g, b, 2, key=impostor),  # not b's signature
        (change(g, c, 2, lock=proved)[0], None),  # claims a lock it does not show
        change(g, d, 3),  # another round
    ]
    key = g.public.group_public_key
    assert Justification.assemble(g.witnesses, key, x.prestate_hash, 2, entries) is None
    short = lock(g, x, (a, b))  # 2 votes do not lock
    entries += [change(g, b, 2, lock=short), change(g, c, 2), change(g, d, 2)]
    j = Justification.assemble(g.witnesses, key, x.prestate_hash, 2, entries)
    assert j is not None and [ch.witness for ch in j.changes] == [a, c, d]
    assert j.lock is None


def test_a_justification_that_does_not_prove_its_round_is_refused() -> None:
    g = group(3, 4, faults=1)
    a, b, c, d = g.authorities
    x, y = (round_params(g.params(operation=op), 1) for op in OPS[:2])
    good = justify(g, 2, [change(g, w, 2) for w in (a, b, c)])
    key = g.public.group_public_key
    p = x.prestate_hash
    forged = attrs.evolve(
        good, changes=(good.changes[0], attrs.evolve(good.changes[1], signature=bytes(64)))
    )
    too_few = attrs.evolve(good, changes=good.changes[:2])
    unproved = Justification((change(g, a, 2, lock=lock(g, x, (a, b, c)))[0],), None)
    two_locks = Justification(
        tuple(
            sorted(
                [
                    change(g, a, 3, lock=lock(g, attrs.evolve(x, round=2), (a, b, c)))[0],
                    change(g, b, 3, lock=lock(g, attrs.evolve(y, round=2), (b, c, d)))[0],
                    change(g, c, 3)[0],
                ],
                key=lambda ch: ch.witness,
            )
        ),
        lock(g, attrs.evolve(x, round=2), (a, b, c)),
    )
    stray = attrs.evolve(good, lock=lock(g, x, (a, b, c)))
    for bad, round in ((forged, 2), (too_few, 2), (good, 3), (unproved, 2), (two_locks, 3)):
        with pytest.raises(InvalidCertificate):
            bad.value(g.witnesses, key, p, round)
    with pytest.raises(InvalidCertificate):
        stray.value(g.witnesses, key, p, 2)  # a certificate nobody reported
    with pytest.raises(InvalidCertificate):
        check_proposal(g.params(operation=OPS[0]), good)  # not a round instance
    with pytest.raises(InvalidCertificate):
        check_proposal(attrs.evolve(round_params(x, 2), nonce=7), good)  # not its name
    with pytest.raises(InvalidCertificate):
        Justification((good.changes[1], good.changes[0]), None)  # out of order


# ------------------------------------------------------------------ safety under any schedule


class RoundsModel(RuleBasedStateMachine):
    """Honest witnesses act only through the real ledger functions (`PrestateVotes.vote` for a
    round-0 share, `cast_vote`, `change_round`, `PrestateVotes.locked` behind a real lock
    certificate); byzantine witnesses sign any vote and report anything in their round
    changes; leaders propose from any n - f round changes they hold. A result commits in round
    0 with `fast_quorum` shares and in a later round with t. At most one result may ever
    commit."""

    g: Group

    def __init__(self) -> None:
        super().__init__()
        self.ledgers: dict[AuthorityId, VoteLedger] = {}
        self.byzantine: frozenset[AuthorityId] = frozenset()
        self.shares: dict[tuple[int, Hash32], set[AuthorityId]] = {}
        self.votes: dict[tuple[int, Hash32], dict[AuthorityId, SignedVote]] = {}
        self.changes: dict[int, dict[AuthorityId, Entry]] = {}
        self.params: dict[Hash32, ConsensusParams] = {}

    @initialize(
        config=st.sampled_from([(2, 3, 0), (3, 4, 1), (4, 5, 1), (5, 7, 2)]),
        data=st.data(),
    )
    def setup(self, config: tuple[int, int, int], data: st.DataObject) -> None:
        t, n, f = config
        self.g = group(t, n, faults=f)
        count = data.draw(st.integers(0, f))
        self.byzantine = frozenset(data.draw(st.permutations(self.g.authorities))[:count])
        self.ledgers = {w: VoteLedger() for w in self.honest}
        for op in OPS:
            params = self.g.params(operation=op)
            self.params[params.result_id] = params

    @property
    def honest(self) -> list[AuthorityId]:
        return [w for w in self.g.authorities if w not in self.byzantine]

    @property
    def prestate(self) -> Hash32:
        return self.g.params().prestate_hash

    def share(self, round: int, rid: Hash32, who: AuthorityId) -> None:
        self.shares.setdefault((round, rid), set()).add(who)

    # --------------------------------------------------------------- honest witnesses

    @rule(data=st.data())
    def honest_round_zero_share(self, data: st.DataObject) -> None:
        who = data.draw(st.sampled_from(self.honest))
        params = self.params[data.draw(st.sampled_from(sorted(self.params)))]
        entry = self.ledgers[who].of(self.prestate)
        try:
            self.ledgers[who] = self.ledgers[who].put(entry.vote(params))
        except (RoundPassed, WouldEquivocate):
            event("round-0 share refused")
            return
        self.share(0, params.result_id, who)

    @rule(data=st.data())
    def honest_round_change(self, data: st.DataObject) -> None:
        who = data.draw(st.sampled_from(self.honest))
        current = self.ledgers[who].of(self.prestate).round
        self.move(who, current + data.draw(st.integers(1, 2)))

    def move(self, who: AuthorityId, target: int) -> None:
        report = change_round(
            self.g.public.group_public_key,
            who,
            self.prestate,
            target,
            signing_key=self.g.vote_keys[who],
            ledger=self.ledgers[who],
        )
        self.ledgers[who] = report.ledger
        self.changes.setdefault(target, {})[who] = (report.change, report.lock)

    @precondition(
        lambda self: any(len(c) >= self.g.witnesses.change_quorum for c in self.changes.values())
    )
    @rule(data=st.data())
    def a_leader_proposes_and_honest_witnesses_vote(self, data: st.DataObject) -> None:
        quorum = self.g.witnesses.change_quorum
        round = data.draw(
            st.sampled_from(sorted(r for r, c in self.changes.items() if len(c) >= quorum))
        )
        held = sorted(self.changes[round])
        chosen = data.draw(st.lists(st.sampled_from(held), min_size=quorum, unique=True))
        key = self.g.public.group_public_key
        justification = Justification.assemble(
            self.g.witnesses,
            key,
            self.prestate,
            round,
            [self.changes[round][w] for w in chosen],
        )
        if justification is None:
            return  # a byzantine change did not prove its lock
        required = justification.value(self.g.witnesses, key, self.prestate, round)
        rid = required or data.draw(st.sampled_from(sorted(self.params)))
        params = round_params(self.params[rid], round)
        check_proposal(params, justification)
        later = [r for r, _ in self.commits() if r < round]
        if later:
            # the safety argument: every justified proposal of a round after a commit names
            # the committed result (a round before it may name anything: nobody can still vote
            # there, they all left it)
            event("a later round proposed after a commit")
            assert self.committed() == {rid}
        order = data.draw(st.permutations(self.honest))
        voters = order[: data.draw(st.integers(0, len(order)))]
        for who in voters:
            try:
                vote, ledger, _ = cast_vote(
                    params,
                    who,
                    justification,
                    signing_key=self.g.vote_keys[who],
                    ledger=self.ledgers[who],
                )
            except ConsensusError:
                continue
            self.ledgers[who] = ledger
            self.votes.setdefault((round, rid), {})[who] = vote

    @precondition(lambda self: any(len(v) >= self.g.t for v in self.votes.values()))
    @rule(data=st.data())
    def honest_locked_share(self, data: st.DataObject) -> None:
        t = self.g.t
        round, rid = data.draw(
            st.sampled_from(sorted(k for k, v in self.votes.items() if len(v) >= t))
        )
        votes = self.votes[(round, rid)]
        certificate = LockCertificate.of(votes[w] for w in sorted(votes)[:t])
        params = round_params(self.params[rid], round)
        who = data.draw(st.sampled_from(self.honest))
        entry = self.ledgers[who].of(self.prestate)
        try:
            entry.check(round, rid)
            self.ledgers[who] = self.ledgers[who].put(entry.locked(params, certificate))
        except (RoundPassed, WouldEquivocate):
            return
        self.share(round, rid, who)

    @rule(data=st.data())
    def every_honest_witness_moves_on(self, data: st.DataObject) -> None:
        highest = max(self.ledgers[w].of(self.prestate).round for w in self.honest)
        target = highest + data.draw(st.integers(1, 2))
        for who in data.draw(st.permutations(self.honest)):
            self.move(who, target)

    @precondition(lambda self: any(len(v) >= self.g.t for v in self.votes.values()))
    @rule(data=st.data())
    def every_honest_witness_tries_to_share(self, data: st.DataObject) -> None:
        for _ in self.honest:
            self.honest_locked_share(data)

    # --------------------------------------------------------------- byzantine witnesses

    @precondition(lambda self: bool(self.byzantine))
    @rule(data=st.data())
    def byzantine_signs_anything(self, data: st.DataObject) -> None:
        who = data.draw(st.sampled_from(sorted(self.byzantine)))
        round = data.draw(st.integers(0, 4))
        rid = data.draw(st.sampled_from(sorted(self.params)))
        self.share(round, rid, who)
        if round:
            params = round_params(self.params[rid], round)
            self.votes.setdefault((round, rid), {})[who] = self.g.vote(who, params)

    @precondition(lambda self: bool(self.byzantine))
    @rule(data=st.data())
    def byzantine_round_change(self, data: st.DataObject) -> None:
        who = data.draw(st.sampled_from(sorted(self.byzantine)))
        round = data.draw(st.integers(1, 5))
        first = data.draw(st.none() | st.sampled_from(sorted(self.params)))
        t = self.g.t
        locks = [
            LockCertificate.of(v[w] for w in sorted(v)[:t])
            for (r, _), v in sorted(self.votes.items())
            if len(v) >= t and r < round
        ]
        claimed = data.draw(st.none() | st.sampled_from(locks)) if locks else None
        self.changes.setdefault(round, {})[who] = change(
            self.g, who, round, first=first, lock=claimed
        )

    # --------------------------------------------------------------- the property

    def commits(self) -> list[tuple[int, Hash32]]:
        """(round, result) with enough shares in that round to commit."""
        found = []
        for (round, rid), signers in sorted(self.shares.items()):
            needed = self.g.witnesses.fast_quorum if round == 0 else self.g.t
            if len(signers) >= needed:
                found.append((round, rid))
                event(f"committed in round {min(round, 2)}{'+' if round >= 2 else ''}")
        return found

    def committed(self) -> set[Hash32]:
        return {rid for _, rid in self.commits()}

    @invariant()
    def at_most_one_result_commits(self) -> None:
        committed = self.committed()
        assert len(committed) <= 1, committed


RoundsModel.TestCase.settings = settings(max_examples=250, stateful_step_count=50, deadline=None)
test_rounds_never_commit_two_results = RoundsModel.TestCase
