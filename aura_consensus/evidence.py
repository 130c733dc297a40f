"""Equivocation proofs and the evidence set that carries them.

A witness that votes for two different results on one prestate is an equivocator.
`EquivocationProof` records the two result ids (in canonical order, so the same double vote
seen by two replicas gives the same proof), and `Evidence` is a grow-only set of proofs whose
join is set union: replicas and instances merge their evidence in any order and agree.

At most one proof is kept per (witness, first result, second result): if two proofs share that
key (the same double vote reported under two instances), the smaller one by encoding is kept.
Taking the minimum per key keeps the join commutative, associative and idempotent, and the key
— hence the witness's standing as an equivocator — is never lost.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_core.encoding import encode, record
from aura_core.errors import InvalidEvidence
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ConsensusId

__all__ = ["EquivocationProof", "Evidence"]


@record("consensus.equivocation_proof")
@attrs.frozen(order=True)
class EquivocationProof:
    """`witness` voted for two results on `prestate_hash` in instance `consensus_id`.

    Valid only if the two result ids differ; they are stored in increasing order (build with
    `EquivocationProof.of`, which sorts). Anything else raises `InvalidEvidence`.
    """

    witness: AuthorityId
    consensus_id: ConsensusId
    prestate_hash: Hash32
    first_result_id: Hash32
    second_result_id: Hash32

    def __attrs_post_init__(self) -> None:
        if type(self.first_result_id) is not Hash32 or type(self.second_result_id) is not Hash32:
            raise InvalidEvidence("result ids are Hash32")
        if self.first_result_id == self.second_result_id:
            raise InvalidEvidence(f"a proof against {self.witness} needs two different results")
        if self.first_result_id > self.second_result_id:
            raise InvalidEvidence("a proof lists its result ids in increasing order")

    @classmethod
    def of(
        cls,
        witness: AuthorityId,
        consensus_id: ConsensusId,
        prestate_hash: Hash32,
        one: Hash32,
        other: Hash32,
    ) -> EquivocationProof:
        """The proof for two votes, in whichever order they were seen."""
        if type(one) is not Hash32 or type(other) is not Hash32:
            raise InvalidEvidence("result ids are Hash32")
        low, high = sorted((one, other))
        return cls(witness, consensus_id, prestate_hash, low, high)

    @property
    def key(self) -> tuple[AuthorityId, Hash32, Hash32]:
        """What proofs are deduplicated by."""
        return (self.witness, self.first_result_id, self.second_result_id)


def _sort_key(proof: EquivocationProof) -> bytes:
    return encode(proof)


def _normalise(proofs: Iterable[EquivocationProof]) -> frozenset[EquivocationProof]:
    best: dict[tuple[AuthorityId, Hash32, Hash32], EquivocationProof] = {}
    for proof in proofs:
        if type(proof) is not EquivocationProof:
            raise InvalidEvidence("evidence holds EquivocationProof values")
        held = best.get(proof.key)
        if held is None or _sort_key(proof) < _sort_key(held):
            best[proof.key] = proof
    return frozenset(best.values())


def _check_proofs(_: object, __: object, value: frozenset[EquivocationProof]) -> None:
    if type(value) is not frozenset:
        raise InvalidEvidence("evidence proofs are a frozenset")
    if _normalise(value) != value:
        raise InvalidEvidence("evidence keeps one proof per (witness, first, second)")


@record("consensus.evidence")
@attrs.frozen
class Evidence:
    """A grow-only set of equivocation proofs; `join` is union (deduplicated by key)."""

    proofs: frozenset[EquivocationProof] = attrs.field(default=frozenset(), validator=_check_proofs)

    @classmethod
    def of(cls, proofs: Iterable[EquivocationProof]) -> Evidence:
        return cls(_normalise(proofs))

    def join(self, other: Evidence) -> Evidence:
        """Union: commutative, associative, idempotent; `Evidence()` is the identity."""
        if type(other) is not Evidence:
            raise InvalidEvidence("evidence joins only with evidence")
        if other.proofs <= self.proofs:
            return self
        return Evidence(_normalise(self.proofs | other.proofs))

    def add(self, proof: EquivocationProof) -> Evidence:
        return self.join(Evidence.of([proof]))

    def equivocators(self, prestate_hash: Hash32 | None = None) -> frozenset[AuthorityId]:
        """Witnesses with a proof (on `prestate_hash`, if given)."""
        return frozenset(
            p.witness
            for p in self.proofs
            if prestate_hash is None or p.prestate_hash == prestate_hash
        )

    def about(self, consensus_id: ConsensusId, prestate_hash: Hash32) -> Evidence:
        """The proofs that matter to one instance: those recorded in it, and those about its
        prestate from any instance (a witness that equivocated on the prestate elsewhere is
        not trusted here either). This is the delta that rides on the instance's messages."""
        return Evidence(
            frozenset(
                p
                for p in self.proofs
                if p.consensus_id == consensus_id or p.prestate_hash == prestate_hash
            )
        )

    def __len__(self) -> int:
        return len(self.proofs)

    def __contains__(self, proof: object) -> bool:
        return proof in self.proofs
