"""The `aura` command line.

Exit codes (`aura_core.exitcodes.ExitCode`): 0 done, 1 the operation failed (the agent said so
or could not be reached), 2 invalid input (an option, a data directory that cannot be used),
3 internal error (a bug: its traceback is printed). Errors are one `error:` line, never a
traceback, except for a bug.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from aura_core import __version__
from aura_core.errors import AuraError, InvalidArgument
from aura_core.exitcodes import ExitCode
from aura_terminal import accounts as accounts_module
from aura_terminal import agent as agent_module
from aura_terminal import demo as demo_module
from aura_terminal.devices import Network

app = typer.Typer(
    name="aura",
    help="Aura for Python: peer-to-peer identity and communication. Exit codes: 0 done, "
    "1 failed, 2 invalid input, 3 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Rich's boxed help and usage errors only on a terminal; plain, unwrapped text elsewhere.
    rich_markup_mode="rich" if sys.stderr.isatty() else None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aura {__version__}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Aura for Python: peer-to-peer identity and communication."""


@contextlib.contextmanager
def _failures() -> Iterator[None]:
    """Bad input is one `error:` line and exit 2, a failed operation exit 1; anything
    unexpected is a bug: its traceback and exit 3."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except InvalidArgument as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(ExitCode.INVALID_INPUT) from None
    except AuraError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(ExitCode.FAILED) from None
    except Exception as exc:
        typer.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(ExitCode.INTERNAL_ERROR) from None


@app.command()
def demo(
    *,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=(1 << 64) - 1,
            help="Derive every identifier, key and ceremony input from this seed (0..2**64-1), "
            "so those and the tree roots are the same on every run; times, the first "
            "signers and TCP ports still vary.",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Keep the devices' SQLite files here: a new or empty directory, or an earlier "
            "demo's (its files are replaced). Default: a temporary directory."
        ),
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
    with _failures():
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
    *,
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
    *,
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
