"""Running many seeds of a scenario, on every core."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed

import attrs

from aura_sim.runner import RunResult, run_scenario
from aura_sim.scenario import Scenario, parse_scenario

__all__ = ["SeedOutcome", "run_seed", "sweep"]


@attrs.frozen
class SeedOutcome:
    """What a sweep keeps of one seed (small and picklable)."""

    seed: int
    passed: bool
    violations: tuple[str, ...]
    options: str
    digest: str
    deliveries: int
    virtual_time: float
    reached: tuple[str, ...] = ()
    """The 'sometimes' events the run hit (sorted names)."""


def _outcome(result: RunResult) -> SeedOutcome:
    return SeedOutcome(
        result.seed,
        result.passed,
        tuple(v.describe() for v in result.violations),
        result.options.describe(),
        result.trace_digest.hex(),
        result.counters.get("delivered", 0),
        result.virtual_time,
        tuple(sorted(result.sometimes)),
    )


_WORKER: dict[str, Scenario] = {}
"""The scenario of this (worker) process, set once by `_init`."""


def _init(text: str) -> None:
    _WORKER["scenario"] = parse_scenario(text)


def run_seed(seed: int) -> SeedOutcome:
    return _outcome(run_scenario(_WORKER["scenario"], seed))


def sweep(
    scenario: Scenario,
    seeds: Iterable[int],
    *,
    jobs: int | None = None,
    progress: Callable[[SeedOutcome], None] | None = None,
) -> list[SeedOutcome]:
    """Run every seed (in `jobs` worker processes; 1 runs in this process), sorted by seed."""
    seeds = list(seeds)
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    outcomes: list[SeedOutcome] = []
    if workers <= 1 or len(seeds) < 4:
        _init(scenario.text)
        for seed in seeds:
            outcome = run_seed(seed)
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init, initargs=(scenario.text,)
        ) as pool:
            futures = [pool.submit(run_seed, seed) for seed in seeds]
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
    return sorted(outcomes, key=lambda o: o.seed)
