"""`aura agent run` and `aura agent status`: a thin shell over `Agent` and `AgentClient`.

`run` starts an agent in the foreground, prints where it listens, and stops cleanly on SIGINT
or SIGTERM (its socket removed, its lock released). Before anything else it forbids core dumps
(`RLIMIT_CORE` = 0), so a crash never writes the device's keys to disk. `status` asks the
agent at the socket through the local API. Errors are printed as their message (never a
traceback) with exit code 2 for bad input and 1 for any other failure.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from aura_agent.agent import DEFAULT_LISTEN, Agent
from aura_agent.client import AgentClient
from aura_agent.datadir import SOCKET_FILE, DataDir
from aura_agent.requests import AgentStatus
from aura_core.errors import AuraError, InvalidArgument
from aura_core.exitcodes import ExitCode

__all__ = ["run", "status", "read_passphrase", "socket_of"]


def read_passphrase(path: Path | None) -> bytes | None:
    """The passphrase in `path` (its first line, without the line break), or None."""
    if path is None:
        return None
    try:
        line = path.read_bytes().split(b"\n", 1)[0].rstrip(b"\r")
    except OSError as exc:
        raise InvalidArgument(f"cannot read the passphrase file {path}: {exc.strerror}") from None
    if not line:
        raise InvalidArgument(f"the passphrase file {path} is empty")
    return line


def socket_of(data_dir: Path | None, socket: Path | None) -> Path:
    """The socket an agent on `data_dir` listens on unless `socket` names another."""
    return socket if socket is not None else DataDir.resolve(data_dir) / SOCKET_FILE


def _no_core_dumps() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(
    data_dir: Path | None,
    socket: Path | None,
    listen: str | None,
    advertise: str | None,
    passphrase_file: Path | None,
) -> int:
    """Run an agent until SIGINT or SIGTERM; the exit code."""
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    _no_core_dumps()

    async def main() -> None:
        passphrase = read_passphrase(passphrase_file)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with Agent.open(
                data_dir,
                passphrase=passphrase,
                socket=socket,
                listen=listen or DEFAULT_LISTEN,
                advertise=advertise,
            ) as agent:
                listener = agent.listener
                out.print(
                    f"agent {agent.identity.device} on {agent.data_dir}\n"
                    f"  api      unix:{agent.socket_path}\n"
                    f"  network  tcp://{listener.host}:{listener.port}\n"
                    f"  account  {agent.account.phase}",
                    highlight=False,
                )
                sys.stdout.flush()
                async for received in signals:
                    out.print(f"stopping ({signal.Signals(received).name})", highlight=False)
                    break

    try:
        anyio.run(main)
    except AuraError as exc:
        err.print(f"aura agent: {exc.message}", highlight=False, markup=False)
        return _exit_code(exc)
    return ExitCode.OK


def _exit_code(error: AuraError) -> ExitCode:
    """Bad input (an unreadable passphrase file, a malformed address) is 2; any other error
    of the agent or of reaching it is 1 (`aura_core.exitcodes`)."""
    return ExitCode.INVALID_INPUT if isinstance(error, InvalidArgument) else ExitCode.FAILED


def _describe(status: AgentStatus) -> dict[str, Any]:
    account = status.account
    return {
        "device": str(status.identity.device),
        "address": str(status.identity.address),
        "data_dir": status.data_dir,
        "socket": status.socket,
        "sealed": status.sealed,
        "listening": status.listening,
        "account": {
            "phase": account.phase,
            "account": None if account.account is None else str(account.account),
            "epoch": account.epoch,
            "devices": account.devices,
            "threshold": account.threshold,
            "detail": account.detail,
        },
        "api_version": status.api_version,
        "clients": status.clients,
        "uptime_ms": status.uptime_ms,
    }


def status(data_dir: Path | None, socket: Path | None, as_json: bool) -> int:
    """Print the status of the agent at the socket; the exit code."""
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)

    async def ask() -> AgentStatus:
        async with AgentClient.connect(socket_of(data_dir, socket)) as client:
            return await client.status()

    try:
        answer = anyio.run(ask)
    except AuraError as exc:
        err.print(f"aura agent: {exc.message}", highlight=False, markup=False)
        return _exit_code(exc)
    described = _describe(answer)
    if as_json:
        out.print(json.dumps(described, indent=1), highlight=False, markup=False)
        return ExitCode.OK
    account = described["account"]
    lines = [
        f"device    {described['device']}",
        f"address   {described['address']}",
        f"data dir  {described['data_dir']} (keys {'sealed' if answer.sealed else 'not sealed'})",
        f"api       unix:{described['socket']} (v{answer.api_version}, {answer.clients} client)",
        f"network   {described['listening']}",
        f"account   {account['phase']}"
        + (f" {account['account']} epoch {account['epoch']}" if account["account"] else "")
        + (f" ({account['detail']})" if account["detail"] else ""),
    ]
    out.print("\n".join(lines), highlight=False, markup=False)
    return ExitCode.OK
