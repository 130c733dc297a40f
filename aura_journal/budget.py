"""Flow budgets: how much a source may send a peer in a context, per epoch.

The epoch of every budget in a context is the context's epoch (`ContextEpoch` facts; the largest
wins), so rotating it resets what every flow has spent.

`FlowBudget{limit, spent, epoch}` is a join-semilattice: the limit joins by minimum (+∞, written
`None`, is the identity) and (epoch, spent) joins lexicographically, so a newer epoch resets what
was spent and within an epoch spending only grows. Only spending is journaled (`FlowSpent`
facts, each carrying the cumulative amount after a charge); the limit is derived from
capabilities when a guard evaluates a send, never stored. A charge succeeds iff
spent + cost ≤ limit, and a failed charge changes nothing.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core.encoding import decode, encode, record
from aura_core.errors import BudgetExceeded, FactRejected, InvalidArgument
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_journal.fact import Fact, NamespaceKind, Unattested
from aura_journal.registry import FactType, JournalState

__all__ = [
    "U64",
    "FlowBudget",
    "FlowKey",
    "FlowSpent",
    "SendCharge",
    "ContextEpoch",
    "FlowLedger",
    "FlowLedgerReducer",
    "FLOW_REDUCER",
    "FLOW_SPENT",
    "SEND_CHARGE",
    "CONTEXT_EPOCH",
]

U64 = 2**64


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < U64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


def _limit(_: object, __: object, value: int | None) -> None:
    if value is not None and (type(value) is not int or not 0 <= value < U64):
        raise InvalidArgument("a limit is None (unlimited) or an unsigned 64-bit integer")


@attrs.frozen
class FlowBudget:
    """A budget: `limit` None means unlimited (the join identity)."""

    limit: int | None = attrs.field(default=None, validator=_limit)
    spent: int = attrs.field(default=0, validator=_u64)
    epoch: int = attrs.field(default=0, validator=_u64)

    def join(self, other: FlowBudget) -> FlowBudget:
        """Lowest limit, and the lexicographically larger (epoch, spent)."""
        limits = [x for x in (self.limit, other.limit) if x is not None]
        epoch, spent = max((self.epoch, self.spent), (other.epoch, other.spent))
        return FlowBudget(min(limits) if limits else None, spent, epoch)

    @property
    def headroom(self) -> int | None:
        """What may still be spent this epoch (None: unlimited); never negative."""
        return None if self.limit is None else max(self.limit - self.spent, 0)

    def can_charge(self, cost: int) -> bool:
        return self.limit is None or self.spent + cost <= self.limit

    def charge(self, cost: int) -> FlowBudget:
        """The budget after spending `cost`; raises `BudgetExceeded` (changing nothing) if over."""
        if type(cost) is not int or not 0 <= cost < 2**32:
            raise InvalidArgument("a flow cost is an unsigned 32-bit integer")
        if not self.can_charge(cost):
            raise BudgetExceeded(f"charge of {cost} exceeds headroom {self.headroom}")
        return attrs.evolve(self, spent=self.spent + cost)

    def rotate_epoch(self, epoch: int) -> FlowBudget:
        """Move to a newer epoch with nothing spent; an older or equal epoch changes nothing."""
        if epoch <= self.epoch:
            return self
        return FlowBudget(self.limit, 0, epoch)


@record("flow.key")
@attrs.frozen(order=True)
class FlowKey:
    """Who pays for traffic to whom (authorities only, never devices)."""

    source: AuthorityId
    peer: AuthorityId


@record("flow.spent")
@attrs.frozen
class FlowSpent:
    """`source` has spent `spent` in total sending to `peer` in this context at `epoch`."""

    source: AuthorityId
    peer: AuthorityId
    epoch: int = attrs.field(validator=_u64)
    spent: int = attrs.field(validator=_u64)


@record("flow.send_charge")
@attrs.frozen
class SendCharge:
    """The guard chain charged a send to `peer`: the flow's cumulative spending after it.

    Local-only (unsigned): it is the sender's own ledger. The signed receipt travels with the
    envelope; `receipt` is its digest and `nonce` its place in the (context, source, epoch)
    chain, so every send can be matched with its charge.
    """

    source: AuthorityId
    peer: AuthorityId
    epoch: int = attrs.field(validator=_u64)
    cost: int = attrs.field(validator=_u64)
    spent: int = attrs.field(validator=_u64)
    nonce: int = attrs.field(validator=_u64)
    receipt: Hash32
    operation: str
    label: str | None = None
    """The choreography's `journal_facts` annotation, if the message had one."""


@record("flow.context_epoch")
@attrs.frozen
class ContextEpoch:
    """The context's epoch is at least `epoch`; moving to a higher one resets every budget."""

    epoch: int = attrs.field(validator=_u64)


@record("flow.ledger")
@attrs.frozen
class FlowLedger:
    """The journaled part of every budget in a context: (epoch, spent) per flow key."""

    entries: dict[FlowKey, tuple[int, ...]] = attrs.field(factory=dict, hash=False)
    """Flow key → (epoch, spent)."""
    epoch: int = 0
    """The context's current epoch."""

    def spent(self, source: AuthorityId, peer: AuthorityId) -> int:
        """What a flow has spent in the current epoch."""
        entry = self.entries.get(FlowKey(source, peer))
        return entry[1] if entry is not None and entry[0] == self.epoch else 0

    def budget(self, source: AuthorityId, peer: AuthorityId, limit: int | None) -> FlowBudget:
        """The full budget for a flow, with the limit the caller derived from capabilities."""
        return FlowBudget(limit, self.spent(source, peer), self.epoch)


class FlowLedgerReducer:
    """Joins `FlowSpent` facts per flow key, lexicographically on (epoch, spent)."""

    name = "flow"

    def initial(self) -> FlowLedger:
        return FlowLedger()

    def apply(self, view: FlowLedger, fact: Fact, payload: Any) -> FlowLedger:
        if isinstance(payload, ContextEpoch):
            return view if payload.epoch <= view.epoch else attrs.evolve(view, epoch=payload.epoch)
        if isinstance(payload, SendCharge):
            key = FlowKey(payload.source, payload.peer)
            candidate = (payload.epoch, payload.spent)
        else:
            flow: FlowSpent = payload
            key, candidate = FlowKey(flow.source, flow.peer), (flow.epoch, flow.spent)
        if candidate <= view.entries.get(key, (0, 0)):
            return view
        return FlowLedger({**view.entries, key: candidate}, view.epoch)

    def encode_view(self, view: FlowLedger) -> bytes:
        return encode(view)

    def decode_view(self, data: bytes) -> FlowLedger:
        return decode(data, FlowLedger)


def _validate_charge(state: JournalState, fact: Fact, charge: SendCharge) -> None:
    if charge.spent < charge.cost or charge.nonce < 1:
        raise FactRejected(f"charge {fact.id} spent less than its cost, or has no nonce")


FLOW_REDUCER = FlowLedgerReducer()
FLOW_SPENT: FactType[FlowSpent] = FactType(
    payload_type=FlowSpent, namespace_kind=NamespaceKind.CONTEXT, reducer=FLOW_REDUCER
)
SEND_CHARGE: FactType[SendCharge] = FactType(
    payload_type=SendCharge,
    namespace_kind=NamespaceKind.CONTEXT,
    attestations=frozenset({Unattested}),
    validate=_validate_charge,
    reducer=FLOW_REDUCER,
)
CONTEXT_EPOCH: FactType[ContextEpoch] = FactType(
    payload_type=ContextEpoch, namespace_kind=NamespaceKind.CONTEXT, reducer=FLOW_REDUCER
)
