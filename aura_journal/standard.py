"""The fact types every Aura journal understands."""

from __future__ import annotations

from aura_journal.budget import FLOW_SPENT
from aura_journal.context import CONTEXT_EPOCH, CONTEXT_GENESIS
from aura_journal.coupling import COUPLED_SEND
from aura_journal.leakage import LEAKAGE_RECORDED, LEAKAGE_RESET
from aura_journal.registry import FactRegistry
from aura_journal.rendezvous import RENDEZVOUS_DESCRIPTOR, RENDEZVOUS_REVOCATION
from aura_journal.tree import TREE_GENESIS

__all__ = ["standard_registry"]


def standard_registry() -> FactRegistry:
    """A fresh registry with the tree and context geneses, flow-budget (spending, epochs),
    coupled-send, leakage and rendezvous (descriptor, revocation) fact types.

    Applications register their own (generic) fact types on the registry they pass to their
    journals; all journals that are joined must share one registry.
    """
    registry = FactRegistry()
    for fact_type in (
        TREE_GENESIS,
        CONTEXT_GENESIS,
        FLOW_SPENT,
        COUPLED_SEND,
        CONTEXT_EPOCH,
        LEAKAGE_RECORDED,
        LEAKAGE_RESET,
        RENDEZVOUS_DESCRIPTOR,
        RENDEZVOUS_REVOCATION,
    ):
        registry.register(fact_type)
    return registry
