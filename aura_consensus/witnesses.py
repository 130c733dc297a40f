"""The witness set W, its threshold t and its fault bound f.

Each witness is an authority with the FROST identifier of its key share in the group that signs
commits and the Ed25519 key it signs its votes with. Authorities and identifiers are distinct
and members are sorted by authority, so a witness set has one encoding and travels inside
`ConsensusParams` (every node of an instance agrees on who may vote and with which key).

The fault bound f is how many witnesses may be byzantine (sign anything, lie, stay silent)
without losing safety or liveness. A set refuses (`UnsafeThreshold`) a threshold that does not
fit it:

- safety, 2t > n + f: two commits on one prestate would need 2t signatures from n witnesses,
  so more than f witnesses would have signed both, and at most f can be byzantine;
- liveness, t ≤ n - f: the honest witnesses alone can reach the threshold.

Together they imply n ≥ 3f + 1. `fault_bound(n, t)` is the largest f a policy is safe for and
`safe_threshold(n, f)` the smallest t; the rounds protocol (`aura_consensus.rounds`) also uses
the fast quorum `fast_quorum` and the round-change quorum n - f derived here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.crypto.frost import MAX_IDENTIFIER, PublicKeyPackage
from aura_core.encoding import record
from aura_core.errors import InvalidWitnessSet, UnknownWitness, UnsafeThreshold
from aura_core.ids import AuthorityId
from aura_core.memo import memoized_property

__all__ = ["MAX_WITNESSES", "Witness", "WitnessSet", "fault_bound", "safe_threshold"]

MAX_WITNESSES = 256
"""As many as a prestate can name."""


def _check_signer(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 1 <= value <= MAX_IDENTIFIER:
        raise InvalidWitnessSet(f"a FROST identifier is in 1..{MAX_IDENTIFIER}")


def _check_key(_: object, __: object, value: VerifyingKey | None) -> None:
    if value is not None and type(value) is not VerifyingKey:
        raise InvalidWitnessSet("a witness's vote key is an ed25519.VerifyingKey")


@record("consensus.witness")
@attrs.frozen(order=True)
class Witness:
    """An authority that witnesses, the FROST identifier its signature shares use and the
    Ed25519 key its votes are signed with (None only in a set that is not used to run
    instances, such as the one `aura_consensus.tree.tree_witnesses` derives from a tree)."""

    authority: AuthorityId
    signer: int = attrs.field(validator=_check_signer)
    key: VerifyingKey | None = attrs.field(default=None, validator=_check_key, order=False)


def _check_members(_: object, __: object, value: tuple[Witness, ...]) -> None:
    if type(value) is not tuple or not all(type(w) is Witness for w in value):
        raise InvalidWitnessSet("members is a tuple of Witness")
    if not 1 <= len(value) <= MAX_WITNESSES:
        raise InvalidWitnessSet(f"a witness set has 1..{MAX_WITNESSES} members")
    raws = [w.authority.raw for w in value]  # bytes compare fast; ids order by their bytes
    if raws != sorted(set(raws)):
        raise InvalidWitnessSet("witnesses are distinct authorities sorted by id")
    if len({w.signer for w in value}) != len(value):
        raise InvalidWitnessSet("witnesses have distinct FROST identifiers")


def _unsafe(n: int, t: int, f: int) -> str | None:
    """Why (n, t, f) is unsafe, or None."""
    if 2 * t <= n + f:
        return f"{t}-of-{n} with f = {f} is not safe: it needs t > (n + f) / 2"
    if t > n - f:
        return f"{t}-of-{n} with f = {f} is not live: it needs t <= n - f"
    return None


def fault_bound(count: int, threshold: int) -> int:
    """The largest f a t-of-n policy tolerates: min(2t - n - 1, n - t). `UnsafeThreshold` if
    no f ≥ 0 does (t ≤ n/2, e.g. 2-of-4: two disjoint halves could both decide)."""
    if type(count) is not int or type(threshold) is not int or not 1 <= threshold <= count:
        raise InvalidWitnessSet("a policy needs 1 <= t <= n")
    bound = min(2 * threshold - count - 1, count - threshold)
    if bound < 0:
        raise UnsafeThreshold(
            f"{threshold}-of-{count} is not safe for any number of byzantine witnesses: "
            f"use t >= {count // 2 + 1}"
        )
    return bound


def safe_threshold(count: int, faults: int) -> int:
    """The smallest t that n witnesses with up to f byzantine ones may use, ⌊(n + f)/2⌋ + 1;
    `UnsafeThreshold` if n < 3f + 1 (no threshold is both safe and live)."""
    if type(count) is not int or type(faults) is not int or count < 1 or faults < 0:
        raise InvalidWitnessSet("n >= 1 witnesses and f >= 0 faults")
    threshold = (count + faults) // 2 + 1
    reason = _unsafe(count, threshold, faults)
    if reason is not None:
        raise UnsafeThreshold(f"{count} witnesses cannot tolerate {faults} byzantine: {reason}")
    return threshold


@record("consensus.witness_set")
@attrs.frozen(slots=False)
class WitnessSet:
    """W, t and f. Build with `WitnessSet.of`; an invalid set raises `InvalidWitnessSet`
    (`UnsafeThreshold` for a threshold the fault bound does not allow)."""

    members: tuple[Witness, ...] = attrs.field(validator=_check_members)
    threshold: int = attrs.field()
    faults: int = attrs.field(default=0)
    """f: how many witnesses may be byzantine."""

    @threshold.validator
    def _check_threshold(self, _: object, value: int) -> None:
        if type(value) is not int or not 1 <= value <= len(self.members):
            raise InvalidWitnessSet(f"threshold must satisfy 1 <= t <= {len(self.members)}")

    @faults.validator
    def _check_faults(self, _: object, value: int) -> None:
        if type(value) is not int or value < 0:
            raise InvalidWitnessSet("the fault bound f is an int >= 0")
        reason = _unsafe(len(self.members), self.threshold, value)
        if reason is not None:
            raise UnsafeThreshold(reason)

    @classmethod
    def of(
        cls,
        signers: Mapping[AuthorityId, int] | Iterable[tuple[AuthorityId, int]],
        threshold: int,
        *,
        faults: int = 0,
        keys: Mapping[AuthorityId, VerifyingKey] | None = None,
    ) -> WitnessSet:
        """A witness set from authority → FROST identifier pairs (in any order), with each
        witness's vote key from `keys` (which must then name exactly these authorities)."""
        pairs = list(signers.items() if isinstance(signers, Mapping) else signers)
        if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            raise InvalidWitnessSet("witnesses are (AuthorityId, identifier) pairs")
        if not all(type(a) is AuthorityId for a, _ in pairs):
            raise InvalidWitnessSet("witnesses are authorities")
        if keys is not None and set(keys) != {a for a, _ in pairs}:
            raise InvalidWitnessSet("vote keys must name exactly the witnesses")
        members = (Witness(a, s, None if keys is None else keys[a]) for a, s in pairs)
        return cls(tuple(sorted(members)), threshold, faults)

    def with_keys(self, keys: Mapping[AuthorityId, VerifyingKey]) -> WitnessSet:
        """The same set with every witness's vote key (`keys` names exactly the witnesses)."""
        if set(keys) != set(self.authorities):
            raise InvalidWitnessSet("vote keys must name exactly the witnesses")
        members = tuple(attrs.evolve(w, key=keys[w.authority]) for w in self.members)
        return WitnessSet(members, self.threshold, self.faults)

    @property
    def authorities(self) -> tuple[AuthorityId, ...]:
        """Every witness, sorted."""
        return tuple(w.authority for w in self.members)

    @property
    def has_keys(self) -> bool:
        """Whether every witness has a vote key (needed to run instances)."""
        return all(w.key is not None for w in self.members)

    @property
    def fast_quorum(self) -> int:
        """How many signers a round-0 (fast path) signing package names: max(t, ⌊(n + 3f)/2⌋
        + 1), which is t when f = 0. Any n - f round changes then show at most one result
        that round 0 may have committed (see `aura_consensus.rounds`)."""
        return max(self.threshold, (len(self.members) + 3 * self.faults) // 2 + 1)

    @property
    def change_quorum(self) -> int:
        """How many signed round changes justify a round proposal: n - f."""
        return len(self.members) - self.faults

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, authority: object) -> bool:
        return authority in self._by_authority

    @memoized_property
    def _by_authority(self) -> dict[AuthorityId, Witness]:
        return {w.authority: w for w in self.members}

    @memoized_property
    def _by_signer(self) -> dict[int, AuthorityId]:
        return {w.signer: w.authority for w in self.members}

    def signer_of(self, authority: AuthorityId) -> int:
        """The FROST identifier of a witness; `UnknownWitness` for anyone else."""
        witness = self._by_authority.get(authority)
        if witness is None:
            raise UnknownWitness(f"{authority} is not a witness")
        return witness.signer

    def key_of(self, authority: AuthorityId) -> VerifyingKey:
        """The vote key of a witness; `UnknownWitness` for anyone else, `InvalidWitnessSet`
        if this set carries no keys."""
        witness = self._by_authority.get(authority)
        if witness is None:
            raise UnknownWitness(f"{authority} is not a witness")
        if witness.key is None:
            raise InvalidWitnessSet(f"the witness set has no vote key for {authority}")
        return witness.key

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
