"""The witness side: prestate check, signing checks, and the ledger that keeps an honest
witness to one result per round, never below its round, and locked before it signs in a round
r >= 1."""

from __future__ import annotations

import pytest

from aura_consensus.nonces import WitnessNonces
from aura_consensus.params import ConsensusParams
from aura_consensus.rounds import Justification, round_params
from aura_consensus.statements import LockCertificate
from aura_consensus.witness import (
    PrestateVotes,
    VoteLedger,
    cast_vote,
    change_round,
    prestate_matches,
    sign_share,
)
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.errors import (
    InvalidArgument,
    InvalidCertificate,
    InvalidSigningPackage,
    NonceReuse,
    RoundPassed,
    UnknownWitness,
    WouldEquivocate,
)
from aura_core.hashing import Hash32
from tests.consensus.support import Group, HonestWitness, authority, fresh_seed, group, honest, seed


def test_prestate_matches() -> None:
    params = group(2, 3).params()
    assert prestate_matches(params, params.prestate_hash)
    assert not prestate_matches(params, Hash32.of(b"mine differs"))
    with pytest.raises(InvalidArgument):
        prestate_matches(params, params.prestate_hash.digest)  # type: ignore[arg-type]


def _package(g: Group, signers: list[HonestWitness], message: bytes) -> frost.SigningPackage:
    return frost.signing_package(
        {g.witnesses.signer_of(w.authority): w.commit() for w in signers}, message
    )


def _transcript(params: ConsensusParams, signers: list[HonestWitness]) -> bytes:
    return params.transcript([w.authority for w in signers], True)


def test_sign_share_produces_a_signed_vote_for_the_instance_result() -> None:
    g = group(2, 3)
    params = g.params()
    a, b, _ = honest(g).values()
    package = _package(g, [a, b], _transcript(params, [a, b]))
    share = a.sign(params, package)
    assert share.witness == a.authority
    assert (share.result_id, share.prestate_hash) == (params.result_id, params.prestate_hash)
    assert share.package_id == params.describe_package(package).package_id
    share.vote.verify(g.witnesses, g.public.group_public_key)
    assert a.ledger.of(params.prestate_hash).voted(0) == params.result_id
    assert len(a.nonces) == 0  # consumed
    with pytest.raises(NonceReuse):
        a.sign(params, package)  # no second share with the same nonces


def test_the_ledger_refuses_a_second_result_in_round_zero() -> None:
    g = group(2, 3)
    first, second = g.params(operation=b"op one"), g.params(operation=b"op two")
    a, b, _ = honest(g).values()
    a.sign(first, _package(g, [a, b], _transcript(first, [a, b])))
    package = _package(g, [a, b], _transcript(second, [a, b]))
    nonces, ledger = a.nonces, a.ledger
    with pytest.raises(WouldEquivocate):
        a.sign(second, package)
    assert a.nonces is nonces and a.ledger is ledger  # nothing consumed or recorded
    # the same result under another instance (another nonce) is not equivocation
    again = g.params(operation=b"op one", nonce=2)
    a.sign(again, _package(g, [a, b], again.transcript([a.authority, b.authority], False)))


def test_a_round_zero_package_needs_the_fast_quorum() -> None:
    g = group(3, 4, faults=1)  # fast quorum 4: every witness
    params = g.params()
    a, b, c, _ = honest(g).values()
    small = _package(g, [a, b, c], _transcript(params, [a, b, c]))
    with pytest.raises(InvalidSigningPackage):
        a.sign(params, small)
    assert a.ledger == VoteLedger()


def _justification(
    g: Group, params: ConsensusParams, witnesses: list[HonestWitness]
) -> Justification:
    """Round changes of `witnesses` (none voted in round 0 or locked) to `params.round`."""
    changes = []
    for w in witnesses:
        report = change_round(
            g.public.group_public_key,
            w.authority,
            params.prestate_hash,
            params.round,
            signing_key=w.signing_key,
            ledger=VoteLedger(),
        )
        changes.append((report.change, report.lock))
    built = Justification.assemble(
        g.witnesses, g.public.group_public_key, params.prestate_hash, params.round, changes
    )
    assert built is not None
    return built


