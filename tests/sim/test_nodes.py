"""Node-level faults through whole scenarios: crash and restart at any instant, lost writes,
clock skew."""

from __future__ import annotations

import anyio
import pytest

from aura_core.errors import InvalidArgument
from aura_core.ids import AuthorityId, ContextId
from aura_journal.standard import standard_registry
from aura_sim import run as sim_run
from aura_sim.faults import FaultSchedule, TimedFault, TimedFaultKind
from aura_sim.handlers import EPOCH_MS, LoopClock
from aura_sim.network import SimNetwork
from aura_sim.node import NodeState, SimNode
from aura_sim.runner import run_scenario
from aura_sim.scenario import parse_scenario
from aura_sim.seeds import SeedTree

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


LIFECYCLE = """
[scenario]
name = "lifecycle"
workload = "aura_sim.examples.{workload}"
[participants]
nodes = 3
[[phase]]
name = "safety"
kind = "safety"
duration_s = 2
actions = [{actions}]
[[phase]]
name = "liveness"
kind = "liveness"
core = "all"
within_s = 20
"""

WRITE = '{ at_s = 0.0, do = "write", node = "all" }'
CRASH_AT_BOOT = (
    '{ at_s = 0.0, do = "crash", node = "n1" }, { at_s = 0.5, do = "restart", node = "n1" }'
)
RESTART_THEN_CRASH = (
    '{ at_s = 0.2, do = "crash", node = "n1" }, { at_s = 0.5, do = "restart", node = "n1" }, '
    '{ at_s = 0.5, do = "crash", node = "n1" }'
)
RESTART_CRASH_RESTART = RESTART_THEN_CRASH + ', { at_s = 0.5, do = "restart", node = "n1" }'


@pytest.mark.parametrize("workload", ["naive_push", "sessions"])
@pytest.mark.parametrize(
    ("actions", "never_started"),
    [(CRASH_AT_BOOT, 1), (RESTART_THEN_CRASH, 2), (RESTART_CRASH_RESTART, 2)],
    ids=["crash_at_boot", "restart_then_crash", "restart_crash_restart"],
)
def test_a_crash_at_any_instant_of_the_lifecycle_gives_a_verdict(
    workload: str, actions: str, never_started: int
) -> None:
    if workload == "naive_push":
        actions = f"{WRITE}, {actions}"
    scenario = parse_scenario(LIFECYCLE.format(workload=workload, actions=actions))
    for seed in range(3):  # the loop orders the same-instant tasks differently per seed
        result = run_scenario(scenario, seed, keep_trace=True)
        assert result.passed, [v.describe() for v in result.violations]
        assert result.trace is not None
        notes = [label for _, label in result.trace.entries if label.startswith("note:n1 ")]
        assert f"note:n1 incarnation {never_started} crashed before it started" in notes
        assert run_scenario(scenario, seed).trace_digest == result.trace_digest


@pytest.mark.parametrize("order", ["crash_first", "restart_first"])
def test_a_crash_and_a_restart_at_the_same_instant_give_a_verdict_in_either_order(
    order: str,
) -> None:
    scenario = parse_scenario(LIFECYCLE.format(workload="naive_push", actions=WRITE))
    crash = TimedFault(500, TimedFaultKind.CRASH, ("n1",))
    restart = TimedFault(500, TimedFaultKind.RESTART, ("n1",))
    first = (TimedFault(200, TimedFaultKind.CRASH, ("n1",)),) if order == "restart_first" else ()
    timed = (*first, *((crash, restart) if order == "crash_first" else (restart, crash)))
    result = run_scenario(scenario, 5, schedule=FaultSchedule(timed=timed))
    assert result.passed, [v.describe() for v in result.violations]
    assert result.schedule.timed == timed


def test_a_permanent_crash_of_a_node_that_is_down_keeps_it_down() -> None:
    actions = (
        f"{WRITE}, "
        '{ at_s = 0.2, do = "crash", node = "n2" }, '
        '{ at_s = 0.3, do = "crash", node = "n2", permanent = true }'
    )
    text = LIFECYCLE.format(workload="naive_push", actions=actions)
    text = text.replace('core = "all"', 'core = "majority"')
    result = run_scenario(parse_scenario(text), 1, keep_trace=True)
    assert result.passed, [v.describe() for v in result.violations]
    assert result.trace is not None
    assert "note:liveness core n0,n1" in [label for _, label in result.trace.entries]


def test_only_a_node_that_is_down_boots() -> None:
    seeds = SeedTree(1)
    network = SimNetwork(latency=seeds.stream("latency"), faults=None)
    transport = network.attach("n0", AuthorityId(b"\x01" * 16))
    node = SimNode("n0", seeds.child("node", "n0"), transport, context=ContextId(b"\x02" * 16))
    registry = standard_registry()

    async def main() -> None:
        node.boot([node], registry, ())
        effects = node.effects
        with pytest.raises(InvalidArgument):
            node.boot([node], registry, ())
        assert (node.state, node.incarnation, node.effects) == (NodeState.BOOTING, 1, effects)
        assert not node.start(0)  # not the booting incarnation
        assert node.start(1) and node.state is NodeState.UP
        with pytest.raises(InvalidArgument):
            node.boot([node], registry, ())
        assert (node.state, node.incarnation, node.effects) == (NodeState.UP, 1, effects)
        node.halt()
        assert (node.start(1), node.state, node.effects) == (False, NodeState.DOWN, None)

    sim_run(main, seed=1)
