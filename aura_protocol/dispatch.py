"""`Dispatcher`: one node's choreography runtime: its receive loop, its endpoints, its runs.

A node has one `GuardedTransport` and one dispatcher over it. Entering the dispatcher
(`async with Dispatcher(...) as dispatcher`) starts the node's only receive loop in a task group
the dispatcher owns; leaving it cancels the loop. Each incoming message is decoded and routed by
(session id, receiving role, member index) to the endpoint that plays it; the endpoint checks it
(`aura_protocol.role_state`). Messages for an endpoint not opened yet wait in a bounded backlog
(a fast peer may start before this node does); messages for an endpoint that has finished are
dropped (late threshold shares, for instance), as are messages that do not decode. Every drop is
a `protocol.dropped` trace event.

`run(session, role, program)` is the usual entry point: it opens the role's endpoint, runs the
program on it, closes it, and turns whatever happened into an `Outcome`.

A node that answers sessions others start (a witness, a server) registers an *acceptor* per
protocol with `serve(protocol, acceptor)`: the first message of an unknown session of that
protocol is shown to the acceptor (with its authenticated sender), which either declines (the
message is dropped) or returns `Accepted(session, role, index, program, limit)`; the dispatcher
then opens that endpoint at once (so the message is not lost) and runs the program in its own
task group. Like `run`, a served run ends with an `Outcome`, traced as `protocol.served`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from types import TracebackType

import anyio
import attrs
from anyio.abc import TaskGroup

from aura_core.effects import TraceEffects
from aura_core.encoding import decode
from aura_core.errors import AuraError, EncodingError, InvalidArgument, ProtocolViolation
from aura_core.failures import raise_single
from aura_core.ids import AuthorityId, SessionId
from aura_guards.transport import GuardedTransport, ReceivedMessage
from aura_protocol.choreography import Member, Session
from aura_protocol.endpoint import Endpoint, Program, TimerFired, describe
from aura_protocol.events import Monitor
from aura_protocol.outcome import Aborted, Completed, Outcome, TimedOut, Violated
from aura_protocol.role_state import RoleState
from aura_protocol.wire import SessionMessage

__all__ = ["DEFAULT_BACKLOG", "Accepted", "Acceptor", "Dispatcher"]

DEFAULT_BACKLOG = 1024
"""Messages kept for endpoints this node has not opened yet; the oldest go first."""

_Key = tuple[SessionId, str, int]


@attrs.frozen
class Accepted:
    """An acceptor's answer to a session another node started: the session as this node
    rebuilds it, the role and member index it plays, its program and an optional run limit
    (seconds; roles that own no timer should have one on a lossy network)."""

    session: Session
    role: str
    index: int
    program: Program
    limit: float | None = None
    on_outcome: Callable[[Outcome], None] | None = None
    """Told how the served run ended (the dispatcher also traces it)."""


Acceptor = Callable[[SessionMessage, AuthorityId], "Accepted | None"]
"""Shown the first message of an unknown session of its protocol and the authority the guard
chain authenticated as its sender; returns `Accepted` to play a role in it, or None to drop it.
It runs inside the receive loop: it must not block (decode, check, build the session)."""


class Dispatcher:
    """Routes one node's incoming choreography messages to its endpoints; runs roles.

    `trace` receives the drop events; `monitor` (tests, simulator monitors) sees every message
    sent, consumed and discarded by this node's endpoints.
    """

    def __init__(
        self,
        guarded: GuardedTransport,
        trace: TraceEffects,
        *,
        monitor: Monitor | None = None,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        self._guarded = guarded
        self._trace = trace
        self._monitor = monitor
        self._backlog_limit = backlog
        self._roles: dict[_Key, RoleState] = {}
        self._finished: set[_Key] = set()
        self._backlog: deque[tuple[_Key, SessionMessage, ReceivedMessage]] = deque()
        self._group: TaskGroup | None = None
        self._acceptors: dict[str, Acceptor] = {}
        self._opened: dict[_Key, float] = {}

    @property
    def local(self) -> AuthorityId:
        """The authority this node sends and receives as."""
        return self._guarded.local

    def oldest_open(self) -> float | None:
        """When the longest-open endpoint was opened (loop time), or None if none is open: a
        monitor's way to find sessions that hang."""
        return min(self._opened.values(), default=None)

    def serve(self, protocol: str, acceptor: Acceptor) -> None:
        """Answer sessions of `protocol` (its name in the protocol text) that others start."""
        if protocol in self._acceptors:
            raise InvalidArgument(f"{protocol} is already served")
        self._acceptors[protocol] = acceptor

    def unserve(self, protocol: str) -> None:
        """Stop answering new sessions of `protocol` (running ones go on)."""
        self._acceptors.pop(protocol, None)

    # ------------------------------------------------------------------------- lifetime

    async def __aenter__(self) -> Dispatcher:
        if self._group is not None:
            raise InvalidArgument("the dispatcher is already running")
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        group.start_soon(self._receive_loop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        group = self._group
        assert group is not None
        group.cancel_scope.cancel()
        self._group = None
        try:
            return await group.__aexit__(exc_type, exc, traceback)
        except BaseExceptionGroup as failures:
            raise_single(failures)

    # ------------------------------------------------------------------------- endpoints

    def open(self, session: Session, role: str, index: int = 0) -> Endpoint:
        """The endpoint of `role` (member `index` of a family) for `session` on this node.

        The roster must name this node's authority for that member; a member is opened once
        per session. Messages that arrived for it earlier are handed over now. Close it with
        `close` (`run` does both).
        """
        if self._group is None:
            raise InvalidArgument("open endpoints inside `async with dispatcher`")
        member = Member(role, index)
        if session.authority(member) != self._guarded.local:
            raise InvalidArgument(f"{member} of {session.session_id} is not played by this node")
        key = (session.session_id, role, index)
        if key in self._roles or key in self._finished:
            raise InvalidArgument(f"{member} of {session.session_id} was already opened")
        state = RoleState(session, member, self._guarded, self._trace, self._monitor)
        self._roles[key] = state
        self._opened[key] = anyio.current_time()
        endpoint = Endpoint(state, session.local_type(role))
        waiting = [entry for entry in self._backlog if entry[0] == key]
        if waiting:
            self._backlog = deque(entry for entry in self._backlog if entry[0] != key)
            for _, message, received in waiting:
                self._deliver(state, message, received)
        return endpoint

    def close(self, endpoint: Endpoint) -> None:
        """Stop routing to `endpoint`'s member; later messages for it are dropped."""
        member = endpoint.member
        key = (endpoint.session.session_id, member.role, member.index)
        state = self._roles.pop(key, None)
        self._opened.pop(key, None)
        if state is not None:
            state.closed = True
            self._finished.add(key)

    async def run(
        self,
        session: Session,
        role: str,
        program: Program,
        *,
        index: int = 0,
        limit: float | None = None,
    ) -> Outcome:
        """Run `program` as `role` (member `index`) of `session`; how it ended, as an Outcome.

        `limit` (seconds on the loop clock) bounds the whole run, as a local safety net for
        roles that own no timer: passing it ends the run `TimedOut`. Exceptions that are not
        `AuraError`s (bugs in the program) propagate after the endpoint is closed.
        """
        endpoint = self.open(session, role, index)
        return await self._play(endpoint, program, limit)

    async def _play(self, endpoint: Endpoint, program: Program, limit: float | None) -> Outcome:
        try:
            return await _outcome(endpoint, program, limit)
        finally:
            self.close(endpoint)

    async def _serve(self, endpoint: Endpoint, accepted: Accepted) -> None:
        outcome = await self._play(endpoint, accepted.program, accepted.limit)
        if accepted.on_outcome is not None:
            accepted.on_outcome(outcome)
        self._trace.event(
            "protocol.served",
            session=str(endpoint.session.session_id),
            member=str(endpoint.member),
            outcome=type(outcome).__name__,
        )

    # ------------------------------------------------------------------------- receiving

    async def _receive_loop(self) -> None:
        while True:
            for received in await self._guarded.receive_many():
                self._route(received)

    def _route(self, received: ReceivedMessage) -> None:
        try:
            message = decode(received.body, SessionMessage)
        except EncodingError as exc:
            self._trace.event(
                "protocol.dropped",
                reason="malformed",
                source=str(received.source),
                operation=received.operation,
                detail=exc.message,
            )
            return
        key = (message.session, message.receiver, message.receiver_index)
        state = self._roles.get(key)
        if state is not None:
            self._deliver(state, message, received)
        elif key in self._finished:
            self._drop("finished", message)
        elif received.operation.partition(".")[0] in self._acceptors:
            self._accept(key, message, received)
        else:
            self._backlog.append((key, message, received))
            if len(self._backlog) > self._backlog_limit:
                _, oldest, _ = self._backlog.popleft()
                self._drop("backlog-full", oldest)

    def _accept(self, key: _Key, message: SessionMessage, received: ReceivedMessage) -> None:
        acceptor = self._acceptors[received.operation.partition(".")[0]]
        try:
            accepted = acceptor(message, received.source)
        except AuraError as exc:
            self._trace.event("protocol.declined", session=str(message.session), detail=exc.message)
            accepted = None
        if accepted is None:
            self._drop("declined", message)
            return
        if (accepted.session.session_id, accepted.role, accepted.index) != key:
            self._drop("declined", message)  # the acceptor answered for another member
            return
        try:
            endpoint = self.open(accepted.session, accepted.role, accepted.index)
        except InvalidArgument as exc:
            self._trace.event("protocol.declined", session=str(message.session), detail=exc.message)
            self._drop("declined", message)
            return
        state = self._roles[key]
        self._deliver(state, message, received)
        assert self._group is not None
        self._group.start_soon(self._serve, endpoint, accepted)

    def _deliver(
        self, state: RoleState, message: SessionMessage, received: ReceivedMessage
    ) -> None:
        state.deliver(message, received.source, received.context, received.operation)

    def _drop(self, reason: str, message: SessionMessage) -> None:
        self._trace.event(
            "protocol.dropped",
            reason=reason,
            session=str(message.session),
            sender=f"{message.sender}[{message.sender_index}]",
            receiver=f"{message.receiver}[{message.receiver_index}]",
            label=message.label,
        )


async def _outcome(endpoint: Endpoint, program: Program, limit: float | None) -> Outcome:
    value: object = None
    outcome: Outcome | None = None
    with anyio.move_on_after(math.inf if limit is None else limit) as scope:
        try:
            value = await program(endpoint)
        except TimerFired as fired:
            outcome = TimedOut(str(fired))
        except ProtocolViolation as exc:
            outcome = Violated(exc.message)
        except AuraError as exc:
            outcome = Aborted(f"{type(exc).__name__}: {exc.message}")
    if endpoint.failure is not None:
        return endpoint.failure
    if outcome is not None:
        return outcome
    if scope.cancelled_caught:
        return TimedOut(f"run limit of {limit} s passed")
    if not endpoint.done:
        return Aborted(
            f"the program returned early; the local type expects {describe(endpoint.node)}"
        )
    return Completed(value)
