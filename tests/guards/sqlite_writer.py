"""Child process for the crash test: merges signed facts into a SQLite journal in a loop and
prints `ack <fact id>` after each merge returns (i.e. after its batch committed)."""

from __future__ import annotations

import sys

import anyio

from aura_effects.journal import JournalHandler
from aura_effects.storage import SqliteStorage
from aura_journal.standard import standard_registry
from tests.journal.helpers import ALICE, BOB, CONTEXT_NS, genesis_fact, spent


async def main(path: str) -> None:
    storage = await SqliteStorage.open(path)
    journals = JournalHandler(storage, standard_registry())
    await journals.merge(CONTEXT_NS, [genesis_fact()])
    i = 0
    while True:
        fact = spent(ALICE, BOB, 0, i, ("crash", i))
        await journals.merge(CONTEXT_NS, [fact])
        print(f"ack {fact.id}", flush=True)
        i += 1


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
