"""ACCOUNTS: real agents create an account, enroll devices by code, change keys and remove one.

Every node runs an `aura_agent.Agent` with its `AccountService` (the production code, through
`Agent.run`) on the node's seeded randomness, skewed virtual clock and crashable disk, with its
keys in memory (`MemoryKeys`, kept across the node's crashes as a key file would be) and the
simulated network as its network: the agent's self-certifying address (derived from its
signing key) is an alias of the node on the `SimNetwork`, behind the agent's own guard chain.
Nothing is carried by hand: codes, DKG, refresh and FROST signing rounds, consensus, journal
sync and the devices' context switches all travel as guarded messages under the run's faults.

A driver (apart from the nodes, `SimRun.start_soon`) plays the user: a `script` action starts
the workload's `script` option, one step at a time, e.g.

    n0 create            n0 creates a 1-of-1 account
    n0 invite n1 2       n0 writes a code for threshold 2; n1 joins with it
    n1 refresh           n1 refreshes every share (the epoch rotates)
    n1 threshold 3       n1 tightens the policy to 3-of-(its devices)
    n1 remove n0         n1 removes n0 (a refresh among the others)
    crash n2 / restart n2   between flows (the runner's crash: volatile state lost)
    partition n0 n1 | n2 for 10   cut n2 off for 10 s (the next steps run meanwhile)

Each call runs inside the acting node (a crash cancels it). A step that fails (a typed
`AuraError`: the ceremony is recorded aborted, or an unredeemed code is cancelled) is tried
again after `retry_s` until it is done; a step counts as done when its outcome holds (the
joiner is active in the account, the epoch moved past the one the step started from, the
device is gone from the tree), so a change that committed although its caller saw an error is
not made twice.

Invariants (`always = ["workload"]`), over snapshots every `sample_s` of every node that is up
(the account journal's tree and ceremony registry, the membership, the key shares):
    at most one ceremony commits per prestate (in the union of every registry seen);
    no two devices, at no two times, hold different tree states for one epoch on their
    committed chains; a device's group key package is never that of an aborted or superseded
    ceremony's pending epoch, and every share it holds for an epoch is of that epoch's group key.
Goal (`require = ["workload"]`): the script is done and, once the faults heal, every device of
the final tree holds the same tree (epoch and commitment) and is active, and every device that
was removed shows itself removed.

Options (`[workload]`): script (list of steps, above), pause_s (between two steps, so that
the run's faults fall during the flows as well as between them; 0.0), retry_s (2.0),
step_limit_s (90: a call that takes longer is given up and retried), sample_s (0.5), sync_s
(the agents' sync interval, 1.0).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import attrs

from aura_agent.agent import Agent, AgentSettings
from aura_agent.enrollment import read_code
from aura_agent.keystore import DeviceSecrets, MemoryKeys
from aura_agent.parts import AgentParts, Attachment, Endpoint, Network
from aura_consensus.ceremony import Aborted, CeremonyPendingEpoch, CeremonyRegistry, Committed
from aura_consensus.ceremony import Superseded as SupersededState
from aura_consensus.facts import CEREMONY_REDUCER
from aura_core.crypto import frost
from aura_core.errors import AuraError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, DeviceId
from aura_effects.locator import PeerAddress
from aura_effects.tcpconfig import Connected
from aura_guards.transport import GuardedTransport
from aura_journal.fact import JournalNamespace
from aura_journal.registry import FactRegistry
from aura_journal.tree import TREE_REDUCER, TreeState, TreeView
from aura_protocol.ceremonies.service import key_commitment
from aura_protocol.consensus import ConsensusConfig
from aura_protocol.sync import SyncConfig
from aura_sim.handlers import SeededRandom
from aura_sim.network import SimTransport
from aura_sim.node import SimNode
from aura_sim.runner import SimRun
from aura_sim.scenario import Action

__all__ = ["AccountsWorkload", "Step", "parse_step", "workload"]

T = TypeVar("T")
PROPERTY = "workload"
DEFAULT_SCRIPT = (
    "n0 create",
    "n0 invite n1 2",
    "n0 invite n2 2",
    "crash n2",
    "restart n2",
    "n1 refresh",
    "n1 remove n0",
)


@attrs.frozen
class Step:
    """One step of the script: `actor` does `verb` (with `target` and `threshold`); or the
    network is partitioned into `groups` for `seconds`."""

    verb: str
    actor: str = ""
    target: str = ""
    threshold: int = 0
    groups: tuple[tuple[str, ...], ...] = ()
    seconds: float = 0.0

    def describe(self) -> str:
        if self.verb == "partition":
            cut = " | ".join(" ".join(group) for group in self.groups)
            return f"partition {cut} for {self.seconds:g}"
        if self.verb in ("crash", "restart"):
            return f"{self.verb} {self.actor}"
        parts = [self.actor, self.verb, self.target, str(self.threshold or "")]
        return " ".join(p for p in parts if p)


def parse_step(text: str) -> Step:
    """A script line as a `Step` (`ValueError` if it is not one)."""
    words = text.split()
    match words:
        case [actor, "create"]:
            return Step("create", actor)
        case [actor, "invite", joiner, threshold] if threshold.isdigit():
            return Step("invite", actor, joiner, int(threshold))
        case [actor, "refresh"]:
            return Step("refresh", actor)
        case [actor, "threshold", threshold] if threshold.isdigit():
            return Step("threshold", actor, threshold=int(threshold))
        case [actor, "remove", device]:
            return Step("remove", actor, device)
        case ["crash" | "restart" as verb, node]:
            return Step(verb, node)
        case ["partition", *cut, "for", seconds] if "|" in cut and _number(seconds):
            groups: list[tuple[str, ...]] = []
            group: list[str] = []
            for word in [*cut, "|"]:
                if word == "|":
                    if not group:
                        break
                    groups.append(tuple(group))
                    group = []
                else:
                    group.append(word)
            else:
                return Step("partition", groups=tuple(groups), seconds=float(seconds))
    raise ValueError(f"not a script step: {text!r}")


def _number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


class _Crashed(Exception):
    """The node a call ran on went down before the call finished."""


@attrs.define
class _Call:
    """A call the driver asks a node's agent to make, and its outcome."""

    work: Callable[[Agent], Awaitable[object]]
    done: anyio.Event = attrs.field(factory=anyio.Event)
    result: object = None
    error: BaseException | None = None
    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)
    """What the node runs the call in: cancelled when the driver stops waiting for it, so a
    step given up is not still running in the node while the driver retries it."""

    def fail(self, error: BaseException) -> None:
        """End the call with `error` unless it has ended already."""
        if not self.done.is_set():
            self.error = error
            self.done.set()


