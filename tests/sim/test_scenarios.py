"""Scenario runs: determinism, finding/replaying/shrinking a planted bug, safety and liveness."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from aura_sim.errors import NondeterminismDetected, ScenarioError
from aura_sim.runner import check_scenario_determinism, run_scenario
from aura_sim.scenario import Scenario, load_scenario, parse_scenario
from aura_sim.shrink import shrink
from aura_sim.sweep import sweep
from aura_sim.tape import load_tape, replay, save_tape, tape_of

FAULTY = "naive_push"
PLANTED = "planted_reorder_bug"


def with_workload(scenario: Scenario, **options: object) -> Scenario:
    return attrs.evolve(scenario, workload_options={**scenario.workload_options, **options})


def test_fifty_seeds_replay_byte_identically() -> None:
    scenario = load_scenario(FAULTY)
    for seed in range(50):
        first, second = run_scenario(scenario, seed), run_scenario(scenario, seed)
        assert first.trace_digest == second.trace_digest, seed
        assert first.schedule == second.schedule
        assert first.passed, [v.describe() for v in first.violations]


@pytest.mark.parametrize("leak", ["ambient_time", "ambient_random"])
def test_ambient_time_or_randomness_is_caught(leak: str) -> None:
    scenario = load_scenario(FAULTY)
    check_scenario_determinism(scenario, 3)  # the honest workload is deterministic
    with pytest.raises(NondeterminismDetected) as caught:
        for seed in range(5):  # a coin flip per push round: some seed diverges
            check_scenario_determinism(with_workload(scenario, **{leak: True}), seed)
    assert caught.value.index is not None


def test_planted_bug_is_found_replayed_and_shrunk(tmp_path: Path) -> None:
    scenario = load_scenario(PLANTED)
    seed = next((s for s in range(500) if not run_scenario(scenario, s).passed), None)
    assert seed is not None, "a 500-seed sweep did not find the planted bug"
    result = run_scenario(scenario, seed)
    assert "convergence" in result.failed_properties

    tape = save_tape(tape_of(result, scenario.text), tmp_path / "bug.tape")
    replayed, reproduced = replay(load_tape(tape))
    assert reproduced
    assert replayed.trace_digest == result.trace_digest and not replayed.passed

    small = shrink(scenario, seed, result.schedule, result.failed_properties)
    assert 1 <= len(small.schedule) <= 3, small.schedule.describe()
    assert not run_scenario(scenario, seed, schedule=small.schedule).passed

    # The same scenario without the bug passes with the very same faults.
    fixed = with_workload(scenario, planted_bug="")
    assert run_scenario(fixed, seed, schedule=result.schedule).passed


LIVENESS = """
[scenario]
name = "split"
workload = "aura_sim.examples.naive_push"
[participants]
nodes = 5
[[phase]]
name = "safety"
kind = "safety"
duration_s = 2
actions = [
  {{ at_s = 0.0, do = "write", node = "all" }},
  {{ at_s = 0.5, do = "partition", groups = {groups}, permanent = true }},
  {{ at_s = 1.0, do = "write", node = "all" }},
]
[[phase]]
name = "liveness"
kind = "liveness"
core = "majority"
within_s = 10
"""


def test_liveness_heals_a_majority_despite_a_permanent_minority_partition() -> None:
    scenario = parse_scenario(LIVENESS.format(groups='[["n0","n1","n2"],["n3","n4"]]'))
    result = run_scenario(scenario, 1)
    assert result.passed, [v.describe() for v in result.violations]


def test_liveness_fails_without_a_connected_core() -> None:
    scenario = parse_scenario(LIVENESS.format(groups='[["n0","n1"],["n2","n3"],["n4"]]'))
    result = run_scenario(scenario, 1)
    assert result.failed_properties == {"liveness"}


def test_sometimes_counters_show_faults_reached_interesting_states() -> None:
    scenario = load_scenario(FAULTY)
    totals: dict[str, int] = {}
    for seed in range(20):
        for name, count in run_scenario(scenario, seed).sometimes.items():
            totals[name] = totals.get(name, 0) + count
    for expected in ("restart", "rejected_bad_envelope", "replicated", "push_failed"):
        assert totals.get(expected, 0) > 0, (expected, totals)
    assert any(name.startswith("buggify:") for name in totals)


def test_sweep_runs_seeds_in_worker_processes() -> None:
    scenario = load_scenario(PLANTED)
    outcomes = sweep(scenario, range(12), jobs=2)
    assert [o.seed for o in outcomes] == list(range(12))
    for outcome in outcomes:
        assert outcome.digest == run_scenario(scenario, outcome.seed).trace_digest.hex()


def test_monitor_flags_a_send_before_its_charge() -> None:
    scenario = with_workload(load_scenario(FAULTY), planted_bug="send_before_charge")
    result = run_scenario(scenario, 0)
    assert "charge_before_send" in result.failed_properties


LOSSY = """
[scenario]
name = "lossy"
workload = "aura_sim.examples.naive_push"
[participants]
nodes = 3
[network]
drop = 1.0
[[phase]]
name = "safety"
kind = "safety"
duration_s = 1
actions = [{{ at_s = 0.0, do = "write", node = "all" }}]
[[phase]]
name = "liveness"
kind = "liveness"
core = "all"
within_s = 5
{quiet}
"""


def test_a_liveness_phase_keeps_the_message_faults_unless_it_is_quiet() -> None:
    healed = parse_scenario(LOSSY.format(quiet=""))
    assert run_scenario(healed, 1).passed  # the default: the core's links become fault-free
    lossy = parse_scenario(LOSSY.format(quiet="quiet = false"))
    assert run_scenario(lossy, 1).failed_properties == {"convergence"}
    with pytest.raises(ScenarioError, match="quiet"):
        parse_scenario(LOSSY.format(quiet="quiet = 'no'"))
