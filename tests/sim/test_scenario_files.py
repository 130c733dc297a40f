"""Scenario files: parsing, validation and the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_sim.cli import app
from aura_sim.errors import ScenarioError
from aura_sim.scenario import load_scenario, parse_scenario, shipped_scenarios

MINIMAL = """
[scenario]
workload = "aura_sim.examples.naive_push"
[[phase]]
kind = "safety"
duration_s = 1
"""


def test_every_shipped_scenario_parses_by_name_and_by_path(tmp_path: Path) -> None:
    assert len(shipped_scenarios()) == 7
    for name in shipped_scenarios():
        scenario = load_scenario(name)
        assert scenario.phases and scenario.workload
        copy = tmp_path / f"{name}.toml"
        copy.write_text(scenario.text)
        assert load_scenario(copy) == load_scenario(str(copy)) == scenario


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not toml [", "<scenario>: not valid TOML: "),
        ("[scenario]\nworkload = 'x'", "<scenario>: [[phase]]: a scenario needs at least one"),
        ("[[phase]]\nkind = 'safety'\nduration_s = 1", "<scenario>: [scenario]: missing required"),
        (
            MINIMAL.replace("safety", "sometimes"),
            "<scenario>:4: [[phase]] 1: kind must be 'safety' or 'liveness', got 'sometimes'",
        ),
        (
            MINIMAL + "[network]\ndrop = 1.5\n",
            "<scenario>:8: [network].drop: is a probability in [0, 1], got 1.5",
        ),
        (
            MINIMAL + "[network]\njitter_ms = -1\n",
            "<scenario>:8: [network].jitter_ms: must be at least 0, got -1.0",
        ),
        (
            MINIMAL + "[swarm]\nenabled = true\nnodes = [1, 1000000000]\n",
            "<scenario>:9: [swarm].nodes: is [low, high] with 1 <= low <= high <= 64",
        ),
        (MINIMAL + "[participants]\nnodes = 0\n", "<scenario>:8: [participants].nodes: must be"),
        (
            MINIMAL + "[participants]\nnodes = '5'\n",
            "<scenario>:8: [participants].nodes: expected an integer, got '5'",
        ),
        (
            MINIMAL + "[faults]\nbuggify = 1\n",
            "<scenario>:8: [faults].buggify: expected true or false, got 1",
        ),
        (
            MINIMAL + "[participant]\nnodes = 4\n",
            "<scenario>:7: [participant]: unknown table 'participant' "
            "(did you mean [participants]?)",
        ),
        (
            MINIMAL + "[network]\nlatncy_ms = 4\n",
            "<scenario>:8: [network].latncy_ms: unknown key 'latncy_ms' "
            "(did you mean 'latency_ms'?)",
        ),
        (
            MINIMAL + "[properties]\nalways = ['nope']\n",
            "<scenario>:8: [properties].always: unknown 'nope' (one of [",
        ),
        (
            MINIMAL.replace("duration_s = 1", "duration_s = 1\nactions = [{ do = 'fly' }]"),
            "<scenario>:7: [[phase]] 1.actions[0].do: unknown 'fly' (one of [",
        ),
        (
            MINIMAL.replace(
                "duration_s = 1", "duration_s = 1\nactions = [{ do = 'write' },\n{ do = 'wrte' }]"
            ),
            "<scenario>:8: [[phase]] 1.actions[1].do: unknown 'wrte' (did you mean 'write'?)",
        ),
        (
            MINIMAL.replace("duration_s = 1", "duration_s = 1\nwithin_s = 2"),
            "<scenario>:7: [[phase]] 1.within_s: unknown key 'within_s' (valid: actions, ",
        ),
        (
            MINIMAL + "[faults]\nsurprises = 3\n",
            "<scenario>:8: [faults].surprises: unknown key 'surprises' (valid: buggify, ",
        ),
        (
            MINIMAL.replace(
                "duration_s = 1", "duration_s = 1\nactions = [{ do = 'crash', node = 'n3' }]"
            ),
            "<scenario>:7: [[phase]] 1.actions[0].node: unknown 'n3' "
            "(one of ['all', 'n0', 'n1', 'n2'])",
        ),
        (MINIMAL + "[faults]\ncrashes = -1\n", "<scenario>:8: [faults].crashes: must be at"),
        (MINIMAL + "[swarm]\nnodes = [5, 2]\n", "<scenario>:8: [swarm].nodes: is [low, high]"),
        (MINIMAL + "[swarm]\nnodes = [5]\n", "<scenario>:8: [swarm].nodes: expected an array of 2"),
        (
            MINIMAL.replace("[[phase]]", "[phase]"),
            "<scenario>:4: [[phase]]: expected an array (of tables: [[...]]), got one table",
        ),
        (
            MINIMAL + "[[phase]]\nkind = 'liveness'\nwithin_s = 1\nrequire = 'convergence'\n",
            "<scenario>:10: [[phase]] 2.require: expected an array, got 'convergence'",
        ),
        (
            MINIMAL.replace("duration_s = 1", "duration_s = 1\nactions = [3]"),
            "<scenario>:7: [[phase]] 1.actions[0]: expected a table, got 3",
        ),
        (
            MINIMAL.replace("duration_s = 1", "duration_s = nan"),
            "<scenario>:6: [[phase]] 1.duration_s: expected a finite number, got nan",
        ),
        ("stray = 1\n" + MINIMAL, "<scenario>:1: [stray]: unknown table 'stray' (valid: "),
        (
            MINIMAL + "[workload]\npush_every_s = 1\n",
            "<scenario>:3: [scenario].workload: workload 'aura_sim.examples.naive_push' "
            "rejected its options: unknown naive_push options ['push_every_s']",
        ),
        (
            MINIMAL.replace("aura_sim.examples.naive_push", "no.such"),
            "<scenario>:3: [scenario].workload: cannot import workload 'no.such'",
        ),
    ],
)
def test_bad_scenarios_are_rejected_with_the_line_and_the_key(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text)
    assert caught.value.message.startswith(expected), caught.value.message


def test_every_problem_is_counted_and_the_first_by_line_is_shown() -> None:
    text = MINIMAL + "[participant]\nnodes = 4\n[network]\nlatncy_ms = 4\n"
    with pytest.raises(ScenarioError, match=r"^two.toml:7: .* \(and 1 more problem\)$") as caught:
        parse_scenario(text, source="two.toml")
    assert caught.value.line == 7 and caught.value.where == "[participant]"


def test_cli_run_sweep_replay_and_shrink(tmp_path: Path) -> None:
    runner = CliRunner()
    passing = runner.invoke(app, ["run", "naive_push", "--seed", "3"])
    assert passing.exit_code == 0, passing.output
    assert "PASS" in passing.output and "nodes=" in passing.output

    planted = "planted_reorder_bug"
    swept = runner.invoke(
        app, ["sweep", planted, "--seeds", "0..9", "--jobs", "1", "--tapes", str(tmp_path)]
    )
    assert swept.exit_code == 1
    assert "repro: aura-sim run" in swept.output
    tapes = sorted(tmp_path.glob("*.tape"))
    assert tapes

    replayed = runner.invoke(app, ["replay", str(tapes[0])])
    assert replayed.exit_code == 0 and "reproduced" in replayed.output

    shrunk = runner.invoke(app, ["shrink", str(tapes[0]), "--out", str(tmp_path / "small.tape")])
    assert shrunk.exit_code == 0, shrunk.output
    assert (tmp_path / "small.tape").exists()

    bad = runner.invoke(app, ["run", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 2


def _misspelt(name: str) -> str:
    """`name` with its last two letters swapped (never another valid name here)."""
    return name[:-2] + name[-1] + name[-2]


@pytest.mark.parametrize("name", shipped_scenarios())
def test_every_misspelt_table_and_key_of_a_shipped_scenario_is_found_on_its_line(
    name: str,
) -> None:
    """Exhaustively: each table header and each key (inline tables' first keys too) of every
    shipped scenario, misspelt, is rejected at its own line, naming the right name."""
    text = load_scenario(name).text
    lines = text.splitlines()
    table = ""
    checked = 0
    for number, line in enumerate(lines, start=1):
        header = re.match(r"^(\[\[?)(\w+)(\]\]?)\s*$", line)
        key = re.match(r"^(\s*\{?\s*)(\w+)(\s*=)", line)
        if header:
            table = header.group(2)
            found = header
        elif key and table != "workload":  # workload options are the workload's to check
            found = key
        else:
            continue
        wrong = _misspelt(found.group(2))
        typo = found.group(1) + wrong + found.group(3)
        broken = "\n".join([*lines[: number - 1], typo + line[found.end() :], *lines[number:]])
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(broken, source=f"{name}.toml")
        error = caught.value
        assert error.line == number, (number, line, error.message)
        assert repr(wrong) in error.message and found.group(2) in error.message, error.message
        checked += 1
    assert checked >= 10
