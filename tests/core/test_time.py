"""Timestamp comparison under explicit policies."""

from __future__ import annotations

from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import Value, canonical_encode, decode, encode, to_value
from aura_core.errors import InvalidArgument, SchemaError
from aura_core.ids import DeviceId
from aura_core.time import (
    ComparePolicy,
    LogicalTime,
    OrderTime,
    PhysicalTime,
    RangeTime,
    TieBreak,
    TimeOrdering,
    TimeStamp,
    compare,
)

B, A, E = TimeOrdering.BEFORE, TimeOrdering.AFTER, TimeOrdering.EQUAL
DEVICES = [DeviceId(bytes([i]) * 16) for i in range(3)]

physical = st.builds(PhysicalTime, st.integers(0, 50), st.none() | st.integers(1, 5))


def _logical(counts: list[int]) -> LogicalTime:
    # A Lamport counter consistent with the vector (its sum), as real clocks produce.
    return LogicalTime.of(dict(zip(DEVICES, counts, strict=False)), sum(counts))


logical = st.lists(st.integers(0, 3), min_size=3, max_size=3).map(_logical)
order = st.binary(min_size=32, max_size=32).map(OrderTime) | st.sampled_from(
    [OrderTime(bytes(32)), OrderTime(b"\x01" * 32)]
)
ranges = st.tuples(st.integers(0, 30), st.integers(0, 10)).map(
    lambda t: RangeTime(t[0], t[0] + t[1])
)
stamps = physical | logical | order | ranges
policies = st.builds(ComparePolicy, st.sampled_from(TieBreak), st.booleans())


@given(stamps, policies)
def test_reflexive(a: TimeStamp, policy: ComparePolicy) -> None:
    assert compare(a, a, policy) is E


@given(stamps, stamps, policies)
def test_antisymmetric(a: TimeStamp, b: TimeStamp, policy: ComparePolicy) -> None:
    ab, ba = compare(a, b, policy), compare(b, a, policy)
    assert ab is ba.flipped()
    assert not (ab is B and ba is B)


@given(stamps, stamps, stamps, policies)
def test_before_is_transitive(
    a: TimeStamp, b: TimeStamp, c: TimeStamp, policy: ComparePolicy
) -> None:
    if compare(a, b, policy) is B and compare(b, c, policy) is B:
        assert compare(a, c, policy) is B


@given(stamps, stamps, policies)
def test_mixed_domains_are_incomparable(a: TimeStamp, b: TimeStamp, policy: ComparePolicy) -> None:
    if type(a) is not type(b):
        assert compare(a, b, policy) is TimeOrdering.INCOMPARABLE


def test_domain_rules() -> None:
    native, tie = ComparePolicy(), ComparePolicy(tie_break=TieBreak.DETERMINISTIC)
    windows = ComparePolicy(physical_uncertainty=True)
    assert compare(PhysicalTime(1), PhysicalTime(2), native) is B
    assert compare(PhysicalTime(10, 3), PhysicalTime(12, 3), windows) is TimeOrdering.OVERLAPPING
    assert compare(PhysicalTime(10, 3), PhysicalTime(12, 3), native) is B
    assert compare(RangeTime(0, 5), RangeTime(6, 9), native) is B
    assert compare(RangeTime(0, 6), RangeTime(6, 9), native) is TimeOrdering.OVERLAPPING
    x, y = _logical([1, 0, 0]), _logical([0, 1, 0])
    assert compare(x, y, native) is TimeOrdering.CONCURRENT
    assert compare(x, y, tie) in (B, A)
    assert compare(x, y, tie) is compare(y, x, tie).flipped()
    assert compare(_logical([1, 0, 0]), _logical([1, 1, 0]), native) is B
    assert compare(PhysicalTime(1), OrderTime(bytes(32)), native) is TimeOrdering.INCOMPARABLE


def test_vector_zeros_are_dropped_and_codec_round_trips() -> None:
    t = LogicalTime.of({DEVICES[0]: 0, DEVICES[1]: 2}, 2)
    assert t.vector == {DEVICES[1]: 2}
    assert t == LogicalTime({DEVICES[1]: 2}, 2)
    for stamp in (t, PhysicalTime(5, 1), OrderTime(bytes(32)), RangeTime(1, 2)):
        assert decode(encode(stamp), type(stamp)) == stamp


def test_a_second_encoding_of_the_same_time_is_refused() -> None:
    # An explicit zero counter, or a zero uncertainty, means the same as leaving it out: the
    # decoder refuses those bytes instead of normalising them (which would re-encode
    # differently and give one time two content ids).
    zero = to_value(LogicalTime({DEVICES[1]: 2}, 2))
    assert isinstance(zero, dict) and isinstance(zero["vector"], list)
    zero["vector"] = [[DEVICES[0].raw, 0], *zero["vector"]]
    exact = {**cast(dict[str, Value], to_value(PhysicalTime(5))), "uncertainty_ms": 0}
    for value, cls in ((zero, LogicalTime), (exact, PhysicalTime)):
        with pytest.raises(SchemaError, match=r"time\.(logical|physical) v1: field '(vector|unc)"):
            decode(canonical_encode(value), cls)


@pytest.mark.parametrize(
    "build",
    [
        lambda: PhysicalTime(-1),
        lambda: PhysicalTime(2**64),
        lambda: RangeTime(5, 4),
        lambda: OrderTime(bytes(31)),
        lambda: LogicalTime({DEVICES[0]: -1}, 0),
        lambda: LogicalTime({"d": 1}, 0),  # type: ignore[dict-item]
        lambda: LogicalTime({DEVICES[0]: 0}, 0),
        lambda: LogicalTime.of([(DEVICES[0], 1)], 0),  # type: ignore[arg-type]
        lambda: PhysicalTime(1, 0),
    ],
)
def test_invalid_timestamps(build: object) -> None:
    with pytest.raises(InvalidArgument):
        build()  # type: ignore[operator]
