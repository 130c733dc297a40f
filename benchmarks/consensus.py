"""Consensus cost for 3, 7 and 21 witnesses (t = n // 2 + 1), in the simulator.

Every node runs the full stack: `ConsensusNode` on a `Dispatcher` on a `GuardedTransport`
(receipts, budgets, journals) over `SimNetwork` with a fixed one-way latency of 10 ms (one
round trip = 20 ms of virtual time). The initiator is a witness. Three paths:

- fast path (pipelined): commitments cached from the previous instance ride on the request;
- cold (2 round trips): no cached commitments (the group's epoch is bumped before each
  instance), so a nonce round comes first;
- fallback: a witness whose nonce commitment arrives first (its link is faster) withholds its
  signature share; the signing round times out after T_fallback (0.3 s) and the initiator forms
  a package without it.

For each: choreography messages per commit (every message of the instance, until all nodes
have decided it), virtual time from `propose` to the initiator's commit in round trips, the
signing attempts per commit (every package some node tried to sign, counted by the nodes'
`counters["signing_attempts"]`; each node tries a package at most once) and the wall time per
commit of the whole simulation (median of the samples). The round trips include T_fallback on
the fallback path. Every vote is a signed statement (one Ed25519 signature per share, verified
by whoever takes it).

Run: ./dev bench   (or .venv/bin/python benchmarks/consensus.py)
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
import attrs

from aura_consensus.params import ConsensusParams
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.hashing import Hash32, tagged_hash, u64
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_guards.transport import GuardedTransport
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_protocol import Dispatcher, EventKind, RuntimeEvent
from aura_protocol.consensus import (
    CAPABILITIES,
    Behavior,
    ConsensusConfig,
    ConsensusNode,
    Group,
)
from aura_sim import Simulation
from aura_sim.faults import LinkPolicy
from aura_sim.handlers import LoopClock, testing_effects
from aura_sim.network import SimNetwork
from aura_sim.seeds import SeedTree

LATENCY_MS = 10.0
RTT_S = 2 * LATENCY_MS / 1000
CONFIG = ConsensusConfig(fallback_s=0.3, gossip_s=0.2, deadline_s=10.0)
CONTEXT = ContextId(b"\xbe" * 16)
SIZES = (3, 7, 21)
SAMPLES = 7


@attrs.frozen
class PathFigures:
    messages: float
    round_trips: float
    signing_attempts: float
    wall_ms: float


@attrs.define
class _Cluster:
    nodes: list[ConsensusNode]
    network: SimNetwork
    names: list[str]
    group: Group
    keys: dict[AuthorityId, frost.KeyPackage]
    sent: list[RuntimeEvent]


async def _agree(params: ConsensusParams) -> Hash32:
    return params.prestate_hash


async def _build(n: int, stack: AsyncExitStack, sent: list[RuntimeEvent]) -> _Cluster:
    seeds = SeedTree(n)
    network = SimNetwork(
        latency=seeds.stream("latency"), faults=None, default=LinkPolicy(latency_ms=LATENCY_MS)
    )
    authorities = [AuthorityId((i + 1).to_bytes(2, "big") * 8) for i in range(n)]
    threshold = n // 2 + 1
    dealt, public = frost.generate_with_dealer(threshold, n, seeds.stream("dealer").bytes(32))
    keys = {a: frost.key_package(dealt[i]) for a, i in zip(authorities, sorted(dealt), strict=True)}
    signing = {
        a: SigningKey(seeds.child("key").stream(str(i)).bytes(32))
        for i, a in enumerate(authorities)
    }
    witnesses = WitnessSet.of(
        {a: k.identifier for a, k in keys.items()},
        threshold,
        keys={a: k.verifying_key for a, k in signing.items()},
    )
    group = Group(0, witnesses, public)
    names = [f"w{i}" for i in range(n)]
    nodes: list[ConsensusNode] = []
    bundles = []
    for index, who in enumerate(authorities):
        effects = testing_effects(
            n * 100 + index, authority=who, device=DeviceId(who.raw[::-1]), clock=LoopClock()
        )
        effects.flow.set_default(CONTEXT, UNLIMITED)
        token = issue_token(
            bytes([index + 1]) * 32,
            who,
            list(CAPABILITIES),
            seed=bytes(32),
            scope=ContextScope(CONTEXT),
        )
        effects.authorization.grant(CONTEXT, CapabilityFrontier.of(token))
        raw = network.attach(names[index], who)
        bundles.append(
            (effects, GuardedTransport(effects, raw, local=who, signing_key=signing[who]))
        )
    for index, (effects, _) in enumerate(bundles):
        for other in authorities:
            if other != authorities[index]:
                effects.peers.add(other, signing[other].verifying_key)
    for index, (effects, guarded) in enumerate(bundles):
        dispatcher = await stack.enter_async_context(
            Dispatcher(guarded, effects.trace, monitor=sent.append)
        )

        async def decided(_: object) -> None:
            return None

        node = await stack.enter_async_context(
            ConsensusNode(
                effects,
                dispatcher,
                context=CONTEXT,
                group=attrs.evolve(group, key_package=keys[authorities[index]]),
                prestate=_agree,
                on_decided=decided,
                signing_key=signing[authorities[index]],
                config=CONFIG,
            )
        )
        nodes.append(node)
    return _Cluster(nodes, network, names, group, keys, sent)


def _prestate(k: int) -> Hash32:
    return tagged_hash("bench.consensus.slot", u64(k))


async def _instance(cluster: _Cluster, k: int) -> tuple[int, float, int, float]:
    """One instance from node 0: (messages, virtual seconds to the initiator's commit, signing
    attempts, wall s)."""
    cluster.sent.clear()
    attempts = sum(node.counters["signing_attempts"] for node in cluster.nodes)
    wall = time.perf_counter()
    start = anyio.current_time()
    fact = await cluster.nodes[0].propose(b"operation %d" % k, _prestate(k))
    virtual = anyio.current_time() - start
    with anyio.fail_after(60):
        while not all(fact.consensus_id in node.decided for node in cluster.nodes):
            await anyio.sleep(0.01)
    await anyio.sleep(1.0)  # let the last messages of the instance land
    messages = sum(1 for e in cluster.sent if e.kind is EventKind.SENT)
    attempts = sum(node.counters["signing_attempts"] for node in cluster.nodes) - attempts
    return messages, virtual, attempts, time.perf_counter() - wall


def _bump(cluster: _Cluster, epoch: int) -> None:
    """A new group epoch for everyone: cached nonce commitments are dropped."""
    for node in cluster.nodes:
        node.set_group(attrs.evolve(node.group, epoch=epoch))


def run_path(n: int, path: str) -> PathFigures:
    results: list[tuple[int, float, int, float]] = []

    async def main() -> None:
        sent: list[RuntimeEvent] = []
        async with AsyncExitStack() as stack:
            cluster = await _build(n, stack, sent)
            if path == "fallback":
                # Witness 1's messages to the initiator arrive first, so it is always in the
                # first package; it never signs.
                cluster.network.set_link("w1", "w0", LinkPolicy(latency_ms=LATENCY_MS / 2))
                cluster.nodes[1].behavior = Behavior.WITHHOLD
            await _instance(cluster, 0)  # warm-up (and the first cached commitments)
            for k in range(1, SAMPLES + 1):
                if path != "fast":
                    _bump(cluster, k)
                results.append(await _instance(cluster, k))

    Simulation(n, max_steps=None).run(main)
    return PathFigures(
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results) / RTT_S,
        statistics.median(r[2] for r in results),
        statistics.median(r[3] for r in results) * 1000,
    )


def report(progress: Callable[[str], None] = print) -> dict[tuple[int, str], PathFigures]:
    """Run every size and path, printing the table row by row."""
    figures: dict[tuple[int, str], PathFigures] = {}
    progress("consensus per commit (SimNetwork, 10 ms one way; RTT = 20 ms; T_fallback = 0.3 s)")
    progress(
        f"{'witnesses':>9} {'t':>3} {'path':<9}{'messages':>10}{'RTTs':>8}{'signs':>7}"
        f"{'wall/commit':>13}"
    )
    for n in SIZES:
        for path in ("fast", "cold", "fallback"):
            f = run_path(n, path)
            figures[(n, path)] = f
            progress(
                f"{n:>9} {n // 2 + 1:>3} {path:<9}{f.messages:>10.0f}{f.round_trips:>8.1f}"
                f"{f.signing_attempts:>7.0f}{f.wall_ms:>10.1f} ms"
            )
    return figures


if __name__ == "__main__":
    report()
