"""Equivocation proofs (two signed votes) and the evidence semilattice."""

from __future__ import annotations

import functools

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_consensus.evidence import EquivocationProof, Evidence
from aura_consensus.statements import SignedVote, Vote
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import canonical_encode, decode, encode, to_value
from aura_core.errors import ForgedEvidence, InvalidEvidence, SchemaError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ConsensusId
from aura_sim.testing.laws import check_semilattice
from tests.consensus.support import group, seed

G = group(2, 3)
GROUP_KEY = G.public.group_public_key
WITNESSES = G.authorities
# Small carriers so that keys collide often (the interesting case for deduplication).
small_hashes = st.sampled_from([Hash32(bytes([i]) * 32) for i in range(4)])


@functools.cache
def signed(
    witness: AuthorityId, cid: Hash32, prestate: Hash32, round: int, result: Hash32
) -> SignedVote:
    vote = Vote(GROUP_KEY, witness, ConsensusId(cid), prestate, round, result, Hash32.zero())
    return vote.sign(G.vote_keys[witness])


@st.composite
def proofs(draw: st.DrawFn) -> EquivocationProof:
    witness = draw(st.sampled_from(WITNESSES))
    prestate, round = draw(small_hashes), draw(st.integers(0, 2))
    one = draw(small_hashes)
    other = draw(small_hashes.filter(lambda h: h != one))
    return EquivocationProof.of(
        signed(witness, draw(small_hashes), prestate, round, one),
        signed(witness, draw(small_hashes), prestate, round, other),
    )


evidences = st.lists(proofs(), max_size=6).map(Evidence.of)


def test_evidence_join_is_a_semilattice() -> None:
    check_semilattice(evidences, Evidence.join, identity=Evidence())


@given(evidences, evidences)
def test_join_keeps_every_equivocator_and_one_proof_per_key(a: Evidence, b: Evidence) -> None:
    joined = a.join(b)
    assert joined.equivocators() == a.equivocators() | b.equivocators()
    keys = [p.key for p in joined.proofs]
    assert len(keys) == len(set(keys)) == len({p.key for p in a.proofs | b.proofs})
    assert decode(encode(joined), Evidence) == joined


@given(proofs())
def test_a_proof_survives_any_merge_and_verifies(proof: EquivocationProof) -> None:
    held = Evidence.of([proof])
    for other in (Evidence(), held, Evidence.of([proof, proof])):
        assert proof.witness in held.join(other).equivocators(proof.prestate_hash)
        assert proof.witness in other.join(held).equivocators(proof.prestate_hash)
    proof.verify(G.witnesses, GROUP_KEY)


def test_a_proof_needs_one_witness_one_prestate_one_round_two_results() -> None:
    a, b, _ = WITNESSES
    p, q = Hash32.of(b"p"), Hash32.of(b"q")
    low, high = Hash32(bytes(32)), Hash32(bytes([1]) * 32)
    base = signed(a, p, p, 0, low)
    for second in (
        signed(a, p, p, 0, low),  # the same result
        signed(b, p, p, 0, high),  # another witness
        signed(a, p, q, 0, high),  # another prestate
        signed(a, p, p, 1, high),  # another round: moving on is not a double vote
        attrs.evolve(
            signed(a, p, p, 0, high),
            vote=attrs.evolve(
                signed(a, p, p, 0, high).vote,
                group_key=group(2, 3, "other").public.group_public_key,
            ),
        ),  # another group
    ):
        with pytest.raises(InvalidEvidence):
            EquivocationProof.of(base, second)
    high_vote = signed(a, q, p, 0, high)  # another instance of the prestate is fine
    with pytest.raises(InvalidEvidence):
        EquivocationProof(high_vote, base)  # not in canonical order
    assert EquivocationProof.of(high_vote, base) == EquivocationProof.of(base, high_vote)
    value = to_value(EquivocationProof.of(base, high_vote))
    assert isinstance(value, dict)
    swapped = {**value, "first": value["second"], "second": value["first"]}
    with pytest.raises(SchemaError):
        decode(canonical_encode(swapped), EquivocationProof)


def test_a_proof_with_a_signature_the_accused_did_not_make_is_forged() -> None:
    a = WITNESSES[0]
    p = Hash32.of(b"p")
    genuine = signed(a, p, p, 0, Hash32.of(b"x"))
    other = signed(a, p, p, 0, Hash32.of(b"y"))
    impostor = other.vote.sign(SigningKey(seed("impostor")))
    for forged in (
        EquivocationProof.of(genuine, SignedVote(other.vote, bytes(64))),
        EquivocationProof.of(genuine, impostor),
        EquivocationProof.of(SignedVote(genuine.vote, other.signature), other),
    ):
        with pytest.raises(ForgedEvidence):
            forged.verify(G.witnesses, GROUP_KEY)
    proof = EquivocationProof.of(genuine, other)
    proof.verify(G.witnesses, GROUP_KEY)
    with pytest.raises(ForgedEvidence):  # under another group, its votes are not of that group
        proof.verify(G.witnesses, group(2, 3, "other").public.group_public_key)
    with pytest.raises(ForgedEvidence):  # a witness set that does not know the accused
        proof.verify(group(2, 3, "other").witnesses, GROUP_KEY)


def test_evidence_refuses_duplicate_keys_and_foreign_values() -> None:
    a = WITNESSES[0]
    p = Hash32.of(b"p")
    low, high = Hash32(bytes(32)), Hash32(bytes([1]) * 32)
    one = EquivocationProof.of(signed(a, low, p, 0, low), signed(a, low, p, 0, high))
    two = EquivocationProof.of(signed(a, high, p, 1, low), signed(a, high, p, 1, high))
    assert one.key == two.key and len(Evidence.of([one, two])) == 1
    with pytest.raises(InvalidEvidence):
        Evidence(frozenset({one, two}))
    with pytest.raises(InvalidEvidence):
        Evidence.of(["not a proof"])  # type: ignore[list-item]
    with pytest.raises(InvalidEvidence):
        Evidence().join("evidence")  # type: ignore[arg-type]


def test_about_selects_the_proofs_on_one_prestate() -> None:
    a, b, _ = WITNESSES
    low, high = Hash32(bytes(32)), Hash32(bytes([1]) * 32)
    p1, p2 = Hash32(bytes([7]) * 32), Hash32(bytes([8]) * 32)
    on_p1 = EquivocationProof.of(signed(a, low, p1, 0, low), signed(a, low, p1, 0, high))
    on_p2 = EquivocationProof.of(signed(b, high, p2, 3, low), signed(b, low, p2, 3, high))
    ev = Evidence.of([on_p1, on_p2])
    assert ev.about(p1) == Evidence.of([on_p1]) and ev.about(p2) == Evidence.of([on_p2])
    assert ev.about(Hash32(bytes([4]) * 32)) == Evidence()
    assert ev.equivocators(p2) == {b} and ev.equivocators() == {a, b}
