"""The multi-process harness: agents as child processes (`aura agent run`), driven only through
`AgentClient`, once on loopback and once with each agent in its own network namespace on its
own address (`tests/net/netns.py`; the Unix socket is a path, reached from the test's
namespace). Account on A; B and C enrolled by code (2-of-2, then 2-of-3); A removed (from B);
then B is lost: on loopback in the middle of a refresh C starts, killed with SIGKILL by its
own fault-injection point (`AURA_AGENT_CRASH_AT=member:keys:refresh`: B has computed and kept
its new key and not reported it yet); in namespaces, while idle, by cutting its link (it runs
on, unreachable). C's change fails cleanly (nothing changed; that its ceremony is recorded
aborted is checked in-process, in `test_accounts` and `test_recovery`); B comes back
(restarted on its directory, or its link mended) with its account and epoch, and the aborted
ceremony's key gone from its key file; the change then goes through, and every device
converges. Each child's trace is in `NAME.log` beside its data directory (the test's
`tmp_path`, printed when it fails)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from aura_agent.accounts import CRASH_ENV
from aura_agent.client import AgentClient
from aura_agent.keystore import KeyStore
from aura_agent.signals import AccountState
from aura_core.errors import AccountError
from aura_effects.random import OsRandom
from tests.net import netns

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
CHILD = (
    "import logging, sys; "
    "logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, "
    "format='%(asctime)s %(name)s %(message)s'); "
    "from aura_terminal.cli import main; main()"
)
"""`aura agent run`, its trace events (`logging` at DEBUG) on stderr: a failure shows them."""


class Agents:
    """The child processes, one per data directory; each one's output in `NAME.out` and its
    trace in `NAME.log` beside the directories. With `network`, the agent named `names[i]`
    runs in host i's namespace and listens on its address; without, on loopback."""

    def __init__(self, root: Path, network: netns.Hosts | None, names: str = "abc") -> None:
        self.root = root
        self.where: dict[str, tuple[str | None, str]] = {
            name: (None, "127.0.0.1")
            if network is None
            else (network.names[index], network.addresses[index])
            for index, name in enumerate(names)
        }
        """Each agent's namespace (None: the test's own) and the address it listens on."""
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def home(self, name: str) -> Path:
        return self.root / name

    def host(self, name: str) -> str:
        return self.where[name][1]

    async def start(self, name: str, crash_at: str | None = None) -> None:
        """`aura agent run --data-dir HOME --listen HOST:0` (in its namespace) until it has
        printed where it listens; with `crash_at`, it kills itself at that phase."""
        path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
        env.pop(CRASH_ENV, None)
        if crash_at is not None:
            env[CRASH_ENV] = crash_at
        namespace, host = self.where[name]
        command = [sys.executable, "-c", CHILD, "agent", "run", "--data-dir", str(self.home(name))]
        command += ["--listen", f"{host}:0"]
        if namespace is not None:  # `ip netns exec` execs the agent: the same process
            command = ["ip", "netns", "exec", namespace, *command]
        out = self.root / f"{name}.out"
        with out.open("ab") as stdout, (self.root / f"{name}.log").open("ab") as stderr:
            child = subprocess.Popen(
                command,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=REPO,
            )
        self.children[name] = child
        mark = out.stat().st_size
        with anyio.fail_after(120):
            while b"  account  " not in out.read_bytes()[mark:]:
                assert child.poll() is None, self.tail(name)
                await anyio.sleep(0.05)

    async def died(self, name: str) -> int:
        """Until `name`'s process has ended by itself; its exit status."""
        child = self.children[name]
        with anyio.fail_after(120):
            while child.poll() is None:
                await anyio.sleep(0.05)
        del self.children[name]
        return child.returncode

    def kill(self, name: str) -> None:
        child = self.children.pop(name)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

    def stop_all(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=30)
        self.children.clear()

    def tail(self, name: str, lines: int = 40) -> str:
        log = (self.root / f"{name}.log").read_text(errors="replace").splitlines()
        return "\n".join(log[-lines:])


