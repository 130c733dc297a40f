"""Shrinking a failing run's fault schedule to a small one that still fails (delta debugging).

The run is replayed with subsets of its schedule (Zeller's ddmin over the list of faults); a
subset is kept when the run still violates one of the properties the original run violated. The
result is 1-minimal: removing any single remaining fault makes the failure go away.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from aura_sim.faults import FaultSchedule, MessageFault, TimedFault
from aura_sim.runner import run_scenario
from aura_sim.scenario import Scenario

__all__ = ["ShrinkResult", "shrink", "ddmin"]

Entry = MessageFault | TimedFault


@attrs.frozen
class ShrinkResult:
    schedule: FaultSchedule
    runs: int
    original: int


def ddmin(items: list[Entry], fails: Callable[[list[Entry]], bool]) -> list[Entry]:
    """The classic ddmin: a 1-minimal sublist of `items` for which `fails` still holds."""
    if fails([]):
        return []
    n = 2
    while len(items) >= 2:
        size = math.ceil(len(items) / n)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        for index in range(len(chunks)):
            complement = [x for j, chunk in enumerate(chunks) if j != index for x in chunk]
            if fails(complement):
                items, n = complement, max(n - 1, 2)
                break
        else:
            for chunk in chunks:
                if len(chunk) < len(items) and fails(chunk):
                    items, n = chunk, 2
                    break
            else:
                if n >= len(items):
                    break
                n = min(len(items), n * 2)
    return items


def shrink(
    scenario: Scenario,
    seed: int,
    schedule: FaultSchedule,
    properties: frozenset[str],
    *,
    max_runs: int = 300,
) -> ShrinkResult:
    """A smaller schedule of `seed`'s run that still violates one of `properties`."""
    runs = 0

    def fails(entries: list[Entry]) -> bool:
        nonlocal runs
        if runs >= max_runs:
            return False
        runs += 1
        result = run_scenario(scenario, seed, schedule=FaultSchedule.of(entries))
        return bool(result.failed_properties & properties)

    minimal = ddmin(schedule.entries(), fails)
    return ShrinkResult(FaultSchedule.of(minimal), runs, len(schedule))
