"""Simulator throughput.

1. Simulator capacity: 10 nodes, each sending a small raw envelope to a random peer every
   25 ms over the faulty `SimNetwork` (latency, drops, duplicates, reordering), for 200 virtual
   seconds: deliveries per wall second and virtual seconds per wall second. This is the loop +
   network + fault machinery itself.
2. Full stack: the naive-push scenario with 10 nodes (every message through the guard chain,
   journals, receipts, monitors): the same two figures.
3. A 1000-seed sweep of a 5-node scenario (the shipped scenario `naive_push_5`) on every core.

Targets: >= 20,000 deliveries/s and virtual time >= 100x wall time (for the simulator, item 1);
the 1000-seed sweep under 5 minutes.

Run: ./dev bench   (or .venv/bin/python benchmarks/sim.py)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
import attrs

from aura_core.ids import AuthorityId, ContextId
from aura_sim import Simulation
from aura_sim.faults import LinkPolicy
from aura_sim.network import SimNetwork
from aura_sim.runner import run_scenario
from aura_sim.scenario import load_scenario
from aura_sim.seeds import SeedTree
from aura_sim.sweep import sweep

NODES = 10
VIRTUAL_S = 200.0
SEND_EVERY_S = 0.025
"""Each node sends every 25 ms: 400 messages per virtual second in all."""


def capacity() -> tuple[int, float, float]:
    seeds = SeedTree(1)
    network = SimNetwork(
        latency=seeds.stream("latency"),
        faults=seeds.stream("faults"),
        default=LinkPolicy(latency_ms=5, jitter_ms=5, drop=0.01, duplicate=0.01, reorder=0.01),
    )
    context = ContextId(b"\x01" * 16)
    ids = [AuthorityId(i.to_bytes(16, "big")) for i in range(NODES)]
    transports = [network.attach(f"n{i}", ids[i]) for i in range(NODES)]

    async def node(index: int) -> None:
        me, pick = transports[index], seeds.child("node", str(index)).stream("peers")

        async def listen() -> None:
            while True:
                await me.receive()

        async with anyio.create_task_group() as group:
            group.start_soon(listen)
            while True:
                peer = pick.below(NODES - 1)
                peer += peer >= index
                await me.send(ids[peer], context, b"x" * 64)
                await anyio.sleep(SEND_EVERY_S)

    async def main() -> None:
        with anyio.move_on_after(VIRTUAL_S):
            async with anyio.create_task_group() as group:
                for i in range(NODES):
                    group.start_soon(node, i)

    simulation = Simulation(1, max_steps=None)
    start = time.perf_counter()
    simulation.run(main)
    wall = time.perf_counter() - start
    return network.counters["delivered"], wall, simulation.stats.virtual_time


def full_stack() -> tuple[int, float, float]:
    scenario = attrs.evolve(load_scenario("naive_push"), nodes=NODES)
    scenario = attrs.evolve(scenario, swarm=attrs.evolve(scenario.swarm, enabled=False))
    start = time.perf_counter()
    result = run_scenario(scenario, 1)
    wall = time.perf_counter() - start
    assert result.passed, [v.describe() for v in result.violations]
    return result.counters["delivered"], wall, result.virtual_time


def main() -> None:
    print("Simulator throughput")
    print(f"{'workload':<46}{'deliveries':>11}{'wall':>9}{'deliv/s':>10}{'virt/wall':>11}")
    for name, measure in (
        (f"capacity: {NODES} nodes, raw envelopes, faulty links", capacity),
        (f"full stack: naive push, {NODES} nodes, guard chain", full_stack),
    ):
        delivered, wall, virtual = measure()
        print(
            f"{name:<46}{delivered:>11,}{wall:>8.2f}s{delivered / wall:>10,.0f}"
            f"{virtual / wall:>10.0f}x"
        )
    print("targets (simulator capacity): >= 20,000 deliveries/s, virtual >= 100x wall")

    scenario = load_scenario("naive_push_5")
    jobs = os.cpu_count() or 1
    start = time.perf_counter()
    outcomes = sweep(scenario, range(1000), jobs=jobs)
    wall = time.perf_counter() - start
    failed = sum(not o.passed for o in outcomes)
    print(
        f"\n1000-seed sweep of {scenario.name} (5 nodes, {jobs} workers): {wall:.1f} s "
        f"({wall / 1000 * 1000:.0f} ms per seed), {failed} failed; target < 300 s"
    )


if __name__ == "__main__":
    main()
