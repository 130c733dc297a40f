"""Flow budgets: how much a source may send a peer in a context, per epoch.

The epoch of every budget in a context is the context's epoch (`ContextView.epoch`, moved by
`ContextEpoch` facts in `aura_journal.context`), so rotating it resets what every flow has
spent.

A flow's limit (`FlowLimit`) is one of three distinct states: `Capped(units)` per epoch,
`UNLIMITED`, or `NOT_CONFIGURED`: no policy names the flow, and every send on it is denied, even
one that costs nothing (closed by default; `Capped(0)` still lets zero-cost sends through).

`FlowBudget{limit, spent, epoch}` is a join-semilattice: the limit joins by minimum in the chain
`NOT_CONFIGURED < Capped(0) < Capped(1) < ... < UNLIMITED` (`UNLIMITED` is the identity) and
(epoch, spent) joins lexicographically, so a newer epoch resets what was spent and within an
epoch spending only grows. Only spending is recorded, never the limit (policy supplies it when a
guard evaluates a send). A sender keeps its own spending in one `FlowCharge` register per flow,
rewritten by each charged send; `FlowSpent` facts carry spending through the journal. A flow's
spending is the join of both. A charge succeeds iff spent + cost ≤ limit, and a failed charge
changes nothing.

Who writes: a `FlowSpent` fact only by the flow's source (a context member signing with its
key), naming the latest receipt of its chain to that peer, so nobody can exhaust someone
else's budget.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

from aura_core.encoding import decode, encode, record
from aura_core.errors import (
    BudgetExceeded,
    InvalidArgument,
    MissingParent,
    UnauthorizedWriter,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_journal.context import CONTEXT_MEMBERS, CONTEXT_REDUCER
from aura_journal.fact import Fact, NamespaceKind
from aura_journal.registry import FactType, JournalState, Origin

__all__ = [
    "U64",
    "Capped",
    "Unlimited",
    "NotConfigured",
    "FlowLimit",
    "UNLIMITED",
    "NOT_CONFIGURED",
    "FlowBudget",
    "FlowKey",
    "FlowSpent",
    "FlowCharge",
    "MAX_FLOW_COST",
    "FlowLedger",
    "FlowLedgerReducer",
    "FLOW_REDUCER",
    "FLOW_SPENT",
]

U64 = 2**64
MAX_FLOW_COST = 2**32 - 1
"""The largest cost one send may be charged (a guard annotation's `flow_cost` is a u32)."""


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < U64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


@attrs.frozen
class Capped:
    """At most `units` may be spent per epoch (`Capped(0)`: only zero-cost sends)."""

    units: int = attrs.field(validator=_u64)


@attrs.frozen
class Unlimited:
    """No cap on what may be spent (the identity of the limit join)."""


@attrs.frozen
class NotConfigured:
    """No policy names this flow: every send is denied, including zero-cost ones."""


FlowLimit: TypeAlias = Capped | Unlimited | NotConfigured
"""What policy says a flow may spend per epoch; three distinct states, no sentinel values."""
UNLIMITED = Unlimited()
NOT_CONFIGURED = NotConfigured()


def _rank(limit: FlowLimit) -> tuple[int, int]:
    """Position in the chain NOT_CONFIGURED < Capped(0) < Capped(1) < ... < UNLIMITED."""
    if isinstance(limit, Capped):
        return (1, limit.units)
    return (2, 0) if isinstance(limit, Unlimited) else (0, 0)


def _limit(_: object, __: object, value: object) -> None:
    if type(value) not in (Capped, Unlimited, NotConfigured):
        raise InvalidArgument("a flow limit is Capped(units), UNLIMITED or NOT_CONFIGURED")


@attrs.frozen
class FlowBudget:
    """A budget: what a flow may spend per epoch (`limit`), and has spent in `epoch`."""

    limit: FlowLimit = attrs.field(default=UNLIMITED, validator=_limit)
    spent: int = attrs.field(default=0, validator=_u64)
    epoch: int = attrs.field(default=0, validator=_u64)

    def join(self, other: FlowBudget) -> FlowBudget:
        """Lowest limit, and the lexicographically larger (epoch, spent)."""
        limit = min(self.limit, other.limit, key=_rank)
        epoch, spent = max((self.epoch, self.spent), (other.epoch, other.spent))
        return FlowBudget(limit, spent, epoch)

    @property
    def headroom(self) -> int | None:
        """What may still be spent this epoch: None when unlimited, 0 when not configured;
        never negative."""
        if isinstance(self.limit, Capped):
            return max(self.limit.units - self.spent, 0)
        return None if isinstance(self.limit, Unlimited) else 0

    def can_charge(self, cost: int) -> bool:
        """Whether spending `cost` stays within the limit (never on an unconfigured flow)."""
        if isinstance(self.limit, Capped):
            return self.spent + cost <= self.limit.units
        return isinstance(self.limit, Unlimited)

    def charge(self, cost: int) -> FlowBudget:
        """The budget after spending `cost`; raises `BudgetExceeded` (changing nothing) if over."""
        if type(cost) is not int or not 0 <= cost <= MAX_FLOW_COST:
            raise InvalidArgument("a flow cost is an unsigned 32-bit integer")
        if isinstance(self.limit, NotConfigured):
            raise BudgetExceeded("the flow has no configured budget")
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


@record("flow.spent", version=2)
@attrs.frozen
class FlowSpent:
    """`source` has spent `spent` in total sending to `peer` in this context at `epoch`, up to
    the receipt numbered `nonce` in its chain to `peer` (whose digest is `receipt`).

    Written only by `source`; each send costs at most `MAX_FLOW_COST`, so `spent` can be no
    more than `nonce` sends' worth.
    """

    source: AuthorityId
    peer: AuthorityId
    epoch: int = attrs.field(validator=_u64)
    spent: int = attrs.field(validator=_u64)
    nonce: int = attrs.field(validator=_u64)
    receipt: Hash32

    def __attrs_post_init__(self) -> None:
        if self.nonce < 1 or self.spent > self.nonce * MAX_FLOW_COST:
            raise InvalidArgument(
                f"{self.spent} spent is more than {self.nonce} receipted sends can cost"
            )


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


@record("flow.ledger", version=2)
@attrs.frozen
class FlowLedger:
    """The journaled part of every budget in a context: (epoch, spent) per flow key. The
    context's epoch is the context's own (`ContextView.epoch`); callers pass it in."""

    entries: dict[FlowKey, tuple[int, ...]] = attrs.field(factory=dict, hash=False)
    """Flow key → (epoch, spent)."""

    def spent(self, source: AuthorityId, peer: AuthorityId, epoch: int) -> int:
        """What a flow has spent in `epoch` (the context's current one)."""
        entry = self.entries.get(FlowKey(source, peer))
        return entry[1] if entry is not None and entry[0] == epoch else 0

    def budget(
        self,
        source: AuthorityId,
        peer: AuthorityId,
        limit: FlowLimit,
        epoch: int,
        charged: FlowCharge | None = None,
    ) -> FlowBudget:
        """The full budget for a flow in the context's current `epoch`, with the limit policy
        gives it.

        `charged` is the sender's own register for the flow: what it spent in the current
        epoch joins (by maximum) what the journal records.
        """
        spent = self.spent(source, peer, epoch)
        if charged is not None and charged.epoch == epoch and charged.spent > spent:
            spent = charged.spent
        return FlowBudget(limit, spent, epoch)


class FlowLedgerReducer:
    """Joins `FlowSpent` facts per flow key, lexicographically on (epoch, spent)."""

    name = "flow"

    def initial(self) -> FlowLedger:
        return FlowLedger()

    def apply(self, view: FlowLedger, fact: Fact, payload: Any) -> FlowLedger:
        flow: FlowSpent = payload
        key, candidate = FlowKey(flow.source, flow.peer), (flow.epoch, flow.spent)
        if candidate <= view.entries.get(key, (0, 0)):
            return view
        return FlowLedger({**view.entries, key: candidate})

    def encode_view(self, view: FlowLedger) -> bytes:
        return encode(view)

    def decode_view(self, data: bytes) -> FlowLedger:
        return decode(data, FlowLedger)


FLOW_REDUCER = FlowLedgerReducer()


@attrs.frozen
class FlowSource:
    """A flow's spending is written only by its source, a member signing with its key."""

    summary = "the flow's source (a context member; names its latest receipt)"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        member = CONTEXT_MEMBERS.writer(state, fact)
        flow: FlowSpent = payload
        if member.authority != flow.source:
            raise UnauthorizedWriter(
                f"fact {fact.id}: only {flow.source} writes its own spending, not "
                f"{member.authority}"
            )


def _validate_spent(state: JournalState, fact: Fact, flow: FlowSpent) -> None:
    if flow.epoch > state.view(CONTEXT_REDUCER).epoch:
        raise MissingParent(f"fact {fact.id}: spending at a future epoch {flow.epoch}")


FLOW_SPENT: FactType[FlowSpent] = FactType(
    payload_type=FlowSpent,
    namespace_kind=NamespaceKind.CONTEXT,
    writer=FlowSource(),
    validate=_validate_spent,
    reducer=FLOW_REDUCER,
)
