"""The `aura` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aura_terminal import accounts as accounts_module
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


account_app = typer.Typer(
    name="account",
    help="This device's account, through the running agent.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(account_app, name="account")
device_app = typer.Typer(
    name="device",
    help="The account's devices: invite one, join with a code, list them.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(device_app, name="device")
JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]


@account_app.command("create")
def account_create(
    data_dir: DataDirOption = None, socket: SocketOption = None, json: JsonOption = False
) -> None:
    """Create a new account of this device alone (1-of-1)."""
    raise typer.Exit(accounts_module.create(data_dir, socket, json))


@account_app.command("status")
def account_status(
    data_dir: DataDirOption = None, socket: SocketOption = None, json: JsonOption = False
) -> None:
    """The account: its id, policy and epoch."""
    raise typer.Exit(accounts_module.status(data_dir, socket, json))


@account_app.command("threshold")
def account_threshold(
    threshold: Annotated[int, typer.Argument(help="Signers the account needs from now on.")],
    data_dir: DataDirOption = None,
    socket: SocketOption = None,
    json: JsonOption = False,
) -> None:
    """Tighten the account's policy (a DKG among its devices, then the policy change)."""
    raise typer.Exit(accounts_module.threshold(data_dir, socket, threshold, json))


@account_app.command("refresh")
def account_refresh(
    data_dir: DataDirOption = None, socket: SocketOption = None, json: JsonOption = False
) -> None:
    """New shares of the same key for every device (old shares stop combining)."""
    raise typer.Exit(accounts_module.refresh(data_dir, socket, json))


@device_app.command("remove")
def device_remove(
    device: Annotated[str, typer.Argument(help="The device to remove (device-...).")],
    data_dir: DataDirOption = None,
    socket: SocketOption = None,
    json: JsonOption = False,
) -> None:
    """Remove a device from the account (run it on another of its devices)."""
    raise typer.Exit(accounts_module.remove(data_dir, socket, device, json))


@device_app.command("invite")
def device_invite(
    threshold: Annotated[
        int, typer.Option(help="Signers the account needs once the device has joined.")
    ] = 2,
    expires: Annotated[float, typer.Option(help="Seconds the code stays good.")] = 600.0,
    data_dir: DataDirOption = None,
    socket: SocketOption = None,
    json: JsonOption = False,
) -> None:
    """Print an enrollment code for one more device (a secret: give it only to that device)."""
    raise typer.Exit(accounts_module.invite(data_dir, socket, threshold, expires, json))


@device_app.command("join")
def device_join(
    code: Annotated[str, typer.Argument(help="The enrollment code (aura:v1:...).")],
    data_dir: DataDirOption = None,
    socket: SocketOption = None,
    json: JsonOption = False,
) -> None:
    """Join the account an enrollment code invites this device to."""
    raise typer.Exit(accounts_module.join(data_dir, socket, code, json))


@device_app.command("list")
def device_list(
    data_dir: DataDirOption = None, socket: SocketOption = None, json: JsonOption = False
) -> None:
    """The account's devices."""
    raise typer.Exit(accounts_module.devices(data_dir, socket, json))


def main() -> None:
    app()
