"""Child process for the crash test: merges signed facts into a SQLite journal in a loop and
prints `ack <fact id>` after each merge returns (i.e. after its batch committed)."""

from __future__ import annotations

import sys

import anyio

from aura_core.crypto.ed25519 import SigningKey
from aura_effects.journal import JournalHandler
from aura_effects.storage import SqliteStorage
from aura_journal.budget import FlowSpent
from aura_journal.standard import standard_registry
from tests.journal.helpers import ALICE, BOB, CONTEXT_NS, signed

KEY = SigningKey(b"\x42" * 32)


async def main(path: str) -> None:
    storage = await SqliteStorage.open(path)
    journals = JournalHandler(storage, standard_registry())
    i = 0
    while True:
        fact = signed(CONTEXT_NS, FlowSpent(ALICE, BOB, 0, i), ("crash", i), KEY)
        await journals.merge(CONTEXT_NS, [fact])
        print(f"ack {fact.id}", flush=True)
        i += 1


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
