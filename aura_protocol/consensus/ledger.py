"""The witness's vote ledger on durable storage: one key per prestate it has voted on.

The ledger is what keeps an honest witness from voting for two results in one round of a
prestate and from acting in a round it left, so it must survive restarts: a vote, share or
round change leaves the node only after its ledger entry is stored. An entry
(`aura_consensus.witness.PrestateVotes`) only moves forward (rounds increase, the round-0 vote
and locks are never replaced by older ones), so it is rewritten whole each time.
"""

from __future__ import annotations

from aura_consensus.witness import PrestateVotes, VoteLedger
from aura_core.effects import StorageEffects
from aura_core.encoding import decode, encode
from aura_core.errors import AuraError, EncodingError

__all__ = ["LEDGER_PREFIX", "load_ledger", "store_entry"]

LEDGER_PREFIX = "consensus/ledger/"


async def load_ledger(storage: StorageEffects) -> VoteLedger:
    """The ledger as stored; a malformed entry is `EncodingError` (storage is trusted, so a
    bad entry means corruption, not an attack: refuse to run on it)."""
    ledger = VoteLedger()
    for key, value in await storage.scan(LEDGER_PREFIX):
        try:
            entry = decode(value, PrestateVotes)
        except AuraError as exc:
            raise EncodingError(f"corrupt vote ledger entry {key!r}: {exc.message}") from None
        if key != LEDGER_PREFIX + entry.prestate_hash.hex():
            raise EncodingError(f"vote ledger entry {key!r} names another prestate")
        ledger = ledger.put(entry)
    return ledger


async def store_entry(storage: StorageEffects, entry: PrestateVotes) -> None:
    """Record what this witness did on one prestate (call before anything it signed leaves)."""
    await storage.put(LEDGER_PREFIX + entry.prestate_hash.hex(), encode(entry))
