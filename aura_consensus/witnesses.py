"""The witness set W and its threshold t.

Each witness is an authority with the FROST identifier of its key share in the group that signs
commits. 1 ≤ t ≤ |W|, authorities and identifiers are distinct, and members are sorted by
authority, so a witness set has one encoding and travels inside `ConsensusParams`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from aura_core.crypto.frost import MAX_IDENTIFIER, PublicKeyPackage
from aura_core.encoding import record
from aura_core.errors import InvalidWitnessSet, UnknownWitness
from aura_core.ids import AuthorityId
from aura_core.memo import memoized_property

__all__ = ["MAX_WITNESSES", "Witness", "WitnessSet", "majority_threshold"]

MAX_WITNESSES = 256
"""As many as a prestate can name."""


def _check_signer(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 1 <= value <= MAX_IDENTIFIER:
        raise InvalidWitnessSet(f"a FROST identifier is in 1..{MAX_IDENTIFIER}")


@record("consensus.witness")
@attrs.frozen(order=True)
class Witness:
    """An authority that witnesses, and the FROST identifier its signature shares use."""

    authority: AuthorityId
    signer: int = attrs.field(validator=_check_signer)


def _check_members(_: object, __: object, value: tuple[Witness, ...]) -> None:
    if type(value) is not tuple or not all(type(w) is Witness for w in value):
        raise InvalidWitnessSet("members is a tuple of Witness")
    if not 1 <= len(value) <= MAX_WITNESSES:
        raise InvalidWitnessSet(f"a witness set has 1..{MAX_WITNESSES} members")
    authorities = [w.authority for w in value]
    if authorities != sorted(set(authorities)):
        raise InvalidWitnessSet("witnesses are distinct authorities sorted by id")
    if len({w.signer for w in value}) != len(value):
        raise InvalidWitnessSet("witnesses have distinct FROST identifiers")


@record("consensus.witness_set")
@attrs.frozen(slots=False)
class WitnessSet:
    """W and t. Build with `WitnessSet.of`; any invalid set raises `InvalidWitnessSet`."""

    members: tuple[Witness, ...] = attrs.field(validator=_check_members)
    threshold: int = attrs.field()

    @threshold.validator
    def _check_threshold(self, _: object, value: int) -> None:
        if type(value) is not int or not 1 <= value <= len(self.members):
            raise InvalidWitnessSet(f"threshold must satisfy 1 <= t <= {len(self.members)}")

    @classmethod
    def of(
        cls,
        signers: Mapping[AuthorityId, int] | Iterable[tuple[AuthorityId, int]],
        threshold: int,
    ) -> WitnessSet:
        """A witness set from authority → FROST identifier pairs, in any order."""
        pairs = list(signers.items() if isinstance(signers, Mapping) else signers)
        if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            raise InvalidWitnessSet("witnesses are (AuthorityId, identifier) pairs")
        if not all(type(a) is AuthorityId for a, _ in pairs):
            raise InvalidWitnessSet("witnesses are authorities")
        return cls(tuple(sorted(Witness(a, s) for a, s in pairs)), threshold)

    @property
    def authorities(self) -> tuple[AuthorityId, ...]:
        """Every witness, sorted."""
        return tuple(w.authority for w in self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, authority: object) -> bool:
        return authority in self._by_authority

    @memoized_property
    def _by_authority(self) -> dict[AuthorityId, int]:
        return {w.authority: w.signer for w in self.members}

    @memoized_property
    def _by_signer(self) -> dict[int, AuthorityId]:
        return {w.signer: w.authority for w in self.members}

    def signer_of(self, authority: AuthorityId) -> int:
        """The FROST identifier of a witness; `UnknownWitness` for anyone else."""
        signer = self._by_authority.get(authority)
        if signer is None:
            raise UnknownWitness(f"{authority} is not a witness")
        return signer

    def authority_of(self, signer: int) -> AuthorityId:
        """The witness holding FROST identifier `signer`; `UnknownWitness` if none does."""
        authority = self._by_signer.get(signer)
        if authority is None:
            raise UnknownWitness(f"no witness has FROST identifier {signer}")
        return authority

    def check_group(self, public_key_package: PublicKeyPackage) -> None:
        """Raise `InvalidWitnessSet` unless every witness holds a share of this group and t
        shares are enough to sign (t ≥ the group's FROST threshold)."""
        if not isinstance(public_key_package, PublicKeyPackage):
            raise InvalidWitnessSet("expected a frost.PublicKeyPackage")
        shares = public_key_package.verifying_shares
        missing = [w.signer for w in self.members if w.signer not in shares]
        if missing:
            raise InvalidWitnessSet(f"FROST identifiers {missing} hold no share of the group")
        if self.threshold < public_key_package.min_signers:
            raise InvalidWitnessSet(
                f"threshold {self.threshold} is below the group's FROST threshold "
                f"{public_key_package.min_signers}"
            )


def majority_threshold(count: int) -> int:
    """⌈n/2⌉, the threshold the reference uses for relational (cross-authority) consensus."""
    if type(count) is not int or count < 1:
        raise InvalidWitnessSet("a witness set has at least one member")
    return (count + 1) // 2