class SimEndpoint:
    """`Endpoint` on the simulated network: the agent's guarded transport over its alias.

    The network routes by authority, so the listener is never dialled: its host names the
    node (`NAME.sim.invalid`, a reserved name) and its static key is the agent's, as codes,
    contacts and descriptors need one."""

    def __init__(self, guarded: GuardedTransport, listener: PeerAddress) -> None:
        self._guarded = guarded
        self._listener = listener

    @property
    def guarded(self) -> GuardedTransport:
        return self._guarded

    @property
    def listener(self) -> PeerAddress:
        return self._listener

    def on_connected(self, callback: Callable[[Connected], None]) -> None:
        """No channels here: agents sync on their interval and at start."""


def sim_network(transport: SimTransport) -> Network:
    """The `Network` of an agent whose address is `transport`'s."""

    @asynccontextmanager
    async def run(device: Attachment) -> AsyncIterator[Endpoint]:
        if device.address != transport.authority:
            raise AssertionError("the agent's address is its alias on the network")
        guarded = GuardedTransport(
            device.effects, transport, local=device.address, signing_key=device.signing_key
        )
        listener = PeerAddress(f"{transport.name}.sim.invalid", 1, device.keypair.public)
        yield SimEndpoint(guarded, listener)

    return run


@attrs.frozen
class _Snapshot:
    """What the invariants look at on one node at one time."""

    chain: tuple[TreeState, ...]
    registry: CeremonyRegistry
    package: bytes
    shares: tuple[tuple[int, bytes], ...]
    """(epoch, group key) of every share held of the account."""


