"""Device processes for the multi-host tests: dealing an account, running `device_proc`, and
waiting for journals to converge.

`deal` stands in for enrollment and the key ceremonies (networked DKG is issue 17): it makes
each host's identity (network authority, signing key, static key, leaf), deals the account's
FROST shares to the holders, signs the tree genesis with them, founds the devices' context and
writes one JSON configuration per host. `DeviceProcess` runs `tests/net/device_proc.py` on a
configuration (optionally inside a network namespace) and talks to it in JSON lines; on failure
`diagnostics()` gives the tail of its stderr and of its trace.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import attrs
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from aura_agent.device import genesis_fact
from aura_agent.network import found_context
from aura_consensus.tree import authority_registry
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.ids import AuthorityId, DeviceId
from aura_core.noise import StaticKeypair
from aura_core.tree import LeafNode, LeafRole
from aura_effects.bundle import assemble_effects
from aura_effects.clock import SystemClock
from aura_effects.random import OsRandom
from aura_journal.context import ContextMember
from aura_journal.tree import TreeGenesis
from aura_sim.handlers import MemoryStorage
from tests.frost_local import sign_locally

REPO = Path(__file__).resolve().parents[2]
Status = dict[str, Any]


def digest(label: str) -> bytes:
    return hashlib.sha256(f"multihost {label}".encode()).digest()


@attrs.frozen
class Host:
    """One device's identity and where it listens."""

    name: str
    leaf_id: int
    host: str
    port: int

    @property
    def address(self) -> AuthorityId:
        return AuthorityId.from_entropy(digest(f"{self.name} address"))

    @property
    def device(self) -> DeviceId:
        return DeviceId.from_entropy(digest(f"{self.name} device"))

    @property
    def key(self) -> SigningKey:
        return SigningKey(digest(f"{self.name} signing"))

    @property
    def static_seed(self) -> bytes:
        return digest(f"{self.name} static")

    @property
    def leaf(self) -> LeafNode:
        return LeafNode(self.leaf_id, self.device, LeafRole.DEVICE, self.key.verifying_key.raw)

    def seed_entry(self) -> dict[str, Any]:
        public = StaticKeypair.from_seed(self.static_seed).public
        return {
            "authority": str(self.address),
            "host": self.host,
            "port": self.port,
            "static_key": public.hex(),
        }


def free_ports(count: int) -> list[int]:
    """Ports on 127.0.0.1 the OS just handed out (bound at once, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


async def deal(
    hosts: Sequence[Host],
    *,
    holders: Sequence[Host],
    threshold: int,
    seeds: Mapping[str, Sequence[str]],
    directory: Path,
) -> dict[str, Path]:
    """Configurations for `hosts`: one account whose tree has a leaf per host and whose FROST
    key (`threshold` of the `holders`) signs the genesis; one context of all hosts. `seeds`
    names, per host, the hosts in its seed table. Returns each host's configuration file."""
    ids = [h.leaf_id + 1 for h in holders]
    shares, public = frost.generate_with_dealer(threshold, len(ids), digest("dealer"), ids)
    keys = {i: frost.key_package(share) for i, share in shares.items()}
    genesis = TreeGenesis.found([h.leaf for h in hosts], threshold, public.group_public_key)
    scratch = assemble_effects(
        random=OsRandom(),
        time=SystemClock(),
        storage=MemoryStorage(),
        authority=hosts[0].address,
        device=hosts[0].device,
        registry=authority_registry(),
    )
    signers = dict(sorted(keys.items())[:threshold])

    async def sign(message: bytes) -> tuple[bytes, tuple[int, ...]]:
        nonces = {i: digest(f"genesis nonce {i}") for i in signers}
        return sign_locally(signers, public, message, nonces), tuple(signers)

    tree_fact = await genesis_fact(scratch, genesis, sign)
    members = [ContextMember(h.address, h.key.verifying_key) for h in hosts]
    _, context_fact = await found_context(scratch, members, hosts[0].key)
    by_name = {h.name: h for h in hosts}
    paths: dict[str, Path] = {}
    for h in hosts:
        share = keys.get(h.leaf_id + 1)
        config = {
            "data_dir": str(directory / h.name),
            "address": str(h.address),
            "device": str(h.device),
            "signing_seed": digest(f"{h.name} signing").hex(),
            "static_seed": h.static_seed.hex(),
            "leaf_id": h.leaf_id,
            "host": h.host,
            "port": h.port,
            "tree_genesis": tree_fact.encoded.hex(),
            "context_genesis": context_fact.encoded.hex(),
            "context_secret": digest("context secret").hex(),
            "public_key_package": public.to_bytes().hex(),
            "key_package": None if share is None else share.to_bytes().hex(),
            "witness_of": {str(x.device): str(x.address) for x in hosts},
            "seeds": [by_name[s].seed_entry() for s in seeds[h.name]],
        }
        paths[h.name] = directory / f"{h.name}.json"
        paths[h.name].write_text(json.dumps(config, indent=1))
    return paths


