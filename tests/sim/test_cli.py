"""`aura-sim` as a user meets it: every misuse is one clear line and exit 2 (never a traceback),
failures are exit 1, bugs exit 3, and every printed repro is a command that reproduces the run.

The commands run through `CliRunner`, which is not a terminal: what it sees is what a CI log
gets (no colour, no wrapping, progress lines instead of a bar).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aura_core import __version__
from aura_core.exitcodes import ExitCode
from aura_sim import Schedule, Simulation
from aura_sim.cli import app
from aura_sim.scenario import load_scenario, shipped_scenarios
from tests.sim import call_targets

PLANTED_FAILING_SEED = 3
"""A seed of the planted-bug scenario that fails (its convergence is violated)."""
SHORT = """
[scenario]
name = "short"
workload = "{workload}"
[participants]
nodes = 3
[[phase]]
kind = "safety"
duration_s = 1
actions = [{{ at_s = 0.0, do = "write", node = "all" }}]
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def reproduce(line: str) -> Result:
    """Run a printed repro line as the command it claims to be."""
    argv = shlex.split(line)
    assert argv[0] == "aura-sim", line
    return invoke(*argv[1:])


def repro_of(output: str) -> str:
    (line,) = re.findall(r"repro: (.*)$", output, flags=re.MULTILINE)
    return line.strip()


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == ExitCode.OK
    assert result.output == f"aura-sim {__version__}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "naive_push", "--seed", "-1"], "'--seed'"),
        (["run", "naive_push", "--seed", str(2**64)], "'--seed'"),
        (["run", "naive_push", "--seed", "seven"], "'--seed'"),
        (["sweep", "naive_push", "--seeds", "5..1"], "seeds are A..B"),
        (["sweep", "naive_push", "--seeds", "1-5"], "seeds are A..B"),
        (["sweep", "naive_push", "--seeds", f"0..{2**64}"], "seeds are A..B"),
        (["sweep", "naive_push", "--seeds", "0..1000000"], "at most 1,000,000 seeds"),
        (["sweep", "naive_push", "--jobs", "0"], "'--jobs'"),
        (["sweep", "naive_push", "--progress-every", "-1"], "'--progress-every'"),
        (["run", "consensu"], "no shipped scenario 'consensu' (did you mean 'consensus'?"),
        (["run", "no/such/file.toml"], "cannot read no/such/file.toml"),
        (["replay", "no-such.tape"], "cannot read tape no-such.tape"),
        (["call", "tests.sim.call_targets:nothing", "--seed", "1"], "cannot load"),
        (["call", "tests.sim.call_targets:passes", "--seed", "-1"], "'--seed'"),
    ],
)
def test_misuse_is_one_clear_message_and_exit_2(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert message in result.output
    no_traceback(result)


def test_a_misspelt_table_is_rejected_with_file_line_and_the_nearest_name(
    tmp_path: Path,
) -> None:
    text = load_scenario("naive_push").text.replace("[participants]", "[participant]")
    path = tmp_path / "misspelt.toml"
    path.write_text(text)
    line = text.splitlines().index("[participant]") + 1
    result = invoke("run", str(path))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert (
        f"error: {path}:{line}: [participant]: unknown table 'participant' "
        "(did you mean [participants]?)" in result.output
    )
    no_traceback(result)


def test_a_missing_workload_module_fails_at_load_not_at_run_time(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    path.write_text(SHORT.format(workload="no_such.workload"))
    result = invoke("run", str(path))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"{path}:4: [scenario].workload: cannot import workload 'no_such.workload'" in (
        result.output
    )
    no_traceback(result)


def test_a_tape_that_is_not_a_tape_and_a_passing_tape_are_invalid_input(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tape"
    junk.write_bytes(b"\x00not cbor")
    for command in ("replay", "shrink"):
        result = invoke(command, str(junk))
        assert result.exit_code == ExitCode.INVALID_INPUT
        assert "is not a tape" in result.output
        no_traceback(result)
    passing = tmp_path / "passing.tape"
    ran = invoke("run", "naive_push", "--seed", "3", "--tape", str(passing))
    assert ran.exit_code == ExitCode.OK, ran.output
    result = invoke("shrink", str(passing))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "records a passing run; there is nothing to shrink" in result.output


def test_a_tape_that_cannot_be_written_is_invalid_input(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = invoke("run", "naive_push", "--seed", "3", "--tape", str(blocker / "x.tape"))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"error: cannot write the tape {blocker / 'x.tape'}: " in result.output
    no_traceback(result)


def test_a_bug_in_the_code_under_test_is_an_internal_error(tmp_path: Path) -> None:
    path = tmp_path / "crashing.toml"
    path.write_text(SHORT.format(workload="tests.sim.crashing_workload"))
    result = invoke("run", str(path), "--seed", "4")
    assert result.exit_code == ExitCode.INTERNAL_ERROR
    assert "ZeroDivisionError: a bug in the workload" in result.output
    assert f"repro: aura-sim run {path} --seed 4" in result.output


def test_a_failing_run_prints_a_repro_that_reproduces_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    failed = invoke("run", "planted_reorder_bug", "--seed", str(PLANTED_FAILING_SEED))
    assert failed.exit_code == ExitCode.FAILED, failed.output
    repro = repro_of(failed.output)
    assert repro == f"aura-sim run planted_reorder_bug --seed {PLANTED_FAILING_SEED}"
    again = reproduce(repro)
    assert again.exit_code == ExitCode.FAILED
    assert again.output.splitlines()[:4] == failed.output.splitlines()[:4]
    # The tape it wrote replays with the command printed beside it.
    (replay_line,) = re.findall(r"\(replay: (.*)\)$", failed.output, flags=re.MULTILINE)
    replayed = reproduce(replay_line)
    assert replayed.exit_code == ExitCode.OK, replayed.output
    assert "reproduced: trace" in replayed.output
    # Replay's own repro line is the replay command (it is a failing run it reproduces).
    assert reproduce(repro_of(replayed.output)).exit_code == ExitCode.OK


def test_sweep_repro_lines_progress_lines_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the reproduced run writes its tape under .sim/
    long_dir = tmp_path / ("a-directory-with-a-long-name-" * 3)
    long_dir.mkdir()
    scenario = long_dir / "planted.toml"
    scenario.write_text(load_scenario("planted_reorder_bug").text)
    tapes = tmp_path / "tapes"
    result = invoke(
        "sweep",
        str(scenario),
        "--seeds",
        "0..5",
        "--jobs",
        "1",
        "--tapes",
        str(tapes),
        "--progress-every",
        "0",
    )
    assert result.exit_code == ExitCode.FAILED
    # One unwrapped line per failure, ending in a command that reproduces that seed.
    fails = re.findall(r"^FAIL seed (\d+): .*  repro: (.*)$", result.stdout, flags=re.MULTILINE)
    assert fails and str(PLANTED_FAILING_SEED) in {seed for seed, _ in fails}
    seed, line = fails[0]
    assert line == shlex.join(["aura-sim", "run", str(scenario), "--seed", seed])
    assert reproduce(line).exit_code == ExitCode.FAILED
    # Off a terminal: progress lines on stderr, the last one complete.
    progress = re.findall(r"^progress: planted-reorder-bug (\d+)/6 seeds", result.stderr, re.M)
    assert progress[-1] == "6" and len(progress) >= 2
    as_json = invoke(
        "sweep", str(scenario), "--seeds", "0..5", "--jobs", "1", "--tapes", str(tapes), "--json"
    )
    document = json.loads(as_json.stdout)
    assert document["count"] == 6 and document["seeds"] == [0, 5]
    assert [f["seed"] for f in document["failed"]] == sorted(int(s) for s, _ in fails)
    assert all(Path(f["tape"]).exists() for f in document["failed"])


def test_run_json_and_shrink_repro(tmp_path: Path) -> None:
    tape = tmp_path / "failing.tape"
    result = invoke(
        "run",
        "planted_reorder_bug",
        "--seed",
        str(PLANTED_FAILING_SEED),
        "--tape",
        str(tape),
        "--json",
    )
    assert result.exit_code == ExitCode.FAILED
    document = json.loads(result.stdout)
    assert document["passed"] is False and document["seed"] == PLANTED_FAILING_SEED
    assert {v["property"] for v in document["violations"]} == {"convergence"}
    assert document["repro"] == f"aura-sim run planted_reorder_bug --seed {PLANTED_FAILING_SEED}"
    assert document["tape"] == str(tape)
    shrunk = invoke("shrink", str(tape), "--out", str(tmp_path / "small.tape"))
    assert shrunk.exit_code == ExitCode.OK, shrunk.output
    replayed = reproduce(repro_of(shrunk.output))
    assert replayed.exit_code == ExitCode.OK and "reproduced" in replayed.output


def test_verbose_shows_guard_denials_and_the_runs_events(tmp_path: Path) -> None:
    path = tmp_path / "ungranted.toml"
    path.write_text(SHORT.format(workload="tests.sim.ungranted_workload"))
    quiet = invoke("run", str(path), "--seed", "1")
    assert "guard.denied" not in quiet.output
    loud = invoke("run", str(path), "--seed", "1", "-v")
    assert re.search(r"^  t=\d+\.\d{3} guard\.denied .*operation=", loud.stderr, re.M), loud.stderr
    assert "trace:" in loud.stderr and "n0 boots" in loud.stderr
    assert loud.stdout == quiet.stdout  # -v adds to stderr only
    louder = invoke("run", str(path), "--seed", "1", "-vv")
    assert re.search(r"^  #\d+ t=", louder.stderr, re.M)


def test_shipped_scenarios_are_listed_and_run_by_name() -> None:
    listed = invoke("list")
    assert listed.exit_code == ExitCode.OK
    assert [line.split(":")[0] for line in listed.output.splitlines()] == shipped_scenarios()
    as_json = json.loads(invoke("list", "--json").stdout)
    assert list(as_json["scenarios"]) == shipped_scenarios()
    assert as_json["scenarios"]["naive_push"] == load_scenario("naive_push").description
    assert "consensus" in shipped_scenarios()


def test_simulation_repro_is_a_command_that_reproduces_the_failure() -> None:
    simulation = Simulation(5, max_time=100.0)
    with pytest.raises(AssertionError) as caught:
        simulation.run(call_targets.draws_and_fails)
    repro = simulation.repro()
    assert repro == (
        "aura-sim call tests.sim.call_targets:draws_and_fails --seed 5 --max-time 100.0"
    )
    assert caught.value.__notes__ == [f"replay with: {repro}"]
    again = reproduce(repro)
    assert again.exit_code == ExitCode.FAILED
    assert f"AssertionError: {caught.value.args[0]}" in again.output
    assert reproduce(repro_of(again.output)).output == again.output
    passed = invoke("call", "tests.sim.call_targets:passes", "--seed", "5")
    assert passed.exit_code == ExitCode.OK and "-> 42" in passed.output


def test_simulation_repro_carries_every_option_that_changes_the_run() -> None:
    simulation = Simulation(11, schedule=Schedule.FIFO, start_time=3.5, max_steps=None)
    with pytest.raises(AssertionError) as caught:
        simulation.run(call_targets.draws_and_fails)
    repro = simulation.repro()
    assert repro == (
        "aura-sim call tests.sim.call_targets:draws_and_fails --seed 11 --schedule fifo "
        "--start-time 3.5 --max-steps 0"
    )
    assert str(caught.value).endswith("at t=4.5")
    again = reproduce(repro)
    assert again.exit_code == ExitCode.FAILED
    assert f"AssertionError: {caught.value.args[0]}" in again.output


def test_simulation_repro_of_a_closure_is_the_python_call() -> None:
    async def local() -> None:
        raise LookupError

    simulation = Simulation(9)
    with pytest.raises(LookupError):
        simulation.run(local)
    assert simulation.repro() == (
        "aura_sim.Simulation(9, schedule=Schedule.RANDOM, start_time=0.0, "
        "max_steps=10000000, max_time=None).run(main, ...)"
    )
