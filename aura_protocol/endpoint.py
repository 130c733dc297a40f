"""`Endpoint`: one role's cursor through its local type, the only way a program takes part.

The endpoint offers exactly the action its current node allows, and refuses anything else with
`ProtocolViolation` before any I/O (nothing sent, nothing charged). Structural nodes are never
seen by the program: `Rec` and `Var` are followed at once, and entering a `Timeout` starts its
timer and moves into its body. What each node asks of the program:

| node | call |
|---|---|
| `Send` | `await send(label, payload)`: one guarded send, or one per member for `W[*]` |
| `Select` | `await select(label)`: pick the branch (no message; the branch's first send tells) |
| `Receive` from one role | `await receive()` -> `Received` |
| `Branch` | `await branch()` (or `receive()`) -> `Received`; its `label` picks the case |
| `Receive` from `W[*]` | `await collect()` -> the first `count` members' messages |
| `Par` | `await par(program, program, ...)`: one program per branch, run concurrently |
| `End` | nothing; the program returns |

**Timers.** The owner of `timeout d at O` holds a deadline of d after entering the node (the
loop's clock, which the simulator virtualizes). A message counts if it arrived by the deadline;
once the deadline has passed with the wait incomplete, the receive in progress (or the next one)
raises `TimerFired`, and the endpoint is already in the `on timeout` branch. Everything the
abandoned receives still expected is discarded when it arrives.

**Thresholds.** `collect()` counts each member's next message once and returns after `count`
of them (in arrival order); every member not counted owes one message of that label, which is
discarded when it comes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import NoReturn, TypeAlias

import anyio
import attrs

from aura_core.choreo import (
    Branch,
    End,
    LocalType,
    Par,
    Peer,
    Rec,
    Receive,
    Select,
    Send,
    Timeout,
    Var,
)
from aura_core.errors import InvalidArgument, ProtocolViolation
from aura_protocol.choreography import Member, Session
from aura_protocol.outcome import Aborted, Violated
from aura_protocol.role_state import Incoming, RoleState

__all__ = ["Received", "TimerFired", "Endpoint", "Program", "describe"]


@attrs.frozen
class Received:
    """A message the endpoint took: its label, payload bytes, sending member and `msg_id`."""

    label: str
    payload: bytes
    sender: Member
    msg_id: int


class TimerFired(Exception):
    """The endpoint's timer fired before its wait completed.

    The endpoint has already moved to the `on timeout` branch: catch this and carry on with the
    handler's actions. Uncaught, the role's run ends `TimedOut`.
    """

    def __init__(self, member: Member, timer: Timeout) -> None:
        super().__init__(f"{member}: timer of {timer.after} ms (line {timer.line}) fired")
        self.after_ms = timer.after


Program: TypeAlias = "Callable[[Endpoint], Awaitable[object]]"
"""A role's code: an async function that drives its endpoint to the end."""


def describe(node: LocalType) -> str:
    """One line saying what a node expects (for error messages)."""
    match node:
        case Send(peer=peer, message=message):
            return f"send {message.label} to {peer}"
        case Receive(peer=peer, message=message, count=count):
            many = f" from {count} members" if peer.every else ""
            return f"receive {message.label} from {peer}{many}"
        case Select(branches=branches):
            return "select one of " + ", ".join(case.label for case in branches)
        case Branch(peer=peer, cases=cases):
            return f"receive one of {', '.join(c.message.label for c in cases)} from {peer}"
        case Par(branches=branches):
            return f"par of {len(branches)} branches"
        case End():
            return "nothing (end)"
        case Rec() | Var() | Timeout():
            return type(node).__name__


