"""What a scenario runs on its nodes: the workload interface and its loader.

A workload is named in a scenario by module path; the module has a `workload(options)` factory
returning an object with this interface; the examples are in `aura_sim.examples` (naive push,
choreography sessions, consensus, anti-entropy sync).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aura_journal.registry import FactRegistry
from aura_sim.errors import ScenarioError

if TYPE_CHECKING:
    from aura_sim.node import SimNode
    from aura_sim.runner import SimRun
    from aura_sim.scenario import Action

__all__ = ["Workload", "load_workload"]


class Workload(Protocol):
    """The behaviour of every node of a run."""

    capabilities: tuple[str, ...]
    """The capabilities its messages need; every node is granted them in the run's context."""

    def register(self, registry: FactRegistry) -> None:
        """Add the workload's fact types to the run's registry."""
        ...

    async def run_node(self, run: SimRun, node: SimNode) -> None:
        """A node's long-running work (started again after every restart)."""
        ...

    async def act(self, run: SimRun, node: SimNode, action: Action) -> None:
        """Carry out a workload action of the scenario (e.g. `write`) on one node."""
        ...

    async def state(self, node: SimNode) -> frozenset[object]:
        """The node's replicated state; the convergence property compares these."""
        ...

    def check(self, run: SimRun) -> None:
        """The workload's own safety invariants (the `workload` always-property): call
        `run.violate(...)` for each that does not hold. Runs often: keep it cheap and sync."""
        ...

    async def settled(self, run: SimRun, core: list[SimNode]) -> str | None:
        """The workload's own liveness goal on the healed core (the `workload` eventual
        property): None once it holds, else what is still missing."""
        ...


def load_workload(path: str, options: Mapping[str, Any]) -> Workload:
    """Import `path` and call its `workload(options)`; `ScenarioError` if that fails."""
    try:
        module = importlib.import_module(path)
    except (ImportError, SyntaxError) as exc:
        raise ScenarioError(f"cannot import workload {path!r}: {exc}") from None
    factory = getattr(module, "workload", None)
    if factory is None:
        raise ScenarioError(f"workload module {path!r} has no workload(options) factory")
    try:
        made: Workload = factory(dict(options))
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"workload {path!r} rejected its options: {exc}") from None
    return made
