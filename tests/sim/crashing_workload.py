"""A workload with a bug: its nodes raise a plain exception (an internal error, exit 3)."""

from __future__ import annotations

from typing import Any

from aura_sim.examples.naive_push import NaivePush
from aura_sim.node import SimNode
from aura_sim.runner import SimRun


class Crashing(NaivePush):
    async def run_node(self, run: SimRun, node: SimNode) -> None:
        raise ZeroDivisionError("a bug in the workload")


def workload(options: dict[str, Any]) -> Crashing:
    return Crashing(options)
