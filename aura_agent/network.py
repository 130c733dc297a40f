"""A device on the real network: its TCP endpoint, how it finds its peers, what it publishes.

`on_tcp(...)` runs a device's TCP transport behind its guard chain (`aura_guards.tcp`) for the
duration and yields its `Device`, ready to go `online`. What it sets up, in order:

* the receipt keys of the context's other members (`effects.peers`), read from the context's
  genesis: a device's member key in the context it shares with the account's other devices is
  the key its receipts are signed with;
* its static X25519 keypair (given, or drawn from `RandomEffects`: storing it at rest is the
  agent's job);
* its locator, `SeededLocator`: the rendezvous descriptors in the context's journal first, a
  fixed seed table for members that have none in force yet (bootstrap: descriptors travel by
  sync, and sync needs a channel);
* the listener, then its own descriptor (`tcp://host:port`, its static key) published in the
  context's journal unless the one in force already says the same;
* sync on (re)connection: every channel established with a peer asks the device's sync service
  to sync with that peer at once.

An agent on TCP takes its network from `tcp_network` (an `aura_agent.parts.Network`: the
transport behind the guard chain, the last run's port tried first, a `TcpEndpoint` whose
listener is the advertised host and the port it got).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Final

import attrs

from aura_agent.device import Device
from aura_agent.membership import PORT_KEY
from aura_agent.parts import Attachment, Endpoint, Network
from aura_core.crypto.ed25519 import SigningKey
from aura_core.effects import StorageEffects
from aura_core.encoding import encode, record_tag
from aura_core.errors import InvalidArgument, TransportError
from aura_core.ids import AuthorityId, ContextId
from aura_core.noise import StaticKeypair
from aura_core.tree import LeafNode
from aura_effects.bundle import Effects
from aura_effects.locator import ANY_CALLER, PeerAddress, StaticLocator
from aura_effects.tcpconfig import Connected, TcpConfig
from aura_guards.tcp import TcpNode, open_tcp
from aura_guards.transport import GuardedTransport
from aura_journal.context import CONTEXT_REDUCER, ContextGenesis, ContextMember
from aura_journal.fact import Fact, FactBody, JournalNamespace, sign_fact
from aura_journal.registry import Origin
from aura_protocol.rendezvous import RendezvousLocator, publish_descriptor
from aura_protocol.sync import SyncConfig

__all__ = [
    "DESCRIPTOR_LIFETIME_S",
    "CLOCK_SLACK_S",
    "TcpSetup",
    "TcpEndpoint",
    "tcp_network",
    "SeededLocator",
    "tcp_hint",
    "found_context",
    "member_genesis",
    "publish_if_stale",
    "on_tcp",
]

DESCRIPTOR_LIFETIME_S: Final = 7 * 24 * 3600.0
"""How long a published descriptor stays in force (a device republishes at start once half of
it has passed)."""
CLOCK_SLACK_S: Final = 60.0
"""A descriptor is in force from this long before it was published, so a peer whose clock is
a little behind does not refuse the device."""
_WILDCARDS: Final = frozenset({"0.0.0.0", "::"})


@attrs.frozen
class TcpSetup:
    """How a device takes part in the real network."""

    seeds: StaticLocator = attrs.field(factory=StaticLocator)
    """Where the account's other devices are before their descriptors reach this device's
    journal (the caller may fill it later, e.g. once the OS chose their ports)."""
    tcp: TcpConfig = attrs.field(factory=TcpConfig)
    """The transport's settings, the listen host and port among them."""
    advertise: str | None = None
    """The host written in this device's descriptor (default: the listen host, which must
    then not be a wildcard)."""
    sync: SyncConfig = attrs.field(factory=SyncConfig)
    keypair: StaticKeypair | None = None
    """The device's static X25519 keypair (None: a fresh one from `RandomEffects`)."""
    descriptor_lifetime_s: float = DESCRIPTOR_LIFETIME_S


