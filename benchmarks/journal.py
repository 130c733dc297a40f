"""Journal throughput: validated ingest, join, and incremental versus full reduction.

1. Ingest: signed `FlowSpent` facts, each written by its flow's source (a member of the
   context), arrive as bytes; `Journal.ingest` strictly decodes them, checks every signature
   (one native batch per 500 facts, on every core, overlapping with the decoding of the next
   batch), checks each writer against the context's members, validates and adds them.
2. Join: two journals of 100,000 facts each that share half their facts.
3. One new fact on a 100,000-fact journal: the incremental view update (and the whole insert
   including validation) against a full reduction of the view from scratch.

Targets on the project's 2-core machine: ingest >= 15,000 facts/s; join <= 0.5 s; incremental
update <= 1 ms and at least 100x cheaper than full reduction.

Run: ./dev bench   (or .venv/bin/python benchmarks/journal.py)
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode, encode
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_core.time import OrderTime, PhysicalTime
from aura_journal.budget import FLOW_REDUCER, FlowSpent
from aura_journal.context import ContextGenesis, ContextMember
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_journal.journal import Journal
from aura_journal.standard import standard_registry
from benchmarks._harness import format_ns, measure

PEERS = [AuthorityId(i.to_bytes(16, "big")) for i in range(20)]
SIGNERS = [SigningKey(bytes([i + 1]) * 32) for i in range(20)]
"""Each peer's key in the context: a flow's spending is signed by its source."""
GENESIS = ContextGenesis.create(
    [ContextMember(p, k.verifying_key) for p, k in zip(PEERS, SIGNERS, strict=True)], 11, bytes(32)
)
CONTEXT = JournalNamespace.of(GENESIS.context)
REGISTRY = standard_registry()
BATCH = 500


def _fact(payload: object, type_id: str, version: int, i: int, key: SigningKey) -> Fact:
    body = FactBody(
        CONTEXT,
        type_id,
        version,
        encode(payload),
        OrderTime(hashlib.sha256(i.to_bytes(8, "big")).digest()),
        PhysicalTime(1_763_700_000_000 + i),
    )
    return sign_fact(body, key)


GENESIS_FACT = _fact(GENESIS, "context.genesis", 1, 2**63, SIGNERS[0])


def make_facts(start: int, count: int) -> list[Fact]:
    """Signed flow facts over 20 x 20 flows (a realistic number of peers in one context)."""
    facts = []
    for i in range(start, start + count):
        payload = FlowSpent(
            PEERS[i % 20], PEERS[(i // 20) % 20], 0, i, i + 1, Hash32.of(i.to_bytes(8, "big"))
        )
        facts.append(_fact(payload, "flow.spent", 2, i, SIGNERS[i % 20]))
    return facts


def founded() -> Journal:
    journal = Journal(CONTEXT, REGISTRY)
    journal.insert(GENESIS_FACT)
    return journal


def build(facts: list[Fact]) -> Journal:
    journal = founded()
    for i in range(0, len(facts), BATCH):
        journal.insert_batch(facts[i : i + BATCH])
    return journal


def ingest(wire: list[bytes]) -> float:
    """Seconds to decode, verify, validate and add every fact."""
    journal = founded()
    start = time.perf_counter()
    journal.ingest(wire, batch=BATCH)
    elapsed = time.perf_counter() - start
    assert len(journal) == len(wire) + 1
    return elapsed


def main() -> None:
    print("generating 150,000 signed facts ...", flush=True)
    facts = make_facts(0, 150_000)

    wire = [fact.encoded for fact in facts[:20_000]]
    runs = [ingest(wire) for _ in range(5)]
    rates = sorted(len(wire) / r for r in runs)
    print("\nValidated ingest of signed facts (20,000 facts, batches of 500, 5 runs)")
    print(
        f"  median {statistics.median(rates):,.0f} facts/s"
        f"  (min {rates[0]:,.0f}, max {rates[-1]:,.0f})"
    )
    print("  target >= 15,000 facts/s")

    print("\nbuilding two 100,000-fact journals sharing 50,000 facts ...", flush=True)
    left, right = build(facts[:100_000]), build(facts[50_000:])
    join = measure("join", lambda: left.join(right), samples=7, batch=1)
    joined = left.join(right)
    assert len(joined) == 150_001
    print("\nJoin of two 100,000-fact journals (result: 150,000 facts)")
    print(
        f"  median {format_ns(join.median)}"
        f"  (min {format_ns(join.low)}, max {format_ns(join.high)})  target <= 0.5 s"
    )

    journal = left
    view = journal.view(FLOW_REDUCER)
    assert view == journal.full_view(FLOW_REDUCER)
    extra = make_facts(1_000_000, 200)
    decoded = [(fact, decode(fact.body.payload, FlowSpent)) for fact in extra]
    position = iter(range(10**9))

    def incremental() -> object:
        fact, payload = decoded[next(position) % len(decoded)]
        return FLOW_REDUCER.apply(view, fact, payload)

    inserts = iter(extra)

    def insert_one() -> object:
        return journal.insert(next(inserts))

    update = measure("incremental view update", incremental, samples=31)
    insert = measure("insert + validate + update", insert_one, samples=31, batch=5)
    full = measure("full reduction", lambda: journal.full_view(FLOW_REDUCER), samples=5, batch=1)
    assert journal.view(FLOW_REDUCER) == journal.full_view(FLOW_REDUCER)
    print(f"\nOne new fact on a {len(journal):,}-fact journal (flow view over 400 flows)")
    for timing in (update, insert, full):
        print(
            f"  {timing.name:<28} median {format_ns(timing.median):>10}"
            f"  (min {format_ns(timing.low)}, max {format_ns(timing.high)})"
        )
    print(f"  full / incremental update = {full.median / update.median:,.0f}x")
    print(f"  full / whole insert       = {full.median / insert.median:,.0f}x")
    print("  targets: incremental <= 1 ms and >= 100x cheaper than full reduction")


if __name__ == "__main__":
    main()
