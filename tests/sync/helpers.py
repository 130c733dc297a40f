"""Devices that share one relational context, for the sync and rendezvous tests.

`make_devices(n)` (call inside the simulator's loop) gives n devices, each with a
deterministic effect bundle on the loop's clock, its own signing key (its receipt key and its
member key in the context), the context's genesis in its journal and the context's secret in
its keyring, unlimited flow in the context and the sync capabilities. Their guarded transports
come from `aura_guards.loopback.connect` by default, or from any raw transport factory (then a
device can be restarted over its storage: `restart`). `write_notes` records signed `sim.note`
facts in a device's journal; `note_ids` reads them; `online` runs dispatchers and sync
services; `converge` waits until every device holds the same notes.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import attrs

from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.effects import TransportEffects
from aura_core.encoding import encode, record_tag
from aura_core.ids import AuthorityId, ContextId, DeviceId, FactId
from aura_core.time import OrderTime, PhysicalTime
from aura_effects.bundle import Effects
from aura_guards.loopback import connect
from aura_guards.transport import GuardedTransport
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.context import ContextGenesis, ContextMember
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_journal.registry import FactRegistry, Origin
from aura_journal.standard import standard_registry
from aura_protocol import Dispatcher
from aura_protocol.sync import CAPABILITIES, SyncConfig, SyncService
from aura_sim.examples.naive_push import NaivePush, Note
from aura_sim.handlers import LoopClock, MemoryStorage, testing_effects

TransportFactory = Callable[[AuthorityId], TransportEffects]


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def registry() -> FactRegistry:
    """The standard fact types and the simulator's notes."""
    made = standard_registry()
    NaivePush({}).register(made)
    return made


@attrs.frozen
class Identity:
    authority: AuthorityId
    key: SigningKey


def identities(n: int, label: str = "device") -> list[Identity]:
    return [
        Identity(AuthorityId(digest(f"{label} {i}")[:16]), SigningKey(digest(f"{label} key {i}")))
        for i in range(n)
    ]


def genesis_of(members: Sequence[Identity], label: str = "context") -> ContextGenesis:
    return ContextGenesis.create(
        [ContextMember(m.authority, m.key.verifying_key) for m in members],
        len(members) // 2 + 1,
        digest(label),
    )


def genesis_fact(genesis: ContextGenesis, author: Identity) -> Fact:
    type_id, version = record_tag(ContextGenesis)
    body = FactBody(
        JournalNamespace.of(genesis.context),
        type_id,
        version,
        encode(genesis),
        OrderTime(bytes(32)),
        PhysicalTime(0),
    )
    return sign_fact(body, author.key)


@attrs.define
class Shared:
    """What every device of a test context is given: the genesis (and its fact), the
    context's secret, every device's receipt key and the fact registry."""

    genesis: ContextGenesis
    fact: Fact
    secret: bytes
    keys: dict[AuthorityId, VerifyingKey]
    made: FactRegistry

    @property
    def context(self) -> ContextId:
        return self.genesis.context


@attrs.define
class SyncDevice:
    identity: Identity
    effects: Effects
    guarded: GuardedTransport
    shared: Shared
    storage: MemoryStorage
    raw: TransportEffects | None = None
    """The raw transport when the test chose it (a restart reuses it)."""

    @property
    def authority(self) -> AuthorityId:
        return self.identity.authority

    @property
    def key(self) -> SigningKey:
        return self.identity.key

    @property
    def context(self) -> ContextId:
        return self.shared.context

    @property
    def namespace(self) -> JournalNamespace:
        return JournalNamespace.of(self.context)


def bundle(who: Identity, *, seed: int, made: FactRegistry, storage: MemoryStorage) -> Effects:
    return testing_effects(
        seed,
        authority=who.authority,
        device=DeviceId(who.authority.raw[::-1]),
        clock=LoopClock(),
        registry=made,
        storage=storage,
    )


async def prepare(effects: Effects, who: Identity, shared: Shared, *, capable: bool = True) -> None:
    """The context as a member device holds it: genesis, secret, flow and (unless not
    `capable`) the sync capabilities."""
    context = shared.context
    await effects.journal.merge(JournalNamespace.of(context), [shared.fact])
    effects.contexts.add(context, shared.secret)
    effects.flow.set_default(context, UNLIMITED)
    if capable:
        grant(effects, who, context)


def grant(effects: Effects, who: Identity, context: ContextId) -> None:
    """The sync capabilities in `context`, from a root of `who`'s own."""
    token = issue_token(
        digest(f"root {who.authority}"),
        who.authority,
        list(CAPABILITIES),
        seed=bytes(32),
        scope=ContextScope(context),
    )
    effects.authorization.grant(context, CapabilityFrontier.of(token))


