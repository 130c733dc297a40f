"""The demo's multi-device part: one account's devices agree on every change to it.

Four devices run in this process, each with its own SQLite file and its own guard chain, linked
by an in-memory network (simulated peers) or, with `--network tcp`, by real sockets on
127.0.0.1: each device listens on its own port, dials the others over Noise channels in the
context the four share, publishes its rendezvous descriptor there and keeps its journals in
sync with the others. Devices 0-2 found the account (a 2-of-3 FROST group from a networked
DKG, the genesis signed by a networked signing ceremony); then, each change agreed by
threshold consensus and recorded in every device's journal: device 3 is added, the account
moves to a 3-of-4 policy, device 0 is removed, and the remaining three refresh their shares
(networked) and rotate the epoch. Every key ceremony runs on the devices' dispatchers
(`aura_protocol.ceremonies`): round-2 packages go only from one device straight to another.
"""

from __future__ import annotations

import enum
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import attrs
from rich.console import Console
from rich.table import Table

from aura_agent.device import Device, genesis_fact, tree_group
from aura_agent.network import TcpSetup, found_context, on_tcp
from aura_consensus.commit import CommitFact
from aura_consensus.tree import authority_registry
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode
from aura_core.errors import AuraError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, CeremonyId, ContextId, DeviceId
from aura_core.tree import LeafNode, LeafRole
from aura_effects.bundle import Effects, production_effects
from aura_effects.locator import PeerAddress, StaticLocator
from aura_effects.storage import SqliteStorage
from aura_effects.tcpconfig import TcpConfig
from aura_effects.trace import Tracer
from aura_guards.loopback import connect
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.context import ContextMember
from aura_journal.fact import JournalNamespace
from aura_journal.tree import (
    TREE_REDUCER,
    AddLeaf,
    ChangePolicy,
    RemoveLeaf,
    RotateEpoch,
    TreeGenesis,
    TreeOp,
    TreeOpKind,
)
from aura_protocol import Dispatcher
from aura_protocol.ceremonies import CAPABILITIES as CEREMONY_CAPABILITIES
from aura_protocol.ceremonies import (
    DKG,
    REFRESH,
    CeremonyMember,
    CeremonyService,
    KeyApproval,
    KeyCeremonyStart,
    SignRequest,
    TrustingHolder,
)
from aura_protocol.consensus import CAPABILITIES, ConsensusConfig
from aura_protocol.sync import CAPABILITIES as SYNC_CAPABILITIES
from aura_protocol.sync import SyncConfig

__all__ = ["Network", "run"]

Entropy = Callable[[], bytes]
CONFIG = ConsensusConfig(fallback_s=0.5, gossip_s=0.2, deadline_s=10.0)
SYNC = SyncConfig(interval_s=2.0)
"""The TCP devices' anti-entropy: every two seconds with each other device, and on connect."""
HOST = "127.0.0.1"


class Network(enum.Enum):
    """What links the demo's devices."""

    MEMORY = "memory"
    """An in-memory network in this process (lossless, in order)."""
    TCP = "tcp"
    """Real sockets on 127.0.0.1: Noise channels, rendezvous descriptors, anti-entropy sync."""


def run(
    console: Console,
    entropy: Entropy,
    data_dir: Path | None = None,
    network: Network = Network.MEMORY,
) -> None:
    """Print the multi-device tour; the SQLite files go to `data_dir` (an existing, writable
    directory: `aura_terminal.demo.prepare_data_dir`), or to a temporary directory removed
    afterwards if None."""
    console.rule("[bold]Four devices, one account")
    if data_dir is not None:
        anyio.run(_tour, console, entropy, data_dir, network)
        return
    with tempfile.TemporaryDirectory(prefix="aura-demo-") as directory:
        anyio.run(_tour, console, entropy, Path(directory), network)


