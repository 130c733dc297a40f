"""The network's reachability rule under random interleavings of every topology fault.

A test-side model replays the same operations and decides, independently of the network's
implementation, what may be received: a message only by the incarnation it was sent to, and
only if neither a cut of its link nor a crash of its destination happened while it was on its
way (held, delayed, duplicated or reordered). It must also be received if nothing of the kind
happened, so a network that loses everything fails too.
"""

from __future__ import annotations

from typing import Any

import anyio
import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.effects import Envelope
from aura_core.errors import TransportError
from aura_core.ids import AuthorityId, ContextId
from aura_sim import Simulation
from aura_sim import run as sim_run
from aura_sim.faults import LinkPolicy
from aura_sim.network import SimNetwork, SimTransport
from aura_sim.seeds import SeedTree

NODES = ("a", "b", "c")
AUTHORITY = {name: AuthorityId(bytes([i + 1]) * 16) for i, name in enumerate(NODES)}
CTX = ContextId(b"\x09" * 16)
POLICY = LinkPolicy(latency_ms=10, jitter_ms=20, duplicate=0.2, reorder=0.2, reorder_ms=40)

node = st.sampled_from(NODES)
link = st.sampled_from([(a, b) for a in NODES for b in NODES if a != b])
ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "send": link,
    "hold": link,
    "release": link,
    "block": link,
    "partition": st.tuples(*[st.integers(0, 2)] * len(NODES)),
    "heal": st.none(),
    "crash": node,
    "restart": node,
    "sleep": st.integers(0, 60),
}
KINDS = ["send"] * 5 + sorted(ARGUMENTS)  # about a third of the operations send


@st.composite
def operation(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    return kind, draw(ARGUMENTS[kind])


@attrs.define
class Sent:
    source: str
    destination: str
    position: int
    """How many topology events had happened when it was sent."""
    incarnation: int
    clean: bool
    """Its link was reachable and its destination up when it was sent."""


@attrs.define
class Model:
    """What the operations did to the topology, kept by the test itself."""

    blocked: set[tuple[str, str]] = attrs.field(factory=set)
    down: set[str] = attrs.field(factory=set)
    incarnation: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(NODES, 1))
    held: set[tuple[str, str]] = attrs.field(factory=set)
    events: list[tuple[str, Any]] = attrs.field(factory=list)
    sent: list[Sent] = attrs.field(factory=list)
    received: list[tuple[int, str]] = attrs.field(factory=list)
    problems: list[str] = attrs.field(factory=list)

    def cut(self, pairs: set[tuple[str, str]]) -> None:
        self.blocked |= pairs
        self.events.append(("cut", pairs))

    def lost_on_the_way(self, sent: Sent, until: int) -> bool:
        for kind, what in self.events[sent.position : until]:
            if kind == "crash" and what == sent.destination:
                return True
            if kind == "cut" and (sent.source, sent.destination) in what:
                return True
        return False

    def check(self, number: int, receiver: str) -> None:
        sent = self.sent[number]
        if receiver != sent.destination:
            self.problems.append(f"#{number} reached {receiver}, not {sent.destination}")
        elif not sent.clean:
            self.problems.append(f"#{number} was sent across a cut or to a node that was down")
        elif self.lost_on_the_way(sent, len(self.events)):
            self.problems.append(f"#{number} crossed a cut or a crash of {receiver}")
        elif self.incarnation[receiver] != sent.incarnation or receiver in self.down:
            self.problems.append(f"#{number} reached a later incarnation of {receiver}")


