"""The `aura` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aura_terminal import demo as demo_module
from aura_terminal.devices import Network

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
    network: Annotated[
        Network,
        typer.Option(
            help="How the devices talk: an in-memory network, or real sockets on 127.0.0.1 "
            "(Noise channels, rendezvous, anti-entropy sync)."
        ),
    ] = Network.MEMORY,
) -> None:
    """Show the building blocks, then four devices of one account agreeing on its changes."""
    demo_module.run(seed, data_dir, network)


def main() -> None:
    app()
