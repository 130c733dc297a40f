"""Nonce bookkeeping: no FROST nonce is ever used twice, and none outlives its epoch.

FROST round-1 nonces are single-use: signing two messages with one nonce pair reveals the key
share. The native `SigningNonces` already refuse a second `sign`, but pipelining keeps nonces
across instances (a `SignShare` carries the witness's *next* commitment, so the next instance
needs no round 1), and that cache must be just as strict:

- `NonceRegistry` (initiator side): the commitments witnesses announced for the current epoch,
  and every commitment already placed in a signing package. `take` hands each cached
  commitment out once; `mark_used`/`offer` refuse one seen before (`NonceReuse`).
- `WitnessNonces` (witness side): the witness's own unused nonces for the current epoch, found
  by the commitment a signing package names; `take` removes them.

Both are values: every method returns a new one and leaves the old unchanged. `advance(epoch)`
drops everything: after an epoch change (key rotation, membership change) old nonces are
useless and old commitments must not be accepted (`StaleEpoch`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from aura_core.crypto import frost
from aura_core.errors import InvalidArgument, NonceReuse, StaleEpoch
from aura_core.ids import AuthorityId

__all__ = ["NonceRegistry", "WitnessNonces"]


def _epoch(value: object) -> int:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument("an epoch is an unsigned 64-bit integer")
    return value


def _commitments(value: object) -> frost.SigningCommitments:
    if not isinstance(value, frost.SigningCommitments):
        raise InvalidArgument("expected frost.SigningCommitments")
    return value


@attrs.frozen
class NonceRegistry:
    """(Initiator) Announced and used nonce commitments of one epoch."""

    epoch: int = 0
    cached: Mapping[AuthorityId, frost.SigningCommitments] = attrs.field(factory=dict)
    """Witness → its announced, unused commitment (for pipelining)."""
    used: frozenset[bytes] = frozenset()
    """Encodings of every commitment already placed in a signing package this epoch."""

    def _at(self, epoch: object) -> None:
        if _epoch(epoch) != self.epoch:
            raise StaleEpoch(f"nonce material of epoch {epoch}; the registry is at {self.epoch}")

    def advance(self, epoch: int) -> NonceRegistry:
        """Move to a newer epoch, forgetting every cached and used commitment."""
        if _epoch(epoch) <= self.epoch:
            raise StaleEpoch(f"epoch {epoch} is not after {self.epoch}")
        return NonceRegistry(epoch)

    def offer(
        self, epoch: int, witness: AuthorityId, commitments: frost.SigningCommitments
    ) -> NonceRegistry:
        """Cache a witness's next commitment (from `SignShare.next_commitment`). One already
        used is `NonceReuse`; a different one replaces the witness's unused cached one."""
        self._at(epoch)
        if type(witness) is not AuthorityId:
            raise InvalidArgument("a witness is an AuthorityId")
        encoded = _commitments(commitments).to_bytes()
        if encoded in self.used:
            raise NonceReuse(f"{witness} offered a commitment that was already used")
        if any(c.to_bytes() == encoded for w, c in self.cached.items() if w != witness):
            raise NonceReuse(f"{witness} offered another witness's commitment")
        return attrs.evolve(self, cached={**self.cached, witness: commitments})

    def take(
        self, epoch: int, witnesses: Iterable[AuthorityId]
    ) -> tuple[dict[AuthorityId, frost.SigningCommitments], NonceRegistry]:
        """Hand out (and mark used) the cached commitments of `witnesses` that have one; pass
        them to `Start(cached_commitments=...)`."""
        self._at(epoch)
        wanted = set(witnesses)
        taken = {w: c for w, c in self.cached.items() if w in wanted}
        rest = {w: c for w, c in self.cached.items() if w not in wanted}
        used = self.used | {c.to_bytes() for c in taken.values()}
        return taken, attrs.evolve(self, cached=rest, used=used)

    def mark_used(
        self, epoch: int, commitments: Iterable[frost.SigningCommitments]
    ) -> NonceRegistry:
        """Record commitments placed in a signing package; any seen before is `NonceReuse`
        (and nothing is recorded)."""
        self._at(epoch)
        encodings = [_commitments(c).to_bytes() for c in commitments]
        if len(set(encodings)) != len(encodings) or self.used.intersection(encodings):
            raise NonceReuse("a nonce commitment was already used this epoch")
        used = self.used | set(encodings)
        cached = {w: c for w, c in self.cached.items() if c.to_bytes() not in used}
        return attrs.evolve(self, cached=cached, used=used)

    def can_pipeline(self, witnesses: Iterable[AuthorityId], threshold: int) -> bool:
        """At least `threshold` of `witnesses` have a cached commitment: the next instance can
        form its signing package at once (one round trip)."""
        return sum(1 for w in set(witnesses) if w in self.cached) >= threshold


@attrs.frozen(eq=False)
class WitnessNonces:
    """(Witness) Its own unused signing nonces of one epoch, by their commitment's encoding."""

    epoch: int = 0
    pending: Mapping[bytes, frost.SigningNonces] = attrs.field(factory=dict)

    def _at(self, epoch: object) -> None:
        if _epoch(epoch) != self.epoch:
            raise StaleEpoch(f"nonces of epoch {epoch}; this witness is at {self.epoch}")

    def advance(self, epoch: int) -> WitnessNonces:
        """Move to a newer epoch; every unused nonce is dropped."""
        if _epoch(epoch) <= self.epoch:
            raise StaleEpoch(f"epoch {epoch} is not after {self.epoch}")
        return WitnessNonces(epoch)

    def add(self, epoch: int, nonces: frost.SigningNonces) -> WitnessNonces:
        """Keep fresh nonces (from `frost.commit`) until a signing package names them."""
        self._at(epoch)
        if not isinstance(nonces, frost.SigningNonces) or nonces.used:
            raise NonceReuse("only fresh, unused nonces can be kept")
        key = nonces.commitments.to_bytes()
        if key in self.pending:
            raise NonceReuse("these nonces are already held")
        return attrs.evolve(self, pending={**self.pending, key: nonces})

    def take(
        self, epoch: int, commitments: frost.SigningCommitments
    ) -> tuple[frost.SigningNonces, WitnessNonces]:
        """The nonces behind `commitments`, removed from the cache. Commitments this witness
        holds no unused nonces for (never made, already used, or of an older epoch) are
        `NonceReuse`: signing is refused."""
        self._at(epoch)
        key = _commitments(commitments).to_bytes()
        nonces = self.pending.get(key)
        if nonces is None or nonces.used:
            raise NonceReuse("no unused nonces for this commitment")
        return nonces, attrs.evolve(
            self, pending={k: v for k, v in self.pending.items() if k != key}
        )

    def __len__(self) -> int:
        return len(self.pending)
