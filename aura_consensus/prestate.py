"""The prestate: the state an operation is bound to.

A prestate lists the commitment of every authority involved (1..256 of them, sorted by
authority id, no duplicates) and one commitment for the shared context. Its hash is what
consensus agrees *on top of*: a witness whose own view hashes differently refuses to sign, so a
commit can only ever apply to the state it was computed from.

    prestate_hash = H("AURA_PRESTATE_V1" ‖ count u32LE ‖ (authority ‖ commitment)* ‖ context)

(`H` is BLAKE3-256; authority ids are 16 bytes, commitments 32.) The record form keeps the
entries sorted, so decoding refuses any other order and every prestate has one encoding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from aura_core.encoding import record
from aura_core.errors import InvalidPrestate
from aura_core.hashing import Hash32, tagged_hash, u32
from aura_core.ids import AuthorityId
from aura_core.memo import memoized_property

__all__ = ["MAX_PRESTATE_AUTHORITIES", "AuthorityCommitment", "Prestate", "prestate_hash"]

MAX_PRESTATE_AUTHORITIES = 256
"""At most this many authorities in one prestate."""

_TAG = "AURA_PRESTATE_V1"


@record("consensus.authority_commitment")
@attrs.frozen(order=True)
class AuthorityCommitment:
    """One authority's state commitment (e.g. its commitment-tree root) in a prestate."""

    authority: AuthorityId
    commitment: Hash32


def _check_entries(_: object, __: object, value: tuple[AuthorityCommitment, ...]) -> None:
    if type(value) is not tuple or not all(type(e) is AuthorityCommitment for e in value):
        raise InvalidPrestate("authority_commitments is a tuple of AuthorityCommitment")
    if not 1 <= len(value) <= MAX_PRESTATE_AUTHORITIES:
        raise InvalidPrestate(
            f"a prestate has 1..{MAX_PRESTATE_AUTHORITIES} authorities, got {len(value)}"
        )
    ids = [e.authority for e in value]
    if len(set(ids)) != len(ids):
        raise InvalidPrestate("a prestate lists each authority once")
    if ids != sorted(ids):
        raise InvalidPrestate("prestate authorities are sorted by id")


def _check_context(_: object, __: object, value: Hash32) -> None:
    if type(value) is not Hash32:
        raise InvalidPrestate("the context commitment is a Hash32")


@record("consensus.prestate")
@attrs.frozen(slots=False)
class Prestate:
    """The authorities' commitments and the context commitment an operation starts from.

    Build it with `Prestate.of` (which sorts); the constructor and the decoder accept only the
    sorted, duplicate-free form and raise `InvalidPrestate` (a `SchemaError` when decoding)
    otherwise.
    """

    authority_commitments: tuple[AuthorityCommitment, ...] = attrs.field(validator=_check_entries)
    context_commitment: Hash32 = attrs.field(validator=_check_context)

    @classmethod
    def of(
        cls,
        commitments: Mapping[AuthorityId, Hash32] | Iterable[tuple[AuthorityId, Hash32]],
        context_commitment: Hash32,
    ) -> Prestate:
        """A prestate from (authority, commitment) pairs in any order; a repeated authority is
        `InvalidPrestate` (even with the same commitment: the caller's view is inconsistent)."""
        pairs = list(commitments.items() if isinstance(commitments, Mapping) else commitments)
        for pair in pairs:
            if not (
                isinstance(pair, tuple)
                and len(pair) == 2
                and type(pair[0]) is AuthorityId
                and type(pair[1]) is Hash32
            ):
                raise InvalidPrestate("prestate entries are (AuthorityId, Hash32) pairs")
        entries = tuple(sorted(AuthorityCommitment(a, c) for a, c in pairs))
        return cls(entries, context_commitment)

    @property
    def authorities(self) -> tuple[AuthorityId, ...]:
        """The authorities, sorted."""
        return tuple(e.authority for e in self.authority_commitments)

    def commitment_of(self, authority: AuthorityId) -> Hash32 | None:
        for entry in self.authority_commitments:
            if entry.authority == authority:
                return entry.commitment
        return None

    @memoized_property
    def hash(self) -> Hash32:
        """The prestate hash (the formula in the module docstring)."""
        return prestate_hash(self)


def prestate_hash(prestate: Prestate) -> Hash32:
    """`H("AURA_PRESTATE_V1" ‖ count u32LE ‖ (authority ‖ commitment)* ‖ context_commitment)`."""
    if type(prestate) is not Prestate:
        raise InvalidPrestate("prestate_hash takes a Prestate")
    entries = prestate.authority_commitments
    parts = [u32(len(entries))]
    for entry in entries:
        parts.append(entry.authority.raw)
        parts.append(entry.commitment.digest)
    parts.append(prestate.context_commitment.digest)
    return tagged_hash(_TAG, *parts)
