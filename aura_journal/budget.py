"""Flow budgets: how much a source may send a peer in a context, per epoch.

The epoch of every budget in a context is the context's epoch (`ContextEpoch` facts; the largest
wins), so rotating it resets what every flow has spent.

`FlowBudget{limit, spent, epoch}` is a join-semilattice: the limit joins by minimum (+∞, written
`None`, is the identity) and (epoch, spent) joins lexicographically, so a newer epoch resets what
was spent and within an epoch spending only grows. Only spending is recorded, never the limit
(derived from capabilities when a guard evaluates a send). A sender keeps its own spending in
one `FlowCharge` register per flow, rewritten by each charged send; `FlowSpent` facts carry
spending through the journal. A flow's spending is the join of both. A charge succeeds iff
spent + cost ≤ limit, and a failed charge changes nothing.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core.encoding import decode, encode, record
from aura_core.errors import BudgetExceeded, InvalidArgument
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_journal.fact import Fact, NamespaceKind
from aura_journal.registry import FactType

__all__ = [
    "U64",
    "FlowBudget",
    "FlowKey",
    "FlowSpent",
    "FlowCharge",
    "ContextEpoch",
    "FlowLedger",
    "FlowLedgerReducer",
    "FLOW_REDUCER",
    "FLOW_SPENT",
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


@record("flow.charge")
@attrs.frozen
class FlowCharge:
    """A sender's charge register for one flow: its spending in `epoch` after its latest
    charged send, and that send's place in the receipt chain.

    Not a fact: every charged send rewrites the flow's register in the storage batch that
    commits the send, before the envelope leaves, so the register holds the flow's lattice
    state ((epoch, spent) only grows) and a device's storage does not grow with its traffic.
    `nonce` and `receipt` name the signed receipt the latest charge paid for.
    """

    epoch: int = attrs.field(validator=_u64)
    spent: int = attrs.field(validator=_u64)
    nonce: int = attrs.field(validator=_u64)
    receipt: Hash32


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

    def budget(
        self,
        source: AuthorityId,
        peer: AuthorityId,
        limit: int | None,
        charged: FlowCharge | None = None,
    ) -> FlowBudget:
        """The full budget for a flow, with the limit the caller derived from capabilities.

        `charged` is the sender's own register for the flow: what it spent in the current
        epoch joins (by maximum) what the journal records.
        """
        spent = self.spent(source, peer)
        if charged is not None and charged.epoch == self.epoch and charged.spent > spent:
            spent = charged.spent
        return FlowBudget(limit, spent, self.epoch)


class FlowLedgerReducer:
    """Joins `FlowSpent` facts per flow key, lexicographically on (epoch, spent)."""

    name = "flow"

    def initial(self) -> FlowLedger:
        return FlowLedger()

    def apply(self, view: FlowLedger, fact: Fact, payload: Any) -> FlowLedger:
        if isinstance(payload, ContextEpoch):
            return view if payload.epoch <= view.epoch else attrs.evolve(view, epoch=payload.epoch)
        flow: FlowSpent = payload
        key, candidate = FlowKey(flow.source, flow.peer), (flow.epoch, flow.spent)
        if candidate <= view.entries.get(key, (0, 0)):
            return view
        return FlowLedger({**view.entries, key: candidate}, view.epoch)

    def encode_view(self, view: FlowLedger) -> bytes:
        return encode(view)

    def decode_view(self, data: bytes) -> FlowLedger:
        return decode(data, FlowLedger)


FLOW_REDUCER = FlowLedgerReducer()
FLOW_SPENT: FactType[FlowSpent] = FactType(
    payload_type=FlowSpent, namespace_kind=NamespaceKind.CONTEXT, reducer=FLOW_REDUCER
)
CONTEXT_EPOCH: FactType[ContextEpoch] = FactType(
    payload_type=ContextEpoch, namespace_kind=NamespaceKind.CONTEXT, reducer=FLOW_REDUCER
)
