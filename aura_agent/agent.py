"""`Agent`: one device as a long-lived process, on its data directory, serving a local API.

    async with Agent.open(path) as agent:       # the data directory (created 0700)
        ...                                     # its API serves on agent.socket_path

Opening (in this order; each step's failure is a typed error and the steps before it are
undone): the data directory is checked and locked (`DataDir`); the key file is loaded, or,
for a new directory, a new identity is drawn and written (`KeyStore`); the SQLite storage is
opened and checked to be this device's; the effects bundle is assembled (OS randomness and
clock, the fact registry of an authority, the context secrets from the key file); then, under
one task group, the local API server binds its socket and serves, and the network starts: the
TCP transport behind the guard chain, the protocol dispatcher and the sync service, which run
for the agent's whole life. Last, the account services, when the device has an account
(`Membership`): receipt keys, flow budget and capabilities of the devices' context, the
device's descriptor, its consensus node and sync with the account's other devices. They run in
a scope of their own, restarted cleanly whenever the membership changes (`join`, `leave`);
with no account the agent serves its API and waits.

`Agent.open` is production parts (`aura_agent.parts.AgentParts`: OS randomness and clock, the
key file, SQLite, TCP, the socket) around the one core, `Agent.run(parts)`: the simulator runs
the same core on seeded randomness, virtual time, a crashable disk, keys in memory and its
faulty network, without an API socket.

Leaving the `async with` (or cancelling it) stops everything in reverse; after any stop,
SIGKILL included, opening the directory again gives the same identity, keys, journals and
account. The account workflows plug in through `handlers` (requests by name), `signals` and
`emit` (what subscribers see), `keys` (shares and context secrets at rest), `join`/`leave`,
and `services` (long-lived tasks entered after the core is up).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import anyio
import attrs
from anyio.abc import TaskStatus

from aura_agent.accounts import AccountService
from aura_agent.changes import CAPABILITIES as CHANGE_CAPABILITIES
from aura_agent.changes import SwitchTimes
from aura_agent.datadir import SOCKET_FILE, DataDir
from aura_agent.device import Device, tree_group
from aura_agent.frames import API_VERSION
from aura_agent.keystore import (
    MODERATE,
    DeviceSecrets,
    Identity,
    KdfLimits,
    KeyHolder,
    KeyStore,
    remove_stale_temporaries,
)
from aura_agent.membership import IDENTITY_KEY, MEMBERSHIP_KEY, Membership, witness_addresses
from aura_agent.network import (
    SeededLocator,
    member_genesis,
    publish_if_stale,
    tcp_hint,
    tcp_network,
)
from aura_agent.parts import AgentParts, Attachment, Endpoint
from aura_agent.requests import (
    IDENTITY,
    NETWORK,
    PEERS,
    STATUS,
    SYNC_NOW,
    AgentStatus,
    IdentityRequest,
    NetworkRequest,
    NetworkStatus,
    PeerInfo,
    Peers,
    PeersRequest,
    StatusRequest,
    SyncNowRequest,
    SyncOutcome,
    SyncResults,
)
from aura_agent.server import ApiLimits, ApiServer, Handlers, check_socket_path
from aura_agent.signals import (
    ACCOUNT,
    CEREMONIES,
    CORE_SIGNALS,
    DEVICES,
    NOTIFICATIONS,
    NOTIFICATIONS_KEPT,
    SYNC,
    AccountState,
    Ceremonies,
    DeviceEntry,
    DeviceList,
    Notification,
    Notifications,
    PeerSync,
    SignalSpec,
    SignalTable,
    SyncStatus,
)
from aura_consensus.tree import authority_registry, frost_identifier
from aura_core.crypto import frost
from aura_core.effects import RandomEffects, StorageEffects
from aura_core.encoding import decode, encode
from aura_core.errors import (
    AuraError,
    EncodingError,
    InvalidArgument,
    KeyFileCorrupt,
    KeyFileMissing,
    NotConfigured,
    StorageError,
)
from aura_core.ids import AuthorityId, ContextId
from aura_effects.bundle import Effects, assemble_effects
from aura_effects.clock import SystemClock
from aura_effects.locator import PeerAddress, StaticLocator
from aura_effects.random import OsRandom
from aura_effects.storage import SqliteStorage
from aura_effects.tcpconfig import Connected, TcpConfig
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.fact import JournalNamespace
from aura_journal.registry import FactRegistry
from aura_journal.tree import TREE_REDUCER, TreeState
from aura_protocol import Dispatcher
from aura_protocol.ceremonies import CAPABILITIES as CEREMONY_CAPABILITIES
from aura_protocol.consensus import CAPABILITIES as CONSENSUS_CAPABILITIES
from aura_protocol.consensus import ConsensusConfig
from aura_protocol.rendezvous import RendezvousLocator
from aura_protocol.sync import CAPABILITIES as SYNC_CAPABILITIES
from aura_protocol.sync import (
    AccountDevices,
    SharedScopes,
    SyncConfig,
    SyncReport,
    SyncScope,
    SyncService,
    shared_contexts,
)

__all__ = ["DEFAULT_LISTEN", "AgentSettings", "Service", "parse_listen", "Agent"]

T = TypeVar("T")

DEFAULT_LISTEN: Final = "127.0.0.1:0"
"""Loopback, a port the OS picks: a device reachable from other machines says where
(`--listen`, and `--advertise` for a wildcard address)."""
_WILDCARDS: Final = frozenset({"0.0.0.0", "::"})

Service = Callable[["Agent"], AbstractAsyncContextManager[object]]
"""A long-lived part of the agent added from outside (the account workflows): called with the
agent once its core runs, entered for the agent's life, left before the core stops."""


