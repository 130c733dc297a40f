"""Layer 8: the deterministic simulator: seeded handlers, virtual time, a faulty network,
scenarios, property monitors, replay and shrinking.

The core is a seeded, virtual-time asyncio loop (`SimLoop`) that runs the library's
unmodified anyio code, the seed tree (`SeedTree`) every random choice is drawn from, and the
determinism self-check. See docs/simulator.md.
"""

from aura_sim.determinism import (
    check_determinism,
    check_determinism_across_processes,
    record,
)
from aura_sim.errors import (
    BlockedTask,
    Deadlock,
    NondeterminismDetected,
    ScenarioError,
    SimulationError,
    SimulationLimitExceeded,
    SimulationUnsupported,
)
from aura_sim.loop import (
    LoopStats,
    Schedule,
    SimLoop,
    SimTask,
    current_loop,
    wait_all_tasks_blocked,
)
from aura_sim.seeds import SeedTree, Stream
from aura_sim.simulation import DEFAULT_MAX_STEPS, Simulation, run
from aura_sim.trace import StepHook, Trace

__all__ = [
    "run",
    "Simulation",
    "DEFAULT_MAX_STEPS",
    "SimLoop",
    "SimTask",
    "Schedule",
    "LoopStats",
    "current_loop",
    "wait_all_tasks_blocked",
    "SeedTree",
    "Stream",
    "Trace",
    "StepHook",
    "record",
    "check_determinism",
    "check_determinism_across_processes",
    "SimulationError",
    "Deadlock",
    "BlockedTask",
    "SimulationLimitExceeded",
    "SimulationUnsupported",
    "NondeterminismDetected",
    "ScenarioError",
]
