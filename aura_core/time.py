"""Timestamps in four domains and their comparison under an explicit policy.

`PhysicalTime` (milliseconds, for guards, receipts and timeouts), `LogicalTime` (a vector clock
plus a Lamport counter, for causality), `OrderTime` (32 opaque bytes giving a total order with no
timing meaning) and `RangeTime` (a validity window). Values of different domains are never
ordered against each other: `compare` says `INCOMPARABLE`. Nothing here reads a clock; time
enters through `PhysicalTimeEffects` or as data.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from aura_core.encoding import encode, record
from aura_core.errors import InvalidArgument
from aura_core.ids import DeviceId

__all__ = [
    "PhysicalTime",
    "LogicalTime",
    "OrderTime",
    "RangeTime",
    "TimeStamp",
    "TimeOrdering",
    "TieBreak",
    "ComparePolicy",
    "compare",
]

_U64 = 2**64


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < _U64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


def _uncertainty(_: object, __: object, value: int | None) -> None:
    # 0 would mean the same as None (`compare` reads None as 0), so it is refused: one value,
    # one encoding.
    if value is not None and (type(value) is not int or not 0 < value < _U64):
        raise InvalidArgument("uncertainty_ms is None or a positive unsigned 64-bit integer")


@record("time.physical")
@attrs.frozen
class PhysicalTime:
    """Milliseconds since the Unix epoch, with an optional ± uncertainty (None: exact)."""

    ts_ms: int = attrs.field(validator=_u64)
    uncertainty_ms: int | None = attrs.field(default=None, validator=_uncertainty)


def _vector(_: object, __: object, vector: dict[DeviceId, int]) -> None:
    if type(vector) is not dict:
        raise InvalidArgument("a vector clock is a dict of DeviceId to counter")
    for device, count in vector.items():
        if type(device) is not DeviceId:
            raise InvalidArgument("vector clock keys are DeviceIds")
        if type(count) is not int or not 0 < count < _U64:
            raise InvalidArgument(
                "vector clock counters are positive unsigned 64-bit integers "
                "(a device at 0 is left out; `LogicalTime.of` drops zeros)"
            )


@record("time.logical")
@attrs.frozen
class LogicalTime:
    """A vector clock and a Lamport counter.

    A device missing from `vector` counts 0, so the vector lists only positive counters: an
    explicit 0 would be a second encoding of the same clock. The constructor (and so the
    decoder) refuses zeros; `LogicalTime.of` drops them.
    """

    vector: dict[DeviceId, int] = attrs.field(validator=_vector, hash=False)
    lamport: int = attrs.field(validator=_u64)

    @classmethod
    def of(cls, vector: Mapping[DeviceId, int], lamport: int) -> LogicalTime:
        """A clock from counters in any mapping, zeros dropped."""
        if not isinstance(vector, Mapping):
            raise InvalidArgument("a vector clock is a mapping of DeviceId to counter")
        return cls({d: c for d, c in vector.items() if not (type(c) is int and c == 0)}, lamport)

    def dominated_by(self, other: LogicalTime) -> bool:
        """Whether every counter here is ≤ the matching counter of `other`."""
        return all(count <= other.vector.get(device, 0) for device, count in self.vector.items())


def _token32(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidArgument("an OrderTime token is exactly 32 bytes")


@record("time.order")
@attrs.frozen(order=True)
class OrderTime:
    """An opaque 32-byte token that orders bytewise and says nothing about wall time."""

    token: bytes = attrs.field(validator=_token32)


@record("time.range")
@attrs.frozen
class RangeTime:
    """A validity window [earliest_ms, latest_ms]."""

    earliest_ms: int = attrs.field(validator=_u64)
    latest_ms: int = attrs.field(validator=_u64)

    def __attrs_post_init__(self) -> None:
        if self.earliest_ms > self.latest_ms:
            raise InvalidArgument("a time range needs earliest_ms <= latest_ms")


TimeStamp = PhysicalTime | LogicalTime | OrderTime | RangeTime


class TimeOrdering(enum.Enum):
    """How two timestamps relate."""

    BEFORE = "before"
    AFTER = "after"
    EQUAL = "equal"
    CONCURRENT = "concurrent"
    """Logical clocks neither of which happened before the other."""
    OVERLAPPING = "overlapping"
    """Windows (or physical times with uncertainty) that intersect."""
    INCOMPARABLE = "incomparable"
    """Timestamps of different domains."""

    def flipped(self) -> TimeOrdering:
        """The ordering seen from the other side."""
        if self is TimeOrdering.BEFORE:
            return TimeOrdering.AFTER
        if self is TimeOrdering.AFTER:
            return TimeOrdering.BEFORE
        return self


class TieBreak(enum.Enum):
    """What to do with concurrent logical clocks."""

    NATIVE = "native"
    """Report `CONCURRENT`."""
    DETERMINISTIC = "deterministic"
    """Order by (Lamport counter, canonical bytes), the same on every replica."""


@attrs.frozen
class ComparePolicy:
    """The explicit rules `compare` follows."""

    tie_break: TieBreak = TieBreak.NATIVE
    physical_uncertainty: bool = False
    """Treat physical times as windows ±uncertainty (intersecting windows are OVERLAPPING)."""


def _by_key(a: object, b: object) -> TimeOrdering:
    if a < b:  # type: ignore[operator]
        return TimeOrdering.BEFORE
    if b < a:  # type: ignore[operator]
        return TimeOrdering.AFTER
    return TimeOrdering.EQUAL


def _windows(lo_a: int, hi_a: int, lo_b: int, hi_b: int) -> TimeOrdering:
    if (lo_a, hi_a) == (lo_b, hi_b):
        return TimeOrdering.EQUAL
    if hi_a < lo_b:
        return TimeOrdering.BEFORE
    if hi_b < lo_a:
        return TimeOrdering.AFTER
    return TimeOrdering.OVERLAPPING


def _logical(a: LogicalTime, b: LogicalTime, policy: ComparePolicy) -> TimeOrdering:
    a_le_b, b_le_a = a.dominated_by(b), b.dominated_by(a)
    if a_le_b and b_le_a:
        return _by_key(a.lamport, b.lamport)
    if a_le_b:
        return TimeOrdering.BEFORE
    if b_le_a:
        return TimeOrdering.AFTER
    if policy.tie_break is TieBreak.NATIVE:
        return TimeOrdering.CONCURRENT
    return _by_key((a.lamport, encode(a)), (b.lamport, encode(b)))


def compare(a: TimeStamp, b: TimeStamp, policy: ComparePolicy) -> TimeOrdering:
    """How `a` relates to `b` under `policy`.

    Reflexive (`EQUAL` with itself), antisymmetric (`compare(b, a)` is the flip of
    `compare(a, b)`), and `BEFORE` is transitive within a domain. Mixed domains are
    `INCOMPARABLE`.
    """
    if type(a) is not type(b):
        return TimeOrdering.INCOMPARABLE
    if isinstance(a, PhysicalTime) and isinstance(b, PhysicalTime):
        if not policy.physical_uncertainty:
            return _by_key(a.ts_ms, b.ts_ms)
        ua, ub = a.uncertainty_ms or 0, b.uncertainty_ms or 0
        return _windows(a.ts_ms - ua, a.ts_ms + ua, b.ts_ms - ub, b.ts_ms + ub)
    if isinstance(a, OrderTime) and isinstance(b, OrderTime):
        return _by_key(a.token, b.token)
    if isinstance(a, RangeTime) and isinstance(b, RangeTime):
        return _windows(a.earliest_ms, a.latest_ms, b.earliest_ms, b.latest_ms)
    if isinstance(a, LogicalTime) and isinstance(b, LogicalTime):
        return _logical(a, b, policy)
    raise InvalidArgument(f"not a timestamp: {type(a).__name__}")
