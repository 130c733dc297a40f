"""`JournalHandler`: what a device finds in its own storage is checked before it is believed.

Every stored entry is loaded only if its key is its fact's id in its namespace, it decodes, and
it validates (writer rules included); anything else is left out, reported by `rejected()` and
traced, and the rest of the journal loads. Storage itself is never modified by loading.
"""

from __future__ import annotations

import anyio

from aura_core.errors import EncodingError, MissingParent, StorageError
from aura_core.hashing import Hash32
from aura_effects.journal import JournalHandler, fact_key
from aura_effects.trace import Tracer
from aura_journal.context import ContextGenesis, ContextMember
from aura_journal.fact import JournalNamespace
from aura_journal.standard import standard_registry
from aura_sim.handlers import MemoryStorage
from tests.journal.helpers import (
    ALICE,
    BOB,
    CONTEXT_NS,
    KEYS,
    genesis_fact,
    signed,
    spent,
    spent_payload,
)

REGISTRY = standard_registry()


async def load(entries: dict[str, bytes]) -> tuple[JournalHandler, MemoryStorage, Tracer]:
    storage = MemoryStorage()
    for key, data in entries.items():
        await storage.put(key, data)
    tracer = Tracer()
    handler = JournalHandler(storage, REGISTRY, tracer)
    await handler.journal(CONTEXT_NS)
    return handler, storage, tracer


def test_entries_that_do_not_match_their_key_are_reported_and_left_out() -> None:
    async def main() -> None:
        genesis, good = genesis_fact(), spent(ALICE, BOB, 0, 5, "good")
        other = spent(ALICE, BOB, 0, 6, "other")
        elsewhere = JournalNamespace.of(
            ContextGenesis.create(
                [ContextMember(ALICE, KEYS[ALICE].verifying_key)], 1, bytes(32)
            ).context
        )
        misplaced = signed(elsewhere, spent_payload(ALICE, BOB, 0, 7), "x")
        prefix = f"journal/{CONTEXT_NS}/"
        not_its_id = prefix + Hash32.of(b"not the id").hex()
        foreign = prefix + misplaced.id.hash.hex()
        junk = prefix + "ab" * 32
        entries = {
            fact_key(CONTEXT_NS, genesis): genesis.encoded,
            fact_key(CONTEXT_NS, good): good.encoded,
            not_its_id: other.encoded,  # a valid fact under a key that is not its id
            foreign: misplaced.encoded,  # another namespace's fact, under its own id
            junk: b"\xff junk",
        }
        handler, storage, tracer = await load(entries)
        journal = await handler.journal(CONTEXT_NS)
        assert journal.fact_ids() == {genesis.id, good.id}
        errors = {r.key: type(r.error) for r in handler.rejected(CONTEXT_NS)}
        assert errors == {not_its_id: StorageError, foreign: StorageError, junk: EncodingError}
        events = tracer.events("journal.load.rejected")
        assert sorted(e.get("key") for e in events) == sorted(errors)
        assert sorted(await storage.list_keys("")) == sorted(entries)  # nothing was deleted

    anyio.run(main)


def test_a_fact_whose_parent_did_not_load_is_left_out_too() -> None:
    async def main() -> None:
        genesis, child = genesis_fact(), spent(ALICE, BOB, 0, 5, "child")
        misfiled = f"journal/{CONTEXT_NS}/" + Hash32.of(b"misfiled").hex()
        entries = {misfiled: genesis.encoded, fact_key(CONTEXT_NS, child): child.encoded}
        handler, _, _ = await load(entries)
        assert len(await handler.journal(CONTEXT_NS)) == 0
        errors = {r.key: type(r.error) for r in handler.rejected(CONTEXT_NS)}
        assert errors == {misfiled: StorageError, fact_key(CONTEXT_NS, child): MissingParent}

    anyio.run(main)
