"""Consensus over the network: the `AuraConsensus`, `AuraNonces` and `AuraGossip`
choreographies driving `aura_consensus`'s pure instance machine. See docs/consensus.md,
"The networked layer"."""

from aura_protocol.consensus.config import (
    Behavior,
    ConsensusConfig,
    DecidedHook,
    Group,
    PrestateView,
)
from aura_protocol.consensus.node import ConsensusNode
from aura_protocol.consensus.protocols import CAPABILITIES
from aura_protocol.consensus.record import record_in_journal, record_tree_change

__all__ = [
    "Behavior",
    "ConsensusConfig",
    "ConsensusNode",
    "DecidedHook",
    "Group",
    "PrestateView",
    "CAPABILITIES",
    "record_in_journal",
    "record_tree_change",
]
