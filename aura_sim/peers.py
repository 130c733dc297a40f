"""Simulated peers outside the simulator: devices of one process on an in-memory network.

The embedded default for running several devices together (the demo, examples): every device
keeps its own effects (SQLite storage, clocks, randomness) and sends only through its own
`GuardedTransport`; the raw transports stay here, behind the guard chain.
"""

from __future__ import annotations

from collections.abc import Mapping

from aura_core.crypto.ed25519 import SigningKey
from aura_core.ids import AuthorityId
from aura_effects.bundle import Effects
from aura_guards.transport import GuardedTransport
from aura_sim.network import MemoryNetwork

__all__ = ["connect"]


def connect(
    devices: Mapping[AuthorityId, tuple[Effects, SigningKey]],
) -> dict[AuthorityId, GuardedTransport]:
    """One guarded transport per device (by its network authority) on a fresh in-memory
    network, every device knowing every other's receipt key. Lossless and in order."""
    network = MemoryNetwork()
    guarded: dict[AuthorityId, GuardedTransport] = {}
    for who, (effects, key) in devices.items():
        raw = network.attach(who)
        guarded[who] = GuardedTransport(effects, raw, local=who, signing_key=key)
        for other, (_, other_key) in devices.items():
            if other != who:
                effects.peers.add(other, other_key.verifying_key)
    return guarded