def test_rounds_a_witness_moves_on_votes_once_and_signs_only_when_locked() -> None:
    g = group(2, 3)
    base = g.params(operation=b"op one")
    a, b, c = honest(g).values()
    a.sign(base, _package(g, [a, b], _transcript(base, [a, b])))  # a voted in round 0
    report = change_round(
        g.public.group_public_key,
        a.authority,
        base.prestate_hash,
        1,
        signing_key=a.signing_key,
        ledger=a.ledger,
    )
    change = report.change.change
    assert (change.round, change.first_result, change.lock_round) == (1, base.result_id, 0)
    assert report.values == (base,)  # the leader can propose what a voted for
    a.ledger = report.ledger
    # round 0 is over for a: no share there, even for the result it voted for
    with pytest.raises(RoundPassed):
        a.sign(base, _package(g, [a, c], _transcript(base, [a, c])))
    with pytest.raises(RoundPassed):
        change_round(
            g.public.group_public_key,
            a.authority,
            base.prestate_hash,
            1,
            signing_key=a.signing_key,
            ledger=a.ledger,
        )
    # round 1: a vote needs a justification, a share needs a lock certificate. a's round
    # change reports its round-0 vote, so (rule 3) round 1 must propose that result.
    fresh = [
        change_round(
            g.public.group_public_key,
            w.authority,
            base.prestate_hash,
            1,
            signing_key=w.signing_key,
            ledger=VoteLedger(),
        )
        for w in (b, c)
    ]
    reported = Justification.assemble(
        g.witnesses,
        g.public.group_public_key,
        base.prestate_hash,
        1,
        [(report.change, None), *((f.change, None) for f in fresh)],
    )
    assert reported is not None
    other = round_params(g.params(operation=b"op two"), 1)
    with pytest.raises(InvalidCertificate):
        cast_vote(other, a.authority, reported, signing_key=a.signing_key, ledger=a.ledger)
    r1 = round_params(base, 1)
    vote, ledger, entry = cast_vote(
        r1, a.authority, reported, signing_key=a.signing_key, ledger=a.ledger
    )
    assert entry == ledger.of(r1.prestate_hash) and entry.voted(1) == r1.result_id
    a.ledger = ledger
    free = _justification(g, r1, [a, b, c])  # nothing reported: any result may be proposed
    with pytest.raises(WouldEquivocate):
        cast_vote(other, a.authority, free, signing_key=a.signing_key, ledger=a.ledger)
    package = _package(g, [a, b], r1.transcript([a.authority, b.authority], True))
    with pytest.raises(InvalidCertificate):
        a.sign(r1, package)  # no lock certificate
    only_a = LockCertificate.of([vote])
    with pytest.raises(InvalidCertificate):
        a.sign(r1, package, only_a)  # one vote is not t
    b_vote = g.vote(b.authority, r1)
    a.sign(r1, package, LockCertificate.of([vote, b_vote]))
    entry = a.ledger.of(r1.prestate_hash)
    assert entry.lock is not None and entry.lock.round == 1
    assert [p.result_id for p in entry.values] == [base.result_id]
    report = change_round(
        g.public.group_public_key,
        a.authority,
        r1.prestate_hash,
        3,
        signing_key=a.signing_key,
        ledger=a.ledger,
    )
    assert (report.change.change.lock_round, report.change.change.lock_result) == (
        1,
        r1.result_id,
    )
    assert report.lock == entry.lock


def test_a_vote_for_an_unjustified_result_is_refused() -> None:
    g = group(2, 3)
    a, b, c = honest(g).values()
    base = g.params(operation=b"voted")
    # b and c voted for `base` in round 0 and report it: with the fast quorum of 2 it may
    # have committed, so round 1 must propose it (rule 2)
    for w in (b, c):
        w.sign(base, _package(g, [b, c], _transcript(base, [b, c])))
    changes = []
    for w in (a, b, c):  # n - f = 3 changes; a voted nothing
        report = change_round(
            g.public.group_public_key,
            w.authority,
            base.prestate_hash,
            1,
            signing_key=w.signing_key,
            ledger=w.ledger,
        )
        changes.append((report.change, report.lock))
    justification = Justification.assemble(
        g.witnesses, g.public.group_public_key, base.prestate_hash, 1, changes
    )
    assert justification is not None
    other = round_params(g.params(operation=b"not voted"), 1)
    with pytest.raises(InvalidCertificate):
        cast_vote(other, a.authority, justification, signing_key=a.signing_key, ledger=a.ledger)
    assert a.ledger == VoteLedger()
    cast_vote(
        round_params(base, 1),
        a.authority,
        justification,
        signing_key=a.signing_key,
        ledger=a.ledger,
    )


def test_sign_share_refuses_foreign_packages_and_keys() -> None:
    g = group(2, 3)
    params = g.params()
    a, b, c = honest(g).values()
    not_ours = _package(g, [a, b], b"some other message")
    without_c = _package(g, [a, b], _transcript(params, [a, b]))
    cases = [
        (a, not_ours, a.key_package, a.signing_key, InvalidSigningPackage),
        (c, without_c, c.key_package, c.signing_key, InvalidSigningPackage),
        (a, without_c, b.key_package, a.signing_key, InvalidArgument),  # another FROST share
        (a, without_c, a.key_package, b.signing_key, InvalidArgument),  # another vote key
    ]
    for witness, package, key, vote_key, error in cases:
        with pytest.raises(error):
            sign_share(
                params,
                witness.authority,
                key,
                package,
                signing_key=vote_key,
                nonces=witness.nonces,
                ledger=witness.ledger,
            )
    with pytest.raises(UnknownWitness):
        sign_share(
            params,
            authority("stranger"),
            a.key_package,
            without_c,
            signing_key=SigningKey(seed("stranger")),
            nonces=a.nonces,
            ledger=a.ledger,
        )
    other = group(2, 3, "other")
    foreign_key = other.key_packages[other.authorities[0]]
    with pytest.raises(InvalidArgument):
        sign_share(
            params,
            a.authority,
            foreign_key,
            without_c,
            signing_key=a.signing_key,
            nonces=a.nonces,
            ledger=a.ledger,
        )
    # nonces made for another package cannot sign this one
    stale = WitnessNonces().add(0, frost.commit(a.key_package, fresh_seed())[0])
    fresh_package = _package(g, [a, b], _transcript(params, [a, b]))
    with pytest.raises(NonceReuse):
        sign_share(
            params,
            a.authority,
            a.key_package,
            fresh_package,
            signing_key=a.signing_key,
            nonces=stale,
            ledger=a.ledger,
        )


def test_prestate_votes_check() -> None:
    p = Hash32.of(b"p")
    entry = PrestateVotes(p, round=2, first_result=Hash32.of(b"x"), round_result=Hash32.of(b"y"))
    with pytest.raises(RoundPassed):
        entry.check(1, Hash32.of(b"y"))
    with pytest.raises(RoundPassed):
        entry.check(0, Hash32.of(b"x"))  # round 0 is below round 2
    with pytest.raises(WouldEquivocate):
        entry.check(2, Hash32.of(b"z"))
    entry.check(2, Hash32.of(b"y"))
    entry.check(3, Hash32.of(b"z"))  # a later round is open
