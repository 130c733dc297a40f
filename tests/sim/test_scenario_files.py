"""Scenario files: parsing, validation and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_sim.cli import app
from aura_sim.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = """
[scenario]
workload = "aura_sim.examples.naive_push"
[[phase]]
kind = "safety"
duration_s = 1
"""


def test_every_shipped_scenario_parses() -> None:
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        scenario = load_scenario(path)
        assert scenario.phases and scenario.workload


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not toml [", "not valid TOML"),
        ("[scenario]\nworkload = 'x'", "at least one [[phase]]"),
        (MINIMAL.replace("safety", "sometimes"), "kind must be"),
        (MINIMAL + "[network]\ndrop = 1.5\n", "[network]"),
        (MINIMAL + "[participants]\nnodes = 0\n", "participants"),
        (MINIMAL + "[properties]\nalways = ['nope']\n", "unknown properties"),
        (
            MINIMAL.replace("duration_s = 1", "duration_s = 1\nactions = [{ do = 'fly' }]"),
            "unknown action",
        ),
        (MINIMAL + "[faults]\nsurprises = 3\n", "[faults]"),
        (MINIMAL + "[swarm]\nnodes = [5, 2]\n", "swarm.nodes"),
    ],
)
def test_bad_scenarios_are_rejected_with_typed_errors(text: str, fragment: str) -> None:
    with pytest.raises(ScenarioError, match=fragment.replace("[", r"\[")):
        parse_scenario(text)


def test_unknown_workload_module_is_a_scenario_error() -> None:
    from aura_sim.runner import run_scenario

    with pytest.raises(ScenarioError, match="cannot import workload"):
        run_scenario(parse_scenario(MINIMAL.replace("aura_sim.examples.naive_push", "no.such")), 1)


def test_cli_run_sweep_replay_and_shrink(tmp_path: Path) -> None:
    runner = CliRunner()
    passing = runner.invoke(
        app, ["run", str(ROOT / "scenarios" / "naive_push.toml"), "--seed", "3"]
    )
    assert passing.exit_code == 0, passing.output
    assert "PASS" in passing.output and "nodes=" in passing.output

    planted = str(ROOT / "scenarios" / "planted_reorder_bug.toml")
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