async def pending_keys(home: Path) -> int:
    """How many pending keys `home`'s key file holds (not sealed: readable beside its agent)."""
    return len((await KeyStore.load(home / "keys", OsRandom())).secrets.pending)


async def account_of(home: Path) -> AccountState:
    async with AgentClient.connect(home / "agent.sock") as client:
        return (await client.status()).account


async def until(home: Path, phase: str, devices: int, epoch: int | None = None) -> AccountState:
    """Poll `home`'s agent until its account is in `phase` with `devices` (at `epoch`)."""
    with anyio.fail_after(120):
        while True:
            state = await account_of(home)
            if (state.phase, state.devices) == (phase, devices) and epoch in (None, state.epoch):
                return state
            await anyio.sleep(0.1)


@pytest.fixture(params=["loopback", "namespaces"])
def network(request: pytest.FixtureRequest) -> Iterator[netns.Hosts | None]:
    """None (every agent on 127.0.0.1), or three hosts in network namespaces (skipped, with
    the reason printed, where they cannot be created)."""
    if request.param == "loopback":
        yield None
        return
    with netns.hosts_or_skip(3) as made:
        yield made


async def test_three_agent_processes_enroll_remove_and_converge_after_losing_b(
    network: netns.Hosts | None, tmp_path: Path
) -> None:
    agents = Agents(tmp_path, network)
    a, b, c = (agents.home(name) for name in ("a", "b", "c"))
    crash = "member:keys:refresh"  # B takes part in a refresh only as C's: the last change
    try:
        for name in ("a", "b", "c"):
            await agents.start(name, crash if name == "b" and network is None else None)
        async with (
            AgentClient.connect(a / "agent.sock") as on_a,
            AgentClient.connect(b / "agent.sock") as on_b,
            AgentClient.connect(c / "agent.sock") as on_c,
        ):
            for name, client in zip("abc", (on_a, on_b, on_c), strict=True):
                assert (await client.network()).host == agents.host(name)
            account = await on_a.create_account()
            with anyio.fail_after(120):
                assert await on_b.join((await on_a.invite(2)).code) == account
                assert await on_c.join((await on_a.invite(2)).code) == account
            for home in (a, b, c):
                state = await until(home, "active", 3)
                assert (state.account, state.threshold) == (account, 2)
            device_a = (await on_a.identity()).device
            with anyio.fail_after(120):
                after = await on_b.remove_device(device_a)
            assert (after.devices, after.threshold) == (2, 2)
            await until(a, "removed", 2)
            epoch = (await until(c, "active", 2)).epoch
        if network is not None:
            network.cut(1)  # B's (host 1's) cable is pulled: it runs on, unreachable
        async with AgentClient.connect(c / "agent.sock") as on_c, anyio.create_task_group() as tg:

            async def refresh() -> None:
                with anyio.fail_after(120), pytest.raises(AccountError, match="changed nothing"):
                    await on_c.refresh()  # B does not finish its part: nothing changes

            tg.start_soon(refresh)
            if network is None:  # B dies mid-ceremony, holding its new key: restarted at once
                assert await agents.died("b") == -signal.SIGKILL
                assert await pending_keys(b) == 1
                await agents.start("b")  # the same directory: the same device and account
        state = await account_of(c)
        assert (state.phase, state.epoch, state.devices) == ("active", epoch, 2)
        if network is not None:
            network.mend(1)
        state = await until(b, "active", 2, epoch)
        assert state.account == account
        with anyio.fail_after(60):
            while await pending_keys(b):  # the aborted ceremony's key, deleted
                await anyio.sleep(0.1)
        async with AgentClient.connect(c / "agent.sock") as on_c:
            with anyio.fail_after(120):
                refreshed = await on_c.refresh()
        assert refreshed.epoch == epoch + 1
        for home in (b, c):
            state = await until(home, "active", 2, epoch + 1)
            assert (state.account, state.threshold) == (account, 2)
        assert (await account_of(a)).phase == "removed"
    finally:
        agents.stop_all()
        print(f"agent traces: {tmp_path}/*.log")
