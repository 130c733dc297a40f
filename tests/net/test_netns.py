"""Four hosts on their own addresses (network namespaces on one bridge, set up and torn down
here): a host cut off while the others commit two changes converges by sync alone once its
link is back, and a host killed with SIGKILL and restarted on its data directory catches up
from disk plus sync.

Hosts a, b and c hold the account's key shares (2-of-3); d is a device of the account without
a share, so no consensus message is ever addressed to it: while cut off it misses the changes
entirely, and only sync can bring them. Every host seeds only a; the others find each other
through their rendezvous descriptors. Skipped, with the reason printed, where namespaces cannot
be created (they need root, as here and in CI).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.net import netns
from tests.net.multihost import (
    DeviceProcess,
    Host,
    deal,
    digest,
    holds_leaves,
    same_facts,
    supervised,
    until,
)

pytestmark = pytest.mark.anyio

PORT = 7400


@pytest.fixture
def network() -> Iterator[netns.Hosts]:
    with netns.hosts_or_skip(4) as made:
        yield made


async def test_a_cut_off_host_and_a_killed_host_catch_up_by_sync(
    network: netns.Hosts, tmp_path: Path
) -> None:
    started = time.monotonic()
    hosts = [Host(name, i, network.addresses[i], PORT) for i, name in enumerate("abcd")]
    a, b, c, _ = hosts
    configs = await deal(
        hosts,
        holders=[a, b, c],
        threshold=2,
        seeds={"a": ["b", "c", "d"], "b": ["a"], "c": ["a"], "d": ["a"]},
        directory=tmp_path,
    )
    processes = [
        DeviceProcess(h, configs[h.name], netns=name)
        for h, name in zip(hosts, network.names, strict=True)
    ]
    pa, pb, pc, pd = processes
    async with supervised(processes):
        async with anyio.create_task_group() as group:
            for process in processes:
                group.start_soon(process.start)
        await until(
            processes,
            lambda s: same_facts(s) and all(len(x["descriptors"]) == 4 for x in s.values()),
            within=60,
            what="every host holding every descriptor",
        )
        formed = time.monotonic()

        # d is cut off; a and b each commit a change (a, b and c witness).
        # (A proposal is made on the proposer's tree: b waits until it holds a's change.)
        connected = await pd.status()
        network.cut(3)
        await pa.call(op="add_leaf", leaf_id=4, seed=digest("tablet").hex())
        await until([pb], holds_leaves([4]), within=30, what="b holding a's change")
        await pb.call(op="add_leaf", leaf_id=5, seed=digest("watch").hex())
        await until(
            [pa, pb, pc],
            lambda s: same_facts(s) and holds_leaves([4, 5])(s),
            within=30,
            what="a, b and c holding both changes",
        )
        # d's own sessions fail meanwhile: it is really cut off.
        cut = await until(
            [pd],
            lambda s: s["d"]["sync_failed"] > connected["sync_failed"],
            within=30,
            what="d failing to sync while cut off",
        )
        alone = await pd.status()
        assert cut["d"]["leaves"] == alone["leaves"] == [0, 1, 2, 3]
        network.mend(3)
        # A session's report (what its sync merged) comes when the session ends.
        healed = await until(
            processes,
            lambda s: (
                same_facts(s)
                and holds_leaves([4, 5])(s)
                and s["d"]["sync_merged"] >= alone["sync_merged"] + 2
            ),
            within=90,
            what="d converged after its link came back",
        )
        assert healed["d"]["root"] == healed["a"]["root"]
        mended = time.monotonic()

        # c (a share holder) is killed; a and b commit a change; c restarts on its directory.
        before = await pc.status()
        pc.kill()
        await pa.call(op="add_leaf", leaf_id=6, seed=digest("laptop").hex())
        await until(
            [pa, pb, pd],
            lambda s: same_facts(s) and holds_leaves([6])(s),
            within=30,
            what="a, b and d holding the change made while c was down",
        )
        ready = await pc.start()
        assert ready["loaded"] >= len(before["facts"])  # from disk
        final = await until(
            processes,
            lambda s: (
                same_facts(s)
                and holds_leaves([0, 1, 2, 3, 4, 5, 6])(s)
                and s["c"]["sync_merged"] > 0  # this incarnation's sync
            ),
            within=60,
            what="c caught up after its restart",
        )
        assert set(before["facts"]) < set(final["c"]["facts"])
        assert len({s["root"] for s in final.values()}) == 1
    print(
        f"four hosts in namespaces: formed {formed - started:.1f} s, cut and healed "
        f"{mended - formed:.1f} s, killed and caught up {time.monotonic() - mended:.1f} s"
    )
