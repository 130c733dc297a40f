"""The checks the default run makes of a shipped scenario: a short sweep and a replay.

The long sweeps (`./dev long`) run the same scenarios over hundreds of seeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from aura_sim.runner import run_scenario
from aura_sim.scenario import load_scenario
from aura_sim.sweep import sweep


def sweep_passes_and_reaches(name: str, seeds: int, cases: Iterable[str]) -> None:
    """Every seed of the shipped scenario `name` passes, and each of `cases` (sometimes-counters)
    is reached by at least one seed, so the seeds did exercise what the properties are about."""
    outcomes = sweep(load_scenario(name), range(seeds), jobs=2)
    failed = [f"seed {o.seed} ({o.options}): {o.violations}" for o in outcomes if not o.passed]
    assert not failed, failed
    reached = Counter(counter for o in outcomes for counter in o.reached)
    for case in cases:
        assert reached[case] > 0, (case, dict(reached))


def replays_byte_identically(name: str, seeds: Iterable[int]) -> None:
    """Running a seed twice gives the same trace digest and the same schedule."""
    scenario = load_scenario(name)
    for seed in seeds:
        first, second = run_scenario(scenario, seed), run_scenario(scenario, seed)
        assert first.trace_digest == second.trace_digest, seed
        assert first.schedule == second.schedule, seed
