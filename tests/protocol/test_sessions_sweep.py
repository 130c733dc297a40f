"""Choreography sessions under the simulator's faults end with typed outcomes, never hang.

`scenarios/sessions.toml` draws 3-7 nodes that keep running request/response sessions (client
deadline) and threshold votes (coordinator window) under drops, delays, duplicates,
corruption, partitions, crashes, held links and injected failures; servers and witnesses run
with a limit. Its `workload` property fails on any `Violated` outcome and on any run still going
past its bound (a hung session), and after healing requires answers again. 50 seeds here, 500
in `./dev long`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from aura_sim.runner import run_scenario
from aura_sim.scenario import load_scenario
from aura_sim.sweep import sweep

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "sessions.toml"


def test_fifty_seeds_find_no_hung_session() -> None:
    scenario = load_scenario(SCENARIO)
    outcomes = sweep(scenario, range(50), jobs=2)
    failed = [f"seed {o.seed} ({o.options}): {o.violations}" for o in outcomes if not o.passed]
    assert not failed, failed
    reached = Counter(name for o in outcomes for name in o.reached)
    # Timers fired and limits passed, and sessions still ended with an outcome.
    for case in (
        "client_timer_fired",
        "coordinator_timer_fired",
        "server_timedout",
        "witness_timedout",
        "client_completed",
        "client_aborted",
    ):
        assert reached[case] > 0, (case, dict(reached))


def test_a_sessions_run_replays_byte_identically() -> None:
    scenario = load_scenario(SCENARIO)
    first, second = run_scenario(scenario, 4), run_scenario(scenario, 4)
    assert first.trace_digest == second.trace_digest
