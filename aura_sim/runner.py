"""Running a scenario: nodes, network, faults, phases and property monitors, from one seed.

`run_scenario(scenario, seed)` builds every node and the faulty network from the seed tree,
runs the workload on each node, carries out the safety phase's actions and faults (drawn from
the seed, or replayed from a `FaultSchedule`), checks the `always` properties throughout, then
runs the liveness phase: it heals a connected core and requires the eventual properties within
the phase's bound. The result says what held, what did not, what faults happened, and the
digest of the run's trace (the same seed and schedule always give the same digest).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import attrs

from aura_core.buggify import buggify_hook
from aura_core.encoding import decode, encode, record_tag
from aura_core.errors import AuraError, EncodingError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId
from aura_core.time import OrderTime, PhysicalTime
from aura_effects.journal import fact_key
from aura_guards.transport import CHARGE_KEY_PREFIX, GuardedMessage
from aura_journal.budget import FlowCharge
from aura_journal.context import CONTEXT_REDUCER, ContextGenesis, ContextMember
from aura_journal.fact import FactBody, JournalNamespace, sign_fact
from aura_journal.standard import standard_registry
from aura_sim.errors import NondeterminismDetected, ScenarioError
from aura_sim.faults import QUIET, FaultSchedule, LinkPolicy, TimedFault, TimedFaultKind
from aura_sim.loop import current_loop
from aura_sim.network import SimNetwork
from aura_sim.node import FLOW_LIMIT, SimNode
from aura_sim.scenario import (
    Action,
    LivenessPhase,
    SafetyPhase,
    Scenario,
)
from aura_sim.seeds import SeedTree, Stream
from aura_sim.simulation import Simulation
from aura_sim.trace import Trace
from aura_sim.workload import Workload, load_workload

__all__ = [
    "RunOptions",
    "Violation",
    "RunResult",
    "SimRun",
    "resolve_options",
    "run_scenario",
    "check_scenario_determinism",
]

MONITOR_INTERVAL_S = 1.0
POLL_S = 0.1


@attrs.frozen
class RunOptions:
    """The options of one run, after swarm drawing (printed with every result)."""

    nodes: int
    byzantine: int
    network: LinkPolicy
    partitions: int
    crashes: int
    holds: int
    clock_skew_ms: int
    lose_unsynced_ms: int
    buggify: bool

    def describe(self) -> str:
        net = self.network
        return (
            f"nodes={self.nodes} byzantine={self.byzantine} latency={net.latency_ms:.1f}ms"
            f"+{net.jitter_ms:.1f}ms drop={net.drop:.3f} dup={net.duplicate:.3f} "
            f"reorder={net.reorder:.3f} corrupt={net.corrupt:.3f} partitions={self.partitions} "
            f"crashes={self.crashes} holds={self.holds} skew={self.clock_skew_ms}ms "
            f"unsynced={self.lose_unsynced_ms}ms buggify={self.buggify}"
        )


def resolve_options(scenario: Scenario, seed: int) -> RunOptions:
    """The scenario's options, or (swarm testing) options drawn from the seed."""
    faults = scenario.faults
    if not scenario.swarm.enabled:
        return RunOptions(
            scenario.nodes,
            scenario.byzantine,
            scenario.network,
            faults.partitions,
            faults.crashes,
            faults.holds,
            faults.clock_skew_ms,
            faults.lose_unsynced_ms,
            faults.buggify,
        )
    draw = SeedTree(seed).child("swarm").stream("options")
    low, high = scenario.swarm.nodes
    nodes = draw.randint(low, high)
    base = scenario.network

    def maybe(rate: float) -> float:
        # Swarm testing: each fault kind is on in about half the runs, at a random rate.
        return draw.uniform(0.0, rate) if rate > 0 and draw.bernoulli(0.5) else 0.0

    network = attrs.evolve(
        base,
        drop=maybe(base.drop),
        duplicate=maybe(base.duplicate),
        reorder=maybe(base.reorder),
        corrupt=maybe(base.corrupt),
        jitter_ms=maybe(base.jitter_ms),
    )
    return RunOptions(
        nodes=nodes,
        byzantine=min(draw.randint(0, scenario.byzantine), max(nodes - 1, 0)),
        network=network,
        partitions=draw.randint(0, faults.partitions),
        crashes=draw.randint(0, faults.crashes),
        holds=draw.randint(0, faults.holds),
        clock_skew_ms=draw.randint(0, faults.clock_skew_ms),
        lose_unsynced_ms=faults.lose_unsynced_ms if draw.bernoulli(0.5) else 0,
        buggify=faults.buggify and draw.bernoulli(0.5),
    )


