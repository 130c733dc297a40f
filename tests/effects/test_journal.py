"""`JournalHandler`: what a device finds in its own storage is checked before it is believed.

Every stored entry is loaded only if its key is its fact's id in its namespace, it decodes, and
it validates (writer rules included); anything else is left out, reported by `rejected()` and
traced, and the rest of the journal loads. Storage itself is never modified by loading.
"""

from __future__ import annotations

import itertools

import anyio
import pytest

from aura_consensus.ceremony import CeremonyRegistry
from aura_consensus.tree import authority_registry
from aura_core.errors import EncodingError, MissingParent, StorageError, UnauthorizedWriter
from aura_core.hashing import Hash32
from aura_effects.journal import JournalHandler, fact_key
from aura_effects.trace import Tracer
from aura_journal.context import ContextGenesis, ContextMember
from aura_journal.fact import Fact, JournalNamespace
from aura_journal.journal import Journal
from aura_journal.registry import Origin
from aura_journal.standard import standard_registry
from aura_journal.tree import AddLeaf
from aura_sim.handlers import MemoryStorage
from tests.journal.helpers import (
    ALICE,
    BOB,
    CONTEXT_NS,
    KEYS,
    genesis_fact,
    leaf,
    leaf_key,
    signed,
    spent,
    spent_payload,
)
from tests.journal.test_tree import NS, current, founded, op_fact

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


def test_a_fact_valid_only_after_one_stored_under_a_later_key_loads_too() -> None:
    """Storage keys are fact ids, not the order facts were accepted in: a fact the device added
    by a tree change wrote loads even when its key sorts before the change's."""

    async def main() -> None:
        tree = founded()
        [genesis] = [tree.get(fid) for fid in tree.fact_ids()]
        assert genesis is not None
        add = op_fact(current(tree), AddLeaf(leaf(3)), "add leaf 3")
        started, _ = CeremonyRegistry().start(
            Hash32.of(b"prestate"), Hash32.of(b"op"), 1, 0, [ALICE]
        )
        written = next(
            fact
            for n in itertools.count()
            if fact_key(NS, fact := signed(NS, started, ("by leaf 3", n), leaf_key(3)))
            < fact_key(NS, add)
        )
        storage = MemoryStorage()
        for fact in (genesis, add, written):
            await storage.put(fact_key(NS, fact), fact.encoded)
        handler = JournalHandler(storage, authority_registry(), Tracer())
        journal = await handler.journal(NS)
        assert journal.fact_ids() == {genesis.id, add.id, written.id}
        assert handler.rejected(NS) == ()

    anyio.run(main)


def test_a_batch_takes_a_fact_valid_only_after_a_later_one_in_it() -> None:
    """A peer's batch in any order: a fact the device added by a tree change wrote goes in with
    the change even when it comes first; a batch with a fact nobody may write is refused whole
    (the real rejection, not a missing parent), and one whose parent never comes says so."""
    tree = founded()
    [genesis] = [tree.get(fid) for fid in tree.fact_ids()]
    assert genesis is not None
    add = op_fact(current(tree), AddLeaf(leaf(3)), "add leaf 3")
    started, _ = CeremonyRegistry().start(Hash32.of(b"prestate"), Hash32.of(b"op"), 1, 0, [ALICE])
    written = signed(NS, started, "by leaf 3", leaf_key(3))
    stranger = signed(NS, started, "by leaf 9", leaf_key(9))

    def fresh() -> Journal:
        journal = Journal(NS, authority_registry())
        journal.insert(genesis, origin=Origin.LOCAL)
        return journal

    journal = fresh()
    assert journal.insert_batch([written, add]) == 2
    assert journal.fact_ids() == {genesis.id, add.id, written.id}

    journal = fresh()
    with pytest.raises(UnauthorizedWriter):
        journal.insert_batch([stranger, written, add])
    assert journal.fact_ids() == {genesis.id}

    orphan = op_fact(current(fresh()), AddLeaf(leaf(4)), "add leaf 4")
    child = op_fact(current(tree_after(fresh(), orphan)), AddLeaf(leaf(5)), "add leaf 5")
    journal = fresh()
    with pytest.raises(MissingParent):
        journal.insert_batch([child])
    assert journal.fact_ids() == {genesis.id}


def tree_after(journal: Journal, fact: Fact) -> Journal:
    journal.insert(fact, origin=Origin.LOCAL)
    return journal
