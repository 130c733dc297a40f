"""Running an async function under a `SimLoop` through anyio.

    result = aura_sim.run(main, seed=7)                # the short form
    sim = aura_sim.Simulation(7, record_trace=True)    # when the caller wants more back
    result = sim.run(main, arg)
    sim.stats.virtual_time, sim.trace.digest(), sim.repro()

`run` goes through `anyio.run(..., backend="asyncio", backend_options={"loop_factory": ...})`,
so the code under test gets anyio's own root task, run variables and shutdown sequence, and
asyncio's `Runner` cancels whatever is left when the run ends. Inside, `current_loop()` gives the
loop (virtual clock, seed tree, `note`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar, TypeVarTuple, Unpack

import anyio

from aura_sim.errors import SimulationError
from aura_sim.loop import LoopStats, Schedule, SimLoop
from aura_sim.seeds import SeedTree
from aura_sim.trace import StepHook, Trace

__all__ = ["DEFAULT_MAX_STEPS", "Simulation", "run"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

DEFAULT_MAX_STEPS = 10_000_000
"""Step budget when none is given: a livelocked run fails in about a minute instead of hanging
CI. Pass `max_steps=None` to lift it."""


class Simulation:
    """One configured, seeded run: options in; result, counters and trace out.

    `run` may be called more than once; every call builds a fresh loop from the same options,
    so two calls with the same function replay each other (that is what `check_determinism`
    relies on). `loop`, `stats` and `trace` describe the latest call.
    """

    def __init__(
        self,
        seed: int,
        *,
        start_time: float = 0.0,
        schedule: Schedule = Schedule.RANDOM,
        max_steps: int | None = DEFAULT_MAX_STEPS,
        max_time: float | None = None,
        record_trace: bool = False,
        on_step: StepHook | None = None,
    ) -> None:
        self.seeds = SeedTree(seed)
        self.start_time = start_time
        self.schedule = schedule
        self.max_steps = max_steps
        self.max_time = max_time
        self.record_trace = record_trace
        self.on_step = on_step
        self.trace: Trace | None = None
        self._loop: SimLoop | None = None
        self._target: str | None = None
        """`module:function` of the latest run's `main`, when a command can name it."""

    @property
    def seed(self) -> int:
        return self.seeds.root

    @property
    def loop(self) -> SimLoop:
        """The loop of the latest run (it stays readable after the run ends)."""
        if self._loop is None:
            raise SimulationError("the simulation has not run yet")
        return self._loop

    @property
    def stats(self) -> LoopStats:
        return self.loop.stats()

    def repro(self) -> str:
        """What replays this run, as one line to print next to a failure.

        When the latest run's `main` was a module-level function called without arguments,
        this is a command (`aura-sim call package.module:function --seed 7 ...`) that runs it
        again with the same options. Anything else (a closure, a lambda, arguments) has no
        name a command could import, so it is the Python call to make with the same function.
        """
        options: list[str] = []
        if self.schedule is not Schedule.RANDOM:
            options += ["--schedule", self.schedule.value]
        if self.start_time != 0.0:
            options += ["--start-time", repr(self.start_time)]
        if self.max_steps != DEFAULT_MAX_STEPS:
            options += ["--max-steps", str(self.max_steps or 0)]
        if self.max_time is not None:
            options += ["--max-time", repr(self.max_time)]
        if self._target is not None:
            return shlex.join(
                ["aura-sim", "call", self._target, "--seed", str(self.seed), *options]
            )
        keywords = [
            f"{name}={value}"
            for name, value in (
                ("schedule", f"Schedule.{self.schedule.name}"),
                ("start_time", repr(self.start_time)),
                ("max_steps", repr(self.max_steps)),
                ("max_time", repr(self.max_time)),
            )
        ]
        return f"aura_sim.Simulation({self.seed}, {', '.join(keywords)}).run(main, ...)"

    def run(self, main: Callable[[Unpack[Ts]], Awaitable[T]], *args: *Ts) -> T:
        """Run `main(*args)` to completion under a fresh `SimLoop` and return its result.

        Exceptions from `main` propagate as under `anyio.run`. A loop-level failure
        (`Deadlock`, `SimulationLimitExceeded`, `SimulationUnsupported`) is raised as is, even
        if cancelling the leftover tasks afterwards fails too (that second error is attached
        as a note). Whatever escapes carries a note with `repro()`, the line that replays it.
        """
        self.trace = Trace() if self.record_trace else None
        self._target = None if args else _importable(main)
        loop = SimLoop(
            self.seeds,
            start_time=self.start_time,
            schedule=self.schedule,
            max_steps=self.max_steps,
            max_time=self.max_time,
            on_step=_combine(self.trace, self.on_step),
        )
        self._loop = loop
        try:
            return anyio.run(
                main, *args, backend="asyncio", backend_options={"loop_factory": lambda: loop}
            )
        except BaseException as exc:
            primary = loop.failure
            if primary is None or exc is primary:
                _add_repro(exc, self.repro())
                raise
            primary.add_note(f"while cancelling the remaining tasks: {type(exc).__name__}: {exc}")
            _abandon_tasks(loop)
            _add_repro(primary, self.repro())
            raise primary from None


def _importable(function: object) -> str | None:
    """`module:qualname` if importing that gives back `function` (so a command can name it)."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    value: object = sys.modules.get(module)
    for part in qualname.split("."):
        value = getattr(value, part, None)
    return f"{module}:{qualname}" if value is function else None


def _add_repro(error: BaseException, repro: str) -> None:
    """Say how to replay the run on whatever escapes it (once, however often it is re-raised)."""
    note = f"replay with: {repro}"
    if note not in getattr(error, "__notes__", ()):
        error.add_note(note)


def _abandon_tasks(loop: SimLoop) -> None:
    """Close the coroutines of tasks that survived cancellation, so their `finally` blocks run
    now (not in a later test's garbage collection) and they are dropped without a log line."""
    for task in sorted(asyncio.all_tasks(loop), key=loop.task_id):
        task._log_destroy_pending = False  # type: ignore[attr-defined]
        with contextlib.suppress(BaseException):
            task.get_coro().close()


def _combine(first: StepHook | None, second: StepHook | None) -> StepHook | None:
    if first is None:
        return second
    if second is None:
        return first

    def both(time: float, label: str) -> None:
        first(time, label)
        second(time, label)

    return both


def run(
    main: Callable[[Unpack[Ts]], Awaitable[T]],
    *args: *Ts,
    seed: int,
    start_time: float = 0.0,
    schedule: Schedule = Schedule.RANDOM,
    max_steps: int | None = DEFAULT_MAX_STEPS,
    max_time: float | None = None,
    on_step: StepHook | None = None,
) -> T:
    """Run `main(*args)` under a seeded `SimLoop` (see `Simulation` for the options)."""
    simulation = Simulation(
        seed,
        start_time=start_time,
        schedule=schedule,
        max_steps=max_steps,
        max_time=max_time,
        on_step=on_step,
    )
    return simulation.run(main, *args)