class AccountsWorkload:
    """See the module docstring."""

    capabilities = ()

    def __init__(self, options: dict[str, Any]) -> None:
        known = {"script", "pause_s", "retry_s", "step_limit_s", "sample_s", "sync_s"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown accounts options {sorted(unknown)}")
        self.script = tuple(parse_step(s) for s in options.get("script", DEFAULT_SCRIPT))
        self.pause_s = float(options.get("pause_s", 0.0))
        self.retry_s = float(options.get("retry_s", 2.0))
        self.step_limit_s = float(options.get("step_limit_s", 90.0))
        self.sample_s = float(options.get("sample_s", 0.5))
        sync_s = float(options.get("sync_s", 1.0))
        self.settings = AgentSettings(
            sync=SyncConfig(interval_s=sync_s, session_limit_s=5.0),
            consensus=ConsensusConfig(fallback_s=0.5, gossip_s=0.2, deadline_s=15.0),
        )
        self._keys: dict[str, MemoryKeys] = {}
        self._transports: dict[str, SimTransport] = {}
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, anyio.abc.ObjectSendStream[_Call]] = {}
        self._account: AuthorityId | None = None
        self._removed: set[str] = set()
        self._cuts: list[frozenset[tuple[str, str]]] = []
        """The links each scripted partition still in force cuts."""
        self._scripted: set[tuple[str, str]] = set()
        """The links cut by scripted partitions only (reachable when the first of them cut
        it): the last of those partitions to heal restores it."""
        self._started = False
        self._finished = False
        self._step = 0
        # What the invariants have seen so far.
        self._snapshots: dict[str, _Snapshot] = {}
        self._registry = CeremonyRegistry()
        self._chain: list[tuple[TreeState, str]] = []
        """The longest committed chain seen (each state with the node it was first seen on):
        every node's chain must be a prefix of it or extend it."""
        self._reported: set[str] = set()

    # ------------------------------------------------------------------------- nodes

    def register(self, registry: FactRegistry) -> None:
        """The agents use their own registry (an authority's); the run's needs nothing."""

    async def run_node(self, run: SimRun, node: SimNode) -> None:
        """The node's agent for this incarnation, serving the driver's calls."""
        assert node.effects is not None and run.network is not None
        keys = self._keys.get(node.name)
        if keys is None:
            random = SeededRandom(node.seeds.stream("device-secrets"))
            keys = self._keys[node.name] = MemoryKeys(await DeviceSecrets.fresh(random))
            self._transports[node.name] = run.network.alias(node.name, keys.secrets.address)
        fx = node.effects
        parts = AgentParts(
            random=fx.random,
            time=fx.time,
            storage=fx.storage,
            keys=keys,
            network=sim_network(self._transports[node.name]),
        )
        send, receive = anyio.create_memory_object_stream[_Call](16)
        taken: list[_Call] = []
        async with send, receive, Agent.run(parts, settings=self.settings) as agent:
            self._agents[node.name] = agent
            self._calls[node.name] = send
            if node.incarnation > 1:
                run.hit("agent_restarted")
            try:
                async with anyio.create_task_group() as calls:
                    async for call in receive:
                        taken = [c for c in taken if not c.done.is_set()]
                        taken.append(call)
                        calls.start_soon(_serve, call, agent)
            finally:
                if self._agents.get(node.name) is agent:
                    del self._agents[node.name]
                    del self._calls[node.name]
                while True:  # calls not taken yet fail now (before the stream closes)
                    try:
                        taken.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.EndOfStream):
                        break
                receive.close()  # calls sent from now on fail at once
                for call in taken:  # as do those whose task was cancelled before it began
                    call.fail(_Crashed())

    async def act(self, run: SimRun, node: SimNode, action: Action) -> None:
        if action.do != "script":
            raise ValueError(f"the accounts workload does not know the action {action.do!r}")
        if self._started:
            return
        self._started = True
        run.start_soon(lambda: self._drive(run))
        run.start_soon(lambda: self._sample(run))

    # ------------------------------------------------------------------------- the driver

    async def _call(self, run: SimRun, name: str, work: Callable[[Agent], Awaitable[T]]) -> T:
        """`work(agent)` run inside node `name` (waiting for it to be up); `_Crashed` if the
        node goes down first, the call's own error if it raises."""
        while name not in self._calls:
            await anyio.sleep(0.1)
        call = _Call(work)
        try:
            await self._calls[name].send(call)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise _Crashed() from None
        try:
            await call.done.wait()
        except BaseException:  # the step's time is up: the node stops the call too
            call.scope.cancel()
            raise
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]

    async def _drive(self, run: SimRun) -> None:
        for index, step in enumerate(self.script):
            self._step = index
            if index:
                await anyio.sleep(self.pause_s)
            run.note(f"script: {step.describe()}")
            if step.verb == "crash":
                await run.crash(step.actor)
                continue
            if step.verb == "restart":
                await run.restart(step.actor)
                continue
            if step.verb == "partition":
                self._partition(run, step)
                continue
            attempts = 0
            base: int | None = None
            while True:
                attempts += 1
                try:
                    with anyio.fail_after(self.step_limit_s):
                        if base is None:  # before the first try: the epoch it must move past
                            base = await self._base_epoch(run, step)
                        await self._perform(run, step)
                    break
                except (AuraError, _Crashed, TimeoutError) as exc:
                    run.note(f"script: {step.describe()} failed: {type(exc).__name__}: {exc}")
                    run.hit(f"step_failed:{step.verb}")
                    if base is not None and await self._done(run, step, base):
                        run.hit("step_done_despite_error")
                        break
                await anyio.sleep(self.retry_s)
            if attempts > 1:
                run.hit("step_retried")
            run.note(f"script: {step.describe()} done ({attempts} attempts)")
        self._step = len(self.script)
        self._finished = True

    def _partition(self, run: SimRun, step: Step) -> None:
        """Cut the network into `step.groups` for `step.seconds`. The heal restores only links
        the script cut: not those the runner had cut (permanent or not), nor those another
        scripted partition still in force cuts."""
        network = run.network
        assert network is not None
        cut = network.separated(step.groups)
        self._scripted.update(link for link in cut if network.reachable(*link))
        network.partition(step.groups)
        self._cuts.append(cut)

        async def heal() -> None:
            await anyio.sleep(step.seconds)
            self._cuts.remove(cut)
            held = set(run.permanent_blocks).union(*self._cuts)
            healed = sorted(self._scripted & (cut - held))
            self._scripted.difference_update(healed)
            network.restore(healed)

        run.start_soon(heal)

    async def _base_epoch(self, run: SimRun, step: Step) -> int:
        if step.verb in ("create", "invite"):
            return -1
        return await self._call(run, step.actor, _epoch)

    async def _perform(self, run: SimRun, step: Step) -> None:
        actor = step.actor
        if step.verb == "create":
            self._account = await self._call(run, actor, lambda a: a.accounts.create())
        elif step.verb == "invite":
            code = await self._call(run, actor, lambda a: a.accounts.invite(step.threshold))
            try:
                await self._call(run, step.target, lambda a: a.accounts.join(code))
            except (AuraError, _Crashed):
                ceremony = read_code(code).ceremony
                try:
                    await self._call(run, actor, lambda a: a.accounts.cancel(ceremony))
                except (AuraError, _Crashed):
                    run.hit("cancel_failed")
                raise
        elif step.verb == "refresh":
            await self._call(run, actor, lambda a: a.accounts.refresh())
        elif step.verb == "threshold":
            await self._call(run, actor, lambda a: a.accounts.change_threshold(step.threshold))
        elif step.verb == "remove":
            device = self._keys[step.target].secrets.device
            await self._call(run, actor, lambda a: a.accounts.remove(device))
            self._removed.add(step.target)

    async def _done(self, run: SimRun, step: Step, base: int) -> bool:
        """Whether `step`'s outcome holds although its call failed."""
        try:
            if step.verb == "create":
                membership = await self._call(run, step.actor, _membership)
                if membership is not None:
                    self._account = membership
                return membership is not None
            if step.verb == "invite":
                joined = await self._call(run, step.target, _membership)
                return joined is not None and joined == self._account
            if step.verb == "remove":
                device = self._keys[step.target].secrets.device
                leaves = await self._call(run, step.actor, _devices)
                gone = device not in leaves
                if gone:
                    self._removed.add(step.target)
                return gone
            return await self._call(run, step.actor, _epoch) > base
        except (AuraError, _Crashed):
            return False

    # ------------------------------------------------------------------------- invariants

    async def _sample(self, run: SimRun) -> None:
        while True:
            for name in sorted(self._agents):
                agent = self._agents.get(name)
                if agent is not None and self._account is not None:
                    try:
                        self._snapshots[name] = await _snapshot(agent, self._account)
                    except AuraError:
                        continue
            self.check(run)
            await anyio.sleep(self.sample_s)

    def check(self, run: SimRun) -> None:
        """The account safety invariants over the snapshots so far (see the module docstring)."""
        for name, snap in sorted(self._snapshots.items()):
            self._registry = self._registry.join(snap.registry)
            for index, state in enumerate(snap.chain):
                if index == len(self._chain):
                    self._chain.append((state, name))
                elif self._chain[index][0].key != state.key:
                    other = self._chain[index][1]
                    self._violate(
                        run,
                        f"{name} and {other} hold different trees after {index} changes "
                        f"(epoch {state.epoch} and {self._chain[index][0].epoch})",
                    )
                    break
        registry = self._registry
        committed: dict[str, list[str]] = {}
        dead: set[Hash32] = set()
        final = (Aborted, SupersededState)
        for ceremony in registry.ceremonies():
            if isinstance(registry.state(ceremony), Committed):
                prestate = str(registry.started(ceremony).prestate_hash)
                committed.setdefault(prestate, []).append(str(ceremony))
        for fact in sorted(registry.facts, key=repr):
            if isinstance(fact, CeremonyPendingEpoch) and isinstance(
                registry.state(fact.ceremony_id), final
            ):
                dead.add(fact.key_commitment)
        for prestate, ceremonies in sorted(committed.items()):
            if len(ceremonies) > 1:
                self._violate(run, f"{len(ceremonies)} ceremonies committed on {prestate}")
        for name, snap in sorted(self._snapshots.items()):
            if snap.package:
                commitment = key_commitment(frost.PublicKeyPackage.from_bytes(snap.package))
                if commitment in dead:
                    self._violate(run, f"{name} uses an aborted ceremony's pending key")
            for epoch, group_key in snap.shares:
                keys = {s.group_key.raw for s, _ in self._chain if s.epoch == epoch}
                if keys and keys != {group_key}:
                    self._violate(run, f"{name} holds a share of epoch {epoch} of another key")

    def _violate(self, run: SimRun, detail: str) -> None:
        if detail not in self._reported:
            self._reported.add(detail)
            run.violate(PROPERTY, detail)

    # ------------------------------------------------------------------------- convergence

    async def state(self, node: SimNode) -> frozenset[object]:
        """The node's account tree: (epoch, commitment) of its current state, or nothing."""
        agent = self._agents.get(node.name)
        if agent is None or self._account is None:
            return frozenset()
        view = await _view(agent, self._account)
        return frozenset() if view.current is None else frozenset({view.current.key})

    async def settled(self, run: SimRun, core: list[SimNode]) -> str | None:
        if not self._finished:
            step = self.script[self._step] if self._step < len(self.script) else None
            return f"the script is at {step.describe() if step else 'its end'}"
        assert self._account is not None
        trees: dict[str, TreeState | None] = {}
        for node in core:
            agent = self._agents.get(node.name)
            if agent is None:
                return f"{node.name} is not up"
            trees[node.name] = (await _view(agent, self._account)).current
        latest = max(
            (t for t in trees.values() if t is not None), key=lambda t: t.epoch, default=None
        )
        if latest is None:
            return "no device holds the account"
        members = {leaf.device_id for leaf in latest.leaves}
        for name, tree in sorted(trees.items()):
            agent = self._agents[name]
            phase = agent.account.phase
            if agent.identity.device in members:
                if tree is None or tree.key != latest.key:
                    return f"{name} is at epoch {None if tree is None else tree.epoch}"
                if phase != "active":
                    return f"{name} is {phase}"
            elif name in self._removed and phase != "removed":
                return f"{name} (removed) shows itself {phase}"
        return None


