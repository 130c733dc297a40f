"""The `aura-sim` command: run, sweep, replay and shrink scenarios; call a simulated function.

    aura-sim run consensus --seed 7                 # a shipped scenario, by name
    aura-sim run path/to/mine.toml --seed 7         # or a file
    aura-sim sweep naive_push --seeds 0..999
    aura-sim replay .sim/tapes/naive-push-faulty-7.tape
    aura-sim shrink .sim/tapes/naive-push-faulty-7.tape
    aura-sim call package.module:function --seed 7  # what `Simulation.repro()` prints

Every result prints the options the seed resolved to; every failure prints one `repro:` line,
a command that reproduces it, and leaves a tape to replay and shrink. Output is plain lines
that are never wrapped (colour only on a terminal), or one JSON document with `--json`.
Exit codes (`aura_core.exitcodes.ExitCode`): 0 passed, 1 a property failed, 2 invalid input
(options, scenario, tape), 3 internal error (a crash, a replay that does not reproduce).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import anyio
import attrs
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.text import Text

from aura_core import __version__
from aura_core.errors import InvalidArgument
from aura_core.exitcodes import ExitCode
from aura_core.hashing import Hash32
from aura_sim.determinism import load_workload as load_function
from aura_sim.errors import ScenarioError
from aura_sim.loop import Schedule
from aura_sim.runner import RunResult, run_scenario
from aura_sim.scenario import (
    MAX_SEED,
    Scenario,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)
from aura_sim.shrink import shrink as shrink_schedule
from aura_sim.simulation import DEFAULT_MAX_STEPS, Simulation
from aura_sim.sweep import SeedOutcome
from aura_sim.sweep import sweep as run_sweep
from aura_sim.tape import Tape, load_tape, save_tape, tape_of
from aura_sim.tape import replay as replay_tape
from aura_sim.trace import Trace, format_step

__all__ = ["app", "main"]

app = typer.Typer(
    name="aura-sim",
    help="Deterministic simulation of Aura scenarios. Exit codes: 0 passed, 1 a property "
    "failed, 2 invalid input, 3 internal error.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Rich's boxed help and usage errors only on a terminal; elsewhere (CI logs, pipes) plain
    # text that is not wrapped at 80 columns.
    rich_markup_mode="rich" if sys.stderr.isatty() else None,
)
TAPES = Path(".sim/tapes")
MAX_SWEEP = 1_000_000
"""Seeds one sweep may run (the seed list is held in memory): split a larger range."""
PROGRESS_S = 10.0
"""Off a terminal, a sweep prints a progress line this often (wall-clock seconds)."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aura-sim {__version__}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Deterministic simulation of Aura scenarios."""


ScenarioArg = Annotated[
    str,
    typer.Argument(
        metavar="SCENARIO",
        help="A shipped scenario's name (see `aura-sim list`) or a TOML file (a path with a "
        "'/' or ending in .toml).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of lines.")
]
VerboseOption = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        help="-v: guard denials and the run's events (faults, boots, violations) on stderr; "
        "-vv: every trace event and every step.",
    ),
]


# -- output -----------------------------------------------------------------------------------


def _echo(line: str = "", *, err: bool = False) -> None:
    """One line, never wrapped (a `repro:` line must paste as one command); typer drops the
    colour when the stream is not a terminal."""
    typer.echo(line, err=err)


def _status(passed: bool) -> str:
    return typer.style("PASS", fg="green", bold=True) if passed else typer.style("FAIL", fg="red")


def _json(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, indent=2, sort_keys=True))


def _run_repro(ref: str, seed: int) -> str:
    return shlex.join(["aura-sim", "run", ref, "--seed", str(seed)])


def _replay_repro(tape: Path) -> str:
    return shlex.join(["aura-sim", "replay", str(tape)])


def _digest(digest: Hash32) -> str:
    return digest.hex()[:16]


def _result_lines(result: RunResult, repro: str) -> Iterator[str]:
    options = result.options.describe()
    yield f"{_status(result.passed)} {result.scenario} seed={result.seed} ({options})"
    yield (
        f"  virtual time {result.virtual_time:.2f}s, {result.counters.get('delivered', 0)} "
        f"deliveries, {len(result.schedule)} faults, trace {_digest(result.trace_digest)}"
    )
    if result.sometimes:
        yield "  sometimes: " + ", ".join(f"{k}={v}" for k, v in result.sometimes.items())
    for violation in result.violations:
        yield f"  {typer.style('violated', fg='red')} {violation.describe()}"
    if not result.passed:
        yield f"  repro: {repro}"


