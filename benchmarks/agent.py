"""The agent: cold start on a directory with 10,000 facts, local API round trips, idle memory.

Setup (once): two agents on fresh data directories (SQLite, production effects) are dealt one
2-of-2 account (`tests.agent.helpers.deal`, standing in for enrollment), and the first writes
10,000 signed notes into the journal of the account's devices' context; both stop.

Cold start: a fresh Python process (imports done, not timed) opens the first agent on its
directory, while a task of the same process polls its socket with `AgentClient.status`: the
time to the first answer ("serving the API") and to `Agent.open` returning (account services
up: the context's journal of 10,001 facts loaded and checked, consensus node and sync
started). Target (issue 17): <= 1 s to serving the API. The same without a key passphrase and
with one (Argon2id MODERATE, which dominates when present).

Round trip: `AgentClient.identity()` on one connection, beside the floor of the same frames
echoed over a Unix socket by a bare server in the same process. Target: p50 <= 1 ms.

Memory: the resident set (VmRSS) of the cold-started process once idle, beside a process that
imported the same modules and opened nothing.

Add a device: two fresh agents on loopback (the settings above, keys not sealed); the first
creates a 1-of-1 account and makes an enrollment code; timed from the second importing the code
(`AgentClient.join`) to both agents showing the committed 2-of-2 account (the bootstrap
channel, `AddLeaf`, the networked DKG, `ChangePolicy`, the new devices' context, both account
services restarted). Target (issue 17): <= 2 s. Beside it, in the same run, `create_account`
on the first agent (local only: genesis, context, account services up) as the baseline.

Run: .venv/bin/python benchmarks/agent.py [--facts 10000] [--starts 5] [--calls 2000]
     [--adds 5] [--only add-device]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from aura_agent.agent import Agent, AgentSettings
from aura_agent.client import AgentClient
from aura_agent.frames import API_MAGIC, API_VERSION, Hello, frame, read_frame
from aura_agent.keystore import MODERATE
from aura_agent.unixstream import UnixStream, accept, connect
from aura_consensus.tree import authority_registry
from aura_core.encoding import encode, record_tag
from aura_journal.fact import FactBody, JournalNamespace, sign_fact
from aura_journal.registry import FactRegistry, Origin
from aura_sim.examples.naive_push import NaivePush, Note
from tests.agent.helpers import FAST, deal

REPO = Path(__file__).resolve().parent.parent


def registry() -> FactRegistry:
    """An authority's fact types plus the simulator's notes (the benchmark's payload)."""
    made = authority_registry()
    NaivePush({}).register(made)
    return made


def settings(passphrase: bool) -> AgentSettings:
    return AgentSettings(
        tcp=FAST.tcp,
        sync=FAST.sync,
        consensus=FAST.consensus,
        kdf=MODERATE if passphrase else FAST.kdf,
        registry=registry(),
    )


async def prepare(directory: Path, facts: int, passphrase: str | None) -> None:
    """Two agents with one account; `facts` notes in the first one's context journal."""
    async with AsyncExitStack() as stack:
        agents = [
            await stack.enter_async_context(
                Agent.open(
                    directory / name,
                    passphrase=passphrase,
                    settings=settings(passphrase is not None),
                )
            )
            for name in ("a", "b")
        ]
        membership = await deal(agents, 2)
        first = agents[0]
        namespace = JournalNamespace.of(membership.context)
        key = first.keys.secrets.signing_key
        type_id, version = record_tag(Note)
        batch = []
        for seq in range(facts):
            body = FactBody(
                namespace,
                type_id,
                version,
                encode(Note(first.address, seq, f"note {seq}")),
                await first.effects.order.order_time(),
                await first.effects.time.now(),
            )
            batch.append(sign_fact(body, key))
            if len(batch) == 1000:
                await first.effects.journal.merge(namespace, batch, origin=Origin.LOCAL)
                batch = []
        if batch:
            await first.effects.journal.merge(namespace, batch, origin=Origin.LOCAL)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def cold_start(directory: str, passphrase: str | None) -> dict[str, float]:
    """(In the child.) Open the agent; seconds to the first API answer and to `open`."""
    home = Path(directory)
    served = anyio.Event()
    times: dict[str, float] = {}
    start = time.perf_counter()

    async def poll() -> None:
        while True:
            try:
                async with AgentClient.connect(home / "agent.sock", timeout_s=1.0) as client:
                    await client.status()
                    times["api_s"] = time.perf_counter() - start
                    served.set()
                    return
            except Exception:
                await anyio.sleep(0.001)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(poll)
        async with Agent.open(
            home, passphrase=passphrase, settings=settings(passphrase is not None)
        ) as agent:
            times["open_s"] = time.perf_counter() - start
            await served.wait()
            assert agent.account.phase == "active", agent.account
            journal = await agent.effects.journal.journal(
                JournalNamespace.of(agent.membership.context)  # type: ignore[union-attr]
            )
            times["facts"] = len(journal.fact_ids())
            await anyio.sleep(1.0)
            times["rss_kib"] = rss_kib()
    return times


def child(mode: str, directory: str, passphrase: str) -> None:
    if mode == "start":
        result = anyio.run(cold_start, directory, passphrase or None)
    else:  # the same imports, nothing opened
        result = {"rss_kib": rss_kib()}
    sys.stdout.write(json.dumps(result) + "\n")


def spawn(mode: str, directory: Path, passphrase: str | None) -> dict[str, float]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(directory), passphrase or ""],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def round_trips(directory: Path, calls: int) -> tuple[list[float], list[float]]:
    """Seconds per `identity()` through the agent, and per bare echo of the same frames."""
    async with (
        Agent.open(directory / "a", settings=settings(False)) as agent,
        AgentClient.connect(agent.socket_path) as client,
    ):
        for _ in range(200):
            await client.identity()
        api = []
        for _ in range(calls):
            start = time.perf_counter()
            await client.identity()
            api.append(time.perf_counter() - start)
    return api, await echo_round_trips(directory / "echo.sock", calls)


