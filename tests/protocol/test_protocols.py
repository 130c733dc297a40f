"""The two protocols of `aura_protocol.protocols`, run end to end in the simulator.

Every node has its own deterministic bundle on the loop's clock, its own guarded transport and
dispatcher; the raw network is a parameter (the in-memory one, or seeded latency), so the same
scenarios will run on the faulty network when it lands.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

import aura_sim
from aura_core.effects import TransportEffects
from aura_core.ids import AuthorityId
from aura_effects.loopback import LoopbackNetwork
from aura_protocol import (
    Choreography,
    Completed,
    EventKind,
    Member,
    Outcome,
    Program,
    RuntimeEvent,
    Session,
)
from aura_protocol.protocols import request_response, threshold_vote
from tests.protocol.cluster import (
    CONTEXT,
    SESSION,
    capabilities_of,
    make_nodes,
    roster_for,
    run_session,
)
from tests.protocol.networks import LatencyNetwork

SEEDS = range(4)
RR = Choreography.compile(request_response.TEXT, request_response.BINDINGS)
VOTE = Choreography.compile(threshold_vote.TEXT, threshold_vote.BINDINGS)

NetworkFactory = Callable[[], Callable[[AuthorityId], TransportEffects]]
NETWORKS: dict[str, NetworkFactory] = {
    "memory": lambda: LoopbackNetwork().attach,
    "latency": lambda: LatencyNetwork(0.05).attach,  # mean 50 ms, far below every deadline
}


@pytest.fixture(params=sorted(NETWORKS))
def network(request: pytest.FixtureRequest) -> NetworkFactory:
    return NETWORKS[str(request.param)]


def _sign(index: int, proposal: bytes) -> bytes:
    return proposal + bytes([index])


def _upper(data: bytes) -> bytes:
    return data.upper()


async def request_response_run(
    network: NetworkFactory,
) -> tuple[dict[Member, Outcome], list[RuntimeEvent], dict[str, int], float]:
    session = Session(RR, SESSION, CONTEXT, roster_for(RR))
    client, server = session.roster["Client"][0], session.roster["Server"][0]
    nodes = make_nodes(
        [client, server],
        seed=aura_sim.current_loop().seed,
        capabilities=capabilities_of(RR),
        attach=network(),
    )
    events: list[RuntimeEvent] = []
    programs: dict[Member, Program] = {
        Member("Client"): request_response.client(b"hello"),
        Member("Server"): request_response.server(_upper),
    }
    outcomes = await run_session(nodes, session, programs, monitor=events.append)
    spent = {
        "client": await nodes[client].spent(server),
        "server": await nodes[server].spent(client),
    }
    return outcomes, events, spent, aura_sim.current_loop().time()


def test_request_response_completes(network: NetworkFactory) -> None:
    for seed in SEEDS:
        outcomes, events, spent, _ = aura_sim.run(request_response_run, network, seed=seed)
        assert outcomes == {
            Member("Client"): Completed(b"HELLO"),
            Member("Server"): Completed(True),
        }
        consumed = [e.label for e in events if e.kind is EventKind.CONSUMED]
        assert consumed == ["Request", "Response", "Ack"]
        assert spent == {"client": 10 + 1, "server": 10}  # Request + Ack; Response


async def vote_run(
    network: NetworkFactory, voters: int | None = None
) -> tuple[dict[Member, Outcome], list[RuntimeEvent], list[int], float]:
    session = Session(VOTE, SESSION, CONTEXT, roster_for(VOTE))
    authorities = [a for members in session.roster.values() for a in members]
    nodes = make_nodes(
        authorities,
        seed=aura_sim.current_loop().seed,
        capabilities=capabilities_of(VOTE),
        attach=network(),
    )
    events: list[RuntimeEvent] = []
    programs: dict[Member, Program] = {Member("Coordinator"): threshold_vote.coordinator(b"p")}
    for index in range(VOTE.families["Witness"] if voters is None else voters):
        programs[Member("Witness", index)] = threshold_vote.witness(partial(_sign, index))
    outcomes = await run_session(nodes, session, programs, monitor=events.append)
    coordinator = nodes[session.roster["Coordinator"][0]]
    spent = [await coordinator.spent(w) for w in session.roster["Witness"]]
    return outcomes, events, spent, aura_sim.current_loop().time()


def test_threshold_vote_decides_on_the_first_t_votes(network: NetworkFactory) -> None:
    n, t = threshold_vote.BINDINGS["n"], threshold_vote.BINDINGS["t"]
    orders = set()
    for seed in SEEDS:
        outcomes, events, spent, _ = aura_sim.run(vote_run, network, seed=seed)
        decision = outcomes.pop(Member("Coordinator"))
        assert isinstance(decision, Completed)
        assert isinstance(decision.value, threshold_vote.Decision)
        votes = decision.value.votes
        assert len(votes) == t
        assert len({vote.sender for vote in votes}) == t
        assert all(vote.payload == b"p" + bytes([vote.sender.index]) for vote in votes)
        orders.add(tuple(vote.sender.index for vote in votes))
        # every witness ends with the coordinator's decision
        assert outcomes == {Member("Witness", i): Completed(decision.value.value) for i in range(n)}
        # t votes counted, the other n - t discarded on arrival or dropped after the end
        counted = [e for e in events if e.kind is EventKind.CONSUMED and e.label == "Vote"]
        assert len(counted) == t
        assert spent == [10 + 10] * n  # Propose and Decide, one guarded copy per witness
    assert len(orders) > 1  # different seeds count different witnesses first


def test_the_same_seed_replays_the_same_run() -> None:
    for workload in (request_response_run, vote_run):
        for factory in NETWORKS.values():
            digests = {
                aura_sim.check_determinism(partial(workload, factory), seed) for seed in SEEDS
            }
            assert len(digests) == len(SEEDS)


async def vote_on_latency() -> None:
    await vote_run(NETWORKS["latency"])


def test_runs_agree_across_interpreters() -> None:
    """Fresh interpreters with different str hash seeds replay the same trace (no set-order or
    address leaks in the runtime)."""
    digest = aura_sim.check_determinism_across_processes(
        "tests.protocol.test_protocols:vote_on_latency", 3
    )
    assert digest == aura_sim.record(vote_on_latency, 3)[0].digest()
