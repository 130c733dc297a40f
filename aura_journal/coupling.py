"""Journal coupling: a send whose message type names a journal label leaves a fact behind.

A choreography message annotated with `journal_facts` must not leave the device unless the
journal records it. The guard chain commits a local-only `CoupledSend` fact (label, operation,
peer and the receipt that paid for the send) in the storage batch that charges the send, so the
fact is durable before the envelope leaves. Sends without a label write no fact.
"""

from __future__ import annotations

import attrs

from aura_core.encoding import record
from aura_core.errors import FactRejected, InvalidArgument
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_journal.fact import Fact, NamespaceKind
from aura_journal.registry import LOCAL_DEVICE, FactType, JournalState

__all__ = ["CoupledSend", "COUPLED_SEND"]


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


@record("flow.coupled_send")
@attrs.frozen
class CoupledSend:
    """This device sent `operation` to `peer` under the journal label `label`.

    Local-only (unsigned): it is the sender's own record. `epoch`, `nonce` and `receipt` name
    the signed receipt the send travelled with.
    """

    peer: AuthorityId
    epoch: int = attrs.field(validator=_u64)
    nonce: int = attrs.field(validator=_u64)
    receipt: Hash32
    operation: str
    label: str


def _validate(state: JournalState, fact: Fact, coupled: CoupledSend) -> None:
    if coupled.nonce < 1 or not coupled.label:
        raise FactRejected(f"coupled send {fact.id} has no receipt nonce or no label")


COUPLED_SEND: FactType[CoupledSend] = FactType(
    payload_type=CoupledSend,
    namespace_kind=NamespaceKind.CONTEXT,
    writer=LOCAL_DEVICE,
    validate=_validate,
)