def _result_json(result: RunResult, repro: str, tape: Path | None) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "seed": result.seed,
        "passed": result.passed,
        "options": attrs.asdict(result.options),
        "violations": [attrs.asdict(v) for v in result.violations],
        "virtual_time": result.virtual_time,
        "deliveries": result.counters.get("delivered", 0),
        "faults": len(result.schedule),
        "trace_digest": result.trace_digest.hex(),
        "sometimes": result.sometimes,
        "repro": repro,
        "tape": None if tape is None else str(tape),
    }


# -- failures ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _failures(repro: str = "") -> Iterator[None]:
    """Bad input becomes a one-line `error:` and exit 2; anything unexpected is a bug: its
    traceback, the line that reproduces it, and exit 3."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except ScenarioError as exc:
        _echo(f"error: {exc.message}", err=True)
        raise typer.Exit(ExitCode.INVALID_INPUT) from None
    except Exception as exc:
        _echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
        _echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        if repro:
            _echo(f"  repro: {repro}", err=True)
        raise typer.Exit(ExitCode.INTERNAL_ERROR) from None


def _load(ref: str) -> Scenario:
    with _failures():
        return load_scenario(ref)


def _tape_path(scenario: Scenario, seed: int, directory: Path = TAPES) -> Path:
    return directory / f"{scenario.name}-{seed}.tape"


def _save(tape: Tape, path: Path) -> Path:
    """Write a tape; a place that cannot take it is bad input (`--tape`, `--tapes`, `--out`)."""
    try:
        return save_tape(tape, path)
    except OSError as exc:
        raise ScenarioError(f"cannot write the tape {path}: {exc.strerror or exc}") from None


class _DenialLog(logging.Handler):
    """Prints the trace events the nodes log (guard denials at -v, everything at -vv), with
    the virtual time they happened at."""

    def __init__(self, everything: bool) -> None:
        super().__init__(logging.DEBUG)
        self.everything = everything

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.everything or message.startswith("guard.denied"):
            try:
                now = f"t={anyio.current_time():.3f} "
            except RuntimeError:
                now = ""
            _echo(f"  {now}{message}", err=True)


@contextlib.contextmanager
def _verbose(level: int) -> Iterator[None]:
    if level <= 0:
        yield
        return
    logger = logging.getLogger("aura")
    handler = _DenialLog(everything=level > 1)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _show_trace(trace: Trace | None, level: int) -> None:
    """At -v the run's notes (faults, boots, crashes, violations); at -vv every step."""
    if trace is None or level <= 0:
        return
    _echo("trace:", err=True)
    for index, (at, label) in enumerate(trace.entries):
        if level > 1:
            _echo(f"  {format_step(index, at, label)}", err=True)
        elif label.startswith("note:"):
            _echo(f"  t={at:.3f} {label.removeprefix('note:')}", err=True)


# -- commands ---------------------------------------------------------------------------------


@app.command("list")
def list_scenarios(json_out: JsonOption = False) -> None:
    """List the scenarios shipped with the package (run them by name)."""
    with _failures():
        described = {name: load_scenario(name).description for name in shipped_scenarios()}
    if json_out:
        _json({"scenarios": described})
        return
    for name, description in described.items():
        _echo(f"{name}: {description}")


@app.command()
def run(
    scenario: ScenarioArg,
    *,
    seed: Annotated[
        int | None,
        typer.Option(min=0, max=MAX_SEED, help="Seed, 0..2**64-1 (default: the scenario's)."),
    ] = None,
    tape: Annotated[Path | None, typer.Option(help="Write the run's tape here.")] = None,
    json_out: JsonOption = False,
    verbose: VerboseOption = 0,
) -> None:
    """Run one seed of a scenario."""
    loaded = _load(scenario)
    chosen = loaded.seed if seed is None else seed
    repro = _run_repro(scenario, chosen)
    with _failures(repro), _verbose(verbose):
        result = run_scenario(loaded, chosen, keep_trace=verbose > 0)
    _show_trace(result.trace, verbose)
    written = None
    if tape is not None or not result.passed:
        with _failures(repro):
            written = _save(tape_of(result, loaded.text), tape or _tape_path(loaded, chosen))
    if json_out:
        _json(_result_json(result, repro, written))
    else:
        for line in _result_lines(result, repro):
            _echo(line)
        if written is not None:
            _echo(f"  tape: {written} (replay: {_replay_repro(written)})")
    raise typer.Exit(ExitCode.OK if result.passed else ExitCode.FAILED)


