"""Leakage ledger: per-class windows, resets, limits, and a view that does not grow.

The ledger keeps only events within `MAX_WINDOW_MS` of its latest event; these tests hold it to
a naive model (every event kept) for every window it covers, and check that it is a value and
a pure function of the set of facts: any arrival order, incremental or full reduction, branches
taken from one ledger, and snapshots all give the same answers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.encoding import decode, encode
from aura_core.errors import InvalidArgument, LeakageExceeded, SchemaError
from aura_journal.fact import Fact, Unattested
from aura_journal.leakage import (
    LEAKAGE_REDUCER,
    MAX_WINDOW_MS,
    LeakageLedger,
    LeakageLimits,
    LeakageRecorded,
    LeakageReset,
    LeakageState,
    ObserverClass,
)
from aura_journal.registry import Origin
from tests.journal.helpers import CONTEXT_NS, body, journal

LIMITS = LeakageLimits(external=100, neighbor=50, group=10, window_ms=1000)
Event = tuple[ObserverClass, int, int]  # observer, at_ms, amount


def local(payload: LeakageRecorded | LeakageReset, label: object) -> Fact:
    """A leakage fact as the device writes it: local-only, unattested."""
    return Fact(body(CONTEXT_NS, payload, label), Unattested())


def facts(events: Sequence[Event], resets: Sequence[int] = ()) -> list[Fact]:
    out = [local(LeakageRecorded(o, a, t, "send"), ("e", i)) for i, (o, t, a) in enumerate(events)]
    return out + [local(LeakageReset(t), ("r", i)) for i, t in enumerate(resets)]


def ledger(events: Sequence[Event], resets: Sequence[int] = ()) -> LeakageLedger:
    j = journal()
    j.insert_batch(facts(events, resets), origin=Origin.LOCAL)
    return j.view(LEAKAGE_REDUCER)


def folded(events: Sequence[Event], resets: Sequence[int] = ()) -> LeakageLedger:
    view = LeakageLedger()
    for observer, at, amount in events:
        view = view.record(observer, at, amount)
    for at in resets:
        view = view.reset(at)
    return view


def naive(
    events: Sequence[Event], resets: Sequence[int], observer: ObserverClass, now: int, window: int
) -> int | None:
    """What the ledger must answer if it kept everything; None where it may not answer."""
    start = max([now - window, *resets])
    if events and start < max(t for _, t, _ in events) - MAX_WINDOW_MS:
        return None
    return sum(a for o, t, a in events if o is observer and start < t <= now)


def test_window_and_reset() -> None:
    view = ledger(
        [
            (ObserverClass.EXTERNAL, 100, 30),
            (ObserverClass.EXTERNAL, 900, 40),
            (ObserverClass.GROUP, 950, 5),
        ]
    )
    assert view.consumed(ObserverClass.EXTERNAL, 1000, 1000) == 70
    assert view.consumed(ObserverClass.EXTERNAL, 1100, 1000) == 40  # 100 left the window
    assert view.consumed(ObserverClass.EXTERNAL, 800, 1000) == 30  # 900 is after "now"
    assert view.consumed(ObserverClass.NEIGHBOR, 1000, 1000) == 0
    reset = ledger(
        [(ObserverClass.EXTERNAL, 100, 30), (ObserverClass.EXTERNAL, 900, 40)], resets=[500]
    )
    assert reset.consumed(ObserverClass.EXTERNAL, 1000, 1000) == 40


def test_old_events_are_dropped_and_a_clock_far_behind_fails_closed() -> None:
    week = MAX_WINDOW_MS
    events = [(ObserverClass.GROUP, t, 1) for t in range(0, 3 * week, week // 10)]
    view = folded(events)
    latest = events[-1][1]
    kept = view.state().events[ObserverClass.GROUP]
    assert all(t > latest - week for t, _ in kept) and len(kept) == 10  # the rest were dropped
    assert view.consumed(ObserverClass.GROUP, latest, week) == 10
    assert view.covers(latest - week // 2, LIMITS.window_ms)
    behind = latest - week  # a window ending here reaches past what is kept
    assert not view.covers(behind, LIMITS.window_ms)
    with pytest.raises(InvalidArgument):
        view.consumed(ObserverClass.GROUP, behind, LIMITS.window_ms)
    with pytest.raises(LeakageExceeded, match="unknown"):
        view.check(ObserverClass.GROUP, 0, behind, LIMITS)
    assert view.reset(behind).covers(behind, LIMITS.window_ms)  # a reset clears the doubt


def test_limits_window_is_bounded_by_what_a_ledger_keeps() -> None:
    LeakageLimits(window_ms=MAX_WINDOW_MS)
    for window in (0, MAX_WINDOW_MS + 1):
        with pytest.raises(InvalidArgument):
            LeakageLimits(window_ms=window)


@given(
    st.lists(
        st.tuples(st.sampled_from(ObserverClass), st.integers(0, 2000), st.integers(0, 20)),
        max_size=15,
    ),
    st.sampled_from(ObserverClass),
    st.integers(0, 60),
    st.integers(0, 3000),
)
def test_check_never_lets_a_class_exceed_its_limit(
    events: list[Event], observer: ObserverClass, amount: int, now: int
) -> None:
    view = ledger(events)
    used = view.consumed(observer, now, LIMITS.window_ms)
    if used + amount <= LIMITS.limit(observer):
        view.check(observer, amount, now, LIMITS)
    else:
        with pytest.raises(LeakageExceeded):
            view.check(observer, amount, now, LIMITS)


# ------------------------------------------------------------------------- the view's laws

W = MAX_WINDOW_MS
times = st.one_of(
    st.integers(0, 3 * W),  # spread over several retention spans: pruning happens
    st.integers(W, W + 5000),  # clustered: equal and near-equal times
)
event_lists = st.lists(
    st.tuples(st.sampled_from(ObserverClass), times, st.integers(0, 5)), max_size=40
)
reset_lists = st.lists(st.integers(0, 3 * W), max_size=2)


@st.composite
def queries(draw: st.DrawFn, events: Sequence[Event]) -> tuple[ObserverClass, int, int]:
    anchor = draw(st.sampled_from([t for _, t, _ in events] or [0]))
    now = max(anchor + draw(st.integers(-W, W)), 0)
    window = draw(st.sampled_from([1, 1000, W // 7, W // 2, W]))
    return draw(st.sampled_from(ObserverClass)), now, window


@settings(max_examples=300, deadline=None)
@given(event_lists, reset_lists, st.data())
def test_the_view_is_exact_for_every_window_it_covers(
    events: list[Event], resets: list[int], data: st.DataObject
) -> None:
    view = folded(events, resets)
    for _ in range(5):
        observer, now, window = data.draw(queries(events))
        expected = naive(events, resets, observer, now, window)
        if expected is None:
            assert not view.covers(now, window)
            with pytest.raises(InvalidArgument):
                view.consumed(observer, now, window)
        else:
            assert view.covers(now, window)
            assert view.consumed(observer, now, window) == expected


@settings(max_examples=300, deadline=None)
@given(event_lists, reset_lists, st.randoms(use_true_random=False))
def test_the_view_depends_only_on_the_set_of_facts(
    events: list[Event], resets: list[int], rng: random.Random
) -> None:
    reference = folded(sorted(events, key=lambda e: (e[1], e[2], e[0].value)), resets)
    shuffled = list(events)
    rng.shuffle(shuffled)
    mixed = [("e", e) for e in shuffled] + [("r", r) for r in resets]
    rng.shuffle(mixed)
    view = LeakageLedger()
    for kind, item in mixed:
        if kind == "e":
            observer, at, amount = item  # type: ignore[misc]
            view = view.record(observer, at, amount)
        else:
            view = view.reset(item)  # type: ignore[arg-type]
    assert view == reference
    assert view.state() == reference.state()
    data = LEAKAGE_REDUCER.encode_view(view)
    assert data == LEAKAGE_REDUCER.encode_view(reference)  # snapshots compare bytes
    restored = LEAKAGE_REDUCER.decode_view(data)
    assert restored == view
    later = (ObserverClass.EXTERNAL, 3 * W + 1, 1)
    assert restored.record(*later) == view.record(*later) == reference.record(*later)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2 * W), st.integers(0, 5)), min_size=60, max_size=300),
    st.randoms(use_true_random=False),
    st.data(),
)
def test_many_out_of_order_arrivals_are_merged_exactly(
    pairs: list[tuple[int, int]], rng: random.Random, data: st.DataObject
) -> None:
    events = [(ObserverClass.NEIGHBOR, t, a) for t, a in pairs]
    backwards = sorted(events, key=lambda e: -e[1])  # every arrival older than the last
    shuffled = list(events)
    rng.shuffle(shuffled)
    reference = folded(sorted(events, key=lambda e: e[1]))
    for order in (backwards, shuffled):
        view = folded(order)
        assert view == reference
        for _ in range(5):
            _, now, window = data.draw(queries(events))
            expected = naive(events, [], ObserverClass.NEIGHBOR, now, window)
            if expected is not None:
                assert view.consumed(ObserverClass.NEIGHBOR, now, window) == expected


@settings(max_examples=150, deadline=None)
@given(event_lists, reset_lists, st.randoms(use_true_random=False))
def test_incremental_reduction_equals_full_reduction(
    events: list[Event], resets: list[int], rng: random.Random
) -> None:
    all_facts = facts(events, resets)
    incremental = journal()
    incremental.view(LEAKAGE_REDUCER)  # cached first: every insert updates it in place
    rng.shuffle(all_facts)
    for fact in all_facts:
        incremental.insert(fact, origin=Origin.LOCAL)
    assert incremental.view(LEAKAGE_REDUCER) == incremental.full_view(LEAKAGE_REDUCER)
    assert incremental.view(LEAKAGE_REDUCER) == folded(events, resets)


@settings(max_examples=200, deadline=None)
@given(event_lists, event_lists, event_lists)
def test_ledgers_are_values_when_branches_share_their_storage(
    base: list[Event], left: list[Event], right: list[Event]
) -> None:
    root = folded(base)
    before = root.state()
    a = b = root
    for event in left:
        a = a.record(*event)
    for event in right:  # extends the same runs `a` extended: must not see `a`'s events
        b = b.record(*event)
    a_again = root
    for event in left:
        a_again = a_again.record(*event)
    assert root.state() == before
    assert a == folded(base + left) == a_again
    assert b == folded(base + right)


def test_a_staged_view_that_is_thrown_away_leaves_the_committed_one_intact() -> None:
    j = journal()
    j.insert_batch(facts([(ObserverClass.GROUP, t, 1) for t in range(10)]), origin=Origin.LOCAL)
    committed = j.view(LEAKAGE_REDUCER)
    staged = j.stage(
        [local(LeakageRecorded(ObserverClass.GROUP, 50, 10, "x"), "staged")], origin=Origin.LOCAL
    )
    del staged  # a send whose storage batch failed: never committed
    assert j.view(LEAKAGE_REDUCER).consumed(ObserverClass.GROUP, 10, 1000) == 10
    assert j.view(LEAKAGE_REDUCER) is committed
    thrown = j.copy()  # a twin shares the cached view and extends it first
    thrown.insert(
        local(LeakageRecorded(ObserverClass.GROUP, 100, 10, "x"), "thrown"), origin=Origin.LOCAL
    )
    assert thrown.view(LEAKAGE_REDUCER).consumed(ObserverClass.GROUP, 10, 1000) == 110
    assert committed.consumed(ObserverClass.GROUP, 10, 1000) == 10  # did not see it
    j.insert(local(LeakageRecorded(ObserverClass.GROUP, 2, 11, "y"), "kept"), origin=Origin.LOCAL)
    assert j.view(LEAKAGE_REDUCER).consumed(ObserverClass.GROUP, 11, 1000) == 12
    assert j.view(LEAKAGE_REDUCER) == j.full_view(LEAKAGE_REDUCER)
    assert thrown.view(LEAKAGE_REDUCER).consumed(ObserverClass.GROUP, 10, 1000) == 110


def test_a_long_run_keeps_the_view_small() -> None:
    view = LeakageLedger()
    step = MAX_WINDOW_MS // 1000
    for i in range(20_000):  # 20 retention spans, in time order
        view = view.record(ObserverClass.EXTERNAL, i * step, 1)
    assert len(view.state().events[ObserverClass.EXTERNAL]) == 1000
    assert len(encode(view.state())) < 20_000


def test_a_corrupt_state_is_a_schema_error() -> None:
    with pytest.raises(InvalidArgument):
        LeakageState({ObserverClass.GROUP: ((5, 1), (3, 1))}, 5, None)
    good = encode(LeakageState({ObserverClass.GROUP: ((3, 1), (5, 1))}, 5, None))
    assert decode(good, LeakageState).latest_ms == 5
    bad = good.replace(b"\x82\x03\x01", b"\x83\x03\x01\x01")  # a triple instead of a pair
    with pytest.raises(SchemaError):
        decode(bad, LeakageState)