async def echo_round_trips(path: Path, calls: int) -> list[float]:
    """The floor: a request-sized frame to a bare server that answers a reply-sized frame."""
    import socket as sockets

    from anyio.streams.buffered import BufferedByteReceiveStream

    listener = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    listener.bind(os.fsencode(path))
    listener.listen()
    listener.setblocking(False)
    request = frame(Hello(API_MAGIC, API_VERSION))
    reply = b"\0\0\0\xa0" + b"r" * 160

    async def serve(stream: UnixStream) -> None:
        buffered = BufferedByteReceiveStream(stream)
        try:
            while True:
                await read_frame(buffered, 1 << 16)
                await stream.send(reply)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            pass

    samples = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: _accept_one(listener, serve))
        stream = await connect(os.fsencode(path))
        buffered = BufferedByteReceiveStream(stream)
        for index in range(calls + 200):
            start = time.perf_counter()
            await stream.send(request)
            await read_frame(buffered, 1 << 16)
            if index >= 200:
                samples.append(time.perf_counter() - start)
        await stream.aclose()
    listener.close()
    return samples


async def _accept_one(listener: object, serve: object) -> None:
    stream = await accept(listener)  # type: ignore[arg-type]
    await serve(stream)  # type: ignore[operator]


async def add_device(directory: Path) -> tuple[float, float]:
    """Seconds for `create_account` (the baseline) and for the add-device (see above)."""
    async with (
        Agent.open(directory / "a", settings=settings(False)) as first,
        Agent.open(directory / "b", settings=settings(False)) as second,
        AgentClient.connect(first.socket_path) as one,
        AgentClient.connect(second.socket_path) as two,
    ):
        start = time.perf_counter()
        await one.create_account()
        created = time.perf_counter() - start
        invite = await one.invite(2)
        start = time.perf_counter()
        await two.join(invite.code)
        while True:
            states = [(await c.status()).account for c in (one, two)]
            if all((s.phase, s.devices, s.threshold) == ("active", 2, 2) for s in states):
                break
            await anyio.sleep(0.001)
        return created, time.perf_counter() - start


def report_add_device(root: Path, adds: int) -> None:
    runs = [anyio.run(add_device, root / f"add-{i}") for i in range(adds)]
    created = [c * 1000 for c, _ in runs]
    added = [a * 1000 for _, a in runs]
    print(f"add a device on loopback, {adds} fresh pairs of agents\n")
    print("| what | median | min..max | ratio (median) |")
    print("|---|---|---|---|")
    base = statistics.median(created)
    for name, values in (
        ("`create_account` (local; baseline)", created),
        ("code import to committed 2-of-2 on both", added),
    ):
        median = statistics.median(values)
        print(
            f"| {name} | {median:.0f} ms | {min(values):.0f}..{max(values):.0f} ms "
            f"| {median / base:.1f} |"
        )


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facts", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--adds", type=int, default=5)
    parser.add_argument("--only", choices=["add-device"])
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DIR", "PASSPHRASE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="aura-bench-agent-") as scratch:
        root = Path(scratch)
        report_add_device(root, args.adds)
        print()
        if args.only == "add-device":
            return
        print(f"cold start of an agent whose context journal holds {args.facts:,} notes")
        print(f"({args.starts} fresh processes each; imports not timed)\n")
        print(
            "| keys | to serving the API | min..max | to open returned (account up) | min..max "
            "| facts loaded | RSS idle |"
        )
        print("|---|---|---|---|---|---|---|")
        for passphrase in (None, "benchmark passphrase"):
            directory = root / ("sealed" if passphrase else "plain")
            anyio.run(prepare, directory, args.facts, passphrase)
            runs = [spawn("start", directory / "a", passphrase) for _ in range(args.starts)]
            api = [r["api_s"] * 1000 for r in runs]
            opened = [r["open_s"] * 1000 for r in runs]
            rss = statistics.median(r["rss_kib"] for r in runs) / 1024
            label = "sealed (Argon2id MODERATE)" if passphrase else "not sealed"
            print(
                f"| {label} | {statistics.median(api):.0f} ms | {min(api):.0f}..{max(api):.0f} ms "
                f"| {statistics.median(opened):.0f} ms | {min(opened):.0f}..{max(opened):.0f} ms "
                f"| {int(runs[0]['facts']):,} | {rss:.1f} MiB |"
            )
        baseline = spawn("imports", root, None)["rss_kib"] / 1024
        print(f"\nRSS of a process with the same imports and no agent: {baseline:.1f} MiB\n")
        api_rt, echo_rt = anyio.run(round_trips, root / "plain", args.calls)
        print(f"local API round trip, {args.calls:,} calls on one connection\n")
        print("| what | p50 | p99 | min..max | ratio (p50) |")
        print("|---|---|---|---|---|")
        for name, values in (
            ("bare Unix socket echo (floor)", echo_rt),
            ("`identity()` through the agent", api_rt),
        ):
            ms = [v * 1000 for v in values]
            ratio = quantile(values, 0.5) / quantile(echo_rt, 0.5)
            print(
                f"| {name} | {quantile(ms, 0.5):.3f} ms | {quantile(ms, 0.99):.3f} ms "
                f"| {min(ms):.3f}..{max(ms):.3f} ms | {ratio:.1f} |"
            )


if __name__ == "__main__":
    main()