@attrs.frozen
class _Part:
    """What one device is before its account exists: its network address, effects, key and
    leaf."""

    address: AuthorityId
    effects: Effects
    key: SigningKey
    leaf: LeafNode


async def _parts(entropy: Entropy, directory: Path) -> list[_Part]:
    registry = authority_registry()
    parts: list[_Part] = []
    for index in range(4):
        address = AuthorityId.from_entropy(entropy())
        device = DeviceId.from_entropy(entropy())
        effects = await production_effects(
            directory / f"device-{index}.sqlite",
            authority=address,
            device=device,
            registry=registry,
        )
        key = SigningKey(entropy())
        leaf = LeafNode(index, device, LeafRole.DEVICE, key.verifying_key.raw)
        parts.append(_Part(address, effects, key, leaf))
    return parts


async def _context(entropy: Entropy, parts: Sequence[_Part], network: Network) -> ContextId:
    """The context the devices share (their consensus messages travel in it), with unlimited
    flow and the consensus and sync capabilities. On TCP it has members: device 0 founds it,
    the others get its genesis and its secret (standing in for an invitation)."""
    if network is Network.MEMORY:
        context = ContextId.from_entropy(entropy())
    else:
        members = [ContextMember(p.address, p.key.verifying_key) for p in parts]
        genesis, fact = await found_context(parts[0].effects, members, parts[0].key)
        context = genesis.context
        secret = entropy()
        for p in parts:
            await p.effects.journal.merge(JournalNamespace.of(context), [fact])
            p.effects.contexts.add(context, secret)
    for p in parts:
        p.effects.flow.set_default(context, UNLIMITED)
        token = issue_token(
            entropy(),
            p.address,
            [*CAPABILITIES, *SYNC_CAPABILITIES, *CEREMONY_CAPABILITIES],
            seed=entropy(),
            scope=ContextScope(context),
        )
        p.effects.authorization.grant(context, CapabilityFrontier.of(token))
    return context


async def _devices(
    stack: AsyncExitStack,
    parts: Sequence[_Part],
    account: AuthorityId,
    context: ContextId,
    network: Network,
) -> list[Device]:
    """The devices on `network`, running until `stack` closes."""
    if network is Network.MEMORY:
        guarded = connect({p.address: (p.effects, p.key) for p in parts})
        return [
            Device(p.effects, guarded[p.address], p.key, p.leaf, account, context) for p in parts
        ]
    # Each device learns the others' listeners from this table until their descriptors reach
    # it by sync; the OS picks the ports, so it is filled as the devices start.
    seeds = StaticLocator()
    setup = TcpSetup(seeds=seeds, tcp=TcpConfig(host=HOST), sync=SYNC)
    devices = []
    for p in parts:
        device = await stack.enter_async_context(
            on_tcp(
                p.effects,
                address=p.address,
                key=p.key,
                leaf=p.leaf,
                account=account,
                context=context,
                setup=setup,
            )
        )
        assert device.network is not None
        seeds.put(p.address, PeerAddress(HOST, device.network.port, device.network.static_key))
        devices.append(device)
    return devices


UNFOUNDED = AuthorityId(bytes(16))
"""The devices' account until the genesis their DKG signs derives its id."""


