"""Metadata-leakage accounting per observer class.

Every send that reveals metadata charges the context's leakage ledger for an observer class
(`external`, `neighbor`, `group`); limits are per context and per class over a rolling window
(24 h by default, at most `MAX_WINDOW_MS`). Charges are facts (`LeakageRecorded`), so the ledger
is a view; a `LeakageReset` fact makes every earlier event stop counting. Checking a charge
needs "now", which the caller passes in: the ledger itself never reads a clock.

The ledger stays small and cheap however long a device runs: it keeps only the events within
`MAX_WINDOW_MS` of the latest event it has seen (and after the latest reset), and adds an event
in amortised O(1) when events come in time order (as a device's own charges do). It is still a
pure function of the set of facts: "the latest event" is a property of the set, not a clock, so
every arrival order, and incremental or full reduction, keep the same events.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import operator
from collections.abc import Sequence
from typing import Any

import attrs

from aura_core.encoding import decode, encode, record
from aura_core.errors import InvalidArgument, LeakageExceeded
from aura_journal.fact import Fact, NamespaceKind
from aura_journal.registry import LOCAL_DEVICE, FactType

__all__ = [
    "DAY_MS",
    "MAX_WINDOW_MS",
    "ObserverClass",
    "LeakageLimits",
    "LeakageRecorded",
    "LeakageReset",
    "LeakageLedger",
    "LeakageState",
    "LeakageReducer",
    "LEAKAGE_REDUCER",
    "LEAKAGE_RECORDED",
    "LEAKAGE_RESET",
]

DAY_MS = 24 * 60 * 60 * 1000
MAX_WINDOW_MS = 7 * DAY_MS
"""The longest window a ledger answers for: it keeps the events within this of its latest."""


class ObserverClass(enum.Enum):
    """Who could observe the metadata a send reveals."""

    EXTERNAL = "external"
    NEIGHBOR = "neighbor"
    GROUP = "group"


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


def _window(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 1 <= value <= MAX_WINDOW_MS:
        raise InvalidArgument(f"a leakage window is 1 ms to {MAX_WINDOW_MS} ms (7 days)")


@attrs.frozen
class LeakageLimits:
    """Per-class limits over `window_ms` (defaults from the reference: 1000/500/100 per 24 h)."""

    external: int = attrs.field(default=1000, validator=_u64)
    neighbor: int = attrs.field(default=500, validator=_u64)
    group: int = attrs.field(default=100, validator=_u64)
    window_ms: int = attrs.field(default=DAY_MS, validator=_window)

    def limit(self, observer: ObserverClass) -> int:
        limit: int = getattr(self, observer.value)
        return limit


@record("leakage.recorded")
@attrs.frozen
class LeakageRecorded:
    """`amount` units of metadata became visible to `observer` at `at_ms`."""

    observer: ObserverClass
    amount: int = attrs.field(validator=_u64)
    at_ms: int = attrs.field(validator=_u64)
    operation: str


@record("leakage.reset")
@attrs.frozen
class LeakageReset:
    """Events at or before `at_ms` no longer count (a privacy reset)."""

    at_ms: int = attrs.field(validator=_u64)


class _Run:
    """An append-only, time-sorted run of events shared by successive ledgers.

    `keys[i]` is the i-th event's time, `amounts[i]` its amount and `cum[i]` the sum of the
    amounts 0..i. A ledger sees the slice [lo, hi) of a run; adding an event to the ledger that
    ends the run appends in place, which every older ledger (seeing a shorter slice) cannot
    observe. That is what keeps ledgers values while adding to them costs O(1).
    """

    __slots__ = ("amounts", "cum", "keys")

    def __init__(self, events: Sequence[tuple[int, int]]) -> None:
        self.keys = list(map(_AT, events))
        self.amounts = list(map(_AMOUNT, events))
        self.cum = list(itertools.accumulate(self.amounts))

    def append(self, at: int, amount: int) -> None:
        self.keys.append(at)
        self.amounts.append(amount)
        self.cum.append((self.cum[-1] if self.cum else 0) + amount)

    def events(self, lo: int, hi: int) -> list[tuple[int, int]]:
        return list(zip(self.keys[lo:hi], self.amounts[lo:hi], strict=True))

    def total(self, lo: int, hi: int, start: int, end: int) -> int:
        """Sum of the amounts in [lo, hi) with start < at <= end."""
        return _total(self.keys, self.cum, lo, hi, start=start, end=end)


def _total(
    keys: Sequence[int], cum: Sequence[int], lo: int, hi: int, *, start: int, end: int
) -> int:
    """Sum of the amounts in [lo, hi) with start < at <= end (`cum` is the running sum)."""
    i = bisect.bisect_right(keys, start, lo, hi)
    j = bisect.bisect_right(keys, end, i, hi)
    if j <= i:
        return 0
    return cum[j - 1] - (cum[i - 1] if i else 0)


_AT = operator.itemgetter(0)
_AMOUNT = operator.itemgetter(1)


@attrs.frozen
class _Sorted:
    """An immutable sorted run of events (for those that arrive out of time order)."""

    events: tuple[tuple[int, int], ...]
    keys: tuple[int, ...]
    cum: tuple[int, ...]

    @classmethod
    def of(cls, events: Sequence[tuple[int, int]], cut: int) -> _Sorted:
        """The run of `events` (sorted) after `cut`."""
        keys = tuple(map(_AT, events))
        first = bisect.bisect_right(keys, cut)
        kept = tuple(events[first:])
        return cls(kept, keys[first:], tuple(itertools.accumulate(map(_AMOUNT, kept))))

    def merge(self, other: _Sorted, cut: int) -> _Sorted:
        return _Sorted.of(sorted(self.events + other.events), cut)

    def total(self, start: int, end: int) -> int:
        return _total(self.keys, self.cum, 0, len(self.keys), start=start, end=end)


_COMPACT_AFTER = 64
"""A run is copied without its expired prefix once that prefix is this long and half the run."""


@attrs.frozen
class _Series:
    """One observer class's retained events: a slice of a shared run (in time order), plus
    the events that arrived out of time order in immutable sorted runs of decreasing size
    (merged like a binary counter: O(log n) amortised per late event, O(log n) runs)."""

    run: _Run
    lo: int
    hi: int
    late: tuple[_Sorted, ...] = ()
    late_max: int = -1
    """The latest time among the late runs' events (-1 without any)."""

    def add(self, at: int, amount: int, cut: int) -> _Series:
        """This series with one more event, dropping what is at or before `cut`."""
        run, hi = self.run, self.hi
        lo = bisect.bisect_right(run.keys, cut, self.lo, hi)
        late, late_max = (self.late, self.late_max) if self.late_max > cut else ((), -1)
        if lo < hi and run.keys[hi - 1] > at:
            runs = list(late)
            fresh = _Sorted(((at, amount),), (at,), (amount,))
            while runs and len(runs[-1].keys) <= len(fresh.keys):
                fresh = runs.pop().merge(fresh, cut)
            runs.append(fresh)
            return _Series(run, lo, hi, tuple(runs), max(late_max, at))
        if hi != len(run.keys):  # another ledger extended this run: continue on a copy
            run, lo, hi = _Run(run.events(lo, hi)), 0, hi - lo
        run.append(at, amount)
        hi += 1
        if lo >= _COMPACT_AFTER and 2 * lo >= hi:
            run, lo, hi = _Run(run.events(lo, hi)), 0, hi - lo
        return _Series(run, lo, hi, late, late_max)

    def total(self, start: int, end: int) -> int:
        """Sum of the amounts with start < at <= end."""
        total = self.run.total(self.lo, self.hi, start, end)
        for late in self.late:
            total += late.total(start, end)
        return total

    def events(self, cut: int) -> tuple[tuple[int, int], ...]:
        """Every event after `cut`, sorted (the canonical form)."""
        kept = self.run.events(self.lo, self.hi)
        for late in self.late:
            kept.extend(late.events)
        return tuple(sorted(e for e in kept if e[0] > cut))


