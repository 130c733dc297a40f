"""`aura account ...` and `aura device ...`: the account workflows from the command line,
through `AgentClient` only (the agent must be running: `aura agent run`).

Every command prints a short text, or JSON with `--json`; errors are printed as their message
(never a traceback) with exit code 1, and with `--json` also as `{"error": {"code", "kind",
"message"}}` on stdout, so that a script can tell them apart by code (`already_joined`,
`join_in_progress`, ...). `aura device invite` prints the enrollment code: a secret
that admits one device, so it goes to stdout only, never to a log.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
from rich.console import Console

from aura_agent.client import AgentClient
from aura_agent.signals import DEVICES, AccountState, DeviceList
from aura_core.errors import AuraError, RemoteError
from aura_core.ids import DeviceId
from aura_terminal.agent import socket_of

__all__ = ["create", "status", "invite", "join", "devices", "threshold", "refresh", "remove"]

T = TypeVar("T")


def _run(
    data_dir: Path | None,
    socket: Path | None,
    ask: Callable[[AgentClient], Awaitable[T]],
    show: Callable[[T], tuple[str, Any]],
    as_json: bool,
) -> int:
    """Ask the agent at the socket, print the answer (text or JSON); the exit code."""
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)

    async def main() -> T:
        async with AgentClient.connect(socket_of(data_dir, socket)) as client:
            return await ask(client)

    try:
        answer = anyio.run(main)
    except (AuraError, BaseExceptionGroup) as raised:
        error = _aura_error(raised)  # the client's task group may wrap the agent's error
        if error is None:
            raise
        err.print(f"aura: {error.message}", highlight=False, markup=False)
        if as_json:
            if isinstance(error, RemoteError):  # a code this client has no class for
                code, kind = error.remote_code, error.remote_kind
            else:
                code, kind = error.code, error.kind
            failed = {"code": code, "kind": kind.value, "message": error.message}
            out.print(json.dumps({"error": failed}, indent=1), highlight=False, markup=False)
        return 1
    text, data = show(answer)
    out.print(json.dumps(data, indent=1) if as_json else text, highlight=False, markup=False)
    return 0


def _aura_error(raised: BaseException) -> AuraError | None:
    """The `AuraError` in `raised`, unwrapping exception groups of one."""
    while isinstance(raised, BaseExceptionGroup) and len(raised.exceptions) == 1:
        raised = raised.exceptions[0]
    return raised if isinstance(raised, AuraError) else None


def create(data_dir: Path | None, socket: Path | None, as_json: bool) -> int:
    async def ask(client: AgentClient) -> str:
        return str(await client.create_account())

    return _run(data_dir, socket, ask, lambda a: (f"account {a} created", {"account": a}), as_json)


def status(data_dir: Path | None, socket: Path | None, as_json: bool) -> int:
    async def ask(client: AgentClient) -> dict[str, Any]:
        return _state((await client.status()).account)

    def show(a: dict[str, Any]) -> tuple[str, Any]:
        if a["account"] is None:
            return f"account   {a['phase']}", a
        return (
            f"account   {a['account']} ({a['phase']})\n"
            f"policy    {a['threshold']}-of-{a['devices']}, epoch {a['epoch']}",
            a,
        )

    return _run(data_dir, socket, ask, show, as_json)


def invite(
    data_dir: Path | None, socket: Path | None, threshold: int, expires_s: float, as_json: bool
) -> int:
    async def ask(client: AgentClient) -> dict[str, Any]:
        code = await client.invite(threshold, expires_s)
        return {"code": code.code, "ceremony": str(code.ceremony), "expires_ms": code.expires_ms}

    def show(a: dict[str, Any]) -> tuple[str, Any]:
        return a["code"], a

    return _run(data_dir, socket, ask, show, as_json)


def join(data_dir: Path | None, socket: Path | None, code: str, as_json: bool) -> int:
    async def ask(client: AgentClient) -> str:
        return str(await client.join(code.strip()))

    return _run(data_dir, socket, ask, lambda a: (f"joined account {a}", {"account": a}), as_json)


def devices(data_dir: Path | None, socket: Path | None, as_json: bool) -> int:
    async def ask(client: AgentClient) -> list[dict[str, Any]]:
        async with client.subscribe(DEVICES.name) as updates:
            async for event in updates:
                listed: DeviceList = event.value
                return [
                    {
                        "device": str(d.device),
                        "leaf": d.leaf_id,
                        "address": None if d.address is None else str(d.address),
                        "this_device": d.this_device,
                        "holds_share": d.holds_share,
                    }
                    for d in listed.devices
                ]
        return []

    def show(a: list[dict[str, Any]]) -> tuple[str, Any]:
        lines = [
            f"{d['leaf']:>3}  {d['device']}"
            + ("  (this device)" if d["this_device"] else "")
            + ("" if d["holds_share"] else "  (no share)")
            for d in a
        ]
        return "\n".join(lines) or "no devices (no account)", a

    return _run(data_dir, socket, ask, show, as_json)


def _state(account: AccountState) -> dict[str, Any]:
    return {
        "phase": account.phase,
        "account": None if account.account is None else str(account.account),
        "epoch": account.epoch,
        "devices": account.devices,
        "threshold": account.threshold,
    }


def _policy(a: dict[str, Any]) -> tuple[str, Any]:
    return f"account {a['account']}: {a['threshold']}-of-{a['devices']}, epoch {a['epoch']}", a


def threshold(data_dir: Path | None, socket: Path | None, value: int, as_json: bool) -> int:
    async def ask(client: AgentClient) -> dict[str, Any]:
        return _state(await client.change_threshold(value))

    return _run(data_dir, socket, ask, _policy, as_json)


def refresh(data_dir: Path | None, socket: Path | None, as_json: bool) -> int:
    async def ask(client: AgentClient) -> dict[str, Any]:
        return _state(await client.refresh())

    return _run(data_dir, socket, ask, _policy, as_json)


def remove(data_dir: Path | None, socket: Path | None, device: str, as_json: bool) -> int:
    async def ask(client: AgentClient) -> dict[str, Any]:
        return _state(await client.remove_device(DeviceId.parse(device)))

    return _run(data_dir, socket, ask, _policy, as_json)