async def boot(
    who: Identity,
    shared: Shared,
    raw: TransportEffects,
    storage: MemoryStorage,
    *,
    seed: int,
    capable: bool = True,
) -> SyncDevice:
    """A device (or its next incarnation) over `storage`, sending on `raw`."""
    effects = bundle(who, seed=seed, made=shared.made, storage=storage)
    for other, key in shared.keys.items():
        if other != who.authority:
            effects.peers.add(other, key)
    guarded = GuardedTransport(effects, raw, local=who.authority, signing_key=who.key)
    await prepare(effects, who, shared, capable=capable)
    return SyncDevice(who, effects, guarded, shared, storage, raw)


async def restart(device: SyncDevice, *, seed: int) -> SyncDevice:
    """The device's next incarnation: new effects over the same storage, the same transport."""
    assert device.raw is not None, "restarts need a transport the test chose"
    return await boot(device.identity, device.shared, device.raw, device.storage, seed=seed)


async def make_devices(
    n: int,
    *,
    seed: int = 1,
    members: Sequence[Identity] | None = None,
    made: FactRegistry | None = None,
    attach: TransportFactory | None = None,
    incapable: Collection[int] = (),
) -> list[SyncDevice]:
    """n devices of one context, on one in-process network (`aura_guards.loopback.connect`),
    or on the raw transports `attach` gives. `members` defaults to the n devices themselves;
    the devices at the `incapable` indexes hold the context but no sync capability in it."""
    people = identities(n)
    founders = members if members is not None else people
    genesis = genesis_of(founders)
    shared = Shared(
        genesis,
        genesis_fact(genesis, founders[0]),
        digest("context secret"),
        {who.authority: who.key.verifying_key for who in people},
        made if made is not None else registry(),
    )
    if attach is not None:
        return [
            await boot(
                who,
                shared,
                attach(who.authority),
                MemoryStorage(),
                seed=seed,
                capable=index not in incapable,
            )
            for index, who in enumerate(people)
        ]
    stores = {who.authority: MemoryStorage() for who in people}
    bundles = {
        who.authority: (
            bundle(who, seed=seed, made=shared.made, storage=stores[who.authority]),
            who.key,
        )
        for who in people
    }
    guarded = connect(bundles)
    devices = []
    for index, who in enumerate(people):
        effects = bundles[who.authority][0]
        await prepare(effects, who, shared, capable=index not in incapable)
        devices.append(
            SyncDevice(who, effects, guarded[who.authority], shared, stores[who.authority])
        )
    return devices


async def write_notes(device: SyncDevice, count: int, label: str = "") -> list[Fact]:
    """`count` notes signed by `device` (its member key) in its context journal."""
    type_id, version = record_tag(Note)
    facts = []
    for seq in range(count):
        note = Note(device.authority, seq, f"{label}{device.authority} {seq}")
        body = FactBody(
            device.namespace,
            type_id,
            version,
            encode(note),
            await device.effects.order.order_time(),
            await device.effects.time.now(),
        )
        facts.append(sign_fact(body, device.key))
    await device.effects.journal.merge(device.namespace, facts, origin=Origin.LOCAL)
    return facts


async def note_ids(device: SyncDevice) -> frozenset[FactId]:
    journal = await device.effects.journal.journal(device.namespace)
    return frozenset(f.id for f in journal.of_type("sim.note"))


@asynccontextmanager
async def online(
    devices: Sequence[SyncDevice], config: SyncConfig, *, peers: bool = True
) -> AsyncIterator[list[SyncService]]:
    """Every device's dispatcher and sync service (each syncing periodically with every other
    device unless `peers` is False)."""
    async with AsyncExitStack() as stack:
        services = []
        for device in devices:
            dispatcher = await stack.enter_async_context(
                Dispatcher(device.guarded, device.effects.trace)
            )
            others = [d.authority for d in devices if d is not device] if peers else []
            service = SyncService(device.effects, dispatcher, peers=others, config=config)
            services.append(await stack.enter_async_context(service))
        yield services


async def converge(devices: Sequence[SyncDevice], within_s: float) -> frozenset[FactId]:
    """Wait (virtual time) until every device holds the same notes; those notes."""
    with anyio.fail_after(within_s):
        while True:
            held = {await note_ids(d) for d in devices}
            if len(held) == 1:
                return held.pop()
            await anyio.sleep(0.05)
