"""The `aura-sim` command: run, sweep, replay and shrink scenarios.

    aura-sim run scenarios/naive_push.toml --seed 7
    aura-sim sweep scenarios/naive_push.toml --seeds 0..999
    aura-sim replay .sim/tapes/naive-push-faulty-7.tape
    aura-sim shrink .sim/tapes/naive-push-faulty-7.tape

Every result prints the options the seed resolved to; every failure prints one line that
reproduces it and leaves a tape to replay and shrink.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aura_sim.runner import RunResult, run_scenario
from aura_sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from aura_sim.shrink import shrink as shrink_schedule
from aura_sim.sweep import SeedOutcome
from aura_sim.sweep import sweep as run_sweep
from aura_sim.tape import load_tape, save_tape, tape_of
from aura_sim.tape import replay as replay_tape

app = typer.Typer(
    name="aura-sim",
    help="Deterministic simulation of Aura scenarios.",
    add_completion=False,
    no_args_is_help=True,
)
TAPES = Path(".sim/tapes")


def _console() -> Console:
    return Console(stderr=False, highlight=False)


def _load(path: Path) -> Scenario:
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _tape_path(scenario: Scenario, seed: int, directory: Path = TAPES) -> Path:
    return directory / f"{scenario.name}-{seed}.tape"


def _report(console: Console, result: RunResult, scenario_path: str) -> None:
    status = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    console.print(f"{status} {result.scenario} seed={result.seed} ({result.options.describe()})")
    console.print(
        f"  virtual time {result.virtual_time:.2f}s, {result.counters.get('delivered', 0)} "
        f"deliveries, {len(result.schedule)} faults, trace {result.trace_digest.hex()[:16]}"
    )
    if result.sometimes:
        console.print("  sometimes: " + ", ".join(f"{k}={v}" for k, v in result.sometimes.items()))
    for violation in result.violations:
        console.print(f"  [red]violated[/] {violation.describe()}")
    if not result.passed:
        console.print(f"  repro: aura-sim run {scenario_path} --seed {result.seed}")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's).")] = None,
    tape: Annotated[Path | None, typer.Option(help="Write the run's tape here.")] = None,
) -> None:
    """Run one seed of a scenario."""
    loaded = _load(scenario)
    chosen = loaded.seed if seed is None else seed
    result = run_scenario(loaded, chosen)
    console = _console()
    _report(console, result, str(scenario))
    if tape is not None or not result.passed:
        written = save_tape(tape_of(result, loaded.text), tape or _tape_path(loaded, chosen))
        console.print(f"  tape: {written}")
    raise typer.Exit(0 if result.passed else 1)


def _parse_range(text: str) -> range:
    try:
        low, high = text.split("..")
        return range(int(low), int(high) + 1)
    except ValueError:
        raise typer.BadParameter("seeds are A..B (inclusive)") from None


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    seeds: Annotated[str, typer.Option(help="Seed range A..B (inclusive).")] = "0..99",
    jobs: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per core).")
    ] = None,
    tapes: Annotated[Path, typer.Option(help="Directory for the tapes of failing seeds.")] = TAPES,
) -> None:
    """Run a range of seeds; print a repro line (and write a tape) for every failure."""
    loaded = _load(scenario)
    seed_range = _parse_range(seeds)
    console = _console()
    failures: list[SeedOutcome] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not sys.stdout.isatty(),
    ) as progress:
        task = progress.add_task(loaded.name, total=len(seed_range))

        def tick(outcome: SeedOutcome) -> None:
            progress.advance(task)
            if not outcome.passed:
                failures.append(outcome)
                progress.console.print(
                    f"[red]FAIL[/] seed {outcome.seed}: {outcome.violations[0]}  "
                    f"repro: aura-sim run {scenario} --seed {outcome.seed}"
                )

        outcomes = run_sweep(loaded, seed_range, jobs=jobs, progress=tick)
    for outcome in sorted(failures, key=lambda o: o.seed):
        result = run_scenario(loaded, outcome.seed)
        save_tape(tape_of(result, loaded.text), _tape_path(loaded, outcome.seed, tapes))
    deliveries = sum(o.deliveries for o in outcomes)
    console.print(
        f"{len(outcomes)} seeds, {len(failures)} failed, {deliveries} deliveries"
        + (f"; tapes in {tapes}" if failures else "")
    )
    raise typer.Exit(1 if failures else 0)


@app.command()
def replay(tape: Annotated[Path, typer.Argument(help="A tape written by run or sweep.")]) -> None:
    """Replay a tape and check that it reproduces its trace and outcome."""
    try:
        recorded = load_tape(tape)
        result, same = replay_tape(recorded)
    except ScenarioError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    console = _console()
    _report(console, result, "<tape>")
    verdict = "reproduced" if same else "[red]NOT reproduced[/]"
    console.print(
        f"{verdict}: trace {result.trace_digest.hex()[:16]}"
        f" (tape {recorded.trace_digest.hex()[:16]})"
    )
    raise typer.Exit(0 if same else 3)


@app.command()
def shrink(
    tape: Annotated[Path, typer.Argument(help="The tape of a failing run.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the shrunk tape.")] = None,
) -> None:
    """Shrink a failing run's fault schedule to a minimal one that still fails."""
    try:
        recorded = load_tape(tape)
        scenario = parse_scenario(recorded.scenario_text)
    except ScenarioError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if recorded.passed:
        typer.echo("the tape records a passing run; nothing to shrink", err=True)
        raise typer.Exit(2)
    outcome = shrink_schedule(
        scenario, recorded.seed, recorded.schedule, frozenset(recorded.failed_properties)
    )
    console = _console()
    console.print(
        f"{outcome.original} faults -> {len(outcome.schedule)} after {outcome.runs} runs:"
    )
    for line in outcome.schedule.describe():
        console.print(f"  {line}")
    result = run_scenario(scenario, recorded.seed, schedule=outcome.schedule)
    target = out or tape.with_suffix(".shrunk.tape")
    save_tape(tape_of(result, recorded.scenario_text), target)
    console.print(f"shrunk tape: {target}")


def main() -> None:
    app()