def _parse_range(text: str) -> range:
    low_text, sep, high_text = text.partition("..")
    try:
        low, high = int(low_text), int(high_text)
    except ValueError:
        low = high = -1
    if not sep or not 0 <= low <= high <= MAX_SEED:
        raise typer.BadParameter(
            f"seeds are A..B with 0 <= A <= B <= 2**64-1 (both included), got {text!r}",
            param_hint="'--seeds'",
        )
    if high - low + 1 > MAX_SWEEP:
        raise typer.BadParameter(
            f"a sweep runs at most {MAX_SWEEP:,} seeds; split {text!r} into smaller ranges",
            param_hint="'--seeds'",
        )
    return range(low, high + 1)


class _Progress:
    """Sweep progress: a bar on a terminal; off one (CI), a line every `every` seconds."""

    def __init__(self, name: str, total: int, every: float) -> None:
        self.name = name
        self.total = total
        self.every = every
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self.last = self.start
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            self.bar = Progress(
                "[bold]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(self.name, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        else:
            self.line()

    def advance(self, outcome: SeedOutcome) -> None:
        self.done += 1
        self.failed += not outcome.passed
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)
            return
        now = time.monotonic()
        if now - self.last >= self.every and self.done < self.total:
            self.last = now
            self.line()

    def say(self, line: str) -> None:
        """A result line: above the bar on a terminal, else on stdout like every other."""
        if self.bar is not None:
            self.bar.console.print(Text.from_ansi(line), soft_wrap=True)
        else:
            _echo(line)

    def line(self) -> None:
        _echo(
            f"progress: {self.name} {self.done}/{self.total} seeds, {self.failed} failed, "
            f"{time.monotonic() - self.start:.0f} s",
            err=True,
        )


@app.command()
def sweep(
    scenario: ScenarioArg,
    *,
    seeds: Annotated[
        str, typer.Option(help="Seed range A..B, both included, 0 <= A <= B <= 2**64-1.")
    ] = "0..99",
    jobs: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes, at least 1 (default: one per core)."),
    ] = None,
    tapes: Annotated[Path, typer.Option(help="Directory for the tapes of failing seeds.")] = TAPES,
    progress_every: Annotated[
        float,
        typer.Option(
            min=0.0, help="Off a terminal, print a progress line every this many seconds."
        ),
    ] = PROGRESS_S,
    json_out: JsonOption = False,
) -> None:
    """Run a range of seeds; print a repro line (and write a tape) for every failure."""
    loaded = _load(scenario)
    seed_range = _parse_range(seeds)
    failures: list[SeedOutcome] = []

    with _failures(), _Progress(loaded.name, len(seed_range), progress_every) as progress:

        def tick(outcome: SeedOutcome) -> None:
            progress.advance(outcome)
            if not outcome.passed:
                failures.append(outcome)
                if not json_out:
                    progress.say(
                        f"{_status(False)} seed {outcome.seed}: {outcome.violations[0]}  "
                        f"repro: {_run_repro(scenario, outcome.seed)}"
                    )

        outcomes = run_sweep(loaded, seed_range, jobs=jobs, progress=tick)
    written: dict[int, Path] = {}
    for outcome in sorted(failures, key=lambda o: o.seed):
        with _failures(_run_repro(scenario, outcome.seed)):
            result = run_scenario(loaded, outcome.seed)
            path = _tape_path(loaded, outcome.seed, tapes)
            written[outcome.seed] = _save(tape_of(result, loaded.text), path)
    deliveries = sum(o.deliveries for o in outcomes)
    if json_out:
        _json(
            {
                "scenario": loaded.name,
                "seeds": [seed_range.start, seed_range.stop - 1],
                "count": len(outcomes),
                "failed": [
                    {
                        "seed": o.seed,
                        "violations": list(o.violations),
                        "options": o.options,
                        "repro": _run_repro(scenario, o.seed),
                        "tape": str(written[o.seed]),
                    }
                    for o in outcomes
                    if not o.passed
                ],
                "deliveries": deliveries,
            }
        )
    else:
        _echo(
            f"{len(outcomes)} seeds, {len(failures)} failed, {deliveries} deliveries"
            + (f"; tapes in {tapes}" if failures else "")
        )
    raise typer.Exit(ExitCode.FAILED if failures else ExitCode.OK)


