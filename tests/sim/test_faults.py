"""Each fault kind of the simulated network and nodes, and its effect on delivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import attrs
import pytest

from aura_core.errors import InvalidArgument, TransportError
from aura_core.ids import AuthorityId, ContextId
from aura_sim import run as sim_run
from aura_sim.faults import FaultSchedule, LinkPolicy, MessageFault, MessageFaultKind
from aura_sim.network import SimNetwork, SimTransport
from aura_sim.node import ByzantineTransport
from aura_sim.seeds import SeedTree

A, B, C = (AuthorityId(bytes([i]) * 16) for i in (1, 2, 3))
CTX = ContextId(b"\x09" * 16)


def payload(i: int) -> bytes:
    return i.to_bytes(4, "big") * 8


@attrs.define
class Lab:
    network: SimNetwork
    a: SimTransport
    b: SimTransport
    c: SimTransport
    arrivals: list[tuple[float, str, bytes]] = attrs.field(factory=list)

    async def collect(self, until: float) -> None:
        async def drain(name: str, transport: SimTransport) -> None:
            while True:
                try:
                    got = await transport.receive()
                except TransportError:  # the node is down
                    return
                self.arrivals.append((anyio.current_time(), name, got.payload))

        with anyio.move_on_after(until):
            async with anyio.create_task_group() as group:
                group.start_soon(drain, "a", self.a)
                group.start_soon(drain, "b", self.b)
                group.start_soon(drain, "c", self.c)

    def payloads(self, name: str = "b") -> list[bytes]:
        return [p for _, n, p in self.arrivals if n == name]


QUIET_POLICY = LinkPolicy()


def lab(
    policy: LinkPolicy = QUIET_POLICY,
    *,
    seed: int = 1,
    schedule: tuple[MessageFault, ...] | None = None,
) -> Lab:
    seeds = SeedTree(seed)
    network = SimNetwork(
        latency=seeds.stream("latency"),
        faults=None if schedule is not None else seeds.stream("faults"),
        default=policy,
        schedule=schedule or (),
    )
    return Lab(network, network.attach("a", A), network.attach("b", B), network.attach("c", C))


def run_lab(
    body: Callable[[Lab], Awaitable[None]], policy: LinkPolicy = QUIET_POLICY, **kw: object
) -> Lab:
    made = lab(policy, **kw)  # type: ignore[arg-type]

    async def main() -> None:
        await body(made)

    sim_run(main, seed=7)
    return made


async def send_many(lab: Lab, count: int, gap: float = 0.001) -> None:
    for i in range(count):
        await lab.a.send(B, CTX, payload(i))
        await anyio.sleep(gap)


def test_quiet_links_are_fifo_with_fixed_latency() -> None:
    async def body(lab: Lab) -> None:
        await send_many(lab, 20)
        await lab.collect(1.0)

    done = run_lab(body, LinkPolicy(latency_ms=25))
    assert done.payloads() == [payload(i) for i in range(20)]
    first_arrival = done.arrivals[0][0]
    assert first_arrival == pytest.approx(0.025)


def test_latency_distribution_spreads_arrivals_but_keeps_order() -> None:
    async def body(lab: Lab) -> None:
        await send_many(lab, 50, gap=0.0)
        await lab.collect(1.0)

    done = run_lab(body, LinkPolicy(latency_ms=10, jitter_ms=40))
    assert done.payloads() == [payload(i) for i in range(50)]
    times = [t for t, _, _ in done.arrivals]
    assert times == sorted(times) and times[-1] - times[0] > 0.005


def test_drop() -> None:
    async def body(lab: Lab) -> None:
        await send_many(lab, 200)
        await lab.collect(2.0)

    done = run_lab(body, LinkPolicy(drop=0.3))
    delivered = len(done.payloads())
    assert done.network.counters["dropped"] == 200 - delivered
    assert 90 < delivered < 180


def test_duplicate() -> None:
    async def body(lab: Lab) -> None:
        await send_many(lab, 100)
        await lab.collect(2.0)

    done = run_lab(body, LinkPolicy(duplicate=0.3))
    assert len(done.payloads()) == 100 + done.network.counters["duplicated"] > 110
    assert set(done.payloads()) == {payload(i) for i in range(100)}


def test_reorder_lets_later_messages_overtake() -> None:
    async def body(lab: Lab) -> None:
        await send_many(lab, 100)
        await lab.collect(2.0)

    done = run_lab(body, LinkPolicy(reorder=0.2, reorder_ms=30))
    got = done.payloads()
    assert sorted(got) == sorted(payload(i) for i in range(100))
    assert got != [payload(i) for i in range(100)]
    assert done.network.counters["reordered"] > 0


def test_corruption_flips_bits_or_truncates() -> None:
    async def body(lab: Lab) -> None:
        await send_many(lab, 200)
        await lab.collect(2.0)

    done = run_lab(body, LinkPolicy(corrupt=0.3))
    originals = {payload(i) for i in range(200)}
    bad = [p for p in done.payloads() if p not in originals]
    assert len(bad) == done.network.counters["corrupted"] > 20
    assert any(len(p) < 32 for p in bad) and any(len(p) == 32 for p in bad)


def test_symmetric_and_asymmetric_partitions_heal() -> None:
    async def body(lab: Lab) -> None:
        lab.network.partition([["a"], ["b", "c"]])
        await lab.a.send(B, CTX, payload(1))
        await lab.b.send(A, CTX, payload(2))
        await lab.b.send(C, CTX, payload(3))  # same side: delivered
        lab.network.heal()
        lab.network.block("a", "b")  # one direction only
        await lab.a.send(B, CTX, payload(4))
        await lab.b.send(A, CTX, payload(5))
        lab.network.heal()
        await lab.a.send(B, CTX, payload(6))
        await lab.collect(1.0)

    done = run_lab(body)
    assert done.payloads("b") == [payload(6)]
    assert done.payloads("a") == [payload(5)]
    assert done.payloads("c") == [payload(3)]
    assert done.network.counters["lost_to_partition"] == 3


def test_hold_and_release() -> None:
    async def body(lab: Lab) -> None:
        lab.network.hold("a", "b")
        await send_many(lab, 5)
        await anyio.sleep(1.0)
        assert lab.payloads() == []
        lab.network.release("a", "b")
        await lab.collect(1.0)

    done = run_lab(body)
    assert done.payloads() == [payload(i) for i in range(5)]
    assert done.arrivals[0][0] > 1.0


def test_crashed_node_loses_its_inbox_and_cannot_send() -> None:
    async def body(lab: Lab) -> None:
        await lab.a.send(B, CTX, payload(1))  # in flight when b crashes
        lab.network.crash("b")
        with pytest.raises(TransportError):
            await lab.b.send(A, CTX, payload(9))
        await anyio.sleep(0.5)
        lab.network.restart("b")
        await lab.a.send(B, CTX, payload(2))
        await lab.collect(1.0)

    done = run_lab(body)
    assert done.payloads() == [payload(2)]
    assert done.network.counters["lost_in_flight"] == 1


def test_scheduled_faults_replay_exactly_and_draw_nothing() -> None:
    schedule = (
        MessageFault("a", "b", 3, MessageFaultKind.DROP),
        MessageFault("a", "b", 5, MessageFaultKind.TRUNCATE, 4),
    )

    async def body(lab: Lab) -> None:
        await send_many(lab, 8)
        await lab.collect(1.0)

    done = run_lab(body, LinkPolicy(drop=1.0), schedule=schedule)  # the policy is ignored
    expected = [payload(i) for i in range(8) if i != 2]
    expected[3] = expected[3][:4]
    assert done.payloads() == expected


def test_byzantine_node_replays_duplicates_and_corrupts_its_own_messages() -> None:
    async def body(lab: Lab) -> None:
        liar = ByzantineTransport(lab.a, SeedTree(3).stream("byzantine"), rate=0.3)
        for i in range(100):
            await liar.send(B, CTX, payload(i))
        await lab.collect(2.0)

    done = run_lab(body)
    got = done.payloads()
    honest = {payload(i) for i in range(100)}
    assert len(got) > 100  # replays and duplicates
    assert any(p not in honest for p in got)  # corruption
    assert len(set(got) & honest) < 100 or len(got) - len(set(got)) > 0


def test_dropped_messages_count_toward_the_injected_schedule() -> None:
    async def body(lab: Lab) -> None:
        await send_many(lab, 100)
        await lab.collect(1.0)

    done = run_lab(body, LinkPolicy(drop=0.1, duplicate=0.1))
    kinds = [f.kind for f in done.network.injected]
    assert kinds.count(MessageFaultKind.DROP) == done.network.counters["dropped"]
    assert kinds.count(MessageFaultKind.DUPLICATE) == done.network.counters["duplicated"]
    assert FaultSchedule.of(list(done.network.injected)).message == tuple(
        sorted(done.network.injected, key=MessageFault.sort_key)
    )


# ------------------------------------------------------------------ the reachability rule


@pytest.mark.parametrize("fault", ["partition", "block", "crash_and_restart", "cut_and_heal"])
def test_a_released_hold_respects_what_happened_while_it_was_held(fault: str) -> None:
    async def body(lab: Lab) -> None:
        network = lab.network
        network.hold("a", "b")
        await send_many(lab, 3)
        if fault == "partition":
            network.partition([["a"], ["b", "c"]])
        elif fault == "block":
            network.block("a", "b")
        elif fault == "crash_and_restart":
            network.crash("b")
            network.restart("b")
        else:
            network.partition([["a"], ["b", "c"]])
            network.heal()
        network.release("a", "b")
        await anyio.sleep(0.5)
        network.heal()
        await lab.a.send(B, CTX, payload(9))  # a fresh message on the healed link still arrives
        await lab.collect(1.0)

    done = run_lab(body)
    assert done.payloads() == [payload(9)]
    lost = "lost_in_flight" if fault == "crash_and_restart" else "cut_in_flight"
    assert done.network.counters[lost] == 3
    assert done.network.counters["delivered"] == 1


@pytest.mark.parametrize("heal", [False, True])
def test_copies_in_flight_when_their_link_is_cut_are_lost(heal: bool) -> None:
    schedule = (
        MessageFault("a", "b", 2, MessageFaultKind.REORDER, 30),
        MessageFault("a", "b", 3, MessageFaultKind.DUPLICATE, 20),
    )

    async def body(lab: Lab) -> None:
        for i in range(3):
            await lab.a.send(B, CTX, payload(i))
        await anyio.sleep(0.01)  # every copy is on the wire (latency 50 ms)
        lab.network.partition([["a"], ["b", "c"]])
        if heal:  # healed before they arrive: they were still cut on their way
            await anyio.sleep(0.01)
            lab.network.heal()
        await lab.collect(1.0)

    done = run_lab(body, LinkPolicy(latency_ms=50), schedule=schedule)
    assert done.payloads() == []
    assert done.network.counters["cut_in_flight"] == 4  # three messages and one duplicate


def test_a_crash_loses_everything_in_flight_to_the_node() -> None:
    schedule = (MessageFault("c", "b", 1, MessageFaultKind.DUPLICATE, 30),)

    async def body(lab: Lab) -> None:
        network = lab.network
        network.set_link("c", "b", LinkPolicy(latency_ms=100))
        await lab.a.send(B, CTX, payload(1))  # reaches b's inbox at 10 ms; b is not receiving
        await anyio.sleep(0.02)
        network.hold("a", "b")
        await lab.a.send(B, CTX, payload(2))  # held
        await lab.c.send(B, CTX, payload(3))  # on the wire until 120 ms, and a duplicate
        await anyio.sleep(0.01)
        network.crash("b")
        await anyio.sleep(0.01)
        network.restart("b")  # the next incarnation, before anything above arrives
        network.release("a", "b")
        await lab.a.send(B, CTX, payload(4))  # addressed to the new incarnation
        await lab.collect(1.0)

    done = run_lab(body, schedule=schedule)
    assert done.payloads() == [payload(4)]
    assert done.network.counters["lost_in_inbox"] == 1
    assert done.network.counters["lost_in_flight"] == 3  # held, on the wire, duplicate
    assert done.network.incarnation("b") == 2


def test_a_crashed_node_cannot_receive_and_a_waiting_receive_fails() -> None:
    failures: list[str] = []

    async def body(lab: Lab) -> None:
        async def receive() -> None:
            try:
                await lab.b.receive()
            except TransportError as exc:
                failures.append(str(exc))

        async with anyio.create_task_group() as group:
            group.start_soon(receive)
            await anyio.sleep(0.1)
            lab.network.crash("b")
        await receive()  # while down
        lab.network.restart("b")
        await lab.a.send(B, CTX, payload(1))
        assert (await lab.b.receive()).payload == payload(1)

    run_lab(body)
    assert failures == ["b is down", "b is down"]


def test_what_a_node_sent_before_it_crashed_is_still_delivered() -> None:
    async def body(lab: Lab) -> None:
        lab.network.hold("a", "c")
        await lab.a.send(B, CTX, payload(1))  # on the wire
        await lab.a.send(C, CTX, payload(2))  # held
        lab.network.crash("a")
        lab.network.release("a", "c")
        await lab.collect(1.0)

    done = run_lab(body)
    assert done.payloads("b") == [payload(1)]
    assert done.payloads("c") == [payload(2)]


def test_crash_and_restart_are_idempotent() -> None:
    async def body(lab: Lab) -> None:
        network = lab.network
        network.restart("b")  # up already: nothing happens
        assert network.incarnation("b") == 1 and not network.is_down("b")
        network.crash("b")
        network.crash("b")  # down already: nothing happens
        network.restart("b")
        assert network.incarnation("b") == 2 and not network.is_down("b")

    run_lab(body)


def test_an_alias_reaches_its_node_under_its_faults_and_is_nobody_elses() -> None:
    """An agent's self-certifying address, added after the node was attached, routes to the
    node's inbox, is cut off by the node's crash like the node's own address, and sends as
    itself; another node's address (or an unknown node) cannot be taken."""
    D = AuthorityId(b"\x04" * 16)

    async def body(lab: Lab) -> None:
        alias = lab.network.alias("b", D)
        assert lab.network.alias("b", D).authority == D  # the same pair again
        with pytest.raises(InvalidArgument):
            lab.network.alias("c", D)
        with pytest.raises(InvalidArgument):
            lab.network.alias("nobody", AuthorityId(b"\x05" * 16))
        await lab.a.send(D, CTX, payload(1))
        await alias.send(A, CTX, payload(2))
        await lab.collect(0.5)
        await lab.a.send(D, CTX, payload(3))  # in flight when b crashes
        lab.network.crash("b")
        await anyio.sleep(0.5)

    done = run_lab(body)
    assert done.payloads("b") == [payload(1)]
    assert done.payloads("a") == [payload(2)]
    assert done.network.counters["lost_in_flight"] == 1
