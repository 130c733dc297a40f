"""Node-level faults through whole scenarios: crash and restart, lost writes, clock skew."""

from __future__ import annotations

import anyio

from aura_sim import run as sim_run
from aura_sim.handlers import EPOCH_MS, LoopClock
from aura_sim.runner import run_scenario
from aura_sim.scenario import parse_scenario

BASE = """
[scenario]
name = "nodes"
workload = "aura_sim.examples.naive_push"
[participants]
nodes = 3
byzantine = {byzantine}
[faults]
lose_unsynced_ms = {unsynced}
clock_skew_ms = {skew}
[[phase]]
name = "safety"
kind = "safety"
duration_s = 3
actions = [
  {{ at_s = 0.0, do = "write", node = "n0", count = 2 }},
  {{ at_s = 0.05, do = "crash", node = "n1" }},
  {{ at_s = 0.1, do = "write", node = "n0" }},
  {{ at_s = 1.0, do = "restart", node = "n1" }},
]
[[phase]]
name = "liveness"
kind = "liveness"
core = "{core}"
within_s = 10
"""


def scenario(byzantine: int = 0, unsynced: int = 0, skew: int = 0, core: str = "all") -> object:
    return parse_scenario(BASE.format(byzantine=byzantine, unsynced=unsynced, skew=skew, core=core))


def test_crash_loses_volatile_state_keeps_disk_and_restart_catches_up() -> None:
    result = run_scenario(scenario(), 2)  # type: ignore[arg-type]
    assert result.passed, [v.describe() for v in result.violations]
    assert result.sometimes.get("restart") == 1
    assert result.counters.get("lost_to_down", 0) > 0  # pushes to the crashed node were lost


def test_unsynced_writes_are_lost_on_crash() -> None:
    text = (
        BASE.replace('do = "crash", node = "n1"', 'do = "crash", node = "n0"')
        .replace('do = "restart", node = "n1"', 'do = "restart", node = "n0"')
        .replace('{{ at_s = 0.1, do = "write", node = "n0" }},\n', "")
    )
    lossy = parse_scenario(text.format(byzantine=0, unsynced=200, skew=0, core="all"))
    result = run_scenario(lossy, 4)
    assert result.sometimes.get("unsynced_writes_lost", 0) >= 1
    assert result.passed  # the monitors accept what the disk itself lost


def test_clock_skew_changes_what_nodes_read_but_not_the_outcome() -> None:
    async def readings() -> tuple[int, int]:
        await anyio.sleep(3.0)
        return (await LoopClock().now()).ts_ms, (await LoopClock(skew_ms=-1500).now()).ts_ms

    honest, skewed = sim_run(readings, seed=1)
    assert honest - skewed == 1500
    assert honest == EPOCH_MS + 3000

    skewed_run = run_scenario(scenario(skew=5_000), 2)  # type: ignore[arg-type]
    plain_run = run_scenario(scenario(), 2)  # type: ignore[arg-type]
    assert skewed_run.passed and plain_run.passed
    assert skewed_run.trace_digest != plain_run.trace_digest  # the nodes read other times


def test_byzantine_node_is_excluded_from_the_core_and_others_still_converge() -> None:
    result = run_scenario(scenario(byzantine=1, core="majority"), 2)  # type: ignore[arg-type]
    assert result.passed, [v.describe() for v in result.violations]