class DeviceProcess:
    """`tests/net/device_proc.py` on one configuration, in a network namespace or not."""

    def __init__(self, host: Host, config: Path, *, netns: str | None = None) -> None:
        self.host = host
        self.name = host.name
        self.config = config
        self.data_dir = Path(json.loads(config.read_text())["data_dir"])
        self.netns = netns
        self._process: Process | None = None
        self._stdout: BufferedByteReceiveStream | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, timeout: float = 60.0) -> Status:
        """Start the device (again, on the same data directory); its ready line."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tests.net.device_proc", str(self.config)]
        if self.netns is not None:
            command = ["ip", "netns", "exec", self.netns, *command]
        path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
        self.starts += 1
        with (self.data_dir / "stderr.log").open("ab") as stderr:
            stderr.write(f"--- start {self.starts}\n".encode())
            stderr.flush()
            self._process = await anyio.open_process(
                command, stdin=-1, stdout=-1, stderr=stderr, cwd=REPO, env=env
            )
        assert self._process.stdout is not None
        self._stdout = BufferedByteReceiveStream(self._process.stdout)
        ready = await self._read(timeout)
        assert ready.get("ready"), f"{self.name} did not start: {ready}"
        return ready

    async def _read(self, timeout: float) -> Status:
        assert self._stdout is not None
        with anyio.fail_after(timeout):
            line = await self._stdout.receive_until(b"\n", 1 << 24)
        answer: Status = json.loads(line)
        return answer

    async def call(self, timeout: float = 60.0, **command: Any) -> Status:
        """Send one command, return its answer (`AssertionError` if it failed)."""
        assert self._process is not None and self._process.stdin is not None
        await self._process.stdin.send((json.dumps(command) + "\n").encode())
        answer = await self._read(timeout)
        assert answer.get("ok"), f"{self.name} {command}: {answer}"
        return answer

    async def status(self) -> Status:
        return await self.call(op="status")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind in the process."""
        assert self._process is not None
        self._process.kill()

    async def close(self) -> None:
        """Stop the device if it runs (asking first, then killing)."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with anyio.move_on_after(10), suppress(Exception):  # if it is dying: killed below
                await self.call(op="stop", timeout=10)
            with anyio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                with suppress(ProcessLookupError):
                    process.kill()
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()
        self._process = None

    def diagnostics(self, lines: int = 40) -> str:
        """The tail of the device's stderr and of its trace."""
        parts = [f"===== {self.name} ({self.host.host}:{self.host.port}, {self.starts} starts)"]
        for file in ("stderr.log", "trace.log"):
            path = self.data_dir / file
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            parts.append(f"--- {file} (last {lines} of {len(text)} lines)")
            parts.extend(text[-lines:])
        return "\n".join(parts)


@asynccontextmanager
async def supervised(processes: Sequence[DeviceProcess]) -> AsyncIterator[None]:
    """Stop every process at the end; on failure print each one's stderr and trace first."""
    try:
        yield
    except BaseException:
        for process in processes:
            print(process.diagnostics(), file=sys.stderr)
        raise
    finally:
        with anyio.CancelScope(shield=True):
            for process in processes:
                await process.close()


def summary(statuses: Mapping[str, Status]) -> str:
    return "; ".join(
        f"{name}: {len(s['facts'])} facts, leaves {s['leaves']}, root {s['root'][:12]}, "
        f"merged by sync {s['sync_merged']}, descriptors {len(s['descriptors'])}"
        for name, s in sorted(statuses.items())
    )


async def until(
    processes: Sequence[DeviceProcess],
    done: Callable[[dict[str, Status]], bool],
    *,
    within: float,
    what: str,
) -> dict[str, Status]:
    """Poll every process's status until `done` holds (a safety limit, not a timing
    assertion); `AssertionError` naming `what` and the last statuses otherwise."""
    statuses: dict[str, Status] = {}
    with anyio.move_on_after(within):
        while True:
            statuses = {p.name: await p.status() for p in processes}
            if done(statuses):
                return statuses
            await anyio.sleep(0.2)
    raise AssertionError(f"not {what} within {within} s: {summary(statuses)}")


def same_facts(statuses: Mapping[str, Status]) -> bool:
    """Every device holds the same facts of the account."""
    return len({tuple(s["facts"]) for s in statuses.values()}) == 1


def holds_leaves(leaves: Sequence[int]) -> Callable[[dict[str, Status]], bool]:
    def check(statuses: dict[str, Status]) -> bool:
        return all(set(leaves) <= set(s["leaves"]) for s in statuses.values())

    return check
