"""Equivocation proofs and the evidence semilattice."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_consensus.evidence import EquivocationProof, Evidence
from aura_core.encoding import canonical_encode, decode, encode, to_value
from aura_core.errors import InvalidEvidence, SchemaError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ConsensusId
from aura_core.lattice_laws import check_semilattice

# Small carriers so that keys collide often (the interesting case for deduplication).
witnesses = st.sampled_from([AuthorityId(bytes([i]) * 16) for i in range(3)])
small_hashes = st.sampled_from([Hash32(bytes([i]) * 32) for i in range(4)])
cids = small_hashes.map(ConsensusId)


@st.composite
def proofs(draw: st.DrawFn) -> EquivocationProof:
    one = draw(small_hashes)
    other = draw(small_hashes.filter(lambda h: h != one))
    return EquivocationProof.of(draw(witnesses), draw(cids), draw(small_hashes), one, other)


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
def test_a_proof_survives_any_merge(proof: EquivocationProof) -> None:
    held = Evidence.of([proof])
    for other in (Evidence(), held, Evidence.of([proof, proof])):
        assert proof.witness in held.join(other).equivocators(proof.prestate_hash)
        assert proof.witness in other.join(held).equivocators(proof.prestate_hash)


def test_proofs_need_two_different_results_in_canonical_order() -> None:
    w, cid, p = AuthorityId(bytes(16)), ConsensusId(Hash32.zero()), Hash32.zero()
    low, high = Hash32(bytes(32)), Hash32(bytes([1]) * 32)
    with pytest.raises(InvalidEvidence):
        EquivocationProof.of(w, cid, p, low, low)
    with pytest.raises(InvalidEvidence):
        EquivocationProof(w, cid, p, high, low)
    assert EquivocationProof.of(w, cid, p, high, low) == EquivocationProof.of(w, cid, p, low, high)
    value = to_value(EquivocationProof.of(w, cid, p, low, high))
    assert isinstance(value, dict)
    first, second = value["first_result_id"], value["second_result_id"]
    swapped = {**value, "first_result_id": second, "second_result_id": first}
    with pytest.raises(SchemaError):
        decode(canonical_encode(swapped), EquivocationProof)


def test_evidence_refuses_duplicate_keys_and_foreign_values() -> None:
    w, p = AuthorityId(bytes(16)), Hash32.zero()
    low, high = Hash32(bytes(32)), Hash32(bytes([1]) * 32)
    one = EquivocationProof.of(w, ConsensusId(Hash32(bytes([5]) * 32)), p, low, high)
    two = EquivocationProof.of(w, ConsensusId(Hash32(bytes([6]) * 32)), p, low, high)
    assert len(Evidence.of([one, two])) == 1
    with pytest.raises(InvalidEvidence):
        Evidence(frozenset({one, two}))
    with pytest.raises(InvalidEvidence):
        Evidence.of(["not a proof"])  # type: ignore[list-item]
    with pytest.raises(InvalidEvidence):
        Evidence().join("evidence")  # type: ignore[arg-type]


def test_about_selects_the_proofs_an_instance_cares_about() -> None:
    w = AuthorityId(bytes(16))
    low, high = Hash32(bytes(32)), Hash32(bytes([1]) * 32)
    p1, p2 = Hash32(bytes([7]) * 32), Hash32(bytes([8]) * 32)
    here, elsewhere = ConsensusId(Hash32.zero()), ConsensusId(Hash32(bytes([9]) * 32))
    on_p1 = EquivocationProof.of(w, elsewhere, p1, low, high)
    in_here = EquivocationProof.of(AuthorityId(bytes([2]) * 16), here, p2, low, high)
    ev = Evidence.of([on_p1, in_here])
    assert ev.about(here, p1) == ev  # recorded here, or about our prestate from elsewhere
    assert ev.about(here, p2) == Evidence.of([in_here])
    assert ev.about(elsewhere, p2) == ev
    assert ev.about(ConsensusId(Hash32(bytes([3]) * 32)), Hash32(bytes([4]) * 32)) == Evidence()
    assert ev.equivocators(p2) == {in_here.witness}
