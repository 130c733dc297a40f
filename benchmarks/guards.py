"""Cost of one send through the guard chain, transport excluded.

Each send takes the context lock, snapshots (time, capability decision, budget, leakage, receipt
chain head), evaluates the chain, signs the receipt and writes the flow's charge register (which
is also the head of its receipt chain) in one storage batch; the raw transport is a no-op.
Measured with the capability decision cached, and with the cache dropped before every send (so
each send parses and authorizes the Biscuit token afresh), on the testing bundle (in-memory
storage) and on the production bundle (SQLite, WAL, synchronous=FULL, in a temporary directory).

Then the leakage table: a send that reveals metadata (one `LeakageRecorded` fact, staged and
committed with the charge) after 10 and after 20,000 earlier leaking sends, beside a plain send
measured the same way in the same run (41 samples of 10 sends each, a fresh device per row,
the rows' samples interleaved, the clock advancing 1 ms per send so every earlier event is
still inside the 24 h window).

Targets: <= 50 µs per send with a cached decision on the testing bundle; a leaking send after
20,000 costs the same as after 10 (within ±20 %).

Run: ./dev bench   (or .venv/bin/python benchmarks/guards.py)
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import Envelope
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_effects.bundle import Effects, production_effects
from aura_guards.chain import GuardAnnotations
from aura_guards.transport import GuardedTransport
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.leakage import LeakageLimits, ObserverClass
from aura_sim.handlers import ManualClock, testing_effects
from benchmarks._harness import Timing, format_ns, table

ALICE, BOB = AuthorityId(b"\xa1" * 16), AuthorityId(b"\xb0" * 16)
CONTEXT = ContextId(b"\xc1" * 16)
SEND = GuardAnnotations(capability="chat:send", flow_cost=1)
LEAK = GuardAnnotations(capability="chat:send", flow_cost=1, leak=(ObserverClass.EXTERNAL,))
SENDS = {"testing": 3000, "sqlite": 300}
HISTORIES = (10, 20_000)
LEAK_SAMPLES, LEAK_BATCH = 41, 10


class NullTransport:
    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        return None

    async def receive(self) -> Envelope:
        raise NotImplementedError

    async def receive_many(self, limit: int) -> list[Envelope]:
        raise NotImplementedError


def configure(effects: Effects) -> GuardedTransport:
    key = SigningKey(b"\x01" * 32)
    effects.peers.add(BOB, SigningKey(b"\x02" * 32).verifying_key)
    effects.flow.set_default(CONTEXT, UNLIMITED)  # unlimited: measure the chain, not a refusal
    token = issue_token(
        b"\x03" * 32, ALICE, ["chat:send"], seed=bytes(32), scope=ContextScope(CONTEXT)
    )
    effects.authorization.grant(CONTEXT, CapabilityFrontier.of(token))
    return GuardedTransport(effects, NullTransport(), local=ALICE, signing_key=key)


async def per_send(
    guarded: GuardedTransport, effects: Effects, count: int, fresh: bool
) -> list[float]:
    samples = []
    epoch = 0
    for _ in range(count):
        if fresh:
            epoch += 1
            effects.authorization.set_epoch(epoch)  # drops the cached decision
        start = time.perf_counter_ns()
        await guarded.send(CONTEXT, BOB, "chat.message", b"x" * 100, SEND)
        samples.append(time.perf_counter_ns() - start)
    return samples


async def run(kind: str, fresh: bool, directory: Path) -> list[float]:
    device = DeviceId(b"\xd1" * 16)
    if kind == "sqlite":
        effects = await production_effects(
            directory / f"{fresh}.db", authority=ALICE, device=device
        )
    else:
        effects = testing_effects(7, authority=ALICE, device=device)
    guarded = configure(effects)
    await per_send(guarded, effects, 50, fresh)  # warm-up
    return await per_send(guarded, effects, SENDS[kind], fresh)


async def sender(history: int, annotations: GuardAnnotations) -> Callable[[], Awaitable[None]]:
    """A fresh device that has made `history` sends of `annotations`, and its next send."""
    clock = ManualClock()
    effects = testing_effects(7, authority=ALICE, device=DeviceId(b"\xd1" * 16), clock=clock)
    generous = 10**12  # never the limit: measure the accounting, not a refusal
    effects.leakage.set_limits(CONTEXT, LeakageLimits(generous, generous, generous))
    guarded = configure(effects)

    async def send() -> None:
        clock.advance(1)
        await guarded.send(CONTEXT, BOB, "chat.message", b"x" * 100, annotations)

    for _ in range(history):
        await send()
    return send


async def leakage_rows() -> list[Timing]:
    """The rows' samples interleaved (one batch of each row in turn), so load that comes and
    goes on a shared machine falls on every row alike instead of on whichever ran then."""
    rows = [("plain guarded send", await sender(0, SEND))]
    for history in HISTORIES:
        rows.append((f"leaking send after {history:,} sends", await sender(history, LEAK)))
    samples: list[list[float]] = [[] for _ in rows]
    for _ in range(3):
        for _, send in rows:
            await send()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(LEAK_SAMPLES):
            for (_, send), row in zip(rows, samples, strict=True):
                start = time.perf_counter_ns()
                for _ in range(LEAK_BATCH):
                    await send()
                row.append((time.perf_counter_ns() - start) / LEAK_BATCH)
    finally:
        if gc_was_enabled:
            gc.enable()
    return [Timing(name, tuple(row)) for (name, _), row in zip(rows, samples, strict=True)]


def main() -> None:
    print("Guard chain cost per send (snapshot + evaluation + commit; transport excluded)")
    print(f"{'bundle':<10}{'capability':<22}{'median':>10}{'min':>10}{'p90':>10}{'sends':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for kind in ("testing", "sqlite"):
            for fresh in (False, True):
                samples = sorted(anyio.run(run, kind, fresh, Path(tmp)))
                label = "fresh Biscuit check" if fresh else "cached decision"
                p90 = samples[int(len(samples) * 0.9)]
                median = statistics.median(samples)
                results[(kind, fresh)] = median
                print(
                    f"{kind:<10}{label:<22}{format_ns(median):>10}{format_ns(samples[0]):>10}"
                    f"{format_ns(p90):>10}{len(samples):>8}"
                )
    cached = results[("testing", False)]
    verdict = "met" if cached <= 50_000 else "MISSED"
    print(
        f"target: <= 50 µs per send, cached decision, testing bundle: {format_ns(cached)}"
        f" ({verdict})"
    )
    print(
        "fresh / cached on the testing bundle: "
        f"{results[('testing', True)] / cached:.1f}x (the price of a Biscuit parse + authorize)"
    )
    print()
    rows = anyio.run(leakage_rows)
    print(table("Leakage accounting: cost per send (testing bundle)", rows, rows[0]))
    short, long = rows[1], rows[2]
    drift = long.median / short.median - 1
    verdict = "met" if abs(drift) <= 0.20 else "MISSED"
    print(
        f"target: leaking send after {HISTORIES[1]:,} within ±20 % of after {HISTORIES[0]}: "
        f"{drift:+.1%} ({verdict})"
    )


if __name__ == "__main__":
    main()
