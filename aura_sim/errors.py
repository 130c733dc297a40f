"""Errors the simulator raises about a run itself (not about the code under test).

Besides `ScenarioError` (bad input: a scenario or tape that does not validate), they are
`SYSTEM` errors: a deadlock, an exhausted budget or a nondeterministic run says the
harness (or the code's use of it) is broken, not that a user gave bad input. Each one carries
the data a test or a report needs (the virtual time, the blocked tasks, the diverging steps) as
attributes, and says it again in its message so a CI log is enough to act on.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aura_core.errors import AuraError, ErrorKind

__all__ = [
    "ScenarioError",
    "SimulationError",
    "BlockedTask",
    "Deadlock",
    "SimulationLimitExceeded",
    "SimulationUnsupported",
    "NondeterminismDetected",
]


class ScenarioError(AuraError):
    """A scenario file (or tape) that does not parse, has a key or table the schema does not
    know, or names something that does not exist.

    `source` is the file (or scenario name), `line` the 1-based line the problem is on (0 when
    no single line is to blame), `where` the table and key path (`[participants].nodes`).
    """

    code = "scenario"

    def __init__(self, message: str, *, source: str = "", line: int = 0, where: str = "") -> None:
        place = ":".join(part for part in (source, str(line) if line else "") if part)
        prefix = f"{place}: " if place else ""
        super().__init__(prefix + (f"{where}: " if where else "") + message)
        self.detail = message
        self.source = source
        self.line = line
        self.where = where


class SimulationError(AuraError):
    """Base of the errors about a simulated run."""

    kind = ErrorKind.SYSTEM
    code = "simulation"


@attrs.frozen
class BlockedTask:
    """A task that was still waiting when the loop ran out of work.

    `task_id` is the loop's own creation counter (stable across runs of one seed), `name` the
    task's name, `waiting_at` the innermost `function (file:line)` of its coroutine chain.
    """

    task_id: int
    name: str
    waiting_at: str

    def __str__(self) -> str:
        return f"task {self.task_id} {self.name!r} waiting at {self.waiting_at}"


class Deadlock(SimulationError):
    """Nothing is ready and no timer is pending, yet the run has not finished.

    Under a virtual clock this is certain: no real event can ever arrive, so the run would
    block forever.
    """

    code = "deadlock"

    def __init__(self, virtual_time: float, blocked: Sequence[BlockedTask], hint: str = "") -> None:
        lines = [f"deadlock at virtual time {virtual_time!r}: {len(blocked)} task(s) blocked"]
        lines.extend(f"  {task}" for task in blocked)
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))
        self.virtual_time = virtual_time
        self.blocked = tuple(blocked)


class SimulationLimitExceeded(SimulationError):
    """The run used up its step budget or would have advanced past its virtual-time limit.

    `limit` is `"steps"` or `"time"`; `value` is the configured bound.
    """

    code = "simulation_limit"

    def __init__(self, limit: str, value: float, virtual_time: float, steps: int) -> None:
        super().__init__(
            f"simulation {limit} limit {value!r} exceeded "
            f"(virtual time {virtual_time!r}, {steps} steps)"
        )
        self.limit = limit
        self.value = value
        self.virtual_time = virtual_time
        self.steps = steps


class SimulationUnsupported(SimulationError):
    """The code under simulation asked for something with real-world timing or I/O.

    Sockets, DNS, subprocesses, signals, executors and threads have no deterministic
    counterpart in the loop; simulated code reaches the outside world through effect handlers.
    """

    code = "simulation_unsupported"


class NondeterminismDetected(SimulationError):
    """Two runs of one workload with one seed produced different traces.

    `index` is the first step where they differ; `first` and `second` are that step as the two
    runs recorded it (`None` where one run had already ended).
    """

    code = "nondeterminism"

    def __init__(
        self,
        seed: int,
        index: int,
        first: str | None,
        second: str | None,
        context: Sequence[str] = (),
    ) -> None:
        lines = [f"seed {seed}: runs diverge at step {index}"]
        if context:
            lines.append("  common steps before it:")
            lines.extend(f"    {step}" for step in context)
        lines.append(f"  first run:  {first if first is not None else '<ended>'}")
        lines.append(f"  second run: {second if second is not None else '<ended>'}")
        super().__init__("\n".join(lines))
        self.seed = seed
        self.index = index
        self.first = first
        self.second = second
