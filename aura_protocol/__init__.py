"""Layer 6: the choreography runtime and every multi-party protocol, run through effects.

A protocol written in the choreography language (`aura_core.choreo`) runs here: compile it once
(`Choreography.compile(text, bindings)`), describe one run (`Session`: session id, context,
roster), and run each role's program on its node's `Dispatcher`, which owns the node's receive
loop and gives the program an `Endpoint` that allows only what the role's local type allows,
sending everything through the guard chain. A run ends with an `Outcome`: `Completed`,
`Violated`, `Aborted` or `TimedOut`. See docs/choreography.md, "Runtime".
"""

from aura_protocol.choreography import Choreography, Member, Route, Session, guard_annotations
from aura_protocol.dispatch import DEFAULT_BACKLOG, Accepted, Acceptor, Dispatcher
from aura_protocol.driver import drive
from aura_protocol.endpoint import Endpoint, Program, Received, TimerFired, describe
from aura_protocol.events import EventKind, Monitor, RuntimeEvent
from aura_protocol.outcome import Aborted, Completed, Outcome, TimedOut, Violated
from aura_protocol.wire import SessionMessage

__all__ = [
    "Choreography",
    "Session",
    "Member",
    "Route",
    "guard_annotations",
    "Dispatcher",
    "Accepted",
    "Acceptor",
    "DEFAULT_BACKLOG",
    "Endpoint",
    "Program",
    "Received",
    "TimerFired",
    "describe",
    "drive",
    "Outcome",
    "Completed",
    "Violated",
    "Aborted",
    "TimedOut",
    "EventKind",
    "RuntimeEvent",
    "Monitor",
    "SessionMessage",
]