_EMPTY = _Series(_Run([]), 0, 0)


def _pairs(_: object, __: object, value: dict[ObserverClass, tuple[tuple[int, ...], ...]]) -> None:
    for events in value.values():
        if any(len(e) != 2 or not 0 <= e[0] < 2**64 or not 0 <= e[1] < 2**64 for e in events):
            raise InvalidArgument("leakage events are (at_ms, amount) pairs of u64")
        if list(events) != sorted(events):
            raise InvalidArgument("leakage events are sorted")


@record("leakage.ledger", version=2)
@attrs.frozen
class LeakageState:
    """A ledger's canonical form (what snapshots carry): the retained events of each class,
    sorted, and the latest event time and latest reset that decide what is retained."""

    events: dict[ObserverClass, tuple[tuple[int, ...], ...]] = attrs.field(
        factory=dict, validator=_pairs, hash=False
    )
    """Observer class → sorted (at_ms, amount) pairs; classes without events are left out."""
    latest_ms: int | None = None
    reset_ms: int | None = None


def _cut(latest_ms: int | None, reset_ms: int | None) -> int:
    """Events at or before this time are not kept: older than the retention, or reset."""
    cut = -1 if latest_ms is None else latest_ms - MAX_WINDOW_MS
    return cut if reset_ms is None else max(cut, reset_ms)


