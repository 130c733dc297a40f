"""The console scripts `aura` and `aura-sim`: the front ends, or a one-line hint without them.

The scripts are installed with the package, but Typer and Rich come with the `cli` extra; a
user who installed only `aura-py` and typed `aura` used to get a `ModuleNotFoundError`
traceback. This module imports nothing of the front ends until they are known to be there.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

__all__ = ["aura", "aura_sim"]

CLI_STACK = ("typer", "rich")


def _launch(command: str, module: str) -> None:
    missing = [name for name in CLI_STACK if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(
            f"{command}: the command line needs the cli extra ({', '.join(missing)} missing); "
            "install it with: pip install 'aura-py[cli]'"
        )
    importlib.import_module(module).main()


def aura() -> None:
    """`aura`: the terminal front end (`aura_terminal.cli`)."""
    _launch("aura", "aura_terminal.cli")


def aura_sim() -> None:
    """`aura-sim`: the simulator's command line (`aura_sim.cli`)."""
    _launch("aura-sim", "aura_sim.cli")