@attrs.define
class _Ceremonies:
    """Each device's dispatcher (its consensus runs on it too) and `CeremonyService`."""

    context: ContextId
    entropy: Entropy
    dispatchers: dict[AuthorityId, Dispatcher] = attrs.field(factory=dict)
    services: dict[AuthorityId, CeremonyService] = attrs.field(factory=dict)
    holders: dict[AuthorityId, TrustingHolder] = attrs.field(factory=dict)

    async def start(self, stack: AsyncExitStack, devices: Sequence[Device]) -> None:
        for d in devices:
            dispatcher = await stack.enter_async_context(Dispatcher(d.guarded, d.effects.trace))
            holder = TrustingHolder()
            service = CeremonyService(d.effects, dispatcher, holder)
            await stack.enter_async_context(service)
            self.dispatchers[d.address], self.services[d.address] = dispatcher, service
            self.holders[d.address] = holder

    async def keys(
        self, kind: str, threshold: int, members: Sequence[Device]
    ) -> tuple[dict[int, frost.KeyPackage], frost.PublicKeyPackage]:
        """A DKG or refresh coordinated by `members[0]`; every member's new key package."""
        roster = tuple(CeremonyMember(d.address, d.frost_identifier) for d in members)
        ceremony = CeremonyId(Hash32.of(self.entropy()))
        start = KeyCeremonyStart(
            ceremony, members[0].authority, self.context, kind, threshold, roster
        )
        first = self.holders[members[0].address]
        approval = KeyApproval(first.key, first.public) if kind == REFRESH else KeyApproval()
        mine = await self.services[members[0].address].keys(start, approval)
        keys = {members[0].frost_identifier: mine.key_package}
        with anyio.fail_after(CONFIG.deadline_s):
            for d in members[1:]:
                holder = self.holders[d.address]
                while ceremony not in holder.told:
                    await d.effects.time.sleep(0.01)
                keys[d.frost_identifier] = holder.told.pop(ceremony).key_package
        return keys, mine.public_key_package

    def hold(
        self,
        devices: Sequence[Device],
        keys: dict[int, frost.KeyPackage],
        public: frost.PublicKeyPackage,
    ) -> None:
        """The ceremony committed (its tree change did): its keys are the devices' shares."""
        for d in devices:
            holder = self.holders[d.address]
            holder.key, holder.public = keys.get(d.frost_identifier), public


async def _settle(devices: Sequence[Device], fact: CommitFact) -> None:
    """Wait until every device's journal holds the decided change."""
    op = decode(fact.operation_bytes, TreeOp)
    with anyio.fail_after(CONFIG.deadline_s):
        while True:
            views = [
                (await d.effects.journal.journal(d.namespace)).view(TREE_REDUCER) for d in devices
            ]
            if all(op in view.log.ops for view in views):
                return
            await devices[0].effects.time.sleep(0.01)


@attrs.define
class _Tour:
    """The tour's state: the devices, who is who, and the table of changes."""

    console: Console
    entropy: Entropy
    devices: list[Device]
    steps: Table = attrs.field(
        factory=lambda: Table(
            "change",
            "proposed by",
            "signed by",
            "path",
            "time",
            "epoch",
            "leaves",
            "tree root",
            title="Changes to the account, each agreed by threshold consensus",
        )
    )

    @property
    def witness_of(self) -> dict[DeviceId, AuthorityId]:
        return {d.leaf.device_id: d.address for d in self.devices}

    def _names(self, addresses: Sequence[AuthorityId]) -> str:
        number = {d.address: str(d.leaf.leaf_id) for d in self.devices}
        return "devices " + ", ".join(sorted(number[a] for a in addresses))

    async def show(
        self, label: str, by: Device | None, fact: CommitFact | None, took: float
    ) -> None:
        state = await self.devices[1].tree()
        self.steps.add_row(
            label,
            "" if by is None else f"device {by.leaf.leaf_id}",
            "" if fact is None else self._names(fact.participants),
            "" if fact is None else ("fast" if fact.fast_path else "fallback"),
            f"{took * 1000:.0f} ms",
            str(state.epoch),
            ", ".join(str(leaf.leaf_id) for leaf in state.leaves),
            state.commitment.hex()[:16] + "…",
        )

    async def found(
        self,
        genesis: TreeGenesis,
        ceremonies: _Ceremonies,
        keys: dict[int, frost.KeyPackage],
        public: frost.PublicKeyPackage,
        took: float,
    ) -> None:
        """Two of the founders sign the genesis their DKG made (a networked signing ceremony
        coordinated by device 0); every device records it."""
        start = time.perf_counter()
        d0, d1 = self.devices[:2]
        signers = tuple(CeremonyMember(d.address, d.frost_identifier) for d in (d0, d1))

        async def sign(message: bytes) -> tuple[bytes, tuple[int, ...]]:
            request = SignRequest(
                CeremonyId(Hash32.of(self.entropy())),
                genesis.authority,
                ceremonies.context,
                0,
                message,
                signers,
            )
            service = ceremonies.services[d0.address]
            signature = await service.sign(request, keys[d0.frost_identifier], public)
            return signature, tuple(m.identifier for m in signers)

        fact = await genesis_fact(self.devices[0].effects, genesis, sign)
        for d in self.devices:
            await d.effects.journal.merge(d.namespace, [fact])
        took += time.perf_counter() - start
        await self.show("found (2-of-3, DKG)", None, None, took)

    async def change(
        self, by: Device, kind: TreeOpKind, label: str, everyone: list[Device]
    ) -> None:
        start = time.perf_counter()
        fact = await by.change(kind)
        assert by.consensus is not None
        await by.consensus.announce(fact, [d.address for d in everyone])
        await _settle(everyone, fact)
        await self.show(label, by, fact, time.perf_counter() - start)

    async def regroup(
        self,
        members: list[Device],
        keys: dict[int, frost.KeyPackage],
        public: frost.PublicKeyPackage,
    ) -> None:
        """Every member moves to the group of the current tree state with its new share."""
        state = await members[0].tree()
        for d in members:
            assert d.consensus is not None
            group = tree_group(state, public, keys[d.frost_identifier], self.witness_of)
            d.consensus.set_group(group)


