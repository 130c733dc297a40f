"""The handler bundle of one device, and the production constructor.

Library code receives an `Effects` and uses the narrowest handlers it needs; nothing reaches for
a global. The raw transport is deliberately not in the bundle: it is handed only to the guard
chain (`aura_guards.GuardedTransport`), the one sender the layers above receive. The production
bundle reads the OS clock and randomness and stores to SQLite; the deterministic bundles (testing,
simulation) are built by `aura_sim.handlers` through the same `assemble_effects`, so only
randomness, clock and storage differ between them.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from aura_core.effects import (
    CryptoEffects,
    LogicalClockEffects,
    OrderClockEffects,
    PhysicalTimeEffects,
    RandomEffects,
    ReactiveEffects,
    StorageEffects,
    TraceEffects,
)
from aura_core.ids import AuthorityId, DeviceId
from aura_effects.authorization import AuthorizationHandler
from aura_effects.clock import OrderClock, SystemClock, VectorClock
from aura_effects.crypto import CryptoHandler
from aura_effects.journal import JournalHandler
from aura_effects.keyring import ContextKeyring
from aura_effects.policy import FlowPolicy, LeakagePolicy, PeerDirectory
from aura_effects.random import OsRandom
from aura_effects.reactive import SignalHub
from aura_effects.storage import SqliteStorage
from aura_effects.trace import Tracer
from aura_journal.registry import FactRegistry
from aura_journal.standard import standard_registry

__all__ = ["Effects", "production_effects", "assemble_effects"]


@attrs.frozen
class Effects:
    """Every handler a device's library code may use.

    An async context manager: leaving it (or `aclose()`) closes what the bundle owns, its
    storage, so `async with await production_effects(path, ...) as fx:` leaves no SQLite
    connection open.
    """

    random: RandomEffects
    time: PhysicalTimeEffects
    logical: LogicalClockEffects
    order: OrderClockEffects
    storage: StorageEffects
    crypto: CryptoEffects
    trace: TraceEffects
    reactive: ReactiveEffects
    journal: JournalHandler
    authorization: AuthorizationHandler
    flow: FlowPolicy
    leakage: LeakagePolicy
    peers: PeerDirectory
    contexts: ContextKeyring

    async def aclose(self) -> None:
        """Close the storage; the bundle is unusable afterwards. A second call does nothing."""
        await self.storage.close()

    async def __aenter__(self) -> Effects:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def production_effects(
    path: str | Path,
    *,
    authority: AuthorityId | None,
    device: DeviceId,
    registry: FactRegistry | None = None,
) -> Effects:
    """The production bundle: OS randomness and clock, SQLite storage at `path`."""
    return assemble_effects(
        random=OsRandom(),
        time=SystemClock(),
        storage=await SqliteStorage.open(path),
        authority=authority,
        device=device,
        registry=registry,
    )


def assemble_effects(
    *,
    random: RandomEffects,
    time: PhysicalTimeEffects,
    storage: StorageEffects,
    authority: AuthorityId | None,
    device: DeviceId,
    registry: FactRegistry | None = None,
) -> Effects:
    """A bundle around the three handlers that differ between production and simulation
    (randomness, clock, storage); every other handler is bookkeeping built on those."""
    trace = Tracer()
    return Effects(
        random=random,
        time=time,
        logical=VectorClock(device),
        order=OrderClock(random),
        storage=storage,
        crypto=CryptoHandler(random),
        trace=trace,
        reactive=SignalHub(),
        journal=JournalHandler(storage, registry or standard_registry(), trace),
        authorization=AuthorizationHandler(time, authority),
        flow=FlowPolicy(),
        leakage=LeakagePolicy(),
        peers=PeerDirectory(),
        contexts=ContextKeyring(),
    )
