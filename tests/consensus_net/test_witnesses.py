"""Witnesses that disagree, stall, equivocate or are too few: what commits and what never does.

Every run is in the simulator on a seeded-latency network (FIFO per pair, lossless); the faults
are the witnesses' own behaviour. A witness signs only through `sign_share`, which records the
vote in its ledger first, so an empty ledger proves a witness signed nothing.
"""

from __future__ import annotations

import anyio
import pytest

import aura_sim
from aura_consensus.commit import CommitFact
from aura_core.errors import ConsensusFailed
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_protocol.consensus import Behavior, ConsensusConfig
from aura_protocol.consensus.ledger import LEDGER_PREFIX
from tests.consensus_net.cluster import Cluster, cluster
from tests.protocol.networks import LatencyNetwork

QUICK = ConsensusConfig(fallback_s=0.2, gossip_s=0.1, deadline_s=5.0)
OTHER = Hash32.of(b"a prestate nobody proposed")


async def ledger(c: Cluster, index: int) -> list[str]:
    return await c.nodes[c.authorities[index]].effects.storage.list_keys(LEDGER_PREFIX)


def run_one(
    n: int,
    t: int,
    seed: int,
    **options: object,
) -> tuple[CommitFact | None, Cluster]:
    """Propose one operation from witness 0; the commit (None if the instance failed) and the
    cluster after a quiet second."""

    async def main() -> tuple[CommitFact | None, Cluster]:
        c = cluster(n, t, attach=LatencyNetwork(0.01).attach, config=QUICK, **options)  # type: ignore[arg-type]

        async def body(c: Cluster) -> CommitFact | None:
            try:
                fact = await c.consensus[c.authorities[0]].propose(b"op", Hash32.of(b"p"))
            except ConsensusFailed:
                fact = None
            await anyio.sleep(1)
            return fact

        return await c.run(body), c

    return aura_sim.run(main, seed=seed)


def decided(c: Cluster, index: int) -> list[CommitFact]:
    return c.decided[c.authorities[index]]


@pytest.mark.parametrize("seed", range(4))
def test_a_witness_holding_another_prestate_never_shares(seed: int) -> None:
    fact, c = run_one(5, 3, seed, prestates={1: OTHER})
    assert fact is not None and len(fact.participants) == 3
    assert c.authorities[1] not in fact.participants
    assert aura_sim.run(lambda: ledger(c, 1), seed=0) == []
    for index in range(5):
        assert [f.consensus_id for f in decided(c, index)] == [fact.consensus_id]


def test_too_many_mismatches_commit_nothing() -> None:
    fact, c = run_one(5, 3, 1, prestates={1: OTHER, 2: OTHER, 3: OTHER})
    assert fact is None
    for index in range(5):
        assert decided(c, index) == []
    for index in (1, 2, 3):
        assert aura_sim.run(lambda i=index: ledger(c, i), seed=0) == []


@pytest.mark.parametrize("behavior", [Behavior.WITHHOLD, Behavior.EQUIVOCATE])
@pytest.mark.parametrize("seed", range(3))
def test_t_minus_one_byzantine_witnesses_cannot_stop_or_join_a_commit(
    behavior: Behavior, seed: int
) -> None:
    """n = 5, t = 3, two byzantine: the three honest witnesses commit without them, in
    fallback when a byzantine was picked for a package."""
    fact, c = run_one(5, 3, seed, behaviors={3: behavior, 4: behavior})
    assert fact is not None
    honest = set(c.authorities[:3])
    assert set(fact.participants) == honest
    for index in range(3):
        assert [f.consensus_id for f in decided(c, index)] == [fact.consensus_id]


def test_equivocators_are_proven_and_excluded() -> None:
    """Two equivocating witnesses vote for made-up results to the initiator and for other ones
    in their gossip: some honest node holds a proof against each, and no proof names an
    honest witness."""
    proven: set[AuthorityId] = set()
    for seed in range(6):
        fact, c = run_one(5, 3, seed, behaviors={3: Behavior.EQUIVOCATE, 4: Behavior.EQUIVOCATE})
        assert fact is not None
        for index in range(3):
            equivocators = c.consensus[c.authorities[index]].evidence.equivocators()
            assert not equivocators & set(c.authorities[:3])
            proven |= equivocators
    assert proven == set(c.authorities[3:])


@pytest.mark.parametrize("behavior", [Behavior.WITHHOLD, Behavior.EQUIVOCATE])
def test_fewer_than_t_honest_witnesses_never_commit(behavior: Behavior) -> None:
    fact, c = run_one(5, 3, 2, behaviors={2: behavior, 3: behavior, 4: behavior})
    assert fact is None
    for index in range(5):
        assert decided(c, index) == []
