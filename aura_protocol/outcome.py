"""How a role's part in a session ended.

`Dispatcher.run` returns exactly one of these for the role it ran; it never raises for anything
the protocol or a peer did. The four cases are what a caller acts on differently: `Completed`
(the local type reached its end), `Violated` (someone left the protocol: the local program
tried an action its type does not allow, or a peer sent something the type does not expect),
`Aborted` (the run could not go on for a reason outside the protocol: the guard chain denied a
send, the transport or storage failed, the program gave up or raised), `TimedOut` (a timer this
role owns fired and the program did not handle it, or the run's overall limit passed).
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

__all__ = ["Completed", "Violated", "Aborted", "TimedOut", "Outcome"]


@attrs.frozen
class Completed:
    """The role reached `End`. `value` is what the role's program returned."""

    value: object = None


@attrs.frozen
class Violated:
    """The protocol was broken; `reason` says how and by whom (coarse text, no secrets)."""

    reason: str


@attrs.frozen
class Aborted:
    """The role stopped for a reason outside the protocol (guard denial, I/O failure, ...)."""

    reason: str


@attrs.frozen
class TimedOut:
    """A timer fired and nothing handled it; `reason` names the timer or the run limit."""

    reason: str = "timeout"


Outcome: TypeAlias = Completed | Violated | Aborted | TimedOut
"""How one role's run of a session ended."""
