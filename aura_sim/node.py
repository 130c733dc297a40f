"""A simulated device: durable disk, network identity, and volatile state that a crash loses."""

from __future__ import annotations

import enum
from collections.abc import Sequence

import anyio

from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import Envelope, Put, StorageOp
from aura_core.encoding import decode
from aura_core.errors import EncodingError, InvalidArgument
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_effects.bundle import Effects
from aura_guards.transport import CHARGE_KEY_PREFIX, GuardedTransport
from aura_journal.budget import Capped, FlowCharge
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.registry import FactRegistry
from aura_sim.handlers import Disk, LoopClock, MemoryStorage, SeededRandom, testing_effects
from aura_sim.network import SimTransport
from aura_sim.seeds import SeedTree, Stream

__all__ = ["FLOW_LIMIT", "NodeState", "SimNode", "ByzantineTransport"]

FLOW_LIMIT = 1_000_000
"""Per-epoch flow limit of every link in a run (budgets are checked, not exhausted)."""


class ByzantineTransport:
    """A node's own transport, misbehaving: replays, duplicates or corrupts what it sends."""

    def __init__(self, inner: SimTransport, stream: Stream, *, rate: float = 0.3) -> None:
        self._inner = inner
        self._stream = stream
        self._rate = rate
        self._history: list[tuple[AuthorityId, ContextId, bytes]] = []

    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        stream = self._stream
        if self._history and stream.bernoulli(self._rate):
            await self._inner.send(*stream.choice(self._history))  # replay an old message
        if stream.bernoulli(self._rate):
            corrupted = bytearray(payload)
            if corrupted:
                corrupted[stream.below(len(corrupted))] ^= 0xFF
            payload = bytes(corrupted)
        self._history.append((destination, context, payload))
        await self._inner.send(destination, context, payload)
        if stream.bernoulli(self._rate):
            await self._inner.send(destination, context, payload)  # duplicate

    async def receive(self) -> Envelope:
        return await self._inner.receive()

    async def receive_many(self, limit: int) -> list[Envelope]:
        return await self._inner.receive_many(limit)


class NodeState(enum.Enum):
    """Where a node is in its lifecycle: DOWN -boot-> BOOTING -start-> UP, and any -halt-> DOWN.

    BOOTING is the gap between building an incarnation's volatile state and its task starting;
    a crash can fall into it, and the task must then not run (nothing of it is left).
    """

    DOWN = "down"
    BOOTING = "booting"
    UP = "up"


class SimNode:
    """One node of a run. `boot` builds its volatile state from its disk; each boot is a new
    incarnation, and `start` lets only the incarnation that is still booting run."""

    def __init__(
        self,
        name: str,
        seeds: SeedTree,
        transport: SimTransport,
        *,
        context: ContextId,
        byzantine: bool = False,
        skew_ms: int = 0,
        unsynced_window: float = 0.0,
    ) -> None:
        self.name = name
        self.seeds = seeds
        identity = seeds.stream("identity")
        self.authority = transport.authority
        self.device = DeviceId.from_entropy(identity.bytes(32))
        self.key = SigningKey(identity.bytes(32))
        self.capability_root = identity.bytes(32)
        self.context = context
        self.transport = transport
        self.byzantine = byzantine
        self.skew_ms = skew_ms
        self.disk = Disk(unsynced_window=unsynced_window)
        self.incarnation = 0
        self.state = NodeState.DOWN
        self.effects: Effects | None = None
        self.guarded: GuardedTransport | None = None
        self.scope: anyio.CancelScope | None = None
        self.committed_receipts: set[bytes] = set()
        """Digests of receipts whose charge is on this node's disk (for the monitors)."""

    @property
    def alive(self) -> bool:
        """Booting or up: the incarnation's volatile state exists."""
        return self.state is not NodeState.DOWN

    def boot(
        self, peers: Sequence[SimNode], registry: FactRegistry, capabilities: Sequence[str]
    ) -> None:
        """Build the node's effects and guarded transport over its disk (start or restart): the
        next incarnation, BOOTING until `start`. Only a node that is down boots."""
        if self.state is not NodeState.DOWN:
            raise InvalidArgument(
                f"{self.name} is {self.state.value}: only a node that is down boots"
            )
        self.incarnation += 1
        clock = LoopClock(skew_ms=self.skew_ms)
        storage = MemoryStorage(self.disk, clock=anyio.current_time)
        storage.on_commit = self._observe_commit
        random = SeededRandom(self.seeds.stream(f"random-{self.incarnation}"))
        effects = testing_effects(
            0,
            authority=self.authority,
            device=self.device,
            storage=storage,
            clock=clock,
            registry=registry,
            random=random,
        )
        for peer in peers:
            if peer is not self:
                effects.peers.add(peer.authority, peer.key.verifying_key)
        effects.flow.set_default(self.context, Capped(FLOW_LIMIT))
        token = issue_token(
            self.capability_root,
            self.authority,
            sorted(set(capabilities)),
            seed=self.seeds.stream("token").bytes(32),
            scope=ContextScope(self.context),
        )
        effects.authorization.grant(self.context, CapabilityFrontier.of(token))
        raw: SimTransport | ByzantineTransport = self.transport
        if self.byzantine:
            raw = ByzantineTransport(
                self.transport, self.seeds.stream(f"byzantine-{self.incarnation}")
            )
        self.effects = effects
        self.guarded = GuardedTransport(effects, raw, local=self.authority, signing_key=self.key)
        self.state = NodeState.BOOTING

    def start(self, incarnation: int) -> bool:
        """The task of `incarnation` begins: True (and UP) if that incarnation is still booting,
        False if it crashed (or was replaced) before its task ran, which must then end."""
        if self.state is not NodeState.BOOTING or self.incarnation != incarnation:
            return False
        self.state = NodeState.UP
        return True

    def halt(self) -> None:
        """Lose the volatile state (a crash, booting or up); the disk stays."""
        self.state = NodeState.DOWN
        self.effects = None
        self.guarded = None
        self.scope = None

    def _observe_commit(self, ops: Sequence[StorageOp]) -> None:
        for op in ops:
            if isinstance(op, Put) and op.key.startswith(CHARGE_KEY_PREFIX):
                try:
                    charge = decode(op.value, FlowCharge)
                except EncodingError:
                    continue
                self.committed_receipts.add(charge.receipt.digest)

    def __repr__(self) -> str:
        return f"SimNode({self.name})"