async def scenario(seed: int, operations: list[tuple[str, Any]]) -> Model:
    seeds = SeedTree(seed)
    network = SimNetwork(latency=seeds.stream("latency"), faults=seeds.stream("faults"))
    network.set_default(POLICY)
    transports = {name: network.attach(name, AUTHORITY[name]) for name in NODES}
    model = Model()
    restarted = {name: anyio.Event() for name in NODES}

    def delivered(destination: str, envelope: Envelope) -> None:
        model.check(int.from_bytes(envelope.payload, "big"), destination)

    network.deliver_hooks.append(delivered)

    async def receive(name: str, transport: SimTransport) -> None:
        while True:
            try:
                envelope = await transport.receive()
            except TransportError:  # down: wait for the next incarnation
                await restarted[name].wait()
                continue
            number = int.from_bytes(envelope.payload, "big")
            model.check(number, name)
            model.received.append((number, name))

    async def apply(kind: str, what: Any) -> None:
        if kind == "send":
            source, destination = what
            number = len(model.sent)
            message = (AUTHORITY[destination], CTX, number.to_bytes(4, "big"))
            if source in model.down:
                try:
                    await transports[source].send(*message)
                except TransportError:
                    return
                model.problems.append(f"{source} sent while down")
                return
            clean = (source, destination) not in model.blocked and destination not in model.down
            position = len(model.events)
            model.sent.append(
                Sent(source, destination, position, model.incarnation[destination], clean)
            )
            await transports[source].send(*message)
        elif kind == "hold":
            network.hold(*what)
            model.held.add(what)
        elif kind == "release":
            network.release(*what)
            model.held.discard(what)
        elif kind == "block":
            network.block(*what)
            model.cut({what})
        elif kind == "partition":
            group_of = dict(zip(NODES, what, strict=True))
            network.partition([[n for n in NODES if group_of[n] == g] for g in range(3)])
            model.cut({(a, b) for a in NODES for b in NODES if group_of[a] != group_of[b]})
        elif kind == "heal":
            network.heal()
            model.blocked.clear()
        elif kind == "crash":
            network.crash(what)
            if what not in model.down:
                model.down.add(what)
                model.events.append(("crash", what))
                restarted[what] = anyio.Event()
        elif kind == "restart":
            network.restart(what)
            if what in model.down:
                model.down.discard(what)
                model.incarnation[what] += 1
                restarted[what].set()
        elif kind == "sleep":
            await anyio.sleep(what / 1000)

    async with anyio.create_task_group() as group:
        for name in NODES:
            group.start_soon(receive, name, transports[name])
        for kind, what in operations:
            await apply(kind, what)
        # Heal, restart and release everything (none of which loses a message), then drain.
        await apply("heal", None)
        for name in NODES:
            await apply("restart", name)
        for pair in sorted(model.held):
            await apply("release", pair)
        await anyio.sleep(1.0)
        group.cancel_scope.cancel()
    return model


@settings(max_examples=150)
@given(st.integers(0, 2**32), st.lists(operation(), min_size=30, max_size=100))
def test_nothing_crosses_a_cut_or_a_crash_and_everything_else_arrives(
    seed: int, operations: list[tuple[str, Any]]
) -> None:
    model = sim_run(scenario, seed, operations, seed=seed)
    assert model.problems == []
    received = {number for number, _ in model.received}
    end = len(model.events)
    owed = [
        number
        for number, sent in enumerate(model.sent)
        if sent.clean and not model.lost_on_the_way(sent, end)
    ]
    assert [number for number in owed if number not in received] == []


def test_the_same_seed_and_operations_give_the_same_trace() -> None:
    operations: list[tuple[str, Any]] = [
        ("hold", ("a", "b")),
        ("send", ("a", "b")),
        ("send", ("c", "b")),
        ("sleep", 5),
        ("crash", "b"),
        ("partition", (0, 1, 1)),
        ("restart", "b"),
        ("release", ("a", "b")),
        ("send", ("a", "c")),
        ("send", ("b", "c")),
        ("heal", None),
        ("send", ("a", "b")),
    ]

    def digest() -> tuple[bytes, list[tuple[int, str]]]:
        simulation = Simulation(3, record_trace=True)
        model = simulation.run(scenario, 3, operations)
        assert simulation.trace is not None and model.problems == []
        return bytes(simulation.trace.digest()), model.received

    first, second = digest(), digest()
    assert first == second
    # 0 and 1 were on their way to b when it crashed, 2 was sent across the partition.
    assert sorted(first[1]) == [(3, "c"), (4, "b")]
