"""Flow budgets: the lattice and charging."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import decode, encode
from aura_core.errors import BudgetExceeded, InvalidArgument
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_journal.budget import (
    NOT_CONFIGURED,
    UNLIMITED,
    Capped,
    FlowBudget,
    FlowCharge,
    FlowKey,
    FlowLedger,
    FlowLimit,
)
from aura_sim.testing.laws import check_semilattice

SOURCE, PEER = AuthorityId(b"\xa1" * 16), AuthorityId(b"\xb0" * 16)

limits: st.SearchStrategy[FlowLimit] = st.sampled_from([UNLIMITED, NOT_CONFIGURED]) | st.builds(
    Capped, st.integers(0, 1000)
)
budgets = st.builds(
    FlowBudget,
    limit=limits,
    spent=st.integers(0, 1000),
    epoch=st.integers(0, 5),
)
costs = st.integers(0, 2**32 - 1)


def test_join_is_a_semilattice_with_unlimited_identity() -> None:
    check_semilattice(budgets, FlowBudget.join, identity=FlowBudget(UNLIMITED, 0, 0))


def rank(limit: FlowLimit) -> float:
    """NOT_CONFIGURED < Capped(0) < Capped(1) < ... < UNLIMITED."""
    if isinstance(limit, Capped):
        return limit.units
    return float("inf") if limit == UNLIMITED else -1


@given(budgets, budgets)
def test_join_takes_lowest_limit_and_newest_epoch(a: FlowBudget, b: FlowBudget) -> None:
    j = a.join(b)
    assert j.limit == min(a.limit, b.limit, key=rank)
    if NOT_CONFIGURED in (a.limit, b.limit):
        assert j.limit == NOT_CONFIGURED  # an unconfigured side keeps the join closed
    assert (j.epoch, j.spent) == max((a.epoch, a.spent), (b.epoch, b.spent))
    if a.epoch > b.epoch:
        assert j.spent == a.spent  # a newer epoch resets what the older one spent


@given(budgets, costs)
def test_charge(budget: FlowBudget, cost: int) -> None:
    if isinstance(budget.limit, Capped) and budget.spent > budget.limit.units:
        return  # not a reachable state: charges never pass the limit
    if budget.limit == NOT_CONFIGURED:
        assert not budget.can_charge(cost) and budget.headroom == 0
    if budget.can_charge(cost):
        after = budget.charge(cost)
        assert after.spent == budget.spent + cost
        if isinstance(budget.limit, Capped):
            assert after.spent <= budget.limit.units
            assert after.headroom is not None and budget.headroom is not None
            assert after.headroom <= budget.headroom  # a charge never raises headroom
    else:
        with pytest.raises(BudgetExceeded):
            budget.charge(cost)


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_exact_charge_leaves_zero(limit: int, spent: int) -> None:
    spent = min(spent, limit)
    budget = FlowBudget(Capped(limit), spent, 0)
    assert budget.charge(limit - spent).headroom == 0
    with pytest.raises(BudgetExceeded):
        budget.charge(limit - spent + 1)


@given(budgets, st.integers(0, 8))
def test_rotate_epoch(budget: FlowBudget, epoch: int) -> None:
    rotated = budget.rotate_epoch(epoch)
    if epoch > budget.epoch:
        assert (rotated.epoch, rotated.spent, rotated.limit) == (epoch, 0, budget.limit)
    else:
        assert rotated == budget


def test_an_unconfigured_flow_refuses_even_a_free_charge() -> None:
    budget = FlowBudget(NOT_CONFIGURED, 0, 0)
    with pytest.raises(BudgetExceeded, match="no configured budget"):
        budget.charge(0)
    assert FlowBudget(Capped(0), 0, 0).charge(0).spent == 0  # a limit of 0 is not "unconfigured"


def test_invalid_values() -> None:
    for bad in (-1, 10, None):
        with pytest.raises(InvalidArgument):
            FlowBudget(limit=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Capped(-1)
    with pytest.raises(InvalidArgument):
        FlowBudget(Capped(10)).charge(-1)
    with pytest.raises(InvalidArgument):
        FlowBudget(Capped(10)).charge(2**32)


charges = st.builds(
    FlowCharge,
    epoch=st.integers(0, 5),
    spent=st.integers(0, 1000),
    nonce=st.integers(1, 2**64 - 1),
    receipt=st.binary(min_size=32, max_size=32).map(Hash32),
)


@given(
    st.integers(0, 5),
    st.none() | st.tuples(st.integers(0, 5), st.integers(0, 1000)),
    st.none() | charges,
    limits,
)
def test_a_flow_spends_the_join_of_its_register_and_the_journal(
    epoch: int,
    journaled: tuple[int, int] | None,
    charged: FlowCharge | None,
    limit: FlowLimit,
) -> None:
    entries: dict[FlowKey, tuple[int, ...]] = {}
    if journaled is not None:
        entries[FlowKey(SOURCE, PEER)] = journaled
    ledger = FlowLedger(entries)
    budget = ledger.budget(SOURCE, PEER, limit, epoch, charged)
    register = None if charged is None else (charged.epoch, charged.spent)
    expected = FlowBudget(UNLIMITED, 0, epoch)
    for entry in (journaled, register):
        if entry is not None and entry[0] == epoch:  # other epochs' spending does not count
            expected = expected.join(FlowBudget(UNLIMITED, entry[1], entry[0]))
    assert (budget.limit, budget.spent, budget.epoch) == (limit, expected.spent, epoch)
    assert budget.spent >= ledger.budget(SOURCE, PEER, limit, epoch).spent  # never lowers it


@given(charges)
def test_charge_register_round_trips(charge: FlowCharge) -> None:
    assert decode(encode(charge), FlowCharge) == charge


def test_charge_register_rejects_bad_values() -> None:
    receipt = Hash32.zero()
    for epoch, spent, nonce in [(-1, 0, 1), (0, 2**64, 1), (0, 0, "1")]:
        with pytest.raises(InvalidArgument):
            FlowCharge(epoch, spent, nonce, receipt)  # type: ignore[arg-type]