class SeededLocator:
    """`PeerLocator`: a member's rendezvous descriptor in force if it has one, else the seed
    table's entry.

    A member that has published a descriptor is known only by it: a caller presenting the
    static key the seed table gives that member is refused once the member's descriptor names
    another key (publishing a descriptor with a new key retires the old one, seeded or not).
    """

    def __init__(self, rendezvous: RendezvousLocator, seeds: StaticLocator) -> None:
        self._rendezvous = rendezvous
        self._seeds = seeds
        self._open: set[ContextId] = set()

    def admit_anyone(self, context: ContextId) -> None:
        """Let any caller holding `context`'s secret in (an enrollment's bootstrap context:
        the PSK proves the code; `ANY_CALLER`), until `close`d."""
        self._open.add(context)

    def close(self, context: ContextId) -> None:
        self._open.discard(context)

    async def locate(self, peer: AuthorityId, context: ContextId) -> PeerAddress | None:
        found = await self._rendezvous.locate(peer, context)
        if found is not None:
            return found
        return await self._seeds.locate(peer, context)

    async def identify(self, static_key: bytes, context: ContextId) -> AuthorityId | None:
        member = await self._rendezvous.identify(static_key, context)
        if member is not None:
            return member
        seeded = await self._seeds.identify(static_key, context)
        if seeded is None or seeded in await self._rendezvous.descriptors(context):
            return ANY_CALLER if context in self._open else None
        return seeded


def tcp_hint(host: str, port: int) -> str:
    """The transport hint `tcp://host:port` in its canonical spelling (IPv6 in brackets)."""
    if ":" in host:
        try:
            host = f"[{ipaddress.IPv6Address(host)}]"
        except ValueError:
            raise InvalidArgument(f"{host!r} is not an IPv6 address") from None
    return f"tcp://{host}:{port}"


