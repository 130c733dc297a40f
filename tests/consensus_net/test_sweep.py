"""Consensus in the simulator under every fault, 50 seeds (500 in `./dev long`).

`scenarios/consensus.toml` draws 3-7 witnesses, up to three byzantine ones (withholding or
equivocating, on a replaying and corrupting transport), drops, delays, duplicates, corruption,
a partition, a crash and restart, a held link and injected storage and transport failures. Its
`workload` property is the consensus workload's invariants (safety at every decision, no
honest witness ever proven an equivocator, no session open past its bound) and, after healing
the honest nodes, its goal (with at least t of them connected, everything they proposed is
decided by all of them within 30 s). See aura_sim/examples/consensus.py.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from aura_sim.runner import run_scenario
from aura_sim.scenario import load_scenario
from aura_sim.sweep import sweep

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "consensus.toml"


def test_fifty_seeds_keep_safety_and_reach_liveness() -> None:
    scenario = load_scenario(SCENARIO)
    outcomes = sweep(scenario, range(50), jobs=2)
    failed = [f"seed {o.seed} ({o.options}): {o.violations}" for o in outcomes if not o.passed]
    assert not failed, failed
    # The seeds exercise what the properties are about: fallback, equivocators proven, runs
    # with fewer than t honest witnesses (nothing may commit), retries and restarts.
    reached = Counter(name for o in outcomes for name in o.reached)
    for case in (
        "decided_fast_path",
        "decided_in_fallback",
        "equivocators_proven",
        "core_below_threshold",
        "consensus_retried",
        "restart",
    ):
        assert reached[case] > 0, (case, dict(reached))


def test_a_consensus_run_replays_byte_identically() -> None:
    scenario = load_scenario(SCENARIO)
    for seed in (3, 8):
        first, second = run_scenario(scenario, seed), run_scenario(scenario, seed)
        assert first.trace_digest == second.trace_digest
        assert first.schedule == second.schedule
