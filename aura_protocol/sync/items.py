"""What a device offers to sync: the items of one journal namespace.

An item is `(order key, fact id)`. The order key is the first 8 bytes of the fact's order token
read as a big-endian u64: the `OrderClock` counter, so the facts a device wrote recently have
the highest keys and differences cluster at the end of the range, where reconciliation finds
them in few rounds. Only signed facts are offered. Unsigned ones are this device's own
accounting (coupled sends, leakage records, its own snapshots), which a peer must never receive
and would refuse; and facts pruned under a snapshot are not offered either (the journal no
longer holds their bytes; peers that lack them take the snapshot's covered facts from a device
that still has them, and ids a device holds pruned are never fetched again).
"""

from __future__ import annotations

from aura_core.hashing import Hash32
from aura_core.ids import FactId
from aura_core.reconcile import MAX_TIMESTAMP
from aura_journal.fact import Fact, Unattested
from aura_journal.journal import Journal

__all__ = ["order_key", "shareable", "sync_items", "fact_id"]


def order_key(fact: Fact) -> int:
    """The fact's reconciliation timestamp: its order token's counter (capped at the
    reconciler's largest timestamp, which no counter reaches)."""
    return min(int.from_bytes(fact.body.order.token[:8], "big"), MAX_TIMESTAMP)


def shareable(fact: Fact) -> bool:
    """Whether a fact may leave this device: only signed facts do."""
    return type(fact.attestation) is not Unattested


def sync_items(journal: Journal) -> list[tuple[int, bytes]]:
    """The items of every shareable fact the journal retains (in no particular order: the
    reconciler sorts them)."""
    items: list[tuple[int, bytes]] = []
    for fid in journal.fact_ids():
        fact = journal.get(fid)
        if fact is not None and shareable(fact):
            items.append((order_key(fact), fid.hash.digest))
    return items


def fact_id(raw: bytes) -> FactId:
    """The fact id of a reconciliation id."""
    return FactId(Hash32(raw))
