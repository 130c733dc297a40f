"""Async functions for `aura-sim call` (named by `Simulation.repro()`)."""

from __future__ import annotations

import anyio

from aura_sim import current_loop


async def draws_and_fails() -> None:
    """Fails with the first number the seed draws and the virtual time, so the message shows
    which seed and start time ran."""
    await anyio.sleep(1)
    loop = current_loop()
    raise AssertionError(f"drew {loop.seeds.stream('test').below(1000)} at t={loop.time()}")


async def passes() -> int:
    await anyio.sleep(1)
    return 42
