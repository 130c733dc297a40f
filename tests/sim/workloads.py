"""Workloads the simulator tests run, importable by path for the cross-process check.

`mixed` and `racy` are honest: every choice comes from the seed tree. The `leak_*` workloads
each carry one deliberate determinism leak of the kind the check must catch.
"""

from __future__ import annotations

import random
import time

import anyio

from aura_sim import current_loop


async def mixed() -> list[str]:
    """Several tasks exercising sleeps, events, a lock, a bounded memory stream, a deadline and
    a cancelled scope, with latencies drawn from the seed; the values they see go on the trace
    as notes."""
    loop = current_loop()
    latency = loop.seeds.child("workload").stream("latency")
    log: list[str] = []
    lock = anyio.Lock()
    ready = anyio.Event()
    send, receive = anyio.create_memory_object_stream[int](2)

    async def producer(name: str, count: int) -> None:
        await ready.wait()
        for i in range(count):
            await anyio.sleep(latency.expovariate(10.0))
            await send.send(i)
            loop.note(f"{name} sent {i}")

    async def consumer() -> None:
        total = 0
        async with receive:
            async for item in receive:
                async with lock:
                    total += item
                    await anyio.sleep(0)
                log.append(f"got {item}")
        loop.note(f"consumer total {total}")

    async def timed() -> None:
        with anyio.move_on_after(0.25) as scope:
            await anyio.sleep(latency.uniform(0.0, 0.5))
        loop.note(f"timed cancelled={scope.cancelled_caught} at {loop.time()!r}")

    async with anyio.create_task_group() as outer:
        outer.start_soon(consumer)
        outer.start_soon(timed)
        async with send, anyio.create_task_group() as producers:
            for name in ("p1", "p2", "p3"):
                producers.start_soon(producer, name, 4)
            await anyio.sleep(0.01)
            ready.set()
    try:
        with anyio.fail_after(1.0):
            await anyio.sleep(latency.uniform(0.5, 1.5))
        log.append("in time")
    except TimeoutError:
        log.append("timed out")
    loop.note(" | ".join(log))
    return log


async def racy() -> tuple[int, tuple[str, ...]]:
    """Three workers each do three unsynchronised read-yield-write increments (pausing one, two
    and three times between them): how many updates are lost, and the order of the appends,
    depend on how the scheduler interleaves them."""
    counter = 0
    order: list[str] = []

    async def worker(name: str, yields: int) -> None:
        nonlocal counter
        for _ in range(3):
            for _ in range(yields):
                await anyio.lowlevel.checkpoint()
            seen = counter
            await anyio.lowlevel.checkpoint()
            counter = seen + 1
            order.append(name)

    async with anyio.create_task_group() as group:
        for yields, name in enumerate(("a", "b", "c"), start=1):
            group.start_soon(worker, name, yields, name=name)
    current_loop().note(f"counter={counter} order={''.join(order)}")
    return counter, tuple(order)


async def leak_ambient_time() -> None:
    """A node that derives a backoff from the real clock."""

    async def node() -> None:
        backoff = (time.time_ns() % 1_000_000_007) / 1e9
        await anyio.sleep(backoff)

    async with anyio.create_task_group() as group:
        group.start_soon(node)
        group.start_soon(node)


async def leak_unseeded_random() -> None:
    """A node that flips a coin from the process-global `random`."""

    async def node(name: str) -> None:
        for _ in range(8):
            if random.random() < 0.5:
                await anyio.sleep(1)
            current_loop().note(f"{name} step")

    async with anyio.create_task_group() as group:
        group.start_soon(node, "x")
        group.start_soon(node, "y")


async def leak_str_set_order() -> None:
    """Starts one task per peer by iterating a set of str: the order follows PYTHONHASHSEED."""
    peers = {"alice", "bob", "carol", "dave", "erin", "frank"}

    async def greet(peer: str) -> None:
        current_loop().note(f"hello {peer}")

    async with anyio.create_task_group() as group:
        for peer in peers:
            group.start_soon(greet, peer, name=peer)
