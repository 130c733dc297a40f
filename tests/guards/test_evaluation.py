"""Pure evaluation of the guard chain: determinism, denials and command order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.errors import InvalidArgument
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId
from aura_guards.chain import (
    AppendJournal,
    Authorized,
    ChargeBudget,
    Denied,
    GuardAnnotations,
    GuardSnapshot,
    RecordLeakage,
    SendEnvelope,
    SendRequest,
    evaluate,
)
from aura_journal.budget import NOT_CONFIGURED, UNLIMITED, Capped, FlowBudget
from aura_journal.leakage import LeakageLedger, LeakageLimits, ObserverClass
from aura_journal.receipt import ReceiptHead, message_digest

ALICE, BOB = AuthorityId(b"\xa1" * 16), AuthorityId(b"\xb0" * 16)
CONTEXT = ContextId(b"\xc1" * 16)
NOW = 10_000_000

guards = st.one_of(
    st.fixed_dictionaries({"capability": st.sampled_from(["chat:send", "tree:rotate"])}),
    st.fixed_dictionaries({"public": st.sampled_from(["presence beacon", "discovery"])}),
)
annotations = st.none() | st.builds(
    lambda guard, **rest: GuardAnnotations(**guard, **rest),
    guards,
    flow_cost=st.integers(0, 300),
    journal_label=st.none() | st.sampled_from(["consensus_complete", "invite"]),
    leak=st.lists(st.sampled_from(ObserverClass), max_size=3, unique=True).map(tuple),
)
requests = st.builds(
    SendRequest,
    context=st.just(CONTEXT),
    peer=st.just(BOB),
    operation=st.sampled_from(["chat.message", "consensus.execute"]),
    body=st.binary(max_size=64) | st.just(bytes(64 * 1024 + 1)),
    annotations=annotations,
)


@st.composite
def ledgers(draw: st.DrawFn) -> LeakageLedger:
    ledger = LeakageLedger()
    for observer in ObserverClass:
        for at in draw(st.lists(st.integers(NOW - 2000, NOW), max_size=4)):
            ledger = ledger.record(observer, at, draw(st.integers(0, 3)))
    return ledger


snapshots = st.builds(
    GuardSnapshot,
    now_ms=st.just(NOW),
    local=st.just(ALICE),
    known_peer=st.booleans(),
    capability_allowed=st.booleans(),
    budget=st.builds(
        FlowBudget,
        limit=st.sampled_from([UNLIMITED, NOT_CONFIGURED]) | st.builds(Capped, st.integers(0, 600)),
        spent=st.integers(0, 600),
        epoch=st.integers(0, 3),
    ),
    leakage=ledgers(),
    leakage_limits=st.builds(
        LeakageLimits,
        external=st.integers(0, 12),
        neighbor=st.integers(0, 12),
        group=st.integers(0, 12),
        window_ms=st.just(1000),
    ),
    receipt_head=st.builds(
        ReceiptHead, st.integers(0, 100), st.binary(min_size=32, max_size=32).map(Hash32)
    ),
)


def test_annotations_name_a_capability_or_a_public_reason() -> None:
    for bad in [
        {},
        {"flow_cost": 0},
        {"capability": "chat:send", "public": "both"},
        {"public": ""},
        {"public": "   "},
    ]:
        with pytest.raises(InvalidArgument):
            GuardAnnotations(**bad)  # type: ignore[arg-type]
    assert GuardAnnotations(public="presence beacon").capability is None


@given(snapshots, requests)
def test_evaluation_is_pure(snapshot: GuardSnapshot, request: SendRequest) -> None:
    assert evaluate(snapshot, request) == evaluate(snapshot, request)


@given(snapshots, requests)
def test_outcomes(snapshot: GuardSnapshot, request: SendRequest) -> None:
    outcome = evaluate(snapshot, request)
    ann = request.annotations
    if ann is None:
        assert outcome == Denied("unguarded", outcome.detail)  # type: ignore[union-attr]
        return
    if snapshot.budget.limit == NOT_CONFIGURED:  # closed by default, whatever the cost
        assert isinstance(outcome, Denied)
    if isinstance(outcome, Denied):
        expected = {
            "unguarded",
            "oversized",
            "unknown_peer",
            "capability",
            "unconfigured_flow",
            "budget",
            "leakage",
        }
        assert outcome.reason in expected
        if outcome.reason == "capability":
            assert ann.public is None and not snapshot.capability_allowed
        if outcome.reason == "unconfigured_flow":
            assert snapshot.budget.limit == NOT_CONFIGURED
        if outcome.reason == "budget":
            assert not snapshot.budget.can_charge(ann.flow_cost)
        return
    assert isinstance(outcome, Authorized)
    assert snapshot.known_peer and len(request.body) <= 64 * 1024
    assert snapshot.capability_allowed or ann.public is not None  # public skips only this guard
    kinds = [type(c) for c in outcome.commands]
    # Exactly one charge first, one send last; journal before leakage.
    assert kinds[0] is ChargeBudget and kinds[-1] is SendEnvelope
    assert kinds.count(ChargeBudget) == 1 and kinds.count(SendEnvelope) == 1
    order = {ChargeBudget: 0, AppendJournal: 1, RecordLeakage: 2, SendEnvelope: 3}
    assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
    charge = outcome.commands[0]
    assert isinstance(charge, ChargeBudget)
    budget = snapshot.budget
    assert charge.spent_after == budget.spent + ann.flow_cost
    assert budget.limit == UNLIMITED or charge.spent_after <= budget.limit.units  # type: ignore[union-attr]
    receipt = charge.receipt
    assert (receipt.nonce, receipt.prev) == (
        snapshot.receipt_head.nonce + 1,
        snapshot.receipt_head.digest,
    )
    assert (receipt.epoch, receipt.cost, receipt.payload) == (
        budget.epoch,
        ann.flow_cost,
        message_digest(request.operation, request.body),
    )
    leaks = [c for c in outcome.commands if isinstance(c, RecordLeakage)]
    assert [c.observer for c in leaks] == list(ann.leak)
    for observer in ann.leak:
        used = snapshot.leakage.consumed(observer, NOW, snapshot.leakage_limits.window_ms)
        assert used + 1 <= snapshot.leakage_limits.limit(observer)