@app.command()
def replay(
    tape: Annotated[Path, typer.Argument(help="A tape written by run, sweep or shrink.")],
    json_out: JsonOption = False,
    verbose: VerboseOption = 0,
) -> None:
    """Replay a tape; exit 0 if it reproduces its trace and outcome, 3 if not."""
    repro = _replay_repro(tape)
    with _failures():
        recorded = load_tape(tape)
    with _failures(repro), _verbose(verbose):
        result, same = replay_tape(recorded, keep_trace=verbose > 0)
    _show_trace(result.trace, verbose)
    if json_out:
        document = _result_json(result, repro, tape)
        document["reproduced"] = same
        document["tape_trace_digest"] = recorded.trace_digest.hex()
        _json(document)
    else:
        for line in _result_lines(result, repro):
            _echo(line)
        verdict = "reproduced" if same else typer.style("NOT reproduced", fg="red")
        _echo(
            f"{verdict}: trace {_digest(result.trace_digest)}"
            f" (tape {_digest(recorded.trace_digest)})"
        )
    if not same:
        _echo(
            "internal error: the replay did not reproduce the tape (the code changed since it "
            "was recorded, or the run is not deterministic)",
            err=True,
        )
    raise typer.Exit(ExitCode.OK if same else ExitCode.INTERNAL_ERROR)


@app.command()
def shrink(
    tape: Annotated[Path, typer.Argument(help="The tape of a failing run.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the shrunk tape.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Shrink a failing run's fault schedule to a minimal one that still fails."""
    with _failures():
        recorded = load_tape(tape)
        scenario = parse_scenario(recorded.scenario_text, source=f"the scenario in {tape}")
        if recorded.passed:
            raise ScenarioError(f"{tape} records a passing run; there is nothing to shrink")
    target = out or tape.with_suffix(".shrunk.tape")
    with _failures(_replay_repro(tape)):
        outcome = shrink_schedule(
            scenario, recorded.seed, recorded.schedule, frozenset(recorded.failed_properties)
        )
        result = run_scenario(scenario, recorded.seed, schedule=outcome.schedule)
        _save(tape_of(result, recorded.scenario_text), target)
    if json_out:
        _json(
            {
                "original": outcome.original,
                "faults": list(outcome.schedule.describe()),
                "runs": outcome.runs,
                "tape": str(target),
                "repro": _replay_repro(target),
            }
        )
        return
    _echo(f"{outcome.original} faults -> {len(outcome.schedule)} after {outcome.runs} runs:")
    for line in outcome.schedule.describe():
        _echo(f"  {line}")
    _echo(f"shrunk tape: {target}")
    _echo(f"  repro: {_replay_repro(target)}")


@app.command()
def call(
    target: Annotated[
        str,
        typer.Argument(help="package.module:function, an async function without arguments."),
    ],
    *,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed, 0..2**64-1.")],
    schedule: Annotated[
        Schedule, typer.Option(help="How a batch of ready callbacks is ordered.")
    ] = Schedule.RANDOM,
    start_time: Annotated[float, typer.Option(help="Virtual time at the start.")] = 0.0,
    max_steps: Annotated[
        int, typer.Option(min=0, help="Step budget (0: none).")
    ] = DEFAULT_MAX_STEPS,
    max_time: Annotated[
        float | None, typer.Option(min=0.0, help="Virtual-time limit (default: none).")
    ] = None,
) -> None:
    """Run an async function under the simulator (what `Simulation.repro()` prints): exit 0
    if it returns, 1 (with its traceback) if it raises."""
    with _failures():
        try:
            function: Callable[[], Any] = load_function(target)
        except (ImportError, AttributeError, InvalidArgument) as exc:
            raise ScenarioError(f"cannot load {target!r}: {exc}") from None
    simulation = Simulation(
        seed,
        schedule=schedule,
        start_time=start_time,
        max_steps=max_steps or None,
        max_time=max_time,
    )
    try:
        value = simulation.run(function)
    except Exception as exc:
        _echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
        _echo(f"{_status(False)} {target} seed={seed}: {type(exc).__name__}: {exc}")
        _echo(f"  repro: {simulation.repro()}")
        raise typer.Exit(ExitCode.FAILED) from None
    _echo(f"{_status(True)} {target} seed={seed} -> {value!r}")


def main() -> None:
    app()
