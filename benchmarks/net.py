"""Messages between two processes on loopback: the TCP transport against plain TCP.

Alice (this process) sends 1 KiB messages one way to Bob (a child process: this script with
`--child MODE`, which prints its port and then one JSON line per round). Bob takes what has
arrived in batches (`receive_many`, as the dispatcher does) and the transport packs what
Alice has queued into shared Noise messages. Five ways, measured in the same run:

* **plain TCP**: anyio TCP with u32 length-prefixed frames, no version, no Noise, no guard
  chain; the same shape as the transport (a deque drained by one writer task into one socket
  send per batch of up to 64 KiB, the same backpressure on the sender, the reader splitting
  what each receive returns), so the difference is Noise, the frame kinds and the transport's
  bookkeeping (the baseline of every ratio);
* **plain, unbatched**: the same without the queue, one socket send per message (for
  context: what batching is worth);
* **Noise, no guards**: `TcpTransport.send` of the raw payloads;
* **guarded, memory**: `GuardedTransport` over `TcpTransport`, storage in memory (the guard
  chain: capability, budget, signed receipt, charge register; the receiver checks the receipt
  signature and its replay window);
* **guarded, SQLite**: the same on the production bundle (SQLite, WAL, synchronous=FULL), so
  every send and every receive commits to disk.

Throughput: Alice sends a round of messages as fast as the sender allows. The loop calls each
mode's send directly; `SendQueueFull` means the queue is full (plain TCP's at three-quarters of
`send_queue`, the transport's at its bound), and the loop waits and sends that message again.
The guarded modes wait while the transport's queue is three-quarters full instead (a guarded
send that fails has already charged the flow budget). Messages/s = count / (Bob's last receive
- Alice's first send), both on the machine's monotonic clock
(`time.perf_counter_ns`, CLOCK_MONOTONIC, shared by the processes). CPU per message: each
process's CPU time (`time.process_time_ns`) over a throughput round divided by its messages,
Alice's (send) and Bob's (receive) apart: the figure that moves least with the machine's other
load. Latency: one message per millisecond (no queueing), one-way, from Alice's call to send to
Bob's receive returning; p50 and p99 per round.

All modes connect first, then take their rounds in turn (plain TCP, plain unbatched, Noise,
guarded, SQLite, plain TCP, ...), so that load on the machine that comes and goes falls on each
mode alike. Every figure is the median over rounds (min and max beside it); a ratio is the
median over turns of a mode's round against plain TCP's round of the same turn. The Noise
overhead is also printed by CPU: the ratio of the slower side's CPU per message (the process that
bounds throughput), Noise's against plain TCP's in the same turn.

Targets (issue 16): guarded >= 10,000 messages/s and p50 <= 1 ms; Noise + framing adds
<= 30 % over plain TCP (throughput ratio >= 0.77).

Run: ./dev bench   (or .venv/bin/python benchmarks/net.py [--quick])
"""

from __future__ import annotations

import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.text import TextReceiveStream

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import encode
from aura_core.errors import SendQueueFull
from aura_core.ids import AuthorityId, DeviceId
from aura_core.noise import StaticKeypair
from aura_core.time import OrderTime, PhysicalTime
from aura_effects.bundle import Effects, assemble_effects, production_effects
from aura_effects.clock import SystemClock
from aura_effects.keyring import ContextKeyring
from aura_effects.locator import PeerAddress, StaticLocator
from aura_effects.random import OsRandom
from aura_effects.tcp import TcpTransport
from aura_effects.tcpconfig import TcpConfig
from aura_effects.trace import Tracer
from aura_guards.chain import GuardAnnotations
from aura_guards.tcp import TcpNode, open_tcp
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.context import ContextGenesis, ContextMember
from aura_journal.fact import FactBody, JournalNamespace, sign_fact
from aura_sim.handlers import MemoryStorage