@attrs.frozen(eq=False, repr=False)
class LeakageLedger:
    """Leakage events per observer class, as a value.

    `record` and `reset` return a new ledger and leave this one answering exactly as before.
    Only the events within `MAX_WINDOW_MS` of the latest event (`latest_ms`) and after the
    latest reset are kept, so a window reaching further back than that cannot be answered:
    `covers` says whether one can; `consumed` refuses an uncovered window and `check` fails
    closed for it. That happens only when the caller's clock is more than `MAX_WINDOW_MS -
    window_ms` behind the latest event.
    """

    _series: dict[ObserverClass, _Series] = attrs.field(factory=dict)
    latest_ms: int | None = None
    """The latest time of any event recorded (kept or not); None before the first."""
    reset_ms: int | None = None
    """The latest reset: events at or before it no longer count."""

    def record(self, observer: ObserverClass, at_ms: int, amount: int) -> LeakageLedger:
        """The ledger with one more event."""
        latest = at_ms if self.latest_ms is None else max(self.latest_ms, at_ms)
        cut = _cut(latest, self.reset_ms)
        if at_ms <= cut:
            return LeakageLedger(self._series, latest, self.reset_ms)
        series = self._series.get(observer, _EMPTY).add(at_ms, amount, cut)
        return LeakageLedger({**self._series, observer: series}, latest, self.reset_ms)

    def reset(self, at_ms: int) -> LeakageLedger:
        """The ledger after a reset at `at_ms` (a later reset supersedes an earlier one)."""
        if self.reset_ms is not None and self.reset_ms >= at_ms:
            return self
        return LeakageLedger(self._series, self.latest_ms, at_ms)

    def _start(self, now_ms: int, window_ms: int) -> int:
        start = now_ms - window_ms
        return start if self.reset_ms is None else max(start, self.reset_ms)

    def covers(self, now_ms: int, window_ms: int) -> bool:
        """Whether the ledger still holds every event of the window (now - window, now]."""
        if self.latest_ms is None:
            return True
        return self._start(now_ms, window_ms) >= self.latest_ms - MAX_WINDOW_MS

    def consumed(self, observer: ObserverClass, now_ms: int, window_ms: int) -> int:
        """Units charged to `observer` in (now - window, now], after the latest reset.

        Raises `InvalidArgument` for a window the ledger no longer covers (see `covers`).
        """
        if not self.covers(now_ms, window_ms):
            raise InvalidArgument(
                f"the leakage ledger keeps {MAX_WINDOW_MS} ms before its latest event "
                f"({self.latest_ms}); a {window_ms} ms window ending at {now_ms} reaches further"
            )
        series = self._series.get(observer)
        return 0 if series is None else series.total(self._start(now_ms, window_ms), now_ms)

    def check(
        self, observer: ObserverClass, amount: int, now_ms: int, limits: LeakageLimits
    ) -> None:
        """Raise `LeakageExceeded` if charging `amount` now would pass the class limit, or if
        the ledger cannot tell (a window it no longer covers: fail closed)."""
        if not self.covers(now_ms, limits.window_ms):
            raise LeakageExceeded(
                f"{observer.value} leakage unknown: the clock ({now_ms}) is too far behind "
                f"the latest recorded event ({self.latest_ms})"
            )
        used = self.consumed(observer, now_ms, limits.window_ms)
        if used + amount > limits.limit(observer):
            raise LeakageExceeded(
                f"{observer.value} leakage {used} + {amount} exceeds {limits.limit(observer)}"
            )

    def state(self) -> LeakageState:
        """The canonical form: equal for equal sets of facts, whatever their order."""
        cut = _cut(self.latest_ms, self.reset_ms)
        events: dict[ObserverClass, tuple[tuple[int, ...], ...]] = {}
        for observer in ObserverClass:
            series = self._series.get(observer)
            kept = () if series is None else series.events(cut)
            if kept:
                events[observer] = kept
        return LeakageState(events, self.latest_ms, self.reset_ms)

    @classmethod
    def from_state(cls, state: LeakageState) -> LeakageLedger:
        """The ledger a canonical form describes."""
        series = {}
        for observer, events in state.events.items():
            pairs = [(at, amount) for at, amount in events]
            series[observer] = _Series(_Run(pairs), 0, len(pairs))
        return cls(series, state.latest_ms, state.reset_ms)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LeakageLedger):
            return NotImplemented
        return self.state() == other.state()

    __hash__ = None  # type: ignore[assignment]  # compared by content, not hashed

    def __repr__(self) -> str:
        return f"LeakageLedger({self.state()!r})"


class LeakageReducer:
    """Collects leakage events and resets (amortised O(1) per fact in time order)."""

    name = "leakage"

    def initial(self) -> LeakageLedger:
        return LeakageLedger()

    def apply(self, view: LeakageLedger, fact: Fact, payload: Any) -> LeakageLedger:
        if isinstance(payload, LeakageReset):
            return view.reset(payload.at_ms)
        event: LeakageRecorded = payload
        return view.record(event.observer, event.at_ms, event.amount)

    def encode_view(self, view: LeakageLedger) -> bytes:
        return encode(view.state())

    def decode_view(self, data: bytes) -> LeakageLedger:
        return LeakageLedger.from_state(decode(data, LeakageState))


LEAKAGE_REDUCER = LeakageReducer()
# Leakage facts are this device's own accounting: local-only, never accepted from a peer.
LEAKAGE_RECORDED: FactType[LeakageRecorded] = FactType(
    payload_type=LeakageRecorded,
    namespace_kind=NamespaceKind.CONTEXT,
    writer=LOCAL_DEVICE,
    reducer=LEAKAGE_REDUCER,
)
LEAKAGE_RESET: FactType[LeakageReset] = FactType(
    payload_type=LeakageReset,
    namespace_kind=NamespaceKind.CONTEXT,
    writer=LOCAL_DEVICE,
    reducer=LEAKAGE_REDUCER,
)
