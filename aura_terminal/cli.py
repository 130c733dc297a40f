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


def main() -> None:
    app()