ALICE, BOB = AuthorityId(b"\xa1" * 16), AuthorityId(b"\xb0" * 16)
KEYS = {ALICE: SigningKey(b"\x01" * 32), BOB: SigningKey(b"\x02" * 32)}
STATIC = {ALICE: StaticKeypair.from_seed(b"\x11" * 32), BOB: StaticKeypair.from_seed(b"\x12" * 32)}
GENESIS = ContextGenesis.create(
    [ContextMember(a, k.verifying_key) for a, k in KEYS.items()], 1, b"\xc1" * 32
)
CONTEXT = GENESIS.context
SECRET = b"\x5e" * 32
SEND = GuardAnnotations(capability="bench:send", flow_cost=1)
SIZE = 1024
HEADER = struct.Struct(">IIIQ")  # round, sequence, round size, send time (ns)
CONFIG = TcpConfig(send_queue=4096, inbox=4096)
PACED = 500
"""Messages per latency round (one per millisecond)."""
MODES = (
    "plain TCP",
    "plain, unbatched",
    "Noise, no guards",
    "guarded, memory",
    "guarded, SQLite",
)
PLAIN, UNBATCHED, NOISE, GUARDED, SQLITE = MODES


def body(round_: int, seq: int, count: int) -> bytes:
    stamp = HEADER.pack(round_, seq, count, time.perf_counter_ns())
    return stamp + bytes(SIZE - len(stamp))


# ------------------------------------------------------------------------------- devices


async def device_effects(who: AuthorityId, storage: str, directory: Path) -> Effects:
    device = DeviceId(who.raw[::-1])
    if storage == "sqlite":
        effects = await production_effects(directory / f"{who}.db", authority=who, device=device)
    else:
        effects = assemble_effects(
            random=OsRandom(),
            time=SystemClock(),
            storage=MemoryStorage(),
            authority=who,
            device=device,
        )
    namespace = JournalNamespace.of(CONTEXT)
    genesis = FactBody(
        namespace, "context.genesis", 1, encode(GENESIS), OrderTime(bytes(32)), PhysicalTime(0)
    )
    await effects.journal.merge(namespace, [sign_fact(genesis, KEYS[ALICE])])
    effects.flow.set_default(CONTEXT, UNLIMITED)
    token = issue_token(
        b"\x03" * 32, who, ["bench:send"], seed=bytes(32), scope=ContextScope(CONTEXT)
    )
    effects.authorization.grant(CONTEXT, CapabilityFrontier.of(token))
    effects.contexts.add(CONTEXT, SECRET)
    other = BOB if who == ALICE else ALICE
    effects.peers.add(other, KEYS[other].verifying_key)
    return effects


@asynccontextmanager
async def guarded_node(
    who: AuthorityId, storage: str, directory: Path, locator: StaticLocator
) -> AsyncIterator[TcpNode]:
    effects = await device_effects(who, storage, directory)
    async with open_tcp(
        effects,
        local=who,
        signing_key=KEYS[who],
        keypair=STATIC[who],
        locator=locator,
        config=CONFIG,
    ) as node:
        yield node


def raw_transport(who: AuthorityId, locator: StaticLocator) -> TcpTransport:
    keyring = ContextKeyring()
    keyring.add(CONTEXT, SECRET)

    async def epoch(context: object) -> int:
        return 0

    return TcpTransport(
        keypair=STATIC[who],
        local=who,
        locator=locator,
        keyring=keyring,
        epoch=epoch,
        random=OsRandom(),
        time=SystemClock(),
        trace=Tracer(),
        config=CONFIG,
    )


# ------------------------------------------------------------------------------- Bob (child)


