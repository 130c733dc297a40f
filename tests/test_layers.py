"""The layer rule and the purity rule are enforced by tools; these tests show the tools bite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "aura_core",
    "aura_journal",
    "aura_effects",
    "aura_guards",
    "aura_consensus",
    "aura_protocol",
    "aura_agent",
    "aura_sim",
    "aura_terminal",
]
BIN = Path(sys.executable).parent


def copy_tree(tmp: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp / package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    return tmp


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_layers_contract_holds_and_catches_an_upward_import(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    kept = lint_imports(tree)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "BROKEN" not in kept.stdout

    (tree / "aura_journal" / "upward.py").write_text("import aura_guards\n")
    broken = lint_imports(tree)
    assert broken.returncode != 0
    assert "aura_journal.upward -> aura_guards" in broken.stdout


def test_ruff_bans_ambient_time_and_randomness_in_pure_layers(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    snippet = "import time\nimport random\nfrom os import urandom\n"
    (tree / "aura_core" / "impure.py").write_text(snippet)
    (tree / "aura_effects" / "allowed.py").write_text(snippet)
    result = subprocess.run(
        [
            str(BIN / "ruff"),
            "check",
            "--select",
            "TID251",
            "--no-cache",
            "--output-format",
            "concise",
            ".",
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    flagged = {line.split(":")[0] for line in result.stdout.splitlines() if "TID251" in line}
    assert flagged == {"aura_core/impure.py"}, result.stdout


TRANSPORT_BROKEN = "Only the guard chain holds the raw transport BROKEN"
LAYERS_KEPT = "Layers: a package imports only from the packages below it KEPT"


def test_only_the_guard_chain_may_hold_the_raw_transport(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    # The terminal sits above the simulator, so the layers contract allows this import;
    # the transport contract must still refuse it.
    (tree / "aura_terminal" / "bypass.py").write_text("from aura_sim.network import SimTransport\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert TRANSPORT_BROKEN in result.stdout and LAYERS_KEPT in result.stdout


def test_the_raw_transport_is_unreachable_through_other_modules(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    # The agent imports nothing raw itself, but a module it imports does (the simulator's
    # runner holds the simulated network; the effects layer holds the loopback network).
    (tree / "aura_effects" / "relay.py").write_text("from aura_effects import loopback\n")
    (tree / "aura_agent" / "indirect.py").write_text("import aura_effects.relay\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert TRANSPORT_BROKEN in result.stdout
    assert "aura_agent.indirect -> aura_effects.relay" in result.stdout


def test_the_tcp_transport_is_reachable_only_through_the_guard_chain(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    wrapped = lint_imports(tree)  # aura_guards.tcp wraps it: that edge is the one allowed
    assert wrapped.returncode == 0, wrapped.stdout + wrapped.stderr
    (tree / "aura_agent" / "dial.py").write_text("from aura_effects.tcp import TcpTransport\n")
    (tree / "aura_agent" / "channel.py").write_text("import aura_effects.channel\n")
    (tree / "aura_agent" / "locate.py").write_text(
        "from aura_effects.locator import StaticLocator\nfrom aura_guards.tcp import open_tcp\n"
    )
    result = lint_imports(tree)
    assert result.returncode != 0
    assert TRANSPORT_BROKEN in result.stdout and LAYERS_KEPT in result.stdout
    assert "aura_agent.dial -> aura_effects.tcp" in result.stdout
    assert "aura_agent.channel -> aura_effects.channel" in result.stdout
    assert "aura_agent.locate" not in result.stdout  # the addressing and the wrapper are fine
