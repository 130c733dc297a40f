"""Random sequences of sends, limit changes, epoch rotations and attenuations (testing bundle).

After every sequence: each delivered envelope had its charge durable before it left, in the
epoch of its receipt; no charge took a flow past the limit in force when it was made; every
receipt chain has consecutive nonces linked by `prev`; the receiver accepts every envelope; and
no observer class was charged past its limit.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_core.encoding import decode
from aura_core.errors import GuardDenied
from aura_core.hashing import Hash32
from aura_guards.transport import GuardedMessage
from aura_journal.budget import Capped
from aura_journal.capability import CapabilityFrontier
from aura_journal.leakage import LEAKAGE_REDUCER, MAX_WINDOW_MS, LeakageLimits, ObserverClass
from aura_journal.receipt import Receipt
from tests.guards.harness import BOB, CONTEXT, SEND, Recorder, pair

LIMITS = LeakageLimits(external=6, neighbor=4, group=2, window_ms=MAX_WINDOW_MS)

actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("send"),
            st.integers(0, 120),
            st.lists(st.sampled_from(ObserverClass), unique=True, max_size=2),
        ),
        st.tuples(st.just("limit"), st.integers(0, 600)),
        st.tuples(st.just("rotate")),
        st.tuples(st.just("attenuate"), st.sets(st.sampled_from(["chat:send", "chat:read"]))),
    ),
    min_size=5,
    max_size=30,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions)
def test_random_sequences_keep_the_invariants(
    tmp_path: Path, steps: list[tuple[object, ...]]
) -> None:
    anyio.run(run_sequence, tmp_path, steps)


async def run_sequence(tmp_path: Path, steps: list[tuple[object, ...]]) -> None:
    alice, bob, network = await pair("testing", tmp_path)
    alice.effects.leakage.set_limits(CONTEXT, LIMITS)
    epoch, limit = 0, 1000
    limit_at_charge: dict[bytes, int] = {}
    seed = 100
    for step in steps:
        if step[0] == "send":
            cost, leak = step[1], tuple(step[2])  # type: ignore[arg-type]
            annotations = attrs.evolve(SEND, flow_cost=cost, leak=leak)
            try:
                receipt = await alice.guarded.send(CONTEXT, BOB, "m", b"payload", annotations)
            except GuardDenied:
                continue
            limit_at_charge[receipt.digest.digest] = limit
        elif step[0] == "limit":
            limit = step[1]  # type: ignore[assignment]
            alice.effects.flow.set_limit(CONTEXT, BOB, Capped(limit))
        elif step[0] == "rotate":
            epoch += 1
            await alice.rotate_epoch(epoch)
            await bob.rotate_epoch(epoch)
        else:
            seed += 1
            journal_caps = sorted(step[1])  # type: ignore[arg-type]
            frontier = alice.effects.authorization._evaluators[CONTEXT].frontier
            assert frontier.token is not None
            narrower = frontier.token.attenuate(
                capabilities=journal_caps, seed=seed.to_bytes(32, "little")
            )
            alice.effects.authorization.grant(CONTEXT, CapabilityFrontier.of(narrower))

    recorder = alice.guarded._transport
    assert isinstance(recorder, Recorder)
    journal = await alice.journal()

    # Every delivered envelope's charge was durable before it left, in its receipt's epoch, and
    # added exactly the receipt's cost to what the flow had spent in that epoch.
    assert len(recorder.sent) == len(network.delivered)
    charges = []
    spent_before: dict[int, int] = {}
    for envelope, charge in recorder.sent:
        assert charge is not None
        receipt = decode(envelope.payload, GuardedMessage).receipt
        assert (charge.epoch, charge.nonce) == (receipt.body.epoch, receipt.body.nonce)
        assert charge.spent == spent_before.get(charge.epoch, 0) + receipt.body.cost
        spent_before[charge.epoch] = charge.spent
        charges.append(charge)

    assert await alice.spent(BOB) == spent_before.get(epoch, 0)

    # No charge passed the limit in force when it was made, within its epoch.
    for charge in charges:
        assert charge.spent <= limit_at_charge[charge.receipt.digest]

    # Receipt chains: consecutive nonces from 1, each linked to the previous receipt.
    sent = [decode(e.payload, GuardedMessage).receipt for e, _ in recorder.sent]
    by_epoch: dict[int, list[Receipt]] = {}
    for receipt in sent:
        by_epoch.setdefault(receipt.body.epoch, []).append(receipt)
    for chain in by_epoch.values():
        assert [r.body.nonce for r in chain] == list(range(1, len(chain) + 1))
        previous = Hash32.zero()
        for receipt in chain:
            assert receipt.body.prev == previous
            receipt.verify(alice.key.verifying_key)
            previous = receipt.digest
    for charged_epoch in {c.epoch for c in charges}:
        ordered = sorted(charges, key=lambda c: c.nonce)
        spent = [c.spent for c in ordered if c.epoch == charged_epoch]
        assert spent == sorted(spent)

    # The receiver accepts every envelope that was sent in its current epoch, in order.
    current = [
        e for e, _ in recorder.sent if decode(e.payload, GuardedMessage).receipt.body.epoch == epoch
    ]
    older = len(recorder.sent) - len(current)
    for _ in range(len(recorder.sent)):
        envelope = await bob.raw.receive()
        receipt = decode(envelope.payload, GuardedMessage).receipt
        if receipt.body.epoch == epoch:
            await bob.guarded.accept(envelope)
    assert older >= 0

    # Leakage never exceeds a class limit.
    ledger = journal.view(LEAKAGE_REDUCER)
    now = (await alice.effects.time.now()).ts_ms
    for observer in ObserverClass:
        assert ledger.consumed(observer, now, LIMITS.window_ms) <= LIMITS.limit(observer)
    assert ledger == journal.full_view(LEAKAGE_REDUCER)
