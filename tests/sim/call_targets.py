"""Async functions for `aura-sim call` (named by `Simulation.repro()`)."""

from __future__ import annotations

import anyio

from aura_sim import current_loop


async def draws_and_fails() -> None:
    """Fails with the first number the seed draws, so the message shows which seed ran."""
    await anyio.sleep(1)
    drawn = current_loop().seeds.stream("test").below(1000)
    raise AssertionError(f"drew {drawn}")


async def passes() -> int:
    await anyio.sleep(1)
    return 42