class Rounds:
    """Bob's side: one-way latencies of the round in progress; a JSON line when it ends."""

    def __init__(self) -> None:
        self.latencies: list[int] = []

    def arrived(self, payload: bytes) -> None:
        now = time.perf_counter_ns()
        round_, seq, count, sent = HEADER.unpack_from(payload)
        self.latencies.append(now - sent)
        if seq == count - 1:
            ordered = sorted(self.latencies)
            result = {
                "round": round_,
                "received": len(ordered),
                "last_ns": now,
                "cpu_ns": time.process_time_ns(),
                "p50_ns": ordered[len(ordered) // 2],
                "p99_ns": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            }
            print(json.dumps(result), flush=True)
            self.latencies = []


def ready(port: int) -> None:
    print(json.dumps({"port": port}), flush=True)


async def child(mode: str) -> None:
    rounds = Rounds()
    locator = StaticLocator({ALICE: PeerAddress("127.0.0.1", 9, STATIC[ALICE].public)})
    if mode in (PLAIN, UNBATCHED):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")

        async def serve(stream: SocketStream) -> None:
            buffer = bytearray()
            while True:
                buffer += await stream.receive()
                while len(buffer) >= 4:
                    length = int.from_bytes(buffer[:4], "big")
                    if len(buffer) < 4 + length:
                        break
                    rounds.arrived(bytes(buffer[4 : 4 + length]))
                    del buffer[: 4 + length]

        ready(listener.extra(SocketAttribute.local_port))
        await listener.serve(serve)
    elif mode == NOISE:
        async with raw_transport(BOB, locator) as transport:
            ready(transport.port)
            while True:
                for envelope in await transport.receive_many(CONFIG.inbox):
                    rounds.arrived(envelope.payload)
    else:
        storage = "sqlite" if mode == SQLITE else "memory"
        with tempfile.TemporaryDirectory() as tmp:
            async with guarded_node(BOB, storage, Path(tmp), locator) as node:
                ready(node.port)
                while True:
                    for message in await node.guarded.receive_many():
                        rounds.arrived(message.body)


# ------------------------------------------------------------------------------- Alice


Sender = Callable[[bytes], Awaitable[None]]


HIGH = CONFIG.send_queue * 3 // 4
"""Where plain TCP and the guarded modes wait for their queue to drain."""


@asynccontextmanager
async def plain_sender(port: int) -> AsyncIterator[Sender]:
    """Plain TCP shaped like the transport: a queue drained by one writer task, one socket
    send per batch of up to `write_batch` bytes."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    queue: deque[bytes] = deque()
    waiting: list[anyio.Event] = []

    async def writer() -> None:
        while True:
            while not queue:
                waiting.append(anyio.Event())
                await waiting[-1].wait()
            batch = [queue.popleft()]
            size = len(batch[0])
            while queue and size + len(queue[0]) <= CONFIG.write_batch:
                size += len(queue[0])
                batch.append(queue.popleft())
            await stream.send(b"".join(len(m).to_bytes(4, "big") + m for m in batch))

    async def send_plain(payload: bytes) -> None:
        if len(queue) >= HIGH:
            raise SendQueueFull("the plain queue is three-quarters full")
        queue.append(payload)
        if waiting:
            waiting.pop().set()

    async with stream, anyio.create_task_group() as group:
        group.start_soon(writer)
        yield send_plain
        group.cancel_scope.cancel()


@asynccontextmanager
async def sender(mode: str, port: int, directory: Path) -> AsyncIterator[Sender]:
    """Alice's send function for `mode`, connected to Bob's `port`."""
    locator = StaticLocator({BOB: PeerAddress("127.0.0.1", port, STATIC[BOB].public)})
    if mode == PLAIN:
        async with plain_sender(port) as send_plain:
            yield send_plain
    elif mode == UNBATCHED:
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:

            async def send_each(payload: bytes) -> None:
                await stream.send(len(payload).to_bytes(4, "big") + payload)

            yield send_each
    elif mode == NOISE:
        async with raw_transport(ALICE, locator) as transport:
            yield partial(transport.send, BOB, CONTEXT)
    else:
        storage = "sqlite" if mode == SQLITE else "memory"
        async with guarded_node(ALICE, storage, directory, locator) as node:
            raw = node._raw  # the benchmark watches the queue to apply backpressure

            async def send_guarded(payload: bytes) -> None:
                while raw.queued(BOB, CONTEXT) >= HIGH:
                    await anyio.sleep(0.0002)
                await node.guarded.send(CONTEXT, BOB, "bench.message", payload, SEND)

            yield send_guarded


class Run:
    """One mode in progress: Bob's child process and Alice's sender, and the figures so far."""

    def __init__(self, mode: str, process: anyio.abc.Process, send: Sender) -> None:
        self.mode = mode
        self.send = send
        assert process.stdout is not None
        self._lines = TextReceiveStream(process.stdout)
        self._pending = ""
        self.rates: list[float] = []
        self.send_cpu: list[float] = []
        self.receive_cpu: list[float] = []
        self.p50s: list[int] = []
        self.p99s: list[int] = []
        self._bob_cpu = 0

    async def line(self) -> dict[str, int]:
        """Bob's next JSON line."""
        while "\n" not in self._pending:
            self._pending += await self._lines.receive()
        text, self._pending = self._pending.split("\n", 1)
        result: dict[str, int] = json.loads(text)
        return result

    async def warm(self, count: int) -> None:
        """The handshake, the caches: one round nobody measures."""
        warm = min(count, 500)
        for seq in range(warm):
            await self.send(body(0, seq, warm))
        self._bob_cpu = (await self.line())["cpu_ns"]

    async def throughput(self, round_: int, count: int) -> None:
        start = time.perf_counter_ns()
        alice_cpu = time.process_time_ns()
        send = self.send
        for seq in range(count):
            payload = body(round_, seq, count)
            try:
                await send(payload)
            except SendQueueFull:  # wait for the writer to make room, then send it
                while True:
                    await anyio.sleep(0.0002)
                    try:
                        await send(payload)
                        break
                    except SendQueueFull:
                        pass
        done = await self.line()
        self.send_cpu.append((time.process_time_ns() - alice_cpu) / count)
        self.receive_cpu.append((done["cpu_ns"] - self._bob_cpu) / count)
        self._bob_cpu = done["cpu_ns"]
        assert done["received"] == count, done
        self.rates.append(count / ((done["last_ns"] - start) / 1e9))

    async def latency(self, round_: int) -> None:
        for seq in range(PACED):
            await self.send(body(round_, seq, PACED))
            await anyio.sleep(0.001)
        done = await self.line()
        self.p50s.append(done["p50_ns"])
        self.p99s.append(done["p99_ns"])
        self._bob_cpu = done["cpu_ns"]


@asynccontextmanager
async def running(mode: str, directory: Path) -> AsyncIterator[Run]:
    """Bob's child for `mode` and Alice's sender connected to it, for as long as the block runs."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode]
    process = await anyio.open_process(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        first = Run(mode, process, _unconnected)
        port = (await first.line())["port"]
        async with sender(mode, port, directory) as send:
            first.send = send
            yield first
    finally:
        process.terminate()
        await process.wait()


async def _unconnected(payload: bytes) -> None:
    raise RuntimeError("the sender is not connected yet")


def spread(values: list[float] | list[int]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def us(ns: float) -> str:
    return f"{ns / 1e3:.2f} us"


def ms(ns: float) -> str:
    return f"{ns / 1e6:.2f} ms"


def paired(run: Run, base: Run, figure: Callable[[Run, int], float]) -> float:
    """The median over rounds of `figure(run, r) / figure(base, r)`: each ratio between rounds
    that ran one right after the other, so the machine's other load weighs on both alike."""
    rounds = min(len(run.rates), len(base.rates))
    return statistics.median(figure(run, r) / figure(base, r) for r in range(rounds))


def slower_side(run: Run, r: int) -> float:
    """The CPU per message of round `r`'s busier process: the one that bounds throughput."""
    return max(run.send_cpu[r], run.receive_cpu[r])


async def main(quick: bool) -> None:
    # Per mode: throughput rounds, messages per round, latency rounds. The modes take their
    # rounds in turn (plain, Noise, ..., plain, Noise, ...) so that load coming and going on
    # the machine falls on every mode alike; each ratio pairs a round with plain TCP's round
    # of the same turn.
    plan = {
        PLAIN: (11, 20_000, 3),
        UNBATCHED: (5, 20_000, 3),
        NOISE: (11, 20_000, 3),
        GUARDED: (5, 10_000, 3),
        SQLITE: (3, 1_000, 1),
    }
    if quick:
        plan = {mode: (2, max(500, n // 10), 1) for mode, (_, n, _) in plan.items()}
    with anyio.fail_after(1800), tempfile.TemporaryDirectory() as tmp:
        async with AsyncExitStack() as stack:
            runs: dict[str, Run] = {}
            for mode in MODES:
                directory = Path(tmp) / str(MODES.index(mode))
                directory.mkdir()
                runs[mode] = await stack.enter_async_context(running(mode, directory))
                await runs[mode].warm(plan[mode][1])
            for r in range(max(rounds for rounds, _, _ in plan.values())):
                for mode in MODES:
                    if r < plan[mode][0]:
                        await runs[mode].throughput(r + 1, plan[mode][1])
            for r in range(max(rounds for _, _, rounds in plan.values())):
                for mode in MODES:
                    if r < plan[mode][2]:
                        await runs[mode].latency(1000 + r)
    report(runs)


def report(runs: dict[str, Run]) -> None:
    base = runs[PLAIN]
    title = "1 KiB messages, one way, two processes on loopback"
    print(title)
    print("-" * len(title))
    print(
        f"{'mode':<18}{'messages/s':>12}{'min':>9}{'max':>9}{'ratio':>7}"
        f"{'send CPU':>10}{'recv CPU':>10}{'p50':>10}{'p99':>10}{'p50 ratio':>11}"
    )
    base_p50 = statistics.median(base.p50s)
    for mode in MODES:
        run = runs[mode]
        rate, low, high = spread(run.rates)
        p50 = statistics.median(run.p50s)
        p99 = statistics.median(run.p99s)
        ratio = paired(run, base, lambda each, r: each.rates[r])
        print(
            f"{mode:<18}{rate:>12,.0f}{low:>9,.0f}{high:>9,.0f}{ratio:>7.2f}"
            f"{us(statistics.median(run.send_cpu)):>10}"
            f"{us(statistics.median(run.receive_cpu)):>10}"
            f"{ms(p50):>10}{ms(p99):>10}{p50 / base_p50:>10.2f}x"
        )
    print("(messages/s: median, min and max over rounds; ratio: median over rounds of the round's")
    print(" rate / plain TCP's rate in the same turn; CPU: each side's CPU time per message,")
    print(" median over rounds; latency: one message per ms, one-way, median over rounds of each")
    print(" round's p50/p99)")
    noise = runs[NOISE]
    guarded = statistics.median(runs[GUARDED].rates)
    guarded_p50 = statistics.median(runs[GUARDED].p50s)
    overhead = 1 / paired(noise, base, lambda each, r: each.rates[r]) - 1
    cpu = paired(noise, base, slower_side) - 1
    print(
        f"target: guarded (memory) >= 10,000 messages/s: {guarded:,.0f} "
        f"({'met' if guarded >= 10_000 else 'MISSED'})"
    )
    print(
        f"target: guarded (memory) p50 <= 1 ms: {ms(guarded_p50)} "
        f"({'met' if guarded_p50 <= 1e6 else 'MISSED'})"
    )
    print(
        f"target: Noise + framing adds <= 30 % time per message over plain TCP: {overhead:+.0%} "
        f"({'met' if overhead <= 0.30 else 'MISSED'})"
    )
    print(f"  (the same by CPU per message of the slower side, paired by turn: {cpu:+.0%})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        anyio.run(child, sys.argv[2])
    else:
        anyio.run(main, "--quick" in sys.argv)
