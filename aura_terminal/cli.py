"""The `aura` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aura_terminal import demo as demo_module

app = typer.Typer(
    name="aura",
    help="Aura for Python: peer-to-peer identity and communication.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Aura for Python: peer-to-peer identity and communication."""


@app.command()
def demo(
    seed: Annotated[
        int | None,
        typer.Option(
            help="Derive every random input from this seed so the output is reproducible."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the devices' SQLite files here (default: a temporary directory)."),
    ] = None,
) -> None:
    """Show the building blocks, then four devices of one account agreeing on its changes."""
    demo_module.run(seed, data_dir)


def main() -> None:
    app()
