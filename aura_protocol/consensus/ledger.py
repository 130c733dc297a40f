"""The witness's vote ledger on durable storage: one key per prestate it has signed on.

The ledger is what keeps an honest witness from signing two results on one prestate, so it
must survive restarts: a share leaves the node only after its ledger entry is stored. Entries
are never rewritten (a prestate's result is fixed by the first signature), so each is a key of
its own rather than one growing blob.
"""

from __future__ import annotations

from aura_consensus.witness import VoteLedger
from aura_core.effects import StorageEffects
from aura_core.errors import AuraError, EncodingError
from aura_core.hashing import Hash32

__all__ = ["LEDGER_PREFIX", "load_ledger", "store_vote"]

LEDGER_PREFIX = "consensus/ledger/"


async def load_ledger(storage: StorageEffects) -> VoteLedger:
    """The ledger as stored; a malformed entry is `EncodingError` (storage is trusted, so a
    bad entry means corruption, not an attack: refuse to run on it)."""
    signed: dict[Hash32, Hash32] = {}
    for key in sorted(await storage.list_keys(LEDGER_PREFIX)):
        value = await storage.get(key)
        try:
            prestate = Hash32.from_hex(key[len(LEDGER_PREFIX) :])
            result = Hash32(value) if value is not None else None
        except AuraError as exc:
            raise EncodingError(f"corrupt vote ledger entry {key!r}: {exc.message}") from None
        if result is not None:
            signed[prestate] = result
    return VoteLedger(signed)


async def store_vote(storage: StorageEffects, prestate_hash: Hash32, result_id: Hash32) -> None:
    """Record that this witness signed `result_id` on `prestate_hash` (idempotent)."""
    await storage.put(LEDGER_PREFIX + prestate_hash.hex(), result_id.digest)
