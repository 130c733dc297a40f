"""The two storage handlers agree on reading by prefix: `list_keys` and `scan` give exactly the
keys starting with the prefix, sorted by code point, and `scan` the values `get` gives."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.effects import Put, StorageEffects
from aura_core.errors import StorageError
from aura_effects.storage import SqliteStorage
from aura_sim.handlers import MemoryStorage

# Code points around the edges the SQLite range query computes (the prefix's last character
# plus one, the largest code point), and a multi-byte one.
keys = st.text(alphabet="ab/é\x7f\U0010ffff", min_size=1, max_size=6)


async def both(directory: Path) -> list[StorageEffects]:
    return [MemoryStorage(), await SqliteStorage.open(directory / "store.db")]


@settings(max_examples=60, deadline=None)
@given(
    entries=st.dictionaries(keys, st.binary(max_size=8), max_size=12),
    prefixes=st.lists(st.text(alphabet="ab/é\x7f\U0010ffff", max_size=3), max_size=4),
)
def test_scan_and_list_keys_read_exactly_the_prefix(
    entries: dict[str, bytes], prefixes: list[str]
) -> None:
    async def check() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for storage in await both(Path(tmp)):
                await storage.batch([Put(k, v) for k, v in entries.items()])
                for prefix in ["", *prefixes]:
                    expected = sorted(k for k in entries if k.startswith(prefix))
                    assert await storage.list_keys(prefix) == expected
                    assert await storage.scan(prefix) == [(k, entries[k]) for k in expected]
                await storage.close()

    anyio.run(check)


@pytest.mark.anyio
async def test_a_closed_store_refuses_to_scan(tmp_path: Path) -> None:
    for storage in await both(tmp_path):
        await storage.put("journal/x", b"1")
        await storage.close()
        with pytest.raises(StorageError, match="closed"):
            await storage.scan("journal/")