@attrs.frozen
class AgentSettings:
    """Everything tunable about an agent besides where it lives; the defaults are production
    values (tests shorten the times and use `keystore.TESTING`)."""

    tcp: TcpConfig = attrs.field(factory=TcpConfig)
    """The transport's limits and timeouts (its host and port come from `listen`)."""
    sync: SyncConfig = attrs.field(factory=SyncConfig)
    consensus: ConsensusConfig = attrs.field(factory=ConsensusConfig)
    api: ApiLimits = attrs.field(factory=ApiLimits)
    switches: SwitchTimes = attrs.field(factory=SwitchTimes)
    """How a committed change's unacknowledged `Switch`es are sent again."""
    kdf: KdfLimits = MODERATE
    """Argon2id limits for a key file sealed from now on (a file keeps its own)."""
    registry: FactRegistry | None = None
    """The fact types the journals accept (default: an authority's,
    `aura_consensus.tree.authority_registry()`)."""


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (an IPv6 host in brackets) as (host, port); `InvalidArgument` otherwise."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidArgument(f"{text!r}: not an IPv6 address in brackets") from None
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise InvalidArgument(f"listen on HOST:PORT (port 0..65535, 0: any), not {text!r}")
    return host, int(port)


@attrs.define
class _Attempt:
    """One start of the account services: done once they run or failed to start."""

    done: anyio.Event = attrs.field(factory=anyio.Event)
    error: AuraError | None = None


