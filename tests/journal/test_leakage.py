"""Leakage ledger: per-class windows, resets and limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.errors import LeakageExceeded
from aura_journal.leakage import (
    LEAKAGE_REDUCER,
    LeakageLedger,
    LeakageLimits,
    LeakageRecorded,
    LeakageReset,
    ObserverClass,
)
from tests.journal.helpers import insert_local, journal, local

LIMITS = LeakageLimits(external=100, neighbor=50, group=10, window_ms=1000)


def ledger(events: list[tuple[ObserverClass, int, int]], resets: list[int] = ()) -> LeakageLedger:  # type: ignore[assignment]
    j = journal()
    facts = [
        local(LeakageRecorded(o, a, t, "send"), ("e", i)) for i, (o, a, t) in enumerate(events)
    ]
    facts += [local(LeakageReset(t), ("r", t)) for t in resets]
    insert_local(j, facts)
    return j.view(LEAKAGE_REDUCER)


def test_window_and_reset() -> None:
    view = ledger(
        [
            (ObserverClass.EXTERNAL, 30, 100),
            (ObserverClass.EXTERNAL, 40, 900),
            (ObserverClass.GROUP, 5, 950),
        ]
    )
    assert view.consumed(ObserverClass.EXTERNAL, 1000, 1000) == 70
    assert (
        view.consumed(ObserverClass.EXTERNAL, 1100, 1000) == 40
    )  # the event at 100 left the window
    assert view.consumed(ObserverClass.NEIGHBOR, 1000, 1000) == 0
    reset = ledger(
        [(ObserverClass.EXTERNAL, 30, 100), (ObserverClass.EXTERNAL, 40, 900)], resets=[500]
    )
    assert reset.consumed(ObserverClass.EXTERNAL, 1000, 1000) == 40


@given(
    st.lists(
        st.tuples(st.sampled_from(ObserverClass), st.integers(0, 20), st.integers(0, 2000)),
        max_size=15,
    ),
    st.sampled_from(ObserverClass),
    st.integers(0, 60),
    st.integers(0, 3000),
)
def test_check_never_lets_a_class_exceed_its_limit(
    events: list[tuple[ObserverClass, int, int]], observer: ObserverClass, amount: int, now: int
) -> None:
    view = ledger(events)
    used = view.consumed(observer, now, LIMITS.window_ms)
    if used + amount <= LIMITS.limit(observer):
        view.check(observer, amount, now, LIMITS)
    else:
        with pytest.raises(LeakageExceeded):
            view.check(observer, amount, now, LIMITS)
