"""Flow budgets: the lattice and charging."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.errors import BudgetExceeded, InvalidArgument
from aura_core.lattice_laws import check_semilattice
from aura_journal.budget import FlowBudget

budgets = st.builds(
    FlowBudget,
    limit=st.none() | st.integers(0, 1000),
    spent=st.integers(0, 1000),
    epoch=st.integers(0, 5),
)
costs = st.integers(0, 2**32 - 1)


def test_join_is_a_semilattice_with_unlimited_identity() -> None:
    check_semilattice(budgets, FlowBudget.join, identity=FlowBudget(None, 0, 0))


@given(budgets, budgets)
def test_join_takes_lowest_limit_and_newest_epoch(a: FlowBudget, b: FlowBudget) -> None:
    j = a.join(b)
    limits = [x for x in (a.limit, b.limit) if x is not None]
    assert j.limit == (min(limits) if limits else None)
    assert (j.epoch, j.spent) == max((a.epoch, a.spent), (b.epoch, b.spent))
    if a.epoch > b.epoch:
        assert j.spent == a.spent  # a newer epoch resets what the older one spent


@given(budgets, costs)
def test_charge(budget: FlowBudget, cost: int) -> None:
    if budget.limit is not None and budget.spent > budget.limit:
        return  # not a reachable state: charges never pass the limit
    if budget.can_charge(cost):
        after = budget.charge(cost)
        assert after.spent == budget.spent + cost
        if budget.limit is not None:
            assert after.spent <= budget.limit
            assert after.headroom is not None and budget.headroom is not None
            assert after.headroom <= budget.headroom  # a charge never raises headroom
    else:
        with pytest.raises(BudgetExceeded):
            budget.charge(cost)


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_exact_charge_leaves_zero(limit: int, spent: int) -> None:
    spent = min(spent, limit)
    budget = FlowBudget(limit, spent, 0)
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


def test_invalid_values() -> None:
    with pytest.raises(InvalidArgument):
        FlowBudget(limit=-1)
    with pytest.raises(InvalidArgument):
        FlowBudget(10).charge(-1)
    with pytest.raises(InvalidArgument):
        FlowBudget(10).charge(2**32)