@attrs.frozen
class Violation:
    """A property that did not hold."""

    property: str
    detail: str
    at_s: float

    def describe(self) -> str:
        return f"{self.property} at {self.at_s:.3f}s: {self.detail}"


@attrs.frozen
class RunResult:
    """Everything a run reports."""

    scenario: str
    seed: int
    options: RunOptions
    violations: tuple[Violation, ...]
    schedule: FaultSchedule
    trace_digest: Hash32
    virtual_time: float
    counters: dict[str, int] = attrs.field(hash=False)
    sometimes: dict[str, int] = attrs.field(hash=False)
    trace: Trace | None = attrs.field(default=None, eq=False, hash=False, repr=False)
    """The full step trace, when the run was asked to keep it."""

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def failed_properties(self) -> frozenset[str]:
        return frozenset(v.property for v in self.violations)


class SimRun:
    """The state of one run: what workloads and monitors see."""

    def __init__(
        self, scenario: Scenario, seed: int, options: RunOptions, schedule: FaultSchedule | None
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.options = options
        self.seeds = SeedTree(seed)
        self.workload: Workload = load_workload(scenario.workload, scenario.workload_options)
        self.registry = standard_registry()
        self.workload.register(self.registry)
        # The run's context is founded (`_found_context`) once the nodes and their keys exist.
        self.context = ContextId.from_entropy(self.seeds.stream("context").bytes(32))
        self.namespace = JournalNamespace.of(self.context)
        self.replaying = schedule is not None
        self.schedule_in = schedule or FaultSchedule()
        self.timed_faults: list[TimedFault] = []
        self.violations: list[Violation] = []
        self.sometimes: Counter[str] = Counter()
        self.nodes: dict[str, SimNode] = {}
        self.permanently_down: set[str] = set()
        self.permanent_blocks: set[tuple[str, str]] = set()
        self._durable_keys: dict[str, set[str]] = {}
        self._rejected_seen: dict[str, int] = {}
        self._group: anyio.abc.TaskGroup | None = None
        self._note: Callable[[str], None] = lambda _: None
        self.network: SimNetwork | None = None

    # ------------------------------------------------------------------------- helpers

    def note(self, text: str) -> None:
        """Put an event on the run's trace."""
        self._note(text)

    def hit(self, name: str) -> None:
        """Count a 'sometimes' event: proof that a fault reached an interesting state."""
        self.sometimes[name] += 1

    def violate(self, prop: str, detail: str) -> None:
        self.violations.append(Violation(prop, detail, anyio.current_time()))
        self.note(f"VIOLATION {prop}: {detail}")

    def start_soon(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work` for the rest of the run, apart from every node (a workload's driver or
        monitor: it outlives the crashes of the nodes it drives)."""
        if self._group is None:
            raise ScenarioError("the run has not started")
        self._group.start_soon(work)

    def live_nodes(self) -> list[SimNode]:
        return [node for name, node in sorted(self.nodes.items()) if node.alive]

    def honest(self, node: SimNode) -> bool:
        return not node.byzantine

    # --------------------------------------------------------------------- lifecycle

    async def main(self) -> None:
        self._note = current_loop().note
        buggify_stream = self.seeds.child("buggify").stream("decisions")
        with buggify_hook(_buggifier(buggify_stream, self) if self.options.buggify else _never):
            await self._main()

    async def _main(self) -> None:
        network_seeds = self.seeds.child("network")
        self.network = SimNetwork(
            latency=network_seeds.stream("latency"),
            faults=None if self.replaying else network_seeds.stream("faults"),
            default=self.options.network,
            schedule=self.schedule_in.message,
            on_event=self.note,
        )
        self.network.send_hooks.append(self._check_charge)
        self.network.deliver_hooks.append(self._observe_delivery)
        names = self.scenario.node_names(self.options.nodes)
        skews = self.seeds.child("skew").stream("ms")
        byzantine = (
            set(names[len(names) - self.options.byzantine :]) if self.options.byzantine else set()
        )
        for name in names:
            authority = AuthorityId.from_entropy(
                self.seeds.child("node", name).stream("authority").bytes(32)
            )
            transport = self.network.attach(name, authority)
            skew = skews.randint(-self.options.clock_skew_ms, self.options.clock_skew_ms)
            self.nodes[name] = SimNode(
                name,
                self.seeds.child("node", name),
                transport,
                context=self.context,
                byzantine=name in byzantine,
                skew_ms=skew,
                unsynced_window=self.options.lose_unsynced_ms / 1000,
            )
        self._found_context()
        async with anyio.create_task_group() as group:
            self._group = group
            for node in self.nodes.values():
                self._start(node)
            group.start_soon(self._monitor)
            for phase in self.scenario.phases:
                if isinstance(phase, SafetyPhase):
                    await self._safety(phase)
                else:
                    await self._liveness(phase)
            self._check_always()
            group.cancel_scope.cancel()

    def _found_context(self) -> None:
        """Every node is a member of the run's context, signing with its own key; the first
        node (by name) writes the genesis, which every node's disk holds from the start."""
        nodes = [self.nodes[name] for name in sorted(self.nodes)]
        members = [ContextMember(n.authority, n.key.verifying_key) for n in nodes]
        nonce = self.seeds.stream("context-genesis").bytes(32)
        genesis = ContextGenesis.create(members, len(members) // 2 + 1, nonce)
        self.context = genesis.context
        self.namespace = JournalNamespace.of(genesis.context)
        for node in nodes:
            node.context = genesis.context
        type_id, version = record_tag(ContextGenesis)
        body = FactBody(
            self.namespace, type_id, version, encode(genesis), OrderTime(bytes(32)), PhysicalTime(0)
        )
        fact = sign_fact(body, nodes[0].key)
        for node in nodes:
            node.disk.data[fact_key(self.namespace, fact)] = fact.encoded

    def _start(self, node: SimNode) -> None:
        peers = list(self.nodes.values())
        node.boot(peers, self.registry, self.workload.capabilities)
        self.note(
            f"{node.name} boots (incarnation {node.incarnation}, clock skew {node.skew_ms} ms)"
        )
        assert self._group is not None
        # The scope exists from the boot on, so a crash before the task first runs cancels it.
        node.scope = anyio.CancelScope()
        self._group.start_soon(self._node_body, node, node.incarnation, node.scope)

    async def _node_body(self, node: SimNode, incarnation: int, scope: anyio.CancelScope) -> None:
        if not node.start(incarnation):
            self.note(f"{node.name} incarnation {incarnation} crashed before it started")
            return
        with scope:
            try:
                await self.workload.run_node(self, node)
            except AuraError as exc:
                self.note(f"{node.name} stopped: {type(exc).__name__}")

    async def crash(self, name: str, *, permanent: bool = False) -> None:
        """Crash a node that is booting or up (a node already down stays down; `permanent`
        still keeps it down for good)."""
        node = self.nodes[name]
        if permanent:
            self.permanently_down.add(name)
        if not node.alive:
            return
        assert self.network is not None
        if node.scope is not None:
            node.scope.cancel()
        node.halt()
        self.network.crash(name)
        if node.disk.unsynced_window > 0:
            lost = node.disk.lose_unsynced(anyio.current_time())
            if lost:
                self.hit("unsynced_writes_lost")
                self._durable_keys[name] = {k for k in node.disk.data if k.startswith("journal/")}

    async def restart(self, name: str) -> None:
        """Boot the next incarnation of a node that is down (and not down for good)."""
        node = self.nodes[name]
        if node.alive or name in self.permanently_down:
            return
        assert self.network is not None
        self.network.restart(name)
        self._start(node)
        self.hit("restart")

    # --------------------------------------------------------------------- phases

    async def _safety(self, phase: SafetyPhase) -> None:
        start = anyio.current_time()
        start_ms, end_ms = round(start * 1000), round((start + phase.duration_s) * 1000)
        if self.replaying:
            timed = [f for f in self.schedule_in.timed if start_ms <= f.at_ms < end_ms]
        else:
            timed = self._draw_timed(phase, start_ms)
            self.timed_faults.extend(timed)
        events: list[tuple[float, int, Action | TimedFault]] = []
        for index, action in enumerate(phase.actions):
            events.append((start + action.at_s, index, action))
        for index, fault in enumerate(timed):
            events.append((fault.at_ms / 1000, 10_000 + index, fault))
        events.sort(key=lambda e: (e[0], e[1]))
        for at, _, event in events:
            await _sleep_until(at)
            if isinstance(event, Action):
                await self._act(event)
            else:
                await self._timed(event)
        await _sleep_until(start + phase.duration_s)

    def _draw_timed(self, phase: SafetyPhase, start_ms: int) -> list[TimedFault]:
        """Random partitions, crashes and holds for a safety phase (recorded for replay)."""
        draw = self.seeds.child("timed", phase.name).stream("faults")
        names = self.scenario.node_names(self.options.nodes)
        span = max(int(phase.duration_s * 1000), 2)
        faults: list[TimedFault] = []
        for _ in range(self.options.partitions):
            at = start_ms + draw.below(span // 2)
            order = list(names)
            draw.shuffle(order)
            cut = draw.randint(1, max(len(order) - 1, 1))
            groups = (tuple(sorted(order[:cut])), tuple(sorted(order[cut:])))
            faults.append(TimedFault(at, TimedFaultKind.PARTITION, groups=groups))
            faults.append(TimedFault(at + draw.randint(1, span // 2), TimedFaultKind.HEAL))
        for _ in range(self.options.crashes):
            at = start_ms + draw.below(span // 2)
            victim = draw.choice(names)
            faults.append(TimedFault(at, TimedFaultKind.CRASH, (victim,)))
            faults.append(
                TimedFault(at + draw.randint(1, span // 2), TimedFaultKind.RESTART, (victim,))
            )
        for _ in range(self.options.holds):
            at = start_ms + draw.below(span // 2)
            source, destination = draw.sample(names, 2) if len(names) > 1 else (names[0], names[0])
            faults.append(TimedFault(at, TimedFaultKind.HOLD, (source, destination)))
            faults.append(
                TimedFault(
                    at + draw.randint(1, span // 2), TimedFaultKind.RELEASE, (source, destination)
                )
            )
        faults.sort(key=TimedFault.sort_key)
        return faults

    async def _timed(self, fault: TimedFault) -> None:
        network = self.network
        assert network is not None
        kind = fault.kind
        if kind is TimedFaultKind.PARTITION:
            network.partition(fault.groups)
            if fault.permanent:
                for a in network.nodes:
                    for b in network.nodes:
                        if a != b and not network.reachable(a, b):
                            self.permanent_blocks.add((a, b))
        elif kind is TimedFaultKind.BLOCK:
            network.block(fault.nodes[0], fault.nodes[1])
            if fault.permanent:
                self.permanent_blocks.add((fault.nodes[0], fault.nodes[1]))
        elif kind is TimedFaultKind.HEAL:
            network.heal()
            for a, b in self.permanent_blocks:
                network.block(a, b)
        elif kind is TimedFaultKind.CRASH:
            await self.crash(fault.nodes[0], permanent=fault.permanent)
        elif kind is TimedFaultKind.RESTART:
            await self.restart(fault.nodes[0])
        elif kind is TimedFaultKind.HOLD:
            network.hold(fault.nodes[0], fault.nodes[1])
        elif kind is TimedFaultKind.RELEASE:
            network.release(fault.nodes[0], fault.nodes[1])

    async def _act(self, action: Action) -> None:
        at_ms = round(anyio.current_time() * 1000)
        names = self.scenario.node_names(self.options.nodes)
        targets = names if action.node == "all" else [action.node]
        for name in targets:
            if name not in self.nodes:
                raise ScenarioError(f"action {action.do} names unknown node {name}")
        do = action.do
        if do == "partition":
            fault = TimedFault(
                at_ms, TimedFaultKind.PARTITION, groups=action.groups, permanent=action.permanent
            )
            await self._timed(fault)
        elif do == "block":
            fault = TimedFault(
                at_ms, TimedFaultKind.BLOCK, action.nodes, permanent=action.permanent
            )
            await self._timed(fault)
        elif do == "heal":
            await self._timed(TimedFault(at_ms, TimedFaultKind.HEAL))
        elif do in ("crash", "restart", "hold", "release"):
            kind = TimedFaultKind(do)
            nodes = action.nodes or tuple(targets)
            if kind in (TimedFaultKind.CRASH, TimedFaultKind.RESTART):
                for name in nodes:
                    await self._timed(TimedFault(at_ms, kind, (name,), permanent=action.permanent))
            else:
                await self._timed(TimedFault(at_ms, kind, nodes))
        elif do == "skew":
            for name in targets:
                node = self.nodes[name]
                node.skew_ms = action.skew_ms
                if node.effects is not None:
                    node.effects.time.skew_ms = action.skew_ms  # type: ignore[attr-defined]
        else:  # a workload action, e.g. "write"
            for name in targets:
                node = self.nodes[name]
                if node.alive:
                    for _ in range(action.count):
                        await self.workload.act(self, node, action)

    async def _liveness(self, phase: LivenessPhase) -> None:
        network = self.network
        assert network is not None
        names = self.scenario.node_names(self.options.nodes)
        core = self._core(phase, names)
        if core is None:
            self.violate("liveness", "no connected core of a majority of nodes can be healed")
            return
        self.note(f"liveness core {','.join(core)}")
        network.heal(core)
        for a in core:
            for b in core:
                if a != b:
                    network.release(a, b)
                    if phase.quiet:
                        network.set_link(a, b, QUIET)
        for name in core:
            await self.restart(name)
        deadline = anyio.current_time() + phase.within_s
        while True:
            converged = "convergence" not in phase.require or await self._converged(core)
            missing = None
            if "workload" in phase.require:
                missing = await self.workload.settled(self, [self.nodes[n] for n in core])
            if converged and missing is None:
                self.note(f"liveness reached at {anyio.current_time():.3f}")
                return
            if anyio.current_time() >= deadline and missing is not None:
                self.violate("workload", f"not settled within {phase.within_s}s: {missing}")
            if anyio.current_time() >= deadline and converged:
                return
            if anyio.current_time() >= deadline:
                states = []
                for name in core:
                    node = self.nodes[name]
                    count = len(await self.workload.state(node)) if node.alive else -1
                    states.append(f"{name}:{count}")
                self.violate(
                    "convergence",
                    f"core did not converge within {phase.within_s}s ({' '.join(states)})",
                )
                return
            await anyio.sleep(POLL_S)

    def _core(self, phase: LivenessPhase, names: list[str]) -> list[str] | None:
        candidates = [
            n for n in names if n not in self.permanently_down and not self.nodes[n].byzantine
        ]
        if isinstance(phase.core, tuple):
            chosen = [n for n in phase.core if n in candidates]
            return chosen if len(chosen) == len(phase.core) and self._connected(chosen) else None
        components = self._components(candidates)
        largest = max(components, key=lambda c: (len(c), sorted(c)), default=[])
        if phase.core == "all":
            return largest if len(largest) == len(names) else None
        if phase.core == "honest":
            return sorted(largest)
        return sorted(largest) if len(largest) * 2 > len(names) else None

    def _components(self, nodes: list[str]) -> list[list[str]]:
        seen: set[str] = set()
        result = []
        for start in nodes:
            if start in seen:
                continue
            component, stack = [], [start]
            seen.add(start)
            while stack:
                node = stack.pop()
                component.append(node)
                for other in nodes:
                    linked = (node, other) not in self.permanent_blocks and (
                        other,
                        node,
                    ) not in self.permanent_blocks
                    if other not in seen and linked:
                        seen.add(other)
                        stack.append(other)
            result.append(sorted(component))
        return result

    def _connected(self, nodes: list[str]) -> bool:
        return len(self._components(nodes)) <= 1

    async def _converged(self, core: list[str]) -> bool:
        states = set()
        for name in core:
            node = self.nodes[name]
            if not node.alive:
                return False
            states.add(await self.workload.state(node))
            if len(states) > 1:
                return False
        return True

    # --------------------------------------------------------------------- monitors

    def _check_charge(self, source: str, envelope: object) -> None:
        """No envelope leaves an honest node without its charge already on that node's disk."""
        if "charge_before_send" not in self.scenario.always:
            return
        node = self.nodes[source]
        if node.byzantine:
            return
        try:
            message = decode(envelope.payload, GuardedMessage)  # type: ignore[attr-defined]
        except EncodingError:
            self.violate("charge_before_send", f"{source} sent an undecodable envelope")
            return
        if message.receipt.digest.digest not in node.committed_receipts:
            self.violate(
                "charge_before_send",
                f"{source} sent receipt #{message.receipt.body.nonce} before its charge landed",
            )

    def _observe_delivery(self, destination: str, envelope: object) -> None:
        """Count deliveries the receiver's guard rejected (replays, corruption, old epochs)."""
        node = self.nodes.get(destination)
        if node is None or node.guarded is None:
            return
        seen = self._rejected_seen.get(destination, 0)
        if node.guarded.rejected > seen:
            self.hit("rejected_bad_envelope")
            self._rejected_seen[destination] = node.guarded.rejected

    async def _monitor(self) -> None:
        while True:
            await anyio.sleep(MONITOR_INTERVAL_S)
            self._check_always()

    def _check_always(self) -> None:
        if "facts_never_vanish" in self.scenario.always:
            for name, node in sorted(self.nodes.items()):
                keys = {k for k in node.disk.data if k.startswith("journal/")}
                before = self._durable_keys.get(name, set())
                missing = before - keys
                if missing:
                    self.violate("facts_never_vanish", f"{name} lost {len(missing)} durable facts")
                self._durable_keys[name] = keys
        if "workload" in self.scenario.always:
            self.workload.check(self)
        if "budgets_within_limits" in self.scenario.always:
            prefix = f"{CHARGE_KEY_PREFIX}{self.context}/"
            for node in self.live_nodes():
                assert node.effects is not None
                journal = node.effects.journal._journals.get(self.namespace)
                epoch = 0 if journal is None else journal.view(CONTEXT_REDUCER).epoch
                registers = sorted(i for i in node.disk.data.items() if i[0].startswith(prefix))
                for _, value in registers:
                    charge = decode(value, FlowCharge)
                    if charge.epoch == epoch and charge.spent > FLOW_LIMIT:
                        self.violate("budgets_within_limits", f"{node.name} spent {charge.spent}")


def _never(_: str) -> bool:
    return False


def _buggifier(stream: Stream, run: SimRun) -> Callable[[str], bool]:
    """FoundationDB-style: each site is enabled for the whole run with probability 1/4 the
    first time it is reached, then fires on a quarter of its calls."""
    enabled: dict[str, bool] = {}

    def decide(site: str) -> bool:
        on = enabled.get(site)
        if on is None:
            on = enabled[site] = stream.bernoulli(0.25)
        fire = on and stream.bernoulli(0.25)
        if fire:
            run.hit(f"buggify:{site}")
            run.note(f"buggify {site}")
        return fire

    return decide


async def _sleep_until(when: float) -> None:
    delay = when - anyio.current_time()
    if delay > 0:
        await anyio.sleep(delay)


def run_scenario(
    scenario: Scenario,
    seed: int,
    *,
    schedule: FaultSchedule | None = None,
    max_steps: int | None = 20_000_000,
    keep_trace: bool = False,
) -> RunResult:
    """Run `scenario` from `seed` (replaying `schedule` instead of drawing faults if given)."""
    options = resolve_options(scenario, seed)
    run = SimRun(scenario, seed, options, schedule)
    simulation = Simulation(seed, record_trace=True, max_steps=max_steps)
    simulation.run(run.main)
    assert simulation.trace is not None and run.network is not None
    if schedule is None:
        recorded = FaultSchedule.of([*run.network.injected, *run.timed_faults])
    else:
        recorded = schedule
    counters = dict(sorted(run.network.counters.items()))
    return RunResult(
        scenario=scenario.name,
        seed=seed,
        options=options,
        violations=tuple(run.violations),
        schedule=recorded,
        trace_digest=simulation.trace.digest(),
        virtual_time=simulation.stats.virtual_time,
        counters=counters,
        sometimes=dict(sorted(run.sometimes.items())),
        trace=simulation.trace if keep_trace else None,
    )


def check_scenario_determinism(scenario: Scenario, seed: int, *, runs: int = 2) -> Hash32:
    """Run `seed` `runs` times; raise `NondeterminismDetected` unless every trace is identical.

    Anything that reads ambient time or unseeded randomness, or iterates an unordered
    collection whose order reaches a decision, shows up as a differing digest.
    """
    first = run_scenario(scenario, seed, keep_trace=True)
    assert first.trace is not None
    for _ in range(runs - 1):
        again = run_scenario(scenario, seed, keep_trace=True)
        assert again.trace is not None
        index = first.trace.first_difference(again.trace)
        if index is not None:
            raise NondeterminismDetected(
                seed, index, first.trace.step(index), again.trace.step(index)
            )
    return first.trace_digest
