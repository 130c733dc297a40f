"""The determinism self-check: run a seed twice, compare the step traces.

Determinism leaks (an ambient `time.time()`, an unseeded `random`, iterating a `set` of str
whose order follows PYTHONHASHSEED) are the most common bug in a deterministic simulator, and
they are silent: each run looks fine alone. `check_determinism` runs a workload twice in this
process and `check_determinism_across_processes` runs it in fresh interpreters with different
hash seeds; both raise `NondeterminismDetected` naming the first step where the traces part.

The second form needs the workload by import path (`"package.module:function"`); this module's
command line is what the child processes run:

    python -m aura_sim.determinism package.module:function --seed 7
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence

from aura_core.errors import InvalidArgument
from aura_core.hashing import Hash32
from aura_sim.errors import NondeterminismDetected, SimulationError
from aura_sim.loop import Schedule
from aura_sim.simulation import DEFAULT_MAX_STEPS, Simulation
from aura_sim.trace import Trace

__all__ = [
    "Workload",
    "record",
    "compare_traces",
    "check_determinism",
    "check_determinism_across_processes",
    "load_workload",
]

Workload = Callable[[], Awaitable[object]]
"""A zero-argument async function: everything it does is the simulated run."""

_CONTEXT_STEPS = 3


def record(
    workload: Workload,
    seed: int,
    *,
    start_time: float = 0.0,
    schedule: Schedule = Schedule.RANDOM,
    max_steps: int | None = DEFAULT_MAX_STEPS,
    max_time: float | None = None,
) -> tuple[Trace, str]:
    """Run `workload` once and return its trace and its outcome.

    The outcome is `"returned"` or `"raised <ExceptionType>"`: a workload that fails the same
    way twice is deterministic, so failing is recorded rather than propagated here.
    """
    simulation = Simulation(
        seed,
        start_time=start_time,
        schedule=schedule,
        max_steps=max_steps,
        max_time=max_time,
        record_trace=True,
    )
    trace, outcome, _ = _record(workload, simulation)
    return trace, outcome


def _record(workload: Workload, simulation: Simulation) -> tuple[Trace, str, Exception | None]:
    """One run of a tracing `Simulation` (each run builds a fresh loop and a fresh trace)."""
    error: Exception | None = None
    try:
        simulation.run(workload)
        outcome = "returned"
    except Exception as exc:
        error = exc
        outcome = f"raised {type(exc).__qualname__}"
    assert simulation.trace is not None
    return simulation.trace, outcome, error


def compare_traces(
    seed: int, first: Trace, second: Trace, outcomes: tuple[str, str] = ("returned", "returned")
) -> None:
    """Raise `NondeterminismDetected` unless the two tapes and outcomes are equal."""
    index = first.first_difference(second)
    if index is not None:
        context = [first.step(i) or "" for i in range(max(0, index - _CONTEXT_STEPS), index)]
        raise NondeterminismDetected(seed, index, first.step(index), second.step(index), context)
    if outcomes[0] != outcomes[1]:
        raise NondeterminismDetected(seed, len(first), outcomes[0], outcomes[1])


def check_determinism(
    workload: Workload,
    seed: int,
    *,
    runs: int = 2,
    start_time: float = 0.0,
    schedule: Schedule = Schedule.RANDOM,
    max_steps: int | None = DEFAULT_MAX_STEPS,
    max_time: float | None = None,
) -> Hash32:
    """Run `workload` `runs` times with `seed` in this process; return the trace digest.

    Raises `NondeterminismDetected` at the first step where a run differs from the first one.
    If every run fails the same way, the first run's exception is raised after the check,
    since a deterministic failure is still a failure.
    """
    if runs < 2:
        raise InvalidArgument("check_determinism needs at least two runs")
    simulation = Simulation(
        seed,
        start_time=start_time,
        schedule=schedule,
        max_steps=max_steps,
        max_time=max_time,
        record_trace=True,
    )
    first, first_outcome, error = _record(workload, simulation)
    for _ in range(runs - 1):
        other, outcome, _ = _record(workload, simulation)
        compare_traces(seed, first, other, (first_outcome, outcome))
    if error is not None:
        raise error
    return first.digest()


def check_determinism_across_processes(
    target: str,
    seed: int,
    *,
    hash_seeds: Sequence[int] = (1, 2),
    timeout: float = 120.0,
) -> Hash32:
    """Run the workload at import path `target` in one fresh interpreter per hash seed.

    Each child runs with `PYTHONHASHSEED` set to one of `hash_seeds` and the default
    `Simulation` options, and prints its trace; the traces must be equal, or
    `NondeterminismDetected` names the first diverging step.
    This catches what a same-process check cannot: str/bytes hash order, import-time state,
    anything that differs between interpreters.
    """
    if len(hash_seeds) < 2:
        raise InvalidArgument("compare at least two hash seeds")
    results = [_child_trace(target, seed, hash_seed, timeout) for hash_seed in hash_seeds]
    first, first_outcome = results[0]
    for other, outcome in results[1:]:
        compare_traces(seed, first, other, (first_outcome, outcome))
    return first.digest()


def _child_trace(target: str, seed: int, hash_seed: int, timeout: float) -> tuple[Trace, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = str(hash_seed)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    completed = subprocess.run(
        [sys.executable, "-m", "aura_sim.determinism", target, "--seed", str(seed)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise SimulationError(
            f"child run of {target} (PYTHONHASHSEED={hash_seed}) failed with exit code "
            f"{completed.returncode}:\n{completed.stderr[-2000:]}"
        )
    trace = Trace()
    outcome = ""
    for line in completed.stdout.splitlines():
        entry = json.loads(line)
        if isinstance(entry, list):
            trace(float(entry[0]), str(entry[1]))
        else:
            outcome = str(entry["outcome"])
    return trace, outcome


def load_workload(target: str) -> Workload:
    """Resolve `"package.module:function"` to the function."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidArgument(f"a workload is named 'package.module:function', got {target!r}")
    value: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    if not callable(value):
        raise InvalidArgument(f"{target} is not callable")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    """Child side of the cross-process check: print the trace as JSON lines, then the outcome."""
    parser = argparse.ArgumentParser(prog="python -m aura_sim.determinism")
    parser.add_argument("target", help="package.module:function (an async function, no args)")
    parser.add_argument("--seed", type=int, required=True)
    options = parser.parse_args(argv)
    trace, outcome = record(load_workload(options.target), options.seed)
    out = sys.stdout
    for time, label in trace.entries:
        out.write(json.dumps([time, label]) + "\n")
    out.write(json.dumps({"outcome": outcome, "digest": trace.digest().hex()}) + "\n")


if __name__ == "__main__":
    main()