async def found_context(
    effects: Effects, members: list[ContextMember], key: SigningKey
) -> tuple[ContextGenesis, Fact]:
    """A new context of `members` (the creator among them, signing its genesis with `key`):
    the genesis (a majority of members moves its epoch) and its fact, recorded in this
    device's journal. The other members get the fact and the context's secret from the
    creator (an invitation; here, the caller)."""
    nonce = await effects.random.random_bytes(32)
    genesis = ContextGenesis.create(members, len(members) // 2 + 1, nonce)
    namespace = JournalNamespace.of(genesis.context)
    type_id, version = record_tag(ContextGenesis)
    body = FactBody(
        namespace,
        type_id,
        version,
        encode(genesis),
        await effects.order.order_time(),
        await effects.time.now(),
    )
    fact = sign_fact(body, key)
    await effects.journal.merge(namespace, [fact], origin=Origin.LOCAL)
    return genesis, fact


def _advertised(setup: TcpSetup) -> str:
    host = setup.advertise if setup.advertise is not None else setup.tcp.host
    if host in _WILDCARDS:
        raise InvalidArgument(f"listening on {host}: say which address to advertise")
    return host


async def member_genesis(
    effects: Effects, context: ContextId, address: AuthorityId
) -> ContextGenesis:
    """The genesis of `context`, of which `address` must be a member holding its secret
    (`InvalidArgument` otherwise)."""
    journal = await effects.journal.journal(JournalNamespace.of(context))
    genesis = journal.view(CONTEXT_REDUCER).genesis
    if genesis is None or genesis.member(address) is None:
        raise InvalidArgument(f"{address} is not a member of {context} on this device")
    if await effects.contexts.secret(context) is None:
        raise InvalidArgument(f"this device holds no secret of {context}")
    return genesis


async def publish_if_stale(
    effects: Effects,
    rendezvous: RendezvousLocator,
    listener: PeerAddress,
    *,
    address: AuthorityId,
    key: SigningKey,
    leaf: LeafNode,
    context: ContextId,
    lifetime_s: float = DESCRIPTOR_LIFETIME_S,
) -> str:
    """Publish this device's descriptor (`listener`: where it is reached) unless the one in
    force says the same for at least half a lifetime more; the hint it gives."""
    hint = tcp_hint(listener.host, listener.port)
    now = (await effects.time.now()).ts_ms
    lifetime = int(lifetime_s * 1000)
    held = (await rendezvous.descriptors(context)).get(address)
    if (
        held is not None
        and held.descriptor.static_key == listener.static_key
        and held.descriptor.hints == (hint,)
        and held.descriptor.device == leaf.device_id
        and held.descriptor.not_after_ms - now >= lifetime // 2
    ):
        return hint
    await publish_descriptor(
        effects,
        context,
        key,
        authority=address,
        device=leaf.device_id,
        static_key=listener.static_key,
        hints=[hint],
        not_before_ms=max(0, now - int(CLOCK_SLACK_S * 1000)),
        not_after_ms=now + lifetime,
    )
    return hint


@asynccontextmanager
async def on_tcp(
    effects: Effects,
    *,
    address: AuthorityId,
    key: SigningKey,
    leaf: LeafNode,
    account: AuthorityId,
    context: ContextId,
    setup: TcpSetup,
) -> AsyncIterator[Device]:
    """Run the device whose network authority is `address` on TCP for the duration (see the
    module docstring); its `Device` syncs with `setup.sync` once online. `context` is the
    context the account's devices share: its genesis must be in this device's journal and its
    secret in `effects.contexts`, and a wildcard listen host needs `setup.advertise`
    (`InvalidArgument` otherwise, before anything listens)."""
    genesis = await member_genesis(effects, context, address)
    tcp_hint(_advertised(setup), 1)  # checked before anything listens
    for member in genesis.members:
        if member.authority != address:
            effects.peers.add(member.authority, member.key)
    keypair = setup.keypair
    if keypair is None:
        keypair = StaticKeypair.from_seed(await effects.random.random_bytes(32))
    rendezvous = RendezvousLocator(effects)
    async with open_tcp(
        effects,
        local=address,
        signing_key=key,
        keypair=keypair,
        locator=SeededLocator(rendezvous, setup.seeds),
        config=setup.tcp,
    ) as node:
        await publish_if_stale(
            effects,
            rendezvous,
            PeerAddress(_advertised(setup), node.port, node.static_key),
            address=address,
            key=key,
            leaf=leaf,
            context=context,
            lifetime_s=setup.descriptor_lifetime_s,
        )
        device = Device(
            effects,
            node.guarded,
            key,
            leaf,
            account,
            context,
            sync_config=setup.sync,
            network=node,
        )
        node.on_connected(device.connected)
        yield device


class TcpEndpoint:
    """`Endpoint` on TCP: the node's guarded transport and channel events, reached at the
    advertised host (the listen host if none) and the port it got."""

    def __init__(self, node: TcpNode, advertise: str | None) -> None:
        self._node = node
        self._advertise = advertise

    @property
    def guarded(self) -> GuardedTransport:
        return self._node.guarded

    @property
    def listener(self) -> PeerAddress:
        host = self._advertise if self._advertise is not None else self._node.host
        return PeerAddress(host, self._node.port, self._node.static_key)

    def on_connected(self, callback: Callable[[Connected], None]) -> None:
        self._node.on_connected(callback)


def tcp_network(config: TcpConfig, storage: StorageEffects, advertise: str | None) -> Network:
    """An agent's network on TCP (`config`'s host and port). With port 0 the port of the
    last run (kept in `storage`) is tried first, so that the device's descriptor and its
    peers' seeds stay right across restarts; the port it got is remembered.
    `TransportError` if it cannot listen."""

    @asynccontextmanager
    async def run(device: Attachment) -> AsyncIterator[Endpoint]:
        async with AsyncExitStack() as stack:
            node = await _listen(stack, device)
            yield TcpEndpoint(node, advertise)

    async def _listen(stack: AsyncExitStack, device: Attachment) -> TcpNode:
        candidates = [config]
        stored = await storage.get(PORT_KEY)
        if config.port == 0 and stored is not None and len(stored) == 2:
            candidates.insert(0, attrs.evolve(config, port=int.from_bytes(stored, "big")))
        for index, candidate in enumerate(candidates):
            try:
                node = await stack.enter_async_context(
                    open_tcp(
                        device.effects,
                        local=device.address,
                        signing_key=device.signing_key,
                        keypair=device.keypair,
                        locator=device.locator,
                        config=candidate,
                    )
                )
            except OSError as exc:
                if index + 1 < len(candidates):
                    device.effects.trace.event("agent.port_taken", port=candidate.port)
                    continue
                where = tcp_hint(candidate.host, candidate.port)
                raise TransportError(f"cannot listen on {where}: {exc.strerror or exc}") from None
            if config.port == 0:
                await storage.put(PORT_KEY, node.port.to_bytes(2, "big"))
            return node
        raise AssertionError("unreachable: the last candidate raises")

    return run
