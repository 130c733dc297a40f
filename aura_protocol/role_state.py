"""The state one role keeps for one session: its message streams in and out, and its failure.

Every endpoint cursor of the role (one, plus one per running `par` branch) shares one
`RoleState`. Incoming messages are checked here as soon as the dispatcher hands them over, and
queued per sending member in that pair's order; cursors take from the queues. Outgoing messages
get their per-pair sequence number here and go out through the guard chain.

Checks on arrival, in order (the first that fails decides):

1. *Authentic member*: the receipt's authority must be the roster's authority for the member
   the message claims to come from. Otherwise the message is dropped and traced: anyone may
   send us bytes, and a stranger must not be able to end a session.
2. *Right session*: the message's context and operation must be the session's. From here on
   the sender is an authenticated member, so a failure is a `Violated` outcome for this role.
3. *Routed by the protocol*: `msg_id` names a message statement that the global protocol sends
   from the sender's role to this role, with this label; a payload only if the statement has
   a payload type.
4. *Per-pair order*: messages wait until every earlier `seq` of the pair has arrived;
   a repeated `seq` is dropped (it can only be a duplicate).
5. *Owed late messages*: if the sender still owes a message this role abandoned (a threshold
   met without it, or a receive abandoned by a timeout), this message must be that one and is
   discarded; anything else is a violation.
6. *Receivable at all*: the role's local type must receive this label from this peer role
   somewhere.

Whether the message is the one the *current* node expects is decided when a cursor takes it
(the head of the sender's queue with another label is a violation by the sender).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence

import anyio
import attrs

from aura_core.choreo import MessageType
from aura_core.effects import TraceEffects
from aura_core.encoding import encode
from aura_core.errors import AuraError, GuardDenied, InvalidArgument, ProtocolViolation
from aura_core.ids import AuthorityId, ContextId
from aura_guards.transport import GuardedTransport
from aura_protocol.choreography import Member, Route, Session
from aura_protocol.events import EventKind, Monitor, RuntimeEvent
from aura_protocol.outcome import Aborted, Violated
from aura_protocol.wire import SessionMessage

__all__ = ["MAX_HELD", "Incoming", "RoleState"]

MAX_HELD = 1024
"""Out-of-order messages held per sending member before the gap is declared a violation."""


@attrs.frozen
class Incoming:
    """A checked message in a sender's queue; `arrived` is the loop clock when it was accepted,
    `order` a per-role arrival counter (ties in `arrived` are broken by it)."""

    message: SessionMessage
    sender: Member
    arrived: float
    order: int


class _Stream:
    """Everything received from one sending member."""

    def __init__(self) -> None:
        self.expected = 0
        self.held: dict[int, SessionMessage] = {}
        self.queue: deque[Incoming] = deque()
        self.owed: deque[frozenset[str]] = deque()


class RoleState:
    """One role's (one member's) part of one session, shared by all its endpoint cursors."""

    def __init__(
        self,
        session: Session,
        member: Member,
        guarded: GuardedTransport,
        trace: TraceEffects,
        monitor: Monitor | None = None,
    ) -> None:
        self.session = session
        self.member = member
        self.guarded = guarded
        self.trace = trace
        self.monitor = monitor
        choreography = session.choreography
        self._routes: tuple[Route, ...] = choreography.routes
        self._receivable = choreography.receivable[member.role]
        self._streams: dict[Member, _Stream] = {}
        self._next_seq: dict[Member, int] = {}
        self._arrivals = 0
        self._changed: anyio.Event | None = None  # created by the first waiter
        self.failure: Violated | Aborted | None = None
        self.closed = False

    # ------------------------------------------------------------------------- failure

    def fail(self, outcome: Violated | Aborted) -> None:
        """Record the first failure (later ones are consequences) and wake every waiter."""
        if self.failure is None:
            self.failure = outcome
            self.trace.event(
                "protocol.failed",
                session=str(self.session.session_id),
                member=str(self.member),
                outcome=type(outcome).__name__,
                reason=outcome.reason,
            )
            self._notify()

    def check(self) -> None:
        """Raise `ProtocolViolation` if this role's run has already failed."""
        if self.failure is not None:
            raise ProtocolViolation(f"{self.member} of {self.session.name}: {self.failure.reason}")

    # ------------------------------------------------------------------------- sending

    async def transmit(self, to: Member, message: MessageType, payload: bytes) -> None:
        """One guarded send of `message` to one member; GuardDenied becomes ProtocolViolation.

        A denial (nothing charged or sent) or an I/O failure ends this role's run (`Aborted`):
        a fan-out interrupted half-way cannot be completed consistently.
        """
        session = self.session
        choreography = session.choreography
        seq = self._next_seq.get(to, 0)
        body = encode(
            SessionMessage(
                session=session.session_id,
                msg_id=message.msg_id,
                label=message.label,
                sender=self.member.role,
                sender_index=self.member.index,
                receiver=to.role,
                receiver_index=to.index,
                seq=seq,
                payload=payload,
            )
        )
        try:
            await self.guarded.send(
                session.context,
                session.authority(to),
                choreography.operation(message.label),
                body,
                choreography.guards[message.msg_id],
            )
        except GuardDenied as exc:
            reason = f"guard chain denied {message.label} to {to} ({exc.reason}); nothing sent"
            self.fail(Aborted(reason))
            raise ProtocolViolation(f"{self.member} of {session.name}: {reason}") from exc
        except AuraError as exc:
            self.fail(Aborted(f"{type(exc).__name__} sending {message.label} to {to}"))
            raise
        self._next_seq[to] = seq + 1
        self._report(EventKind.SENT, self.member, to, message.msg_id, message.label)

    # ------------------------------------------------------------------------- receiving

    def deliver(
        self, message: SessionMessage, source: AuthorityId, context: ContextId, operation: str
    ) -> None:
        """Check one incoming message (see the module docstring) and queue it. Never blocks."""
        sender = Member(message.sender, message.sender_index)
        try:
            authority = self.session.authority(sender)
        except InvalidArgument:
            authority = None
        if authority != source:
            self._drop("not-a-member", message)
            return
        if self.failure is not None or self.closed:
            self._drop("role-finished", message)
            return
        choreography = self.session.choreography
        if context != self.session.context or operation != choreography.operation(message.label):
            self.fail(Violated(f"{sender} sent {message.label} in another context or operation"))
            return
        routes = self._routes
        route = routes[message.msg_id] if message.msg_id < len(routes) else None
        if (
            route is None
            or route.sender != sender.role
            or route.receiver != self.member.role
            or route.label != message.label
        ):
            self.fail(
                Violated(
                    f"{sender} sent {message.label} as message {message.msg_id}, which the "
                    f"protocol does not send from {sender.role} to {self.member.role}"
                )
            )
            return
        if route.payload is None and message.payload:
            self.fail(Violated(f"{sender} sent a payload with {message.label}, which has none"))
            return
        stream = self._stream(sender)
        if message.seq < stream.expected or message.seq in stream.held:
            self._drop("duplicate", message)
            return
        if len(stream.held) >= MAX_HELD:
            self.fail(Violated(f"{sender} left a gap of more than {MAX_HELD} messages"))
            return
        stream.held[message.seq] = message
        while stream.expected in stream.held and self.failure is None:
            self._accept(sender, stream, stream.held.pop(stream.expected))
            stream.expected += 1
        self._notify()

    def _accept(self, sender: Member, stream: _Stream, message: SessionMessage) -> None:
        self._arrivals += 1
        incoming = Incoming(message, sender, anyio.current_time(), self._arrivals)
        if stream.owed:
            owed = stream.owed.popleft()
            if message.label in owed:
                self._discard(incoming)
            else:
                self.fail(Violated(self._owed_text(sender, message.label, owed)))
            return
        if (sender.role, message.label) not in self._receivable:
            self.fail(
                Violated(
                    f"{sender} sent {message.label}, which {self.member.role} never receives "
                    f"from {sender.role}"
                )
            )
            return
        stream.queue.append(incoming)

    def owe(self, sender: Member, labels: frozenset[str]) -> None:
        """`sender` still owes one message with one of `labels` that this role no longer wants:
        discard it now if it is already queued, else when it arrives."""
        stream = self._stream(sender)
        if stream.queue:
            head = stream.queue.popleft()
            if head.message.label in labels:
                self._discard(head)
            else:
                self.fail(Violated(self._owed_text(sender, head.message.label, labels)))
        else:
            stream.owed.append(labels)

    def take_first(
        self, senders: Sequence[Member], labels: Collection[str], deadline: float | None
    ) -> Incoming | None:
        """Take the earliest-arrived head among `senders`' queues, or None if there is none.

        With a `deadline`, heads that arrived after it do not count (the timer fired first). A
        head with a label outside `labels` is a violation by its sender (raised).
        """
        self.check()
        best: tuple[Incoming, _Stream] | None = None
        for sender in senders:
            stream = self._streams.get(sender)
            if stream is None or not stream.queue:
                continue
            head = stream.queue[0]
            if head.message.label not in labels:
                expected = " or ".join(sorted(labels))
                self.fail(
                    Violated(
                        f"{sender} sent {head.message.label} where {self.member} expects {expected}"
                    )
                )
                self.check()
            if deadline is not None and head.arrived > deadline:
                continue
            if best is None or head.order < best[0].order:
                best = (head, stream)
        if best is not None:
            head, stream = best
            stream.queue.popleft()
            self._report(
                EventKind.CONSUMED,
                head.sender,
                self.member,
                head.message.msg_id,
                head.message.label,
            )
            return head
        return None

    async def wait(self, deadline: float | None) -> None:
        """Sleep until something arrives, the role fails, or `deadline` (loop clock) passes."""
        changed = self._changed
        if changed is None:
            changed = self._changed = anyio.Event()
        if deadline is None:
            await changed.wait()
            return
        with anyio.CancelScope(deadline=deadline):
            await changed.wait()

    # ------------------------------------------------------------------------- helpers

    def _stream(self, sender: Member) -> _Stream:
        stream = self._streams.get(sender)
        if stream is None:
            stream = self._streams[sender] = _Stream()
        return stream

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _owed_text(self, sender: Member, label: str, owed: frozenset[str]) -> str:
        late = " or ".join(sorted(owed))
        return f"{sender} sent {label} before the late {late} it still owes {self.member}"

    def _discard(self, incoming: Incoming) -> None:
        message = incoming.message
        self.trace.event(
            "protocol.discarded",
            session=str(self.session.session_id),
            sender=str(incoming.sender),
            receiver=str(self.member),
            label=message.label,
        )
        self._report(
            EventKind.DISCARDED, incoming.sender, self.member, message.msg_id, message.label
        )

    def _drop(self, reason: str, message: SessionMessage) -> None:
        self.trace.event(
            "protocol.dropped",
            reason=reason,
            session=str(message.session),
            sender=f"{message.sender}[{message.sender_index}]",
            receiver=str(self.member),
            label=message.label,
        )

    def _report(
        self, kind: EventKind, sender: Member, receiver: Member, msg_id: int, label: str
    ) -> None:
        if self.monitor is not None:
            event = RuntimeEvent(
                kind, self.session.session_id, sender, receiver, msg_id, label, anyio.current_time()
            )
            self.monitor(event)
