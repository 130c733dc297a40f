"""Devices of one process on an in-process network, each behind its own guard chain.

The embedded default for running several devices together (the demo, examples): every device
keeps its own effects (SQLite storage, clocks, randomness) and sends only through its own
`GuardedTransport`. The raw loopback transports are made here and never leave: the guard chain
is the only holder of a raw transport, which an import-linter contract checks.
"""

from __future__ import annotations

from collections.abc import Mapping

from aura_core.crypto.ed25519 import SigningKey
from aura_core.ids import AuthorityId
from aura_effects.bundle import Effects
from aura_effects.loopback import LoopbackNetwork
from aura_guards.transport import GuardedTransport

__all__ = ["connect"]


def connect(
    devices: Mapping[AuthorityId, tuple[Effects, SigningKey]],
) -> dict[AuthorityId, GuardedTransport]:
    """One guarded transport per device (by its network authority) on a fresh in-process
    network, every device knowing every other's receipt key. Lossless and in order."""
    network = LoopbackNetwork()
    guarded: dict[AuthorityId, GuardedTransport] = {}
    for who, (effects, key) in devices.items():
        raw = network.attach(who)
        guarded[who] = GuardedTransport(effects, raw, local=who, signing_key=key)
        for other, (_, other_key) in devices.items():
            if other != who:
                effects.peers.add(other, other_key.verifying_key)
    return guarded