async def _serve(call: _Call, agent: Agent) -> None:
    try:
        with call.scope:
            call.result = await call.work(agent)
    except Exception as exc:  # the driver raises it: AuraError is retried, others end the run
        call.error = exc
    except BaseException:  # cancelled: the node went down
        call.error = _Crashed()
        raise
    finally:
        if call.scope.cancel_called and call.error is None:  # the driver gave up on it
            call.error = _Crashed()
        call.done.set()


async def _membership(agent: Agent) -> AuthorityId | None:
    membership = agent.membership
    return None if membership is None else membership.account


async def _epoch(agent: Agent) -> int:
    return agent.account.epoch if agent.account.epoch is not None else -1


async def _devices(agent: Agent) -> frozenset[DeviceId]:
    membership = agent.membership
    if membership is None:
        return frozenset()
    current = (await _view(agent, membership.account)).current
    return frozenset() if current is None else frozenset(x.device_id for x in current.leaves)


async def _view(agent: Agent, account: AuthorityId) -> TreeView:
    journal = await agent.effects.journal.journal(JournalNamespace.of(account))
    view: TreeView = journal.view(TREE_REDUCER)
    return view


async def _snapshot(agent: Agent, account: AuthorityId) -> _Snapshot:
    journal = await agent.effects.journal.journal(JournalNamespace.of(account))
    view: TreeView = journal.view(TREE_REDUCER)
    registry: CeremonyRegistry = journal.view(CEREMONY_REDUCER)
    membership = agent.membership
    package = (
        b""
        if membership is None or membership.account != account
        else (membership.public_key_package)
    )
    shares = tuple(
        (held.epoch, frost.KeyPackage.from_bytes(held.key_package).group_public_key.raw)
        for held in agent.keys.secrets.shares
        if held.account == account
    )
    return _Snapshot(view.chain(), registry, package, shares)


def workload(options: dict[str, Any]) -> AccountsWorkload:
    """The factory a scenario names."""
    return AccountsWorkload(options)
