"""Operation categories: how much agreement an operation needs before it takes effect.

- **A, optimistic**: an immediate CRDT fact (send a message, create a channel in an existing
  context, set a topic, react, block someone).
- **B, deferred**: a `Proposal` that applies once its approvals are in and reverts on
  rejection or timeout (change permissions, remove a member, transfer ownership).
- **C, consensus-gated**: a blocking ceremony that ends in a `CommitFact` (add a contact,
  create a group, add a member, enroll or revoke a device, rotate guardians, recover, a
  protocol hard fork).

The decision rule, in order: an operation that creates or changes cryptographic relationships
while the user waits for it is C; a removal from an existing context is B; one that affects
others and is high-risk or irreversible is B; everything else is A.
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["Category", "OperationTraits", "categorize", "EXAMPLES"]


class Category(enum.Enum):
    A = "optimistic"
    B = "deferred"
    C = "consensus_gated"


@attrs.frozen
class OperationTraits:
    """What the decision rule looks at; describe an operation with these flags."""

    changes_crypto_relationship: bool = False
    """Creates or changes keys, memberships with keys, or trust between authorities."""
    user_waits: bool = False
    """The user (or the caller) blocks until the operation is final."""
    removes_from_context: bool = False
    """Removes someone or something from a context that already exists."""
    affects_others: bool = False
    high_risk: bool = False
    irreversible: bool = False


def categorize(traits: OperationTraits) -> Category:
    """The category the decision rule assigns (see the module docstring)."""
    if traits.changes_crypto_relationship and traits.user_waits:
        return Category.C
    if traits.removes_from_context:
        return Category.B
    if traits.affects_others and (traits.high_risk or traits.irreversible):
        return Category.B
    return Category.A


_C = OperationTraits(changes_crypto_relationship=True, user_waits=True, affects_others=True)

EXAMPLES: dict[str, OperationTraits] = {
    "send_message": OperationTraits(affects_others=True),
    "create_channel": OperationTraits(affects_others=True),
    "set_topic": OperationTraits(affects_others=True),
    "react": OperationTraits(affects_others=True),
    "block": OperationTraits(),
    "change_permissions": OperationTraits(affects_others=True, high_risk=True),
    "kick": OperationTraits(affects_others=True, removes_from_context=True),
    "transfer_ownership": OperationTraits(affects_others=True, irreversible=True),
    "add_contact": _C,
    "create_group": _C,
    "add_member": _C,
    "enroll_device": _C,
    "revoke_device": attrs.evolve(_C, removes_from_context=True),
    "rotate_guardians": _C,
    "recovery": _C,
    "hard_fork": attrs.evolve(_C, irreversible=True),
}
"""The reference's examples, described by their traits (the tests check their categories)."""
