"""Equivocation proofs and the evidence set that carries them.

A witness that votes for two different results in one round of one prestate is an
equivocator. `EquivocationProof` holds the two *signed* votes (in canonical order, by result
id, so the same double vote seen by two replicas gives the same proof): anyone who knows the
witness set can check that the accused really signed both, so a proof can be relayed without
trusting the relay, and a forged one (`verify` raises `ForgedEvidence`) convicts only whoever
forwarded it.

`Evidence` is a grow-only set of proofs whose join is set union: replicas and instances merge
their evidence in any order and agree. It holds proofs its holder verified (the instance checks
each new proof before it joins, `aura_consensus.instance`). At most one proof is kept per
(witness, first result, second result): if two proofs share that key (the same double vote
reported in two rounds or instances), the smaller one by encoding is kept. Taking the minimum
per key keeps the join commutative, associative and idempotent, and the key — hence the
witness's standing as an equivocator — is never lost.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_consensus.statements import SignedVote
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import encode, record
from aura_core.errors import ConsensusError, ForgedEvidence, InvalidEvidence
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId

__all__ = ["EquivocationProof", "Evidence"]


@record("consensus.equivocation_proof")
@attrs.frozen
class EquivocationProof:
    """Two signed votes by one witness for different results in one round of one prestate.

    The votes are stored in increasing order of result id (build with `EquivocationProof.of`,
    which sorts). Two votes that do not conflict raise `InvalidEvidence`; whether the
    signatures are the witness's is what `verify` checks.
    """

    first: SignedVote
    second: SignedVote

    def __attrs_post_init__(self) -> None:
        if type(self.first) is not SignedVote or type(self.second) is not SignedVote:
            raise InvalidEvidence("a proof holds two signed votes")
        if not self.first.conflicts_with(self.second):
            raise InvalidEvidence(
                "a proof needs two votes by one witness for different results in one round "
                "of one prestate"
            )
        if self.first.result_id > self.second.result_id:
            raise InvalidEvidence("a proof lists its votes in increasing order of result id")

    @classmethod
    def of(cls, one: SignedVote, other: SignedVote) -> EquivocationProof:
        """The proof for two conflicting votes, in whichever order they were seen."""
        if type(one) is not SignedVote or type(other) is not SignedVote:
            raise InvalidEvidence("a proof holds two signed votes")
        low, high = sorted((one, other), key=lambda v: v.result_id)
        return cls(low, high)

    @property
    def witness(self) -> AuthorityId:
        return self.first.witness

    @property
    def prestate_hash(self) -> Hash32:
        return self.first.prestate_hash

    @property
    def round(self) -> int:
        return self.first.round

    @property
    def key(self) -> tuple[AuthorityId, Hash32, Hash32]:
        """What proofs are deduplicated by."""
        return (self.witness, self.first.result_id, self.second.result_id)

    def verify(self, witnesses: WitnessSet, group_key: VerifyingKey) -> None:
        """Return if the accused witness signed both votes, in this group; otherwise
        `ForgedEvidence`."""
        try:
            self.first.verify(witnesses, group_key)
            self.second.verify(witnesses, group_key)
        except ConsensusError as exc:
            raise ForgedEvidence(f"a proof against {self.witness}: {exc.message}") from None


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

    def about(self, prestate_hash: Hash32) -> Evidence:
        """The proofs that matter to the instances of one prestate: a witness that equivocated
        on it, in any round or instance, is not trusted on it again. This is the delta that
        rides on an instance's messages."""
        return Evidence(frozenset(p for p in self.proofs if p.prestate_hash == prestate_hash))

    def __len__(self) -> int:
        return len(self.proofs)

    def __contains__(self, proof: object) -> bool:
        return proof in self.proofs
