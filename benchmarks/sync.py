"""Anti-entropy sync: reconciliation through the sync protocol, and two devices end to end.

Reconciliation: two replicas of n items that differ in d, half held only by the initiator and
half only by the responder, reconciled by the sync protocol's own loop (`Initiator.reconcile`,
which bounds the rounds and counts what each side sends) over `SyncReconcile`/`SyncRanges`
records exactly as they travel (the message limit of `SyncConfig`, 48000 bytes), with the
responder's answers computed in-process. Items are `(order key, id)` as `sync_items` makes them:
order keys are order-clock counters, one per fact. The differences are either `scattered`
through the set (old facts one side missed) or the `newest` (facts written since the last sync,
the common case: their counters cluster at the end of the range). Reported: round trips, bytes
each way and in total (sync record encodings), the wall time of the exchange (both sides' CPU in
one process, no network), beside the naive exchange of every id (32 * n bytes one way).
Targets from issue 16 at n = 10^6, d = 1: <= 3 round trips, <= 4 KiB in total, <= 1 s.

End to end: two devices (SQLite storage in a temporary directory, production effects: OS clock
and randomness) whose journals of one context share `base` signed notes and differ by d = 1000
(500 written by each), connected by the in-process network (`aura_guards.loopback.connect`) or
by TCP on 127.0.0.1 (`aura_guards.tcp.open_tcp`: Noise channels, both devices in this
process), each running a `SyncService`: the time from `sync_now` until both journals hold every
note (on TCP the channels are dialled within it), with the session's round trips and bytes,
beside the baseline of merging the same 500 + 500 notes directly into the other journal (the
validation and storage floor), measured in the same run. Target: <= 2 s on loopback.

Run: .venv/bin/python benchmarks/sync.py [--sizes 10000,100000,1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode, record_tag
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_core.noise import StaticKeypair
from aura_core.reconcile import Reconciler
from aura_core.time import OrderTime, PhysicalTime
from aura_effects.bundle import Effects, production_effects
from aura_effects.journal import JournalHandler
from aura_effects.locator import PeerAddress, StaticLocator
from aura_effects.storage import SqliteStorage
from aura_effects.trace import Tracer
from aura_guards.loopback import connect
from aura_guards.tcp import open_tcp
from aura_guards.transport import GuardedTransport
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.context import ContextGenesis, ContextMember
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_journal.registry import FactRegistry, Origin
from aura_journal.standard import standard_registry
from aura_protocol import Dispatcher, Member, Received
from aura_protocol.sync import CAPABILITIES, SyncConfig, SyncScope, SyncService
from aura_protocol.sync.session import Initiator
from aura_protocol.sync.wire import SyncRanges, SyncReconcile
from aura_sim.examples.naive_push import NaivePush, Note
from aura_sim.handlers import MemoryStorage
from benchmarks._harness import format_ns

SIZES = [10**4, 10**5, 10**6]
DIFFERENCES = [1, 10, 100, 1000]
REPEATS = {10**4: 5, 10**5: 3, 10**6: 1}
CONFIG = SyncConfig(interval_s=3600.0, session_limit_s=60.0)
SCOPE = SyncScope.of_context(ContextId(b"\xbe" * 16))
Item = tuple[int, bytes]


# ---------------------------------------------------------------------------- reconciliation


def replicas(n: int, d: int, where: str, rng: random.Random) -> tuple[list[Item], list[Item]]:
    """(initiator's items, responder's items): n common-ish items, d differences split in
    halves; the items' order keys are counters 1..n (+ d // 2 for the new ones)."""
    blob = rng.randbytes(32 * (n + d))
    ids = [blob[32 * i : 32 * i + 32] for i in range(n + d)]
    base = [(i + 1, ids[i]) for i in range(n)]
    extra = [(n + 1 + i, ids[n + i]) for i in range(d // 2)]
    missing = (
        set(rng.sample(range(n), d - d // 2))
        if where == "scattered"
        else set(range(n - (d - d // 2), n))
    )
    initiator = [item for i, item in enumerate(base) if i not in missing] + extra
    return initiator, base


async def reconcile(initiator_items: list[Item], responder: Reconciler) -> Initiator:
    """One reconciliation through the sync protocol's loop; the initiator's tally."""
    journal = JournalHandler(MemoryStorage(), standard_registry())  # unused: items are given
    initiator = Initiator(journal, Tracer(), AuthorityId(b"\x01" * 16), SCOPE, CONFIG)

    async def exchange(body: bytes) -> Received:
        request = decode(body, SyncReconcile)
        answer = encode(SyncRanges(responder.reconcile(request.message)))
        return Received("Ranges", answer, Member("Responder"), 0)

    finished = await initiator.reconcile(
        exchange, Reconciler(initiator_items, CONFIG.message_bytes)
    )
    assert finished, "reconciliation did not finish within the round bound"
    return initiator


def spread(samples: list[float]) -> str:
    return (
        f"{format_ns(statistics.median(samples))} "
        f"({format_ns(min(samples))}..{format_ns(max(samples))})"
    )


def reconcile_table(sizes: list[int]) -> str:
    rng = random.Random(16)
    title = (
        f"Sync reconciliation (SyncReconcile/SyncRanges, message limit {CONFIG.message_bytes}):"
        " n items a side, d differences (medians, min..max)"
    )
    header = (
        f"{'n':>9}{'d':>6} {'where':<10}{'rounds':>7}{'i->r B':>10}{'r->i B':>10}"
        f"{'total B':>10}{'naive B':>12}{'naive/total':>12}   {'time':<34}"
    )
    lines = [title, "-" * len(title), header]
    for n in sizes:
        for where in ("scattered", "newest"):
            for d in DIFFERENCES:
                initiator_items, responder_items = replicas(n, d, where, rng)
                responder = Reconciler(responder_items, CONFIG.message_bytes)
                times: list[float] = []
                tally: Initiator | None = None
                for _ in range(REPEATS[n]):
                    gc.collect()
                    start = time.perf_counter_ns()
                    tally = anyio.run(reconcile, initiator_items, responder)
                    times.append(time.perf_counter_ns() - start)
                assert tally is not None
                assert (len(tally.have), len(tally.need)) == (d // 2, d - d // 2), (n, d, where)
                total = tally.sent + tally.received
                lines.append(
                    f"{n:>9,}{d:>6} {where:<10}{tally.rounds:>7}{tally.sent:>10,}"
                    f"{tally.received:>10,}{total:>10,}{32 * n:>12,}{32 * n / total:>11.0f}x"
                    f"   {spread(times):<34}"
                )
    lines.append(
        "(rounds = responder answers; time = the whole exchange in one process including the"
    )
    lines.append(
        " initiator's Reconciler(items) build, both sides' CPU; naive = every id sent one way)"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- end to end

Connect = Callable[
    [AsyncExitStack, Mapping[AuthorityId, tuple[Effects, SigningKey]]],
    Awaitable[Mapping[AuthorityId, GuardedTransport]],
]
"""A transport factory: guarded transports for devices, running until the stack closes."""


async def in_process(
    stack: AsyncExitStack, devices: Mapping[AuthorityId, tuple[Effects, SigningKey]]
) -> Mapping[AuthorityId, GuardedTransport]:
    """The in-process network (`aura_guards.loopback.connect`)."""
    return connect(devices)


async def over_tcp(
    stack: AsyncExitStack, devices: Mapping[AuthorityId, tuple[Effects, SigningKey]]
) -> Mapping[AuthorityId, GuardedTransport]:
    """Each device on its own TCP listener on 127.0.0.1, knowing the others' from a table."""
    table = StaticLocator()
    guarded: dict[AuthorityId, GuardedTransport] = {}
    for index, (who, (effects, key)) in enumerate(devices.items()):
        for other, (_, other_key) in devices.items():
            if other != who:
                effects.peers.add(other, other_key.verifying_key)
        keypair = StaticKeypair.from_seed(bytes([0x60 + index]) * 32)
        node = await stack.enter_async_context(
            open_tcp(effects, local=who, signing_key=key, keypair=keypair, locator=table)
        )
        table.put(who, PeerAddress("127.0.0.1", node.port, node.static_key))
        guarded[who] = node.guarded
    return guarded


def registry() -> FactRegistry:
    made = standard_registry()
    NaivePush({}).register(made)
    return made


async def device(
    directory: Path, index: int, genesis: Fact, context: ContextId, key: SigningKey
) -> Effects:
    authority = AuthorityId(bytes([index + 1]) * 16)
    effects = await production_effects(
        directory / f"device-{index}.sqlite",
        authority=authority,
        device=DeviceId(bytes([index + 0x40]) * 16),
        registry=registry(),
    )
    await effects.journal.merge(JournalNamespace.of(context), [genesis])
    effects.flow.set_default(context, UNLIMITED)
    token = issue_token(
        bytes([index]) * 32,
        authority,
        list(CAPABILITIES),
        seed=bytes(32),
        scope=ContextScope(context),
    )
    effects.authorization.grant(context, CapabilityFrontier.of(token))
    effects.contexts.add(context, b"\x77" * 32)
    return effects


async def notes(
    effects: Effects, key: SigningKey, namespace: JournalNamespace, count: int, label: str
) -> list[Fact]:
    """`count` notes signed by `key` (not yet in any journal)."""
    type_id, version = record_tag(Note)
    author = AuthorityId(key.verifying_key.raw[:16])
    facts = []
    for seq in range(count):
        body = FactBody(
            namespace,
            type_id,
            version,
            encode(Note(author, seq, f"{label} {seq}")),
            await effects.order.order_time(),
            await effects.time.now(),
        )
        facts.append(sign_fact(body, key))
    return facts


async def end_to_end(connect_devices: Connect, base: int, d: int) -> tuple[float, float, object]:
    """Two devices sharing `base` notes and differing by `d` (half each side): seconds until
    both hold everything by sync, seconds to merge the same notes directly (baseline), and the
    initiator's report."""
    keys = [SigningKey(bytes([0x10 + i]) * 32) for i in range(2)]
    authorities = [AuthorityId(bytes([i + 1]) * 16) for i in range(2)]
    genesis = ContextGenesis.create(
        [ContextMember(a, k.verifying_key) for a, k in zip(authorities, keys, strict=True)],
        1,
        random.Random(base * 7 + d).randbytes(32),
    )
    context = genesis.context
    namespace = JournalNamespace.of(context)
    type_id, version = record_tag(ContextGenesis)
    genesis_body = FactBody(
        namespace, type_id, version, encode(genesis), OrderTime(bytes(32)), PhysicalTime(0)
    )
    genesis_fact = sign_fact(genesis_body, keys[0])
    with tempfile.TemporaryDirectory(prefix="aura-sync-bench-") as directory:
        path = Path(directory)
        devices = [await device(path, i, genesis_fact, context, keys[i]) for i in range(2)]
        try:
            common = await notes(devices[0], keys[0], namespace, base, "common")
            only = [
                await notes(devices[i], keys[i], namespace, d // 2, f"only {i}") for i in range(2)
            ]
            for i, effects in enumerate(devices):
                await effects.journal.merge(namespace, [*common, *only[i]], origin=Origin.LOCAL)
            async with AsyncExitStack() as stack:
                guarded = await connect_devices(
                    stack, {a: (e, k) for a, e, k in zip(authorities, devices, keys, strict=True)}
                )
                services = []
                for a, effects in zip(authorities, devices, strict=True):
                    dispatcher = await stack.enter_async_context(
                        Dispatcher(guarded[a], effects.trace)
                    )
                    services.append(
                        await stack.enter_async_context(
                            SyncService(effects, dispatcher, config=CONFIG)
                        )
                    )
                start = time.perf_counter()
                [report] = await services[0].sync_now(authorities[1])
                while True:  # the responder merges the last pushed piece as the session ends
                    held = [len(await e.journal.journal(namespace)) for e in devices]
                    if held == [1 + base + d] * 2:
                        break
                    await anyio.sleep(0.001)
                synced = time.perf_counter() - start
            # Baseline: the same notes merged directly, in one batch each way, into fresh copies.
            copies = [await device(path, 10 + i, genesis_fact, context, keys[i]) for i in range(2)]
            for i, effects in enumerate(copies):
                await effects.journal.merge(namespace, [*common, *only[i]], origin=Origin.LOCAL)
            start = time.perf_counter()
            await copies[0].journal.merge(namespace, only[1])
            await copies[1].journal.merge(namespace, only[0])
            direct = time.perf_counter() - start
            devices += copies
        finally:
            for effects in devices:
                if isinstance(effects.storage, SqliteStorage):
                    await effects.storage.close()
    return synced, direct, report


NETWORKS: dict[str, Connect] = {"in-process": in_process, "TCP": over_tcp}


def end_to_end_table(rounds: int) -> str:
    title = (
        "End to end: two devices (SQLite, production effects) differing by d signed notes,"
        " one SyncService session (medians, min..max)"
    )
    header = (
        f"{'network':<12}{'shared':>8}{'d':>6}{'rounds':>8}{'fetches':>8}{'i->r B':>10}"
        f"{'r->i B':>10}   {'sync until converged':<36}{'direct merge (baseline)':<36}"
        f"{'ratio':>7}"
    )
    lines = [title, "-" * len(title), header]
    for network, base in itertools.product(NETWORKS, (1000, 10_000)):
        connect_devices = NETWORKS[network]
        d = 1000
        synced: list[float] = []
        direct: list[float] = []
        report = None
        for _ in range(rounds):
            gc.collect()
            s, b, report = anyio.run(end_to_end, connect_devices, base, d)
            synced.append(s * 1e9)
            direct.append(b * 1e9)
        assert report is not None
        lines.append(
            f"{network:<12}{base:>8,}{d:>6}"
            f"{report.rounds:>8}{report.fetches:>8}"  # type: ignore[attr-defined]
            f"{report.sent_bytes:>10,}{report.received_bytes:>10,}"  # type: ignore[attr-defined]
            f"   {spread(synced):<36}{spread(direct):<36}"
            f"{statistics.median(synced) / statistics.median(direct):>6.1f}x"
        )
    lines.append("(target: <= 2 s on loopback; ratio = sync / direct merge of the same facts)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="comma-separated set sizes (each of 10000, 100000, 1000000)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="end-to-end repetitions")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    if any(n not in REPEATS for n in sizes):
        parser.error(f"sizes are among {sorted(REPEATS)}")
    print(reconcile_table(sizes))
    print()
    print(end_to_end_table(args.rounds))


if __name__ == "__main__":
    main()
