"""Devices in separate processes on 127.0.0.1: an account founded, a change agreed by consensus
over TCP, and journals converging by sync, with a device that finds a peer only through its
rendezvous descriptor.

Three processes (`tests/net/device_proc.py`, each with its own SQLite directory): a and b hold
the account's key shares (2-of-2), c is a device of the account without a share (as a device
just added is until the next key rotation), so no consensus message is ever addressed to it.
Seed tables: a knows b and c, b and c know only a; b and c meet through the descriptors each
published in the context's journal, which sync carries through a.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.net.multihost import (
    DeviceProcess,
    Host,
    deal,
    digest,
    free_ports,
    holds_leaves,
    same_facts,
    supervised,
    until,
)

pytestmark = pytest.mark.anyio


async def test_three_processes_agree_by_consensus_and_a_late_one_catches_up_by_sync(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    ports = free_ports(3)
    a, b, c = (
        Host(name, i, "127.0.0.1", port)
        for i, (name, port) in enumerate(zip("abc", ports, strict=True))
    )
    configs = await deal(
        [a, b, c],
        holders=[a, b],
        threshold=2,
        seeds={"a": ["b", "c"], "b": ["a"], "c": ["a"]},
        directory=tmp_path,
    )
    pa, pb, pc = (DeviceProcess(h, configs[h.name]) for h in (a, b, c))
    async with supervised([pa, pb, pc]):
        for process in (pa, pb):
            assert (await process.start())["loaded"] == 0

        # a proposes a new leaf; a and b (the share holders) agree over TCP.
        commit = await pa.call(op="add_leaf", leaf_id=3, seed=digest("phone").hex())
        assert set(commit["participants"]) == {str(a.address), str(b.address)}
        agreed = await until(
            [pa, pb],
            lambda s: same_facts(s) and holds_leaves([0, 1, 2, 3])(s),
            within=30,
            what="a and b holding each other's record of the change",
        )
        # Each recorded the commit itself, and sync brought the other's record.
        assert len(agreed["a"]["facts"]) == 3

        # c starts after the change: it learns it by sync alone.
        assert (await pc.start())["loaded"] == 0
        final = await until(
            [pa, pb, pc],
            lambda s: (
                same_facts(s)
                and all(len(x["descriptors"]) == 3 for x in s.values())
                and str(b.address) in s["c"]["synced_with"]
                and str(c.address) in s["b"]["synced_with"]
            ),
            within=60,
            what="c caught up and b and c synced through their descriptors",
        )
        assert final["c"]["facts"] == agreed["a"]["facts"]
        assert final["c"]["leaves"] == [0, 1, 2, 3]
        assert final["c"]["root"] == final["a"]["root"] == final["b"]["root"]
        assert final["c"]["sync_merged"] >= 2
    print(f"three processes on loopback: {time.monotonic() - started:.1f} s")
