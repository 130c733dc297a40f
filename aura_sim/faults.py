"""What can go wrong in a simulated run, and the schedule of what did.

A `LinkPolicy` gives the odds of each message fault on one directed link. In a *random* run the
network draws faults from the run's seed and records every one it injects; in a *scheduled*
run it injects exactly the faults of a `FaultSchedule` and draws none. Replaying a tape runs its
recorded schedule; shrinking a failure removes faults from the schedule while the run still
fails. Message faults name their message by (source, destination, per-link sequence number);
timed faults (partitions, crashes, holds) by virtual time.
"""

from __future__ import annotations

import enum

import attrs

from aura_core.encoding import record
from aura_core.errors import InvalidArgument

__all__ = [
    "LinkPolicy",
    "QUIET",
    "MessageFaultKind",
    "MessageFault",
    "TimedFaultKind",
    "TimedFault",
    "FaultSchedule",
]


def _probability(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"{attribute.name} is a probability in [0, 1]")


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or value < 0:
        raise InvalidArgument(f"{attribute.name} must be >= 0")


@attrs.frozen
class LinkPolicy:
    """The behaviour of one directed link.

    Latency is `latency_ms` plus a uniform draw in [0, `jitter_ms`); links stay FIFO unless a
    message is *reordered*, which adds up to `reorder_ms` and lets later messages overtake it.
    """

    latency_ms: float = attrs.field(default=10.0, validator=_non_negative)
    jitter_ms: float = attrs.field(default=0.0, validator=_non_negative)
    drop: float = attrs.field(default=0.0, validator=_probability)
    duplicate: float = attrs.field(default=0.0, validator=_probability)
    reorder: float = attrs.field(default=0.0, validator=_probability)
    reorder_ms: float = attrs.field(default=50.0, validator=_non_negative)
    corrupt: float = attrs.field(default=0.0, validator=_probability)

    @property
    def faulty(self) -> bool:
        return any((self.drop, self.duplicate, self.reorder, self.corrupt))


QUIET = LinkPolicy()
"""A healthy link: fixed latency, no faults (what the liveness phase gives its core)."""


class MessageFaultKind(enum.Enum):
    DROP = "drop"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    BIT_FLIP = "bit_flip"
    TRUNCATE = "truncate"


@record("sim.message_fault")
@attrs.frozen
class MessageFault:
    """One fault injected into one message: `amount` is the extra delay in ms (duplicate,
    reorder), the bit to flip, or the length to truncate to."""

    source: str
    destination: str
    seq: int
    kind: MessageFaultKind
    amount: int = 0

    def sort_key(self) -> tuple[str, str, int, str, int]:
        return (self.source, self.destination, self.seq, self.kind.value, self.amount)

    def describe(self) -> str:
        return f"{self.kind.value} {self.source}->{self.destination} #{self.seq} ({self.amount})"


class TimedFaultKind(enum.Enum):
    PARTITION = "partition"
    """Nodes in different `groups` cannot reach each other until a HEAL."""
    BLOCK = "block"
    """One direction only: messages from `nodes[0]` to `nodes[1]` are lost until a HEAL."""
    HEAL = "heal"
    CRASH = "crash"
    RESTART = "restart"
    HOLD = "hold"
    """Messages from `nodes[0]` to `nodes[1]` wait until a RELEASE."""
    RELEASE = "release"


@record("sim.timed_fault")
@attrs.frozen
class TimedFault:
    """A fault that happens at a virtual time (milliseconds since the run started)."""

    at_ms: int
    kind: TimedFaultKind
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    permanent: bool = False
    """A permanent partition or crash is not undone by the liveness phase."""

    def sort_key(self) -> tuple[int, str, tuple[str, ...], tuple[tuple[str, ...], ...], bool]:
        return (self.at_ms, self.kind.value, self.nodes, self.groups, self.permanent)

    def describe(self) -> str:
        target = " | ".join(",".join(g) for g in self.groups) or ",".join(self.nodes)
        return f"{self.kind.value} {target} at {self.at_ms} ms" + (
            " (permanent)" if self.permanent else ""
        )


@record("sim.fault_schedule")
@attrs.frozen
class FaultSchedule:
    """Every fault of a run."""

    message: tuple[MessageFault, ...] = ()
    timed: tuple[TimedFault, ...] = ()

    def __len__(self) -> int:
        return len(self.message) + len(self.timed)

    def entries(self) -> list[MessageFault | TimedFault]:
        return [*self.message, *self.timed]

    @classmethod
    def of(cls, entries: list[MessageFault | TimedFault]) -> FaultSchedule:
        message = sorted(
            (e for e in entries if isinstance(e, MessageFault)), key=MessageFault.sort_key
        )
        timed = sorted((e for e in entries if isinstance(e, TimedFault)), key=TimedFault.sort_key)
        return cls(tuple(message), tuple(timed))

    def describe(self) -> list[str]:
        return [entry.describe() for entry in self.entries()]
