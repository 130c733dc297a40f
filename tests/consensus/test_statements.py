"""Signed statements: a vote or round change is believed only with its witness's signature,
in its group; a lock certificate is t such votes for one result in one round."""

from __future__ import annotations

import attrs
import pytest

from aura_consensus.statements import LockCertificate, RoundChange, SignedVote, share_digest
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode
from aura_core.errors import (
    ForgedStatement,
    InvalidArgument,
    InvalidCertificate,
    StaleStatement,
    UnknownWitness,
)
from aura_core.hashing import Hash32
from tests.consensus.support import authority, fresh_seed, group, seed

G = group(2, 3)
KEY = G.public.group_public_key
OTHER_GROUP = group(2, 3, "other").public.group_public_key


def test_a_vote_verifies_only_as_its_witness_in_its_group() -> None:
    a, b, _ = G.authorities
    vote = G.vote(a, G.params())
    vote.verify(G.witnesses, KEY)
    assert decode(encode(vote), SignedVote) == vote
    with pytest.raises(ForgedStatement):
        SignedVote(vote.vote, bytes(64)).verify(G.witnesses, KEY)
    with pytest.raises(ForgedStatement):  # b's signature on a's vote
        SignedVote(vote.vote, vote.vote.sign(G.vote_keys[b]).signature).verify(G.witnesses, KEY)
    with pytest.raises(ForgedStatement):  # any field changed
        attrs.evolve(vote, vote=attrs.evolve(vote.vote, round=1)).verify(G.witnesses, KEY)
    with pytest.raises(StaleStatement):  # genuine, but for another group (an earlier epoch)
        vote.verify(G.witnesses, OTHER_GROUP)
    stranger = G.vote(authority("stranger"), G.params(), key=SigningKey(seed("stranger")))
    with pytest.raises(UnknownWitness):
        stranger.verify(G.witnesses, KEY)
    with pytest.raises(InvalidArgument):
        SignedVote(vote.vote, b"short")
    with pytest.raises(InvalidArgument):
        attrs.evolve(vote.vote, round=-1)


def test_conflicting_votes() -> None:
    a, b, _ = G.authorities
    params = G.params()
    x, y = Hash32.of(b"x"), Hash32.of(b"y")
    vote = G.vote(a, params, result=x)
    assert vote.conflicts_with(G.vote(a, G.params(nonce=9), result=y))  # any instance
    assert not vote.conflicts_with(G.vote(a, params, result=x, attachment=Hash32.of(b"s")))
    assert not vote.conflicts_with(G.vote(b, params, result=y))
    assert not vote.conflicts_with(G.vote(a, G.params(round=1), result=y))


def test_a_share_digest_binds_the_package_and_the_share() -> None:
    a, b, _ = G.authorities
    params = G.params()
    commitments = {}
    nonces = {}
    for w in (a, b):
        nonces[w], commitments[G.witnesses.signer_of(w)] = frost.commit(
            G.key_packages[w], fresh_seed()
        )
    package = frost.signing_package(commitments, params.transcript([a, b], True))
    share = frost.sign(package, nonces[a], G.key_packages[a])
    pid = params.describe_package(package).package_id
    assert share_digest(pid, share) != share_digest(Hash32.zero(), share)
    with pytest.raises(InvalidArgument):
        share_digest(pid, b"share")  # type: ignore[arg-type]


def test_round_changes_report_consistently() -> None:
    a = G.authorities[0]
    p = G.params().prestate_hash
    with pytest.raises(InvalidArgument):
        RoundChange(KEY, a, p, 0, None, 0, None)  # round changes go to round 1 or later
    with pytest.raises(InvalidArgument):
        RoundChange(KEY, a, p, 2, None, 2, Hash32.of(b"x"))  # a lock below the new round
    with pytest.raises(InvalidArgument):
        RoundChange(KEY, a, p, 2, None, 1, None)  # a lock round without a result
    change = RoundChange(KEY, a, p, 2, Hash32.of(b"v"), 1, Hash32.of(b"x")).sign(G.vote_keys[a])
    change.verify(G.witnesses, KEY)
    with pytest.raises(ForgedStatement):
        attrs.evolve(change, change=attrs.evolve(change.change, first_result=None)).verify(
            G.witnesses, KEY
        )
    with pytest.raises(StaleStatement):
        change.verify(G.witnesses, OTHER_GROUP)


def test_a_lock_certificate_is_t_votes_for_one_result_in_one_round() -> None:
    a, b, c = G.authorities
    params = G.params(round=1)
    votes = [G.vote(w, params) for w in (a, b)]
    certificate = LockCertificate.of(reversed(votes))
    certificate.verify(G.witnesses, KEY)
    assert (certificate.round, certificate.result_id) == (1, params.result_id)
    with pytest.raises(InvalidCertificate):
        LockCertificate.of(votes[:1]).verify(G.witnesses, KEY)  # 1 < t
    with pytest.raises(InvalidCertificate):
        LockCertificate.of([votes[0], SignedVote(votes[1].vote, bytes(64))]).verify(
            G.witnesses, KEY
        )
    with pytest.raises(InvalidCertificate):
        certificate.verify(G.witnesses, OTHER_GROUP)
    with pytest.raises(InvalidCertificate):
        LockCertificate.of([votes[0], G.vote(b, params, result=Hash32.of(b"else"))])
    with pytest.raises(InvalidCertificate):
        LockCertificate.of([votes[0], votes[0]])  # one vote per witness
    with pytest.raises(InvalidCertificate):
        LockCertificate.of([G.vote(w, G.params()) for w in (a, b)])  # round 0 has no locks
    with pytest.raises(InvalidCertificate):
        LockCertificate(())
    stranger = G.vote(authority("s"), params, key=SigningKey(seed("s")))
    with pytest.raises(InvalidCertificate):
        LockCertificate.of([votes[0], stranger]).verify(G.witnesses, KEY)
    assert c not in {v.witness for v in certificate.votes}
