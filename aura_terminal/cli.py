"""The `aura` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aura_terminal import agent as agent_module
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


agent_app = typer.Typer(
    name="agent",
    help="Run this device's agent, or ask a running one.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(agent_app, name="agent")

DataDirOption = Annotated[
    Path | None,
    typer.Option(help="The agent's data directory (default: the platform's user data directory)."),
]
SocketOption = Annotated[
    Path | None,
    typer.Option(help="The local API's socket (default: agent.sock in the data directory)."),
]


@agent_app.command("run")
def agent_run(
    data_dir: DataDirOption = None,
    socket: SocketOption = None,
    listen: Annotated[
        str | None,
        typer.Option(
            help="Where the device listens for its peers, HOST:PORT (default 127.0.0.1:0)."
        ),
    ] = None,
    advertise: Annotated[
        str | None,
        typer.Option(help="The host other devices dial (needed when listening on 0.0.0.0 or ::)."),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(help="Seal the key file under the passphrase in this file (its first line)."),
    ] = None,
) -> None:
    """Run the device's agent in the foreground until SIGINT or SIGTERM."""
    code = agent_module.run(data_dir, socket, listen, advertise, passphrase_file)
    raise typer.Exit(code)


@agent_app.command("status")
def agent_status(
    data_dir: DataDirOption = None,
    socket: SocketOption = None,
    json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Ask the running agent how it is."""
    raise typer.Exit(agent_module.status(data_dir, socket, json))


def main() -> None:
    app()
