"""Snapshot facts: the reduced views of a prefix of the journal, so the prefix can be pruned.

A snapshot names a cutoff order token; it covers every fact the journal held with an order token
at or below the cutoff (plus everything earlier snapshots covered). It carries the count and a
digest of the covered fact ids and, per reducer, the canonical bytes of the view those facts
reduce to. A journal accepts a snapshot only if it can recompute exactly that digest and those
views and the snapshot is newer (higher sequence, cutoff not earlier) than the last one; after
that the covered facts may be pruned and every view stays the same, because reducers are
order-independent: view(all) = apply(view(covered), rest).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_core.encoding import record
from aura_core.hashing import Hash32, tagged_hash, u64
from aura_core.ids import FactId
from aura_core.time import OrderTime

__all__ = ["Snapshot", "covered_digest"]


@record("journal.snapshot")
@attrs.frozen
class Snapshot:
    """Views of the facts at or before `cutoff`, replacing them once validated."""

    cutoff: OrderTime
    sequence: int
    fact_count: int
    facts_digest: bytes
    states: dict[str, bytes] = attrs.field(hash=False)
    """Reducer name → canonical bytes of its view over the covered facts."""


def covered_digest(ids: Iterable[FactId]) -> tuple[int, bytes]:
    """(count, digest) of a set of fact ids, independent of iteration order."""
    ordered = sorted(fact_id.hash.digest for fact_id in ids)
    digest: Hash32 = tagged_hash("AURA_SNAPSHOT_COVER_V1", u64(len(ordered)), *ordered)
    return len(ordered), digest.digest
