"""`aura` as a user meets it: the version, validated options, a data directory that cannot be
used refused with one line and exit 2 (nothing written), an earlier demo's directory reused,
and what `--seed` promises (the same identifiers, keys and tree roots on every run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aura_core import __version__
from aura_core.exitcodes import ExitCode
from aura_terminal.cli import app


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160"})


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == ExitCode.OK
    assert result.output == f"aura {__version__}\n"


def test_a_negative_or_too_large_seed_is_invalid_input() -> None:
    for seed in ("-1", str(2**64), "seven"):
        result = invoke("demo", "--seed", seed)
        assert result.exit_code == ExitCode.INVALID_INPUT
        assert "Invalid value for '--seed'" in result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: _file(tmp / "a-file"), "exists and is not a directory"),
        (lambda tmp: _file(tmp / "a-file") / "below", "cannot be used: Not a directory"),
        (lambda tmp: _file(tmp / "mine" / "notes.txt").parent, "holds files the demo did not"),
    ],
    ids=["existing file", "unwritable path", "someone else's directory"],
)
def test_a_data_dir_that_cannot_be_used_is_refused_before_anything_is_written(
    tmp_path: Path, make: object, message: str
) -> None:
    assert callable(make)
    target: Path = make(tmp_path)
    before = sorted((p.relative_to(tmp_path), p.read_bytes()) for p in tmp_path.rglob("*.txt"))
    result = invoke("demo", "--seed", "1", "--data-dir", str(target))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert result.output.startswith(f"error: --data-dir {target} ")
    assert message in result.output
    assert "Traceback" not in result.output
    after = sorted((p.relative_to(tmp_path), p.read_bytes()) for p in tmp_path.rglob("*.txt"))
    assert after == before and not list(tmp_path.rglob("*.sqlite"))


def _file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("mine\n")
    return path


def test_an_earlier_demos_directory_is_reused_and_the_seed_reproduces_the_output(
    tmp_path: Path,
) -> None:
    first = invoke("demo", "--seed", "7", "--data-dir", str(tmp_path))
    assert first.exit_code == ExitCode.OK, first.output
    again = invoke("demo", "--seed", "7", "--data-dir", str(tmp_path))
    assert again.exit_code == ExitCode.OK, again.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"device-{i}.sqlite" for i in range(4)]
    # What the seed promises: the core tour is byte-identical, and so is every identifier, key,
    # content id and tree root the multi-device part prints (its times and first signers are
    # measured on the run, as the output says).
    assert first.output.split("Four devices")[0] == again.output.split("Four devices")[0]
    assert "the times, which witnesses signed first" in first.output
    hexes = re.compile(r"[0-9a-f]{16,}")
    assert hexes.findall(first.output) == hexes.findall(again.output)
    other = invoke("demo", "--seed", "8")
    assert other.exit_code == ExitCode.OK
    assert hexes.findall(other.output) != hexes.findall(first.output)
