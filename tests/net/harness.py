"""Devices on 127.0.0.1 (ports from the OS), each with its own effects, TCP transport and guard
chain; members of one context whose secret they share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import attrs

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import encode
from aura_core.ids import AuthorityId, DeviceId
from aura_core.noise import StaticKeypair
from aura_core.time import OrderTime, PhysicalTime
from aura_effects.bundle import Effects, assemble_effects
from aura_effects.clock import SystemClock
from aura_effects.locator import PeerAddress, StaticLocator
from aura_effects.random import OsRandom
from aura_effects.tcpconfig import TcpConfig
from aura_effects.trace import TraceEvent, Tracer
from aura_guards.chain import GuardAnnotations
from aura_guards.tcp import TcpNode, open_tcp
from aura_journal.budget import Capped
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.context import ContextEpoch, ContextGenesis, ContextMember, approve_epoch
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_sim.handlers import MemoryStorage

ALICE = AuthorityId(b"\xa1" * 16)
BOB = AuthorityId(b"\xb0" * 16)
CAROL = AuthorityId(b"\xca" * 16)
SEEDS = {ALICE: 1, BOB: 2, CAROL: 3}
"""Each device's receipt key is `SigningKey(bytes([seed]) * 32)`, its static key's seed
`bytes([seed + 100]) * 32`."""
GENESIS = ContextGenesis.create(
    [ContextMember(a, SigningKey(bytes([s]) * 32).verifying_key) for a, s in SEEDS.items()],
    1,
    b"\xc1" * 32,
)
CONTEXT = GENESIS.context
"""The context of Alice, Bob and Carol; any one of them may move its epoch."""
SECRET = b"\x5e" * 32
"""The context's shared secret (every member holds it)."""
CAPS = ["chat:send"]
SEND = GuardAnnotations(capability="chat:send", flow_cost=1)
FAST = TcpConfig(handshake_timeout=2.0, backoff_base=0.02, backoff_cap=0.2)
"""Test timings: everything a test waits for happens within a second or two."""


def signing_key(authority: AuthorityId) -> SigningKey:
    return SigningKey(bytes([SEEDS[authority]]) * 32)


def static_keypair(authority: AuthorityId) -> StaticKeypair:
    return StaticKeypair.from_seed(bytes([SEEDS[authority] + 100]) * 32)


def genesis_fact() -> Fact:
    body = FactBody(
        JournalNamespace.of(CONTEXT),
        "context.genesis",
        1,
        encode(GENESIS),
        OrderTime(bytes(32)),
        PhysicalTime(0),
    )
    return sign_fact(body, signing_key(ALICE))


@attrs.define(eq=False)
class Device:
    """One member device: its effects, its static key pair, the table it dials from."""

    authority: AuthorityId
    effects: Effects
    keypair: StaticKeypair
    locator: StaticLocator
    node: TcpNode | None = None

    @property
    def key(self) -> SigningKey:
        return signing_key(self.authority)

    @property
    def device(self) -> DeviceId:
        return DeviceId(self.authority.raw[::-1])

    @property
    def tracer(self) -> Tracer:
        assert isinstance(self.effects.trace, Tracer)
        return self.effects.trace

    def events(self, name: str) -> list[TraceEvent]:
        return self.tracer.events(name)

    @property
    def running(self) -> TcpNode:
        assert self.node is not None, "start the device first"
        return self.node

    def address(self) -> PeerAddress:
        return PeerAddress("127.0.0.1", self.running.port, self.keypair.public)

    async def send(self, peer: AuthorityId, body: bytes) -> None:
        await self.running.guarded.send(CONTEXT, peer, "chat.say", body, SEND)

    async def rotate_epoch(self, epoch: int) -> None:
        """Move `CONTEXT` to `epoch` in this device's journal."""
        namespace = JournalNamespace.of(CONTEXT)
        change = ContextEpoch(epoch, (approve_epoch(CONTEXT, epoch, self.authority, self.key),))
        body = FactBody(
            namespace,
            "context.epoch",
            1,
            encode(change),
            await self.effects.order.order_time(),
            await self.effects.time.now(),
        )
        await self.effects.journal.merge(namespace, [sign_fact(body, self.key)])


async def make_device(authority: AuthorityId) -> Device:
    effects = assemble_effects(
        random=OsRandom(),
        time=SystemClock(),
        storage=MemoryStorage(),
        authority=authority,
        device=DeviceId(authority.raw[::-1]),
    )
    await effects.journal.merge(JournalNamespace.of(CONTEXT), [genesis_fact()])
    effects.flow.set_default(CONTEXT, Capped(10**9))
    root = bytes([SEEDS[authority] ^ 0x5A]) * 32
    token = issue_token(root, authority, CAPS, seed=bytes(32), scope=ContextScope(CONTEXT))
    effects.authorization.grant(CONTEXT, CapabilityFrontier.of(token))
    effects.contexts.add(CONTEXT, SECRET)
    for other in SEEDS:
        if other != authority:
            effects.peers.add(other, signing_key(other).verifying_key)
    return Device(authority, effects, static_keypair(authority), StaticLocator())


@asynccontextmanager
async def started(device: Device, config: TcpConfig = FAST) -> AsyncIterator[TcpNode]:
    """Run `device`'s transport (its guard chain around it) for the duration."""
    async with open_tcp(
        device.effects,
        local=device.authority,
        signing_key=device.key,
        keypair=device.keypair,
        locator=device.locator,
        config=config,
    ) as node:
        device.node = node
        try:
            yield node
        finally:
            device.node = None


def introduce(devices: Sequence[Device]) -> None:
    """Every device learns every other's address (all must be started)."""
    for device in devices:
        for other in devices:
            if other is not device:
                device.locator.put(other.authority, other.address())


@asynccontextmanager
async def network(
    *authorities: AuthorityId, config: TcpConfig = FAST
) -> AsyncIterator[list[Device]]:
    """Started devices that know each other."""
    devices = [await make_device(a) for a in authorities]
    async with AsyncExitStack() as stack:
        for device in devices:
            await stack.enter_async_context(started(device, config))
        introduce(devices)
        yield devices


async def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `check` until it holds (a safety limit, not a timing assertion)."""
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.005)


async def receive(device: Device, timeout: float = 5.0) -> tuple[AuthorityId, bytes]:
    with anyio.fail_after(timeout):
        message = await device.running.guarded.receive()
    return message.source, message.body