async def _tour(console: Console, entropy: Entropy, directory: Path, network: Network) -> None:
    parts = await _parts(entropy, directory)
    try:
        context = await _context(entropy, parts, network)
        await _run(console, entropy, directory, context, parts, network=network)
    finally:
        for part in parts:
            if isinstance(part.effects.storage, SqliteStorage):
                await part.effects.storage.close()


async def _run(
    console: Console,
    entropy: Entropy,
    directory: Path,
    context: ContextId,
    parts: list[_Part],
    *,
    network: Network,
) -> None:
    # Devices 0-2 run a DKG; the account is the authority their genesis founds (its id is
    # derived from the founding leaves, threshold and group key).
    async with AsyncExitStack() as stack:
        devices = await _devices(stack, parts, UNFOUNDED, context, network)
        ceremonies = _Ceremonies(context, entropy)
        await ceremonies.start(stack, devices)
        tour = _Tour(console, entropy, devices)
        d0, d1, d2, d3 = devices
        start = time.perf_counter()
        keys0, public0 = await ceremonies.keys(DKG, 2, devices[:3])
        genesis = TreeGenesis.found([d.leaf for d in devices[:3]], 2, public0.group_public_key)
        for d in devices:
            d.authority = genesis.authority
        ceremonies.hold(devices, keys0, public0)
        await tour.found(genesis, ceremonies, keys0, public0, time.perf_counter() - start)
        state0 = await d0.tree()
        for d in devices:
            key = keys0.get(d.frost_identifier)
            group = tree_group(state0, public0, key, tour.witness_of)
            dispatcher = ceremonies.dispatchers[d.address]
            await stack.enter_async_context(d.online(group, CONFIG, dispatcher=dispatcher))
        await tour.change(d0, AddLeaf(d3.leaf), "add device 3", devices)
        keys1, public1 = await ceremonies.keys(DKG, 3, devices)
        await tour.change(d0, ChangePolicy(3, public1.group_public_key), "3-of-4 policy", devices)
        ceremonies.hold(devices, keys1, public1)
        await tour.regroup(devices, keys1, public1)
        await tour.change(d3, RemoveLeaf(0), "remove device 0", devices)
        remaining = [d1, d2, d3]
        keys2, public2 = await ceremonies.keys(REFRESH, 3, remaining)
        ceremonies.hold(remaining, keys2, public2)
        await tour.regroup(remaining, keys2, public2)
        kind = RotateEpoch(public2.group_public_key)
        await tour.change(d1, kind, "refresh, new epoch", remaining)
        console.print(tour.steps)
        if network is Network.TCP:
            await _converge(tour)
            _network_report(tour)
    await _report(tour, (keys1, keys2), public2, directory, network)