class Agent:
    """A running agent (see the module docstring). Build it with `Agent.open`."""

    def __init__(
        self,
        *,
        parts: AgentParts,
        effects: Effects,
        settings: AgentSettings,
        membership: Membership | None,
        started_ms: int,
    ) -> None:
        self.data_dir = parts.data_dir
        self.socket_path = parts.socket
        self.keys = parts.keys
        """Where the secrets are kept: the account workflows add shares and context secrets
        through it (`add_share`, `add_context_secret`)."""
        self.effects = effects
        self.settings = settings
        self.handlers = Handlers()
        """Requests by name (the account workflows add theirs)."""
        self.signals = SignalTable(CORE_SIGNALS)
        """The signals subscribers may ask for (the account workflows add theirs)."""
        self._parts = parts
        self._storage = parts.storage
        self.seeds = StaticLocator()
        """Listeners of devices whose descriptors have not reached this one (the membership's
        seeds, and an enrollment's other device)."""
        self.locator = SeededLocator(RendezvousLocator(effects), self.seeds)
        self._membership = membership
        self._started_ms = started_ms
        self._server: ApiServer | None = None
        self._node: Endpoint | None = None
        self._dispatcher: Dispatcher | None = None
        self._sync: SyncService | None = None
        self._account_devices: AccountDevices | None = None
        self._descriptor: str | None = None
        self._granted: set[ContextId] = set()
        self._changed = anyio.Event()
        self._attempt: _Attempt | None = None
        self._switching = anyio.Lock()
        self._reports: dict[AuthorityId, PeerSync] = {}
        self._reported = anyio.Event()
        self._notifications: deque[Notification] = deque(maxlen=NOTIFICATIONS_KEPT)
        self._notified = 0
        self.device: Device | None = None
        """The device in its account while its account services run (None otherwise)."""
        self._accounts: AccountService | None = None
        self._register_handlers()

    # ------------------------------------------------------------------------- opening

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | Path | None = None,
        *,
        passphrase: str | bytes | None = None,
        socket: str | Path | None = None,
        listen: str = DEFAULT_LISTEN,
        advertise: str | None = None,
        settings: AgentSettings | None = None,
        services: Sequence[Service] = (),
    ) -> AsyncIterator[Agent]:
        """Run the agent on the data directory `path` (default: the platform's user data
        directory) for the duration; see the module docstring. `passphrase` seals a new key
        file and is needed to open a sealed one; `socket` puts the API elsewhere than
        `DIR/agent.sock`; `listen` is the TCP address (`HOST:PORT`), `advertise` the host
        written in the device's descriptor (required with a wildcard listen host)."""
        settings = settings or AgentSettings()
        host, port = parse_listen(listen)
        if host in _WILDCARDS and advertise is None:
            raise NotConfigured(
                f"listening on {host} needs an address to advertise (--advertise HOST): "
                "the address other devices dial"
            )
        where = DataDir.resolve(path)
        socket_path = Path(socket).absolute() if socket is not None else where / SOCKET_FILE
        check_socket_path(socket_path)
        data = DataDir.open(where)
        try:
            random = OsRandom()
            keys = await _open_keys(data, passphrase, settings.kdf, random)
            storage = await SqliteStorage.open(data.storage)
            try:
                parts = AgentParts(
                    random=random,
                    time=SystemClock(),
                    storage=storage,
                    keys=keys,
                    network=tcp_network(
                        attrs.evolve(settings.tcp, host=host, port=port), storage, advertise
                    ),
                    data_dir=data.path,
                    socket=socket_path,
                    advertise=advertise,
                )
                async with cls.run(parts, settings=settings, services=services) as agent:
                    yield agent
            finally:
                await storage.close()
        finally:
            data.close()

    @classmethod
    @asynccontextmanager
    async def run(
        cls,
        parts: AgentParts,
        *,
        settings: AgentSettings | None = None,
        services: Sequence[Service] = (),
    ) -> AsyncIterator[Agent]:
        """Run the agent on `parts` for the duration (the core `open` runs on production
        parts; the simulator runs it on its own). The storage must be this device's or new
        (`KeyFileCorrupt` if it records another device); the caller closes it afterwards."""
        settings = settings or AgentSettings()
        keys = parts.keys
        membership = await _check_storage(parts.storage, keys.secrets.identity())
        effects = assemble_effects(
            random=parts.random,
            time=parts.time,
            storage=parts.storage,
            authority=keys.secrets.address,
            device=keys.secrets.device,
            registry=settings.registry or authority_registry(),
        )
        for held in keys.secrets.contexts:
            effects.contexts.add(held.context, held.secret)
        agent = cls(
            parts=parts,
            effects=effects,
            settings=settings,
            membership=membership,
            started_ms=(await parts.time.now()).ts_ms,
        )
        try:
            async with agent._running(services):
                yield agent
        except BaseExceptionGroup as group:
            raise _single(group) from None

    @asynccontextmanager
    async def _running(self, services: Sequence[Service]) -> AsyncIterator[None]:
        await self._emit_initial()
        async with anyio.create_task_group() as tasks:
            if self.socket_path is not None:
                self._server = ApiServer(
                    self.socket_path,
                    device=self.identity.device,
                    handlers=self.handlers,
                    signals=self.signals,
                    reactive=self.effects.reactive,
                    trace=self.effects.trace,
                    time=self.effects.time,
                    limits=self.settings.api,
                )
                await tasks.start(self._server.run)
            await tasks.start(self._network)
            async with AsyncExitStack() as stack:
                self._accounts = await stack.enter_async_context(AccountService(self))
                for service in services:
                    await stack.enter_async_context(service(self))
                yield
            tasks.cancel_scope.cancel()

    # ------------------------------------------------------------------------- what it is

    @property
    def identity(self) -> Identity:
        return self.keys.secrets.identity()

    @property
    def address(self) -> AuthorityId:
        """The authority this device answers as on the network."""
        return self.keys.secrets.address

    @property
    def membership(self) -> Membership | None:
        return self._membership

    @property
    def network(self) -> Endpoint:
        """The device's network endpoint (its guarded transport and listener)."""
        return _running(self._node, "the network")

    @property
    def listener(self) -> PeerAddress:
        """Where other devices reach this one (host, port, static key): what enrollment codes,
        contacts, seeds and the rendezvous descriptor say."""
        return self.network.listener

    @property
    def dispatcher(self) -> Dispatcher:
        """The protocol dispatcher: runs for the agent's life, account or not (choreographies
        such as enrollment run on it)."""
        return _running(self._dispatcher, "the dispatcher")

    @property
    def accounts(self) -> AccountService:
        """The account workflows: `create`, `invite`, `join`, `cancel`."""
        return _running(self._accounts, "the account workflows")

    @property
    def sync(self) -> SyncService:
        return _running(self._sync, "the sync service")

    @property
    def account(self) -> AccountState:
        """The latest account state (the `agent.account` signal's value)."""
        state = self.effects.reactive.read(ACCOUNT.signal)
        return state if state is not None else AccountState("none")

    async def emit(self, spec: SignalSpec[T], value: T) -> None:
        """Set signal `spec` to `value` (a `spec.record`): every subscriber sees it."""
        if type(value) is not spec.record:
            raise InvalidArgument(f"{spec.name} holds a {spec.record.__name__}")
        await self.effects.reactive.emit(spec.signal, value)

    async def notify(self, level: str, text: str) -> None:
        """Tell subscribers of `agent.notifications` something (`level`: info, warning,
        error)."""
        self._notified += 1
        now = (await self.effects.time.now()).ts_ms
        self._notifications.append(Notification(self._notified, level, text, now))
        await self.emit(NOTIFICATIONS, Notifications(tuple(self._notifications)))

    async def _emit_initial(self) -> None:
        await self.emit(ACCOUNT, AccountState("none" if self._membership is None else "starting"))
        await self.emit(DEVICES, DeviceList())
        await self.emit(SYNC, SyncStatus())
        await self.emit(NOTIFICATIONS, Notifications())
        await self.emit(CEREMONIES, Ceremonies())

    # ------------------------------------------------------------------------- the network

    async def _network(self, *, task_status: TaskStatus[None]) -> None:
        """The transport, dispatcher and sync service for the agent's life; the account
        services in a restartable scope within them."""
        fx = self.effects
        secrets = self.keys.secrets
        attachment = Attachment(
            fx, secrets.address, secrets.signing_key, secrets.static_keypair, self.locator
        )
        async with self._parts.network(attachment) as node:
            dispatcher = Dispatcher(node.guarded, fx.trace)
            sync = SyncService(
                fx,
                dispatcher,
                shared=self._shared_scopes(),
                config=self.settings.sync,
                on_report=self._on_sync_report,
            )
            async with dispatcher, sync, anyio.create_task_group() as tasks:
                self._node, self._dispatcher, self._sync = node, dispatcher, sync
                node.on_connected(self._connected)
                tasks.start_soon(self._publish_sync_status)
                try:
                    await self._supervise(task_status)
                finally:
                    self._node = self._dispatcher = self._sync = None

    def _shared_scopes(self) -> SharedScopes:
        """`shared_contexts` within the account's current devices' context (its journal and
        the account's), as the account is at each call; nothing without an account. A
        superseded devices' context is not synced: the devices that moved on hold its grants
        only while a change is finished there (or not at all after a restart), so a session
        there would be denied; a device still in it is refused `not_shared` at once."""

        async def scopes(peer: AuthorityId) -> Sequence[SyncScope]:
            account = self._account_devices
            if account is None:
                return ()
            policy = shared_contexts(self.effects, self.address, account=account)
            return [scope for scope in await policy(peer) if scope.context == account.context]

        return scopes

    def _connected(self, event: Connected) -> None:
        """A channel with a device of the account came up: sync with it now."""
        account = self._account_devices
        if self._sync is not None and account is not None and event.peer in account.devices:
            self._sync.request(event.peer, event.context)

    def _on_sync_report(self, report: SyncReport) -> None:
        self._reports[report.peer] = PeerSync(report.peer, report.outcome, 0, report.merged)
        self._reported.set()

    async def _publish_sync_status(self) -> None:
        """The `agent.sync` signal, from the sessions' reports (and `agent.devices`, when a
        session brought facts: the tree may have changed)."""
        while True:
            await self._reported.wait()
            self._reported = anyio.Event()
            now = (await self.effects.time.now()).ts_ms
            merged = False
            for peer, entry in sorted(self._reports.items()):
                if entry.at_ms == 0:
                    merged = merged or entry.merged > 0
                    self._reports[peer] = attrs.evolve(entry, at_ms=now)
            await self.emit(SYNC, SyncStatus(tuple(v for _, v in sorted(self._reports.items()))))
            if merged:
                await self.refresh()

    # ------------------------------------------------------------------------- the account

    async def join(self, membership: Membership) -> None:
        """Make `membership` this device's account and (re)start its account services.

        Checked first: the account's tree genesis and the devices' context genesis must be in
        the journal, this device a member of that context holding its secret, and the public
        key package must parse (`NotConfigured` naming what is missing; nothing changes).
        If the services then fail to start, the previous membership is restored and the
        error raised."""
        if type(membership) is not Membership:
            raise InvalidArgument("join takes a Membership")
        async with self._switching:
            await self._check(membership)
            previous = self._membership
            await self._store(membership)
            error = await self._switch(membership)
            if error is not None:
                await self._store(previous)
                await self._switch(previous)
                raise error

    async def leave(self) -> None:
        """Forget the account (its journals and keys stay); the agent waits for another."""
        async with self._switching:
            await self._store(None)
            await self._switch(None)

    async def refresh(self) -> None:
        """Emit `agent.devices` and `agent.account` again from the journal (after the account
        workflows changed the tree)."""
        membership = self._membership
        if membership is None or self._account_devices is None:
            return
        with contextlib.suppress(AuraError):
            state = await self._tree(membership.account)
            await self._emit_account(membership, state)

    async def _check(self, membership: Membership) -> None:
        state = await self._tree(membership.account)
        await self._context_genesis(membership.context)
        if not membership.public_key_package:
            if not self._single(state):
                raise InvalidArgument(
                    "a membership without a public key package is for a 1-of-1 account whose "
                    "group key is this device's key"
                )
            return
        try:
            frost.PublicKeyPackage.from_bytes(membership.public_key_package)
        except AuraError:
            raise InvalidArgument("the membership's public key package does not parse") from None

    def _hint(self) -> str:
        """Where other devices dial this one (`tcp://host:port`, the advertised host)."""
        listener = self.listener
        return tcp_hint(listener.host, listener.port)

    def _single(self, state: TreeState) -> bool:
        """The tree is 1-of-1 under this device's own key (a new account): changes are
        single-signer commits, there is no FROST group and no consensus node."""
        return (
            state.threshold == 1
            and state.group_key.raw == self.identity.signing_key
            and [leaf.public_key for leaf in state.leaves] == [self.identity.signing_key]
        )

    async def _store(self, membership: Membership | None) -> None:
        if membership is None:
            await self._storage.delete(MEMBERSHIP_KEY)
        else:
            await self._storage.put(MEMBERSHIP_KEY, encode(membership))

    async def _switch(self, membership: Membership | None) -> AuraError | None:
        """Restart the account services on `membership`; their start's error, if any."""
        self._membership = membership
        attempt = self._attempt = _Attempt()
        self._changed.set()
        await attempt.done.wait()
        return attempt.error

    async def _supervise(self, task_status: TaskStatus[None]) -> None:
        """Run the account services of the current membership until it changes, again and
        again. The first start (or failure) is when the agent counts as started."""
        first = True
        while True:
            self._changed = anyio.Event()
            attempt, self._attempt = self._attempt, None
            membership = self._membership
            try:
                if membership is None:
                    await self.emit(ACCOUNT, AccountState("none"))
                    await self.emit(DEVICES, DeviceList())
                    _finish(attempt, None)
                    if first:
                        task_status.started()
                        first = False
                    await self._changed.wait()
                    continue
                async with self._account(membership):
                    _finish(attempt, None)
                    if first:
                        task_status.started()
                        first = False
                    await self._changed.wait()
            except AuraError as exc:
                self.effects.trace.event("agent.account_failed", error=exc.code)
                await self.emit(
                    ACCOUNT,
                    AccountState(
                        "failed",
                        None if membership is None else membership.account,
                        detail=exc.message,
                    ),
                )
                await self.notify("error", f"the account services stopped: {exc.message}")
                _finish(attempt, exc)
                if first:
                    task_status.started()
                    first = False
                await self._changed.wait()

    @asynccontextmanager
    async def _account(self, membership: Membership) -> AsyncIterator[None]:
        """The account services of `membership` (see the module docstring)."""
        fx = self.effects
        await self.emit(ACCOUNT, AccountState("starting", membership.account))
        genesis = await self._context_genesis(membership.context)
        state = await self._tree(membership.account)
        for member in genesis.members:
            if member.authority != self.address:
                fx.peers.add(member.authority, member.key)
        await self._grant(membership.context)
        await self._grant_superseded(membership.context)
        for seed in membership.seeds:
            self.seeds.put(seed.authority, seed.address)
        peers = sorted(m.authority for m in genesis.members if m.authority != self.address)
        leaf = next((x for x in state.leaves if x.device_id == self.identity.device), None)
        sync = self.sync
        self._account_devices = AccountDevices(membership.account, membership.context, peers)
        try:
            for peer in peers:
                sync.add_peer(peer)
                sync.request(peer)
            if leaf is None:
                await self._emit_account(membership, state)
                yield
                return
            device = Device(
                fx,
                self.network.guarded,
                self.keys.secrets.signing_key,
                leaf,
                membership.account,
                membership.context,
            )
            self._descriptor = await publish_if_stale(
                fx,
                RendezvousLocator(fx),
                self.listener,
                address=self.address,
                key=self.keys.secrets.signing_key,
                leaf=leaf,
                context=membership.context,
            )
            online: AbstractAsyncContextManager[object] = contextlib.nullcontext()
            public = None  # 1-of-1: single-signer commits, no consensus node
            if membership.public_key_package:
                public = frost.PublicKeyPackage.from_bytes(membership.public_key_package)
            if public is not None and public.group_public_key != state.group_key:
                # The tree moved past this device's group: a change committed that it has not
                # moved to yet (its own, stopped past its point of no return, or one whose
                # `Switch` it missed). Its share is of the old key, so no consensus node runs
                # (a change asked now is refused: not online), but the account workflows do,
                # and they move it (`accounts.py`, the recovery).
                fx.trace.event("agent.account_behind", account=str(membership.account))
            elif public is not None:
                share = self.keys.secrets.share(membership.account, state.epoch)
                group = tree_group(state, public, share, witness_addresses(state, genesis))
                online = device.online(group, self.settings.consensus, dispatcher=self.dispatcher)
            async with online, self._serving(device, membership, state):
                yield
        finally:
            self._account_devices = None
            self._descriptor = None
            for peer in peers:
                sync.remove_peer(peer)
            for seed in membership.seeds:
                self.seeds.remove(seed.authority)

    @asynccontextmanager
    async def _serving(
        self, device: Device, membership: Membership, state: TreeState
    ) -> AsyncIterator[None]:
        """`device` is the account's (`self.device`) while the account services run."""
        self.device = device
        try:
            await self._emit_account(membership, state)
            yield
        finally:
            self.device = None

    async def _emit_account(self, membership: Membership, state: TreeState) -> None:
        genesis = await self._context_genesis(membership.context)
        addresses = witness_addresses(state, genesis)
        holders = (
            frozenset(frost.PublicKeyPackage.from_bytes(membership.public_key_package).identifiers)
            if membership.public_key_package
            else frozenset(frost_identifier(leaf) for leaf in state.leaves)
        )
        entries = tuple(
            DeviceEntry(
                leaf.device_id,
                leaf.leaf_id,
                addresses.get(leaf.device_id),
                leaf.device_id == self.identity.device,
                frost_identifier(leaf) in holders,
            )
            for leaf in state.leaves
        )
        here = any(entry.this_device for entry in entries)
        await self.emit(DEVICES, DeviceList(entries))
        await self.emit(
            ACCOUNT,
            AccountState(
                "active" if here else "removed",
                membership.account,
                state.epoch,
                len(entries),
                state.threshold,
            ),
        )

    async def _tree(self, account: AuthorityId) -> TreeState:
        journal = await self.effects.journal.journal(JournalNamespace.of(account))
        current = journal.view(TREE_REDUCER).current
        if current is None:
            raise NotConfigured(
                f"the genesis of account {account} is not in this device's journal: "
                "record it before joining"
            )
        return current

    async def _context_genesis(self, context: ContextId) -> Any:
        try:
            return await member_genesis(self.effects, context, self.address)
        except InvalidArgument as exc:
            raise NotConfigured(f"the devices' context: {exc.message}") from None

    async def _grant_superseded(self, current: ContextId) -> None:
        """The grants of every other context whose secret this device keeps and whose genesis
        lists it (its account's earlier devices' contexts): a device that has not moved yet,
        or was removed, still syncs there, and however it asks, this device can answer it,
        if only with `Refuse(not_shared)`, at once instead of leaving it to its session limit
        (every answer is a guarded send). Nothing is served there (`_shared_scopes`)."""
        for held in self.keys.secrets.contexts:
            if held.context == current or held.context in self._granted:
                continue
            try:
                await member_genesis(self.effects, held.context, self.address)
            except InvalidArgument:
                continue  # not a member there (or its genesis is not here): nothing to answer
            await self._grant(held.context)

    async def _grant(self, context: ContextId) -> None:
        """Unlimited flow and the consensus and sync capabilities in the devices' context (the
        library's defaults for a device's own account)."""
        fx = self.effects
        fx.flow.set_default(context, UNLIMITED)
        if context in self._granted:
            return
        token = issue_token(
            await fx.random.random_bytes(32),
            self.address,
            [
                *CONSENSUS_CAPABILITIES,
                *SYNC_CAPABILITIES,
                *CEREMONY_CAPABILITIES,
                *CHANGE_CAPABILITIES,
            ],
            seed=await fx.random.random_bytes(32),
            scope=ContextScope(context),
        )
        fx.authorization.grant(context, CapabilityFrontier.of(token))
        self._granted.add(context)

    # ------------------------------------------------------------------------- keys

    async def add_share(
        self, account: AuthorityId, epoch: int, key_package: frost.KeyPackage
    ) -> None:
        """Keep this device's key package of `account` at `epoch` in the key file."""
        await self.keys.update(lambda held: held.with_share(account, epoch, key_package))

    async def add_context_secret(self, context: ContextId, secret: bytes) -> None:
        """Keep `context`'s shared secret in the key file, and use it from now on."""
        await self.keys.update(lambda held: held.with_context(context, secret))
        self.effects.contexts.add(context, secret)

    # ------------------------------------------------------------------------- requests

    def _register_handlers(self) -> None:
        self.handlers.add(STATUS, self._status)
        self.handlers.add(IDENTITY, self._identity)
        self.handlers.add(NETWORK, self._network_status)
        self.handlers.add(PEERS, self._peers)
        self.handlers.add(SYNC_NOW, self._sync_now)

    async def _status(self, _: StatusRequest) -> AgentStatus:
        now = (await self.effects.time.now()).ts_ms
        return AgentStatus(
            identity=self.identity,
            account=self.account,
            data_dir="" if self.data_dir is None else str(self.data_dir),
            socket="" if self.socket_path is None else str(self.socket_path),
            sealed=self.keys.sealed,
            listening=self._hint(),
            api_version=API_VERSION,
            clients=self._server.clients if self._server is not None else 0,
            uptime_ms=max(0, now - self._started_ms),
        )

    async def _identity(self, _: IdentityRequest) -> Identity:
        return self.identity

    async def _network_status(self, _: NetworkRequest) -> NetworkStatus:
        listener = self.listener
        return NetworkStatus(
            listener.host,
            listener.port,
            self._parts.advertise,
            listener.static_key,
            self._descriptor,
        )

    async def _peers(self, _: PeersRequest) -> Peers:
        account = self._account_devices
        if account is None:
            return Peers()
        locator = self.locator
        found = []
        for peer in sorted(account.devices):
            where = await locator.locate(peer, account.context)
            report = self._reports.get(peer)
            found.append(
                PeerInfo(
                    peer,
                    None if where is None else tcp_hint(where.host, where.port),
                    None if report is None else report.outcome,
                    None if report is None or report.at_ms == 0 else report.at_ms,
                )
            )
        return Peers(tuple(found))

    async def _sync_now(self, request: SyncNowRequest) -> SyncResults:
        account = self._account_devices
        if account is None:
            raise NotConfigured(
                "this device has no account: there is nothing to sync (create or join one)"
            )
        if request.peer is not None and request.peer not in account.devices:
            raise InvalidArgument(f"{request.peer} is not a device of this account")
        peers = [request.peer] if request.peer is not None else sorted(account.devices)
        sessions = []
        for peer in peers:
            for report in await self.sync.sync_now(peer):
                sessions.append(
                    SyncOutcome(
                        peer,
                        str(report.scope.namespace),
                        report.outcome,
                        report.merged,
                        report.dropped,
                    )
                )
        return SyncResults(tuple(sessions))


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception a task group wraps (the agent's tasks end together, so a failure is
    normally alone), or the group itself if it holds several."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop()
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        else:
            leaves.append(item)
    return leaves[0] if len(leaves) == 1 else group


