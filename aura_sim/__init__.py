"""Layer 8: the deterministic simulator: seeded handlers, virtual time, a faulty network,
scenarios, property monitors, replay and shrinking.

So far: the seed tree (`SeedTree`) every random choice is drawn from, and the step trace.
"""

from aura_sim.errors import (
    BlockedTask,
    Deadlock,
    NondeterminismDetected,
    SimulationError,
    SimulationLimitExceeded,
    SimulationUnsupported,
)
from aura_sim.seeds import SeedTree, Stream
from aura_sim.trace import StepHook, Trace

__all__ = [
    "SeedTree",
    "Stream",
    "Trace",
    "StepHook",
    "SimulationError",
    "Deadlock",
    "BlockedTask",
    "SimulationLimitExceeded",
    "SimulationUnsupported",
    "NondeterminismDetected",
]