async def _converge(tour: _Tour) -> None:
    """Wait until sync has given every device the same account journal: each device recorded
    its own fact of every change it saw decided, and anti-entropy carries them to the others
    (device 0 too: it left the tree, not the context the devices sync in)."""
    start = time.perf_counter()
    with anyio.fail_after(30):
        while True:
            held = {(await d.effects.journal.journal(d.namespace)).fact_ids() for d in tour.devices}
            if len(held) == 1:
                break
            await tour.devices[0].effects.time.sleep(0.05)
    took = (time.perf_counter() - start) * 1000
    tour.console.print(
        f"Anti-entropy sync: every device's journal of the account holds the same "
        f"{len(held.pop())} facts ({took:.0f} ms after the last change)."
    )


def _network_report(tour: _Tour) -> None:
    """Where each TCP device listens, the channels it opened and accepted, and what sync
    brought it (facts the consensus messages did not)."""
    table = Table(
        "device",
        "listens on",
        "static key",
        "channels out / in",
        "sync sessions",
        "facts merged by sync",
        title="The network: Noise channels over TCP, anti-entropy sync",
    )
    for d in tour.devices:
        assert d.network is not None and isinstance(d.effects.trace, Tracer)
        events = d.effects.trace.events
        sessions = events("sync.session") + events("sync.served")
        merged = sum(int(e.get("merged") or 0) for e in sessions)
        table.add_row(
            f"device {d.leaf.leaf_id}",
            f"{d.network.host}:{d.network.port}",
            d.network.static_key.hex()[:16] + "…",
            f"{len(events('net.outbound.connected'))} / {len(events('net.inbound.connected'))}",
            str(len(sessions)),
            str(merged),
        )
    tour.console.print(table)


async def _report(
    tour: _Tour,
    keys: tuple[dict[int, frost.KeyPackage], dict[int, frost.KeyPackage]],
    public: frost.PublicKeyPackage,
    directory: Path,
    network: Network,
) -> None:
    """Each device's journal, and what the removed device's old share is worth now."""
    table = Table("device", "SQLite file", "facts", "tree root", title="Every device's journal")
    for d in tour.devices:
        journal = await d.effects.journal.journal(d.namespace)
        root = (await d.tree()).commitment.hex()[:16] + "…"
        path = directory / f"device-{d.leaf.leaf_id}.sqlite"
        table.add_row(f"device {d.leaf.leaf_id}", path.name, str(len(journal)), root)
    tour.console.print(table)
    old, new = keys
    removed = tour.devices[0].frost_identifier
    kept = [d.frost_identifier for d in tour.devices[1:3]]  # with device 0: the 3 the policy needs
    nonces = {removed: frost.commit(old[removed], tour.entropy())}
    nonces.update({i: frost.commit(new[i], tour.entropy()) for i in kept})
    package = frost.signing_package({i: c for i, (_, c) in nonces.items()}, b"by device 0")
    shares = {removed: frost.sign(package, nonces[removed][0], old[removed])}
    shares.update({i: frost.sign(package, nonces[i][0], new[i]) for i in kept})
    try:
        frost.aggregate(package, shares, public)
        verdict = "combined (unexpected)"
    except AuraError as exc:
        verdict = f"refused: {exc.message}"
    seen = (
        "device 0 saw its own removal"
        if network is Network.MEMORY
        else "device 0 saw its own removal, and the change after it by sync"
    )
    tour.console.print(f"Devices 1-3 agree on the tree root; {seen}.")
    tour.console.print(f"Device 0's old share with a refreshed one: {verdict}.")
