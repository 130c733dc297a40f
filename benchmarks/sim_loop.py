"""What the deterministic loop costs, and how far it compresses time.

1. Ping-pong: two anyio tasks pass 20,000 items through an unbuffered memory object stream.
   Rows: the simulator (seeded shuffle, the default), the simulator with a trace recorded,
   the simulator in asyncio's FIFO order, and plain `anyio.run` on the stock asyncio loop
   (the baseline). Each row is one whole run; steps/s divides the loop's step count by the
   median run time.
2. Timers: 200 tasks each sleep an exponentially distributed interval (mean 5 s, drawn from
   the seed tree) until an hour of virtual time has passed; the ratio is virtual seconds per
   wall second.

Run: ./dev bench   (or .venv/bin/python benchmarks/sim_loop.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from aura_sim import Schedule, Simulation, current_loop
from benchmarks._harness import Timing, format_ns, measure, table

ITEMS = 20_000
TASKS = 200
HOUR = 3_600.0


async def ping_pong() -> None:
    send, receive = anyio.create_memory_object_stream[int](0)

    async def producer() -> None:
        async with send:
            for i in range(ITEMS):
                await send.send(i)

    async def consumer() -> None:
        async with receive:
            async for _ in receive:
                pass

    async with anyio.create_task_group() as group:
        group.start_soon(producer)
        group.start_soon(consumer)


async def timers() -> None:
    loop = current_loop()

    async def sleeper(index: int) -> None:
        delays = loop.seeds.child("bench", str(index)).stream("delay")
        while loop.time() < HOUR:
            await anyio.sleep(delays.expovariate(0.2))

    async with anyio.create_task_group() as group:
        for index in range(TASKS):
            group.start_soon(sleeper, index)


def rate_row(name: str, timing: Timing, count: int, unit: str) -> str:
    per_second = [count / (ns / 1e9) for ns in timing.samples_ns]
    median = count / (timing.median / 1e9)
    return (
        f"{name:<34}{format_ns(timing.median):>10}{median:>14,.0f}"
        f"{min(per_second):>14,.0f}{max(per_second):>14,.0f}  {unit}"
    )


def main() -> None:
    simulations = {
        "sim (seeded shuffle)": Simulation(1),
        "sim + trace recorded": Simulation(1, record_trace=True),
        "sim (FIFO order)": Simulation(1, schedule=Schedule.FIFO),
    }
    timings = {
        name: measure(name, lambda s=sim: s.run(ping_pong), samples=7, batch=1)
        for name, sim in simulations.items()
    }
    baseline = measure(
        "anyio.run, stock asyncio loop", lambda: anyio.run(ping_pong), samples=7, batch=1
    )
    steps = simulations["sim (seeded shuffle)"].stats.steps
    rows = [*timings.values(), baseline]
    print(table(f"Ping-pong of {ITEMS:,} items ({steps:,} loop steps per run)", rows, baseline))
    print()
    header = f"{'':<34}{'median':>10}{'median rate':>14}{'min rate':>14}{'max rate':>14}"
    print(header)
    for name, timing in timings.items():
        print(rate_row(name, timing, simulations[name].stats.steps, "steps/s"))
    print(rate_row("anyio.run, stock asyncio loop", baseline, ITEMS, "items/s"))
    print(rate_row("sim (seeded shuffle)", timings["sim (seeded shuffle)"], ITEMS, "items/s"))

    timer_sim = Simulation(2)
    timer_timing = measure("timers", lambda: timer_sim.run(timers), samples=5, batch=1)
    stats = timer_sim.stats
    print()
    print(
        f"Timers: {TASKS} tasks sleeping Exp(mean 5 s) for {HOUR:,.0f} virtual s: "
        f"{stats.timers_fired:,} timers, {stats.steps:,} steps, {stats.time_jumps:,} clock jumps"
    )
    print(header)
    print(rate_row("virtual seconds per wall second", timer_timing, int(stats.virtual_time), "x"))
    print(rate_row("timers per wall second", timer_timing, stats.timers_fired, "timers/s"))
    print(rate_row("steps per wall second", timer_timing, stats.steps, "steps/s"))


if __name__ == "__main__":
    main()
