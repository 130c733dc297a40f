"""The packaging promises a library user relies on, checked against the tree.

`./dev check` runs the same script against a wheel built from the sdist; here it runs against
the tree so a new module that imports the command-line or testing stack fails in pytest first.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]["root_packages"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run_imports(scope: str, tree: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "wheel_imports.py"), scope],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_library_imports_without_the_extras_stacks() -> None:
    result = run_imports("library")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(library)" in result.stdout


def test_the_check_catches_a_library_module_that_imports_an_extra(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    (tmp_path / "aura_journal" / "pretty.py").write_text("import rich\n", encoding="utf-8")
    result = run_imports("library", tmp_path)
    assert result.returncode != 0
    assert "the library imports an extra's stack: ['rich']" in result.stderr


def test_the_front_ends_and_the_kit_are_extras_not_dependencies() -> None:
    project = PYPROJECT["project"]
    runtime = " ".join(project["dependencies"])
    for stack in ("typer", "rich", "hypothesis", "pytest"):
        assert stack not in runtime, stack
    extras = project["optional-dependencies"]
    assert {r.split(">")[0] for r in extras["cli"]} == {"typer", "rich"}
    assert {r.split(">")[0] for r in extras["testing"]} == {"hypothesis", "pytest"}
    assert not [r for r in project["dependencies"] if "==" in r and "biscuit" not in r]
    for name in project["license-files"]:
        assert (ROOT / name).is_file(), name


def launch(
    script: str, *arguments: str, hide: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a console script's function as the installed script would, optionally with one
    module hidden (as if the cli extra were not installed)."""
    code = (
        "import sys\n"
        + (f"sys.modules[{hide!r}] = None\n" if hide else "")
        + f"sys.argv = [{script!r}, *{list(arguments)!r}]\n"
        + "from aura_terminal import launch\n"
        + f"launch.{script.replace('-', '_')}()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "100"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_commands_run_through_the_launcher() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts == {
        "aura": "aura_terminal.launch:aura",
        "aura-sim": "aura_terminal.launch:aura_sim",
    }
    for script, command in (("aura", "demo"), ("aura-sim", "sweep")):
        result = launch(script, "--help")
        assert result.returncode == 0, result.stderr
        assert command in result.stdout


def test_without_the_cli_extra_the_commands_say_how_to_get_it() -> None:
    for script in ("aura", "aura-sim"):
        result = launch(script, "--help", hide="typer")
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"{script}: the command line needs the cli extra (typer missing); "
            "install it with: pip install 'aura-py[cli]'"
        )
        assert "Traceback" not in result.stderr