def _running(value: T | None, what: str) -> T:
    if value is None:
        raise NotConfigured(f"{what} is not running (the agent is starting or stopping)")
    return value


def _finish(attempt: _Attempt | None, error: AuraError | None) -> None:
    if attempt is not None:
        attempt.error = error
        attempt.done.set()


async def _open_keys(
    data: DataDir, passphrase: str | bytes | None, limits: KdfLimits, random: RandomEffects
) -> KeyHolder:
    """The directory's key file, or a new identity if the directory has neither keys nor
    storage (`KeyFileMissing` if it has storage but no keys)."""
    remove_stale_temporaries(data.path)
    if data.keys.exists() or data.keys.is_symlink():
        return await KeyStore.load(data.keys, random, passphrase=passphrase)
    if data.storage.exists():
        raise KeyFileMissing(
            f"{data.path} holds a device's storage but no key file: restore `keys` from a "
            "backup (a new identity would orphan the device's journals)"
        )
    secrets = await DeviceSecrets.fresh(random)
    return await KeyStore.create(data.keys, secrets, random, passphrase=passphrase, limits=limits)


async def _check_storage(storage: StorageEffects, identity: Identity) -> Membership | None:
    """Record the identity in new storage, refuse storage of another device; the stored
    membership, if any."""
    stored = await storage.get(IDENTITY_KEY)
    if stored is None:
        await storage.put(IDENTITY_KEY, encode(identity))
    else:
        try:
            held = decode(stored, Identity)
        except EncodingError:
            raise StorageError("the storage's identity record does not decode") from None
        if held != identity:
            raise KeyFileCorrupt(
                f"the key file is device {identity.device}'s but the storage beside it is "
                f"device {held.device}'s: put back the key file that belongs here"
            )
    raw = await storage.get(MEMBERSHIP_KEY)
    if raw is None:
        return None
    try:
        return decode(raw, Membership)
    except EncodingError:
        raise StorageError("the stored membership does not decode") from None