class Endpoint:
    """A cursor of one role through its local type; see the module docstring.

    One endpoint is one sequential thread of the role: call one action at a time (a second call
    while one is under way is a violation). `par` gives each branch an endpoint of its own.
    """

    def __init__(
        self, state: RoleState, node: LocalType, env: dict[str, Rec] | None = None
    ) -> None:
        self._state = state
        self._node = node
        self._env: dict[str, Rec] = dict(env or {})
        self._timer: Timeout | None = None
        self._deadline: float | None = None
        self._counted: dict[Member, Incoming] = {}
        self._busy = False
        self._settle()

    # ------------------------------------------------------------------------- state

    @property
    def session(self) -> Session:
        return self._state.session

    @property
    def member(self) -> Member:
        """Who this endpoint acts as (role, member index)."""
        return self._state.member

    @property
    def node(self) -> LocalType:
        """The node the endpoint is at: never a `Rec`, `Var` or `Timeout` (those are entered)."""
        return self._node

    @property
    def done(self) -> bool:
        return isinstance(self._node, End)

    @property
    def failure(self) -> Violated | Aborted | None:
        """Why the role's run is over, if it failed (shared by every cursor of the role)."""
        return self._state.failure

    @property
    def deadline(self) -> float | None:
        """The running timer's deadline on the loop clock, or None."""
        return self._deadline

    # ------------------------------------------------------------------------- actions

    async def send(self, label: str, payload: bytes = b"", *, to: str | None = None) -> None:
        """Send `label` (to the peer the local type names; `to`, if given, must be that role).

        A fan-out sends one guarded copy per member, in member order. Raises
        `ProtocolViolation` if the current node is not this send (nothing sent), or if the guard
        chain denies a copy (that copy is not sent, and the role's run is over).
        """
        self._begin()
        node = self._node
        if type(payload) is not bytes:
            raise InvalidArgument("a payload is bytes")
        if (
            not isinstance(node, Send)
            or node.message.label != label
            or (to is not None and to != node.peer.role)
        ):
            self._refuse(f"send {label}" + (f" to {to}" if to is not None else ""))
        if node.message.payload is None and payload:
            self._refuse(f"send {label} with a payload (it has none)")
        self._busy = True
        try:
            for member in self.session.members(node.peer):
                await self._state.transmit(member, node.message, payload)
        finally:
            self._busy = False
        self._advance(node.then)

    async def select(self, label: str) -> None:
        """Decide the choice at the current `Select` node (no message is sent by this call)."""
        self._begin()
        node = self._node
        if not isinstance(node, Select) or label not in node.labels:
            self._refuse(f"select {label}")
        self._advance(node.case(label))

    async def receive(self, label: str | None = None) -> Received:
        """Receive from a single role: at a `Receive` (whose label must be `label`, if given)
        or, without `label`, at a `Branch` (whose case the message picks)."""
        self._begin()
        node = self._node
        if (
            isinstance(node, Receive)
            and not node.peer.every
            and label in (None, node.message.label)
        ):
            cases = {node.message.label: node}
        elif isinstance(node, Branch) and label is None:
            cases = {c.message.label: c for c in node.cases}
        else:
            self._refuse("receive" + (f" {label}" if label is not None else ""))
        return await self._take(node.peer, cases)

    async def branch(self) -> Received:
        """At a `Branch`: receive the message that tells which case the peer chose."""
        self._begin()
        node = self._node
        if not isinstance(node, Branch):
            self._refuse("branch")
        return await self._take(node.peer, {c.message.label: c for c in node.cases})

    async def collect(self, label: str | None = None) -> tuple[Received, ...]:
        """At a fan-in: wait for `count` members' messages; returns them in arrival order.

        Members not counted owe one message of this label, discarded when it arrives. If the
        endpoint's timer fires first, raises `TimerFired` (the members already counted stay
        counted only for the owed-message bookkeeping).
        """
        self._begin()
        node = self._node
        if not (
            isinstance(node, Receive) and node.peer.every and label in (None, node.message.label)
        ):
            self._refuse("collect" + (f" {label}" if label is not None else ""))
        members = self.session.members(node.peer)
        count = node.count
        assert isinstance(count, int)  # Choreography only runs bound local types
        labels = (node.message.label,)
        self._busy = True
        try:
            while len(self._counted) < count:
                waiting = [m for m in members if m not in self._counted]
                incoming = await self._next(waiting, labels)
                if incoming is None:
                    break
                self._counted[incoming.sender] = incoming
        finally:
            self._busy = False
        if len(self._counted) < count:
            self._expire()
        counted = list(self._counted.values())
        self._counted = {}
        late = frozenset(labels)
        for member in members:
            if all(member != incoming.sender for incoming in counted):
                self._state.owe(member, late)
        self._advance(node.then)
        return tuple(_received(incoming) for incoming in counted)

    async def par(self, *programs: Program) -> None:
        """At a `Par`: run one program per branch concurrently, each with its own endpoint;
        when all have reached `End`, continue after the `par`. The first exception of a branch
        cancels the others and is raised."""
        self._begin()
        node = self._node
        if not isinstance(node, Par) or len(programs) != len(node.branches):
            self._refuse(f"par with {len(programs)} programs")
        children = [Endpoint(self._state, branch, self._env) for branch in node.branches]
        errors: list[Exception] = []

        async def run_branch(child: Endpoint, program: Program, scope: anyio.CancelScope) -> None:
            try:
                await program(child)
            except Exception as exc:
                errors.append(exc)
                scope.cancel()

        self._busy = True
        try:
            async with anyio.create_task_group() as group:
                for child, program in zip(children, programs, strict=True):
                    group.start_soon(run_branch, child, program, group.cancel_scope)
        finally:
            self._busy = False
        if errors:
            raise errors[0]
        for index, child in enumerate(children):
            if not child.done:
                raise ProtocolViolation(
                    f"{self.member} of {self.session.name}: par branch {index} returned before "
                    f"its end; it expects {describe(child.node)}"
                )
        self._advance(node.then)

    # ------------------------------------------------------------------------- internals

    def _begin(self) -> None:
        if self._busy:
            raise ProtocolViolation(
                f"{self.member} of {self.session.name}: an action is already under way on this "
                "endpoint (one action at a time)"
            )
        self._state.check()

    def _refuse(self, attempt: str) -> NoReturn:
        raise ProtocolViolation(
            f"{self.member} of {self.session.name}: {attempt} is not allowed here; the local "
            f"type expects {describe(self._node)}"
        )

    async def _take(self, peer: Peer, cases: dict[str, Receive]) -> Received:
        self._busy = True
        try:
            incoming = await self._next((Member(peer.role),), cases)
        finally:
            self._busy = False
        if incoming is None:
            self._expire()
        self._advance(cases[incoming.message.label].then)
        return _received(incoming)

    async def _next(self, senders: Sequence[Member], labels: Collection[str]) -> Incoming | None:
        """The next acceptable message from `senders`, or None once the timer has fired."""
        state = self._state
        deadline = self._deadline
        while True:
            incoming = state.take_first(senders, labels, deadline)
            if incoming is not None:
                return incoming
            if deadline is not None and anyio.current_time() >= deadline:
                return None
            await state.wait(deadline)

    def _expire(self) -> NoReturn:
        """The timer fired during the wait: owe what the wait still expected, switch branches."""
        timer = self._timer
        assert timer is not None
        state = self._state
        node: LocalType = self._node
        while True:
            if isinstance(node, Receive):
                label = frozenset((node.message.label,))
                for member in self.session.members(node.peer):
                    if member not in self._counted:
                        state.owe(member, label)
                self._counted = {}
                node = node.then
            elif isinstance(node, Branch):
                state.owe(Member(node.peer.role), frozenset(node.labels))
                break
            else:
                break
        self._timer = None
        self._deadline = None
        state.trace.event(
            "protocol.timer_fired",
            session=str(self.session.session_id),
            member=str(self.member),
            after_ms=timer.after,
            line=timer.line,
        )
        self._advance(timer.on_timeout)
        raise TimerFired(self.member, timer)

    def _advance(self, node: LocalType) -> None:
        self._node = node
        self._settle()

    def _settle(self) -> None:
        """Enter structural nodes: follow loops, start timers; stop a timer after its wait."""
        while True:
            node = self._node
            if isinstance(node, Rec):
                self._env[node.var] = node
                self._node = node.body
            elif isinstance(node, Var):
                self._node = self._env[node.name].body
            elif isinstance(node, Timeout):
                assert isinstance(node.after, int)  # Choreography only runs bound local types
                self._timer = node
                self._deadline = anyio.current_time() + node.after / 1000
                self._node = node.body
            else:
                break
        if self._timer is not None and not isinstance(self._node, Receive | Branch):
            self._timer = None
            self._deadline = None


def _received(incoming: Incoming) -> Received:
    message = incoming.message
    return Received(message.label, message.payload, incoming.sender, message.msg_id)
