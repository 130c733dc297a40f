"""What the runtime reports to a monitor: every message sent, consumed or discarded.

A monitor is a plain callable given to the `Dispatcher`; it runs synchronously inside the
runtime, so it must be cheap and must not block or raise. Tests use it to check a run against
the global protocol (every consumed message was sent by the role the protocol names); a
simulator monitor can check properties as the run goes. Drops (messages refused before they
reach an endpoint) go to the node's trace instead.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TypeAlias

import attrs

from aura_core.ids import SessionId
from aura_protocol.choreography import Member

__all__ = ["EventKind", "RuntimeEvent", "Monitor"]


class EventKind(enum.Enum):
    SENT = "sent"
    """A copy left through the guard chain (after the guards allowed it)."""
    CONSUMED = "consumed"
    """An endpoint took the message: a receive, a branch, or one member of a fan-in."""
    DISCARDED = "discarded"
    """A late message (threshold already met, or its receive abandoned by a timeout) dropped
    as the protocol says it must be."""


@attrs.frozen
class RuntimeEvent:
    """One message event at one endpoint; `at` is the loop's clock (virtual in the simulator)."""

    kind: EventKind
    session: SessionId
    sender: Member
    receiver: Member
    msg_id: int
    label: str
    at: float


Monitor: TypeAlias = Callable[[RuntimeEvent], None]
