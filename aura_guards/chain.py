"""The guard chain's pure core: a snapshot, a request, and the evaluation between them.

Evaluation is a function of its inputs (no clock, no I/O, no randomness): the same snapshot and
request always give the same outcome. It is closed by default: a message type must either name
a capability or declare itself public with a reason, and a flow no policy names denies every
send. The guards run in a fixed order (capability, flow budget, journal coupling, leakage); the
first denial returns `Denied` with no commands, otherwise the outcome carries the commands in
the order the interpreter must carry them out: charge (with its receipt), journal facts, leakage
records, and last the send.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from aura_core.errors import InvalidArgument, LeakageExceeded
from aura_core.ids import AuthorityId, ContextId
from aura_journal.budget import FlowBudget, NotConfigured
from aura_journal.capability import check_capability_name
from aura_journal.fact import MAX_PAYLOAD
from aura_journal.leakage import LeakageLedger, LeakageLimits, ObserverClass
from aura_journal.receipt import ReceiptBody, ReceiptHead, message_digest

__all__ = [
    "DEFAULT_FLOW_COST",
    "LEAK_AMOUNT",
    "GuardAnnotations",
    "SendRequest",
    "GuardSnapshot",
    "ChargeBudget",
    "AppendJournal",
    "RecordLeakage",
    "SendEnvelope",
    "Command",
    "Authorized",
    "Denied",
    "Outcome",
    "Guard",
    "CapabilityGuard",
    "FlowBudgetGuard",
    "JournalCouplingGuard",
    "LeakageGuard",
    "STANDARD_CHAIN",
    "evaluate",
]

DEFAULT_FLOW_COST = 100
LEAK_AMOUNT = 1
"""Units of leakage charged per observer class for one message that reveals metadata."""


@attrs.frozen
class GuardAnnotations:
    """A message type's guard requirements (from its choreography annotations).

    Exactly one of `capability` and `public` is set: a message either names the capability its
    sender must hold, or is declared public with a non-empty reason (`public="discovery
    beacon, carries nothing"`). A public message skips only the capability guard; it still pays
    its flow cost and is still coupled to its journal label and charged for leakage.
    """

    capability: str | None = None
    flow_cost: int = DEFAULT_FLOW_COST
    journal_label: str | None = None
    leak: tuple[ObserverClass, ...] = ()
    public: str | None = attrs.field(default=None, kw_only=True)
    """Why the message needs no capability; None for a message that names one."""

    def __attrs_post_init__(self) -> None:
        if (self.capability is None) == (self.public is None):
            raise InvalidArgument(
                "a message type names a capability or is declared public, exactly one of them"
            )
        if self.capability is not None:
            check_capability_name(self.capability)
        if self.public is not None and (type(self.public) is not str or not self.public.strip()):
            raise InvalidArgument("a public message type gives a non-empty reason")
        if type(self.flow_cost) is not int or not 0 <= self.flow_cost < 2**32:
            raise InvalidArgument("flow_cost is an unsigned 32-bit integer")
        if any(type(observer) is not ObserverClass for observer in self.leak):
            raise InvalidArgument("leak names observer classes")


@attrs.frozen
class SendRequest:
    """One message the local authority wants to send."""

    context: ContextId
    peer: AuthorityId
    operation: str
    body: bytes
    annotations: GuardAnnotations | None
    """None for a message type without guard annotations: always denied."""


@attrs.frozen
class GuardSnapshot:
    """Everything evaluation reads, gathered (asynchronously) before it runs."""

    now_ms: int
    local: AuthorityId
    known_peer: bool
    capability_allowed: bool
    """The frontier's decision for the request's capability (False if it names none)."""
    budget: FlowBudget
    leakage: LeakageLedger
    leakage_limits: LeakageLimits
    receipt_head: ReceiptHead
    """The head of the flow's receipt chain (context, local, peer) in the budget's epoch."""


@attrs.frozen
class ChargeBudget:
    """Record the charge and issue its receipt."""

    spent_after: int
    receipt: ReceiptBody


@attrs.frozen
class AppendJournal:
    """Couple a journal label to this send (recorded in the charge's fact)."""

    label: str


@attrs.frozen
class RecordLeakage:
    observer: ObserverClass
    amount: int


@attrs.frozen
class SendEnvelope:
    peer: AuthorityId
    context: ContextId


Command = ChargeBudget | AppendJournal | RecordLeakage | SendEnvelope


@attrs.frozen
class Authorized:
    commands: tuple[Command, ...]


@attrs.frozen
class Denied:
    reason: str
    """Coarse code a peer may see."""
    detail: str = ""
    """Local detail for traces."""


Outcome = Authorized | Denied


class Guard(Protocol):
    """One link of the chain: deny, or contribute commands."""

    def check(self, snapshot: GuardSnapshot, request: SendRequest) -> Denied | list[Command]: ...


def _annotations(request: SendRequest) -> GuardAnnotations:
    assert request.annotations is not None
    return request.annotations


class CapabilityGuard:
    """The frontier must allow the message's capability in its context, unless the message
    type is declared public."""

    def check(self, snapshot: GuardSnapshot, request: SendRequest) -> Denied | list[Command]:
        annotations = _annotations(request)
        if annotations.public is not None:
            return []
        if not snapshot.capability_allowed:
            return Denied("capability", f"{annotations.capability} not allowed")
        return []


class FlowBudgetGuard:
    """The flow must have a configured budget, and spent + cost ≤ limit in the current epoch;
    the charge comes with the next receipt of the flow's chain."""

    def check(self, snapshot: GuardSnapshot, request: SendRequest) -> Denied | list[Command]:
        cost = _annotations(request).flow_cost
        budget = snapshot.budget
        if isinstance(budget.limit, NotConfigured):
            return Denied("unconfigured_flow", f"no budget configured for {request.peer}")
        if not budget.can_charge(cost):
            return Denied("budget", f"cost {cost} over headroom {budget.headroom}")
        head = snapshot.receipt_head
        receipt = ReceiptBody(
            context=request.context,
            source=snapshot.local,
            destination=request.peer,
            epoch=budget.epoch,
            cost=cost,
            nonce=head.nonce + 1,
            prev=head.digest,
            payload=message_digest(request.operation, request.body),
        )
        return [ChargeBudget(budget.spent + cost, receipt)]


class JournalCouplingGuard:
    """Facts named by the message's annotation are committed with the charge, before the send."""

    def check(self, snapshot: GuardSnapshot, request: SendRequest) -> Denied | list[Command]:
        label = _annotations(request).journal_label
        return [] if label is None else [AppendJournal(label)]


class LeakageGuard:
    """Each observer class the message reveals metadata to must have headroom (and the ledger
    must cover the window: a clock far behind the latest recorded event fails closed)."""

    def check(self, snapshot: GuardSnapshot, request: SendRequest) -> Denied | list[Command]:
        commands: list[Command] = []
        for observer in _annotations(request).leak:
            try:
                snapshot.leakage.check(
                    observer, LEAK_AMOUNT, snapshot.now_ms, snapshot.leakage_limits
                )
            except LeakageExceeded as exc:
                return Denied("leakage", exc.message)
            commands.append(RecordLeakage(observer, LEAK_AMOUNT))
        return commands


STANDARD_CHAIN: tuple[Guard, ...] = (
    CapabilityGuard(),
    FlowBudgetGuard(),
    JournalCouplingGuard(),
    LeakageGuard(),
)


def evaluate(
    snapshot: GuardSnapshot, request: SendRequest, chain: tuple[Guard, ...] = STANDARD_CHAIN
) -> Outcome:
    """Run the chain: the first denial wins and carries no commands."""
    if request.annotations is None:
        return Denied("unguarded", f"{request.operation} has no guard annotations")
    if len(request.body) > MAX_PAYLOAD:
        return Denied("oversized", f"{len(request.body)} bytes")
    if not snapshot.known_peer:
        return Denied("unknown_peer", str(request.peer))
    commands: list[Command] = []
    for guard in chain:
        result = guard.check(snapshot, request)
        if isinstance(result, Denied):
            return result
        commands.extend(result)
    commands.append(SendEnvelope(request.peer, request.context))
    return Authorized(tuple(commands))
