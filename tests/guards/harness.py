"""Two devices (Alice and Bob) joined by an in-memory network, on either bundle."""

from __future__ import annotations

from pathlib import Path

import attrs

from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import Envelope
from aura_core.encoding import decode, encode
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_core.time import OrderTime, PhysicalTime
from aura_effects.bundle import Effects, production_effects
from aura_effects.loopback import LoopbackNetwork, LoopbackTransport
from aura_guards.chain import GuardAnnotations
from aura_guards.transport import CHARGE_KEY_PREFIX, GuardedMessage, GuardedTransport
from aura_journal.budget import Capped, FlowCharge
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.context import ContextEpoch, ContextGenesis, ContextMember, approve_epoch
from aura_journal.fact import Fact, FactBody, JournalNamespace, Unattested, sign_fact
from aura_journal.journal import Journal
from aura_sim.handlers import ManualClock, MemoryStorage, testing_effects

ALICE = AuthorityId(b"\xa1" * 16)
BOB = AuthorityId(b"\xb0" * 16)
SEEDS = {ALICE: 1, BOB: 2}
"""Each node's key is `SigningKey(bytes([seed]) * 32)`."""
GENESIS = ContextGenesis.create(
    [ContextMember(a, SigningKey(bytes([s]) * 32).verifying_key) for a, s in SEEDS.items()],
    1,
    b"\xc1" * 32,
)
CONTEXT = GENESIS.context
"""Alice and Bob's context; either may move its epoch alone (epoch threshold 1)."""
OTHER_CONTEXT = ContextId(b"\xc2" * 16)
CAPS = ["chat:send", "chat:read"]
SEND = GuardAnnotations(capability="chat:send", flow_cost=10)


@attrs.define
class Node:
    authority: AuthorityId
    key: SigningKey
    effects: Effects
    raw: LoopbackTransport
    guarded: GuardedTransport
    capability_root: bytes

    async def journal(self, context: ContextId = CONTEXT) -> Journal:
        return await self.effects.journal.journal(JournalNamespace.of(context))

    async def spent(self, peer: AuthorityId, context: ContextId = CONTEXT) -> int:
        return await self.guarded.spent(context, peer)

    async def rotate_epoch(self, epoch: int, context: ContextId = CONTEXT) -> None:
        """Move the context to `epoch` in this node's journal (a ContextEpoch fact with this
        node's approval, enough in `CONTEXT`)."""
        namespace = JournalNamespace.of(context)
        order = await self.effects.order.order_time()
        now = await self.effects.time.now()
        change = ContextEpoch(epoch, (approve_epoch(context, epoch, self.authority, self.key),))
        body = FactBody(namespace, "context.epoch", 1, encode(change), order, now)
        await self.effects.journal.merge(namespace, [genesis_fact(), sign_fact(body, self.key)])


class Recorder:
    """Wraps a raw transport; at every send, records the charge storage held for it (if any)."""

    def __init__(self, inner: LoopbackTransport, node: Node | None = None) -> None:
        self.inner = inner
        self.node = node
        self.sent: list[tuple[Envelope, FlowCharge | None]] = []
        self.journal_keys: list[frozenset[str]] = []
        """The context's journal keys in storage at each send."""

    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        assert self.node is not None
        envelope = Envelope(self.node.authority, destination, context, payload)
        self.sent.append((envelope, await durable_charge(self.node, envelope)))
        prefix = f"journal/{JournalNamespace.of(context)}/"
        self.journal_keys.append(frozenset(await self.node.effects.storage.list_keys(prefix)))
        await self.inner.send(destination, context, payload)

    async def receive(self) -> Envelope:
        return await self.inner.receive()

    async def receive_many(self, limit: int) -> list[Envelope]:
        return await self.inner.receive_many(limit)


async def durable_charge(node: Node, envelope: Envelope) -> FlowCharge | None:
    """The flow's charge register in storage, if it is the charge for this envelope's receipt."""
    message = decode(envelope.payload, GuardedMessage)
    key = f"{CHARGE_KEY_PREFIX}{envelope.context}/{envelope.destination}"
    stored = await node.effects.storage.get(key)
    if stored is None:
        return None
    charge = decode(stored, FlowCharge)
    return charge if charge.receipt == message.receipt.digest else None


async def make_node(
    kind: str,
    authority: AuthorityId,
    network: LoopbackNetwork,
    tmp_path: Path,
    *,
    seed: int,
    storage: MemoryStorage | None = None,
    record: bool = True,
) -> Node:
    device = DeviceId(authority.raw[::-1])
    key = SigningKey(bytes([seed % 256]) * 32)
    if kind == "sqlite":
        effects = await production_effects(
            tmp_path / f"{authority}.db", authority=authority, device=device
        )
    else:
        effects = testing_effects(
            seed, authority=authority, device=device, storage=storage, clock=ManualClock()
        )
    raw = network.attach(authority)
    recorder = Recorder(raw) if record else raw
    guarded = GuardedTransport(effects, recorder, local=authority, signing_key=key)  # type: ignore[arg-type]
    node = Node(authority, key, effects, raw, guarded, bytes([seed % 256 ^ 0x5A]) * 32)
    if isinstance(recorder, Recorder):
        recorder.node = node
    effects.flow.set_default(CONTEXT, Capped(1000))
    token = issue_token(
        node.capability_root, authority, CAPS, seed=bytes(32), scope=ContextScope(CONTEXT)
    )
    effects.authorization.grant(CONTEXT, CapabilityFrontier.of(token))
    return node


async def pair(kind: str, tmp_path: Path) -> tuple[Node, Node, LoopbackNetwork]:
    network = LoopbackNetwork()
    alice = await make_node(kind, ALICE, network, tmp_path, seed=1)
    bob = await make_node(kind, BOB, network, tmp_path, seed=2)
    alice.effects.peers.add(BOB, bob.key.verifying_key)
    bob.effects.peers.add(ALICE, alice.key.verifying_key)
    return alice, bob, network


def genesis_fact() -> Fact:
    """`CONTEXT`'s genesis, written by Alice."""
    body = FactBody(
        JournalNamespace.of(CONTEXT),
        "context.genesis",
        1,
        encode(GENESIS),
        OrderTime(bytes(32)),
        PhysicalTime(0),
    )
    return sign_fact(body, SigningKey(bytes([SEEDS[ALICE]]) * 32))


def unattested(body: FactBody) -> Fact:
    return Fact(body, Unattested())
