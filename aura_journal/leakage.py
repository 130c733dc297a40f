"""Metadata-leakage accounting per observer class.

Every send that reveals metadata charges the context's leakage ledger for an observer class
(`external`, `neighbor`, `group`); limits are per context and per class over a rolling window
(24 h by default). Charges are facts (`LeakageRecorded`), so the ledger is a view; a
`LeakageReset` fact makes every earlier event stop counting. Checking a charge needs "now", which
the caller passes in: the ledger itself never reads a clock.
"""

from __future__ import annotations

import bisect
import enum
from typing import Any

import attrs

from aura_core.encoding import decode, encode, record
from aura_core.errors import InvalidArgument, LeakageExceeded
from aura_journal.fact import Fact, NamespaceKind
from aura_journal.registry import LOCAL_DEVICE, FactType

__all__ = [
    "DAY_MS",
    "ObserverClass",
    "LeakageLimits",
    "LeakageRecorded",
    "LeakageReset",
    "LeakageLedger",
    "LeakageReducer",
    "LEAKAGE_REDUCER",
    "LEAKAGE_RECORDED",
    "LEAKAGE_RESET",
]

DAY_MS = 24 * 60 * 60 * 1000


class ObserverClass(enum.Enum):
    """Who could observe the metadata a send reveals."""

    EXTERNAL = "external"
    NEIGHBOR = "neighbor"
    GROUP = "group"


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


@attrs.frozen
class LeakageLimits:
    """Per-class limits over `window_ms` (defaults from the reference: 1000/500/100 per 24 h)."""

    external: int = attrs.field(default=1000, validator=_u64)
    neighbor: int = attrs.field(default=500, validator=_u64)
    group: int = attrs.field(default=100, validator=_u64)
    window_ms: int = attrs.field(default=DAY_MS, validator=_u64)

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


@record("leakage.ledger")
@attrs.frozen
class LeakageLedger:
    """Events per observer class, sorted by time, and the latest reset."""

    events: dict[ObserverClass, tuple[tuple[int, ...], ...]] = attrs.field(factory=dict, hash=False)
    """Observer class → sorted ((at_ms, amount, fact-order tiebreak index)...)."""
    reset_ms: int | None = None

    def consumed(self, observer: ObserverClass, now_ms: int, window_ms: int) -> int:
        """Units charged to `observer` in (now - window, now], after the latest reset."""
        start = now_ms - window_ms
        if self.reset_ms is not None:
            start = max(start, self.reset_ms)
        events = self.events.get(observer, ())
        first = bisect.bisect_right(events, (start, 2**64, 2**64))
        return sum(event[1] for event in events[first:] if event[0] <= now_ms)

    def check(
        self, observer: ObserverClass, amount: int, now_ms: int, limits: LeakageLimits
    ) -> None:
        """Raise `LeakageExceeded` if charging `amount` now would pass the class limit."""
        used = self.consumed(observer, now_ms, limits.window_ms)
        if used + amount > limits.limit(observer):
            raise LeakageExceeded(
                f"{observer.value} leakage {used} + {amount} exceeds {limits.limit(observer)}"
            )


class LeakageReducer:
    """Collects leakage events and resets."""

    name = "leakage"

    def initial(self) -> LeakageLedger:
        return LeakageLedger()

    def apply(self, view: LeakageLedger, fact: Fact, payload: Any) -> LeakageLedger:
        if isinstance(payload, LeakageReset):
            if view.reset_ms is not None and view.reset_ms >= payload.at_ms:
                return view
            return attrs.evolve(view, reset_ms=payload.at_ms)
        event: LeakageRecorded = payload
        # The fact id breaks ties between equal timestamps, so the tuple is the same on every
        # replica whatever order the facts arrived in.
        entry = (event.at_ms, event.amount, int.from_bytes(fact.id.hash.digest[:8], "big"))
        events = list(view.events.get(event.observer, ()))
        bisect.insort(events, entry)
        return attrs.evolve(view, events={**view.events, event.observer: tuple(events)})

    def encode_view(self, view: LeakageLedger) -> bytes:
        return encode(view)

    def decode_view(self, data: bytes) -> LeakageLedger:
        return decode(data, LeakageLedger)


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
