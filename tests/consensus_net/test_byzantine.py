"""Byzantine witnesses that sign, forge and replay, and honest proposers that contend.

Each run is in the simulator on a seeded-latency network. Forged statements (votes in honest
witnesses' names, shares they did not make, equivocation proofs with made-up signatures) are
refused wherever they arrive, never exclude the witness they name, and count against the peer
that forwarded them; past `misbehaviour_limit` its gossip is ignored. Two honest proposals on
one prestate end with one decision that every node learns; a witness signing both never makes
a second commit.
"""

from __future__ import annotations

import anyio
import pytest

import aura_sim
from aura_consensus.commit import CommitFact
from aura_consensus.witnesses import WitnessSet
from aura_core.errors import ConsensusFailed, PrestateDecided, UnsafeThreshold
from aura_core.hashing import Hash32
from aura_protocol.consensus import Behavior, ConsensusConfig, Group
from tests.consensus_net.cluster import Cluster, cluster, dealt_group
from tests.protocol.cluster import authority
from tests.protocol.networks import LatencyNetwork

QUICK = ConsensusConfig(fallback_s=0.2, gossip_s=0.1, deadline_s=6.0, round_s=0.6)
PRESTATE = Hash32.of(b"p")


def decided_ops(c: Cluster) -> dict[int, set[bytes]]:
    return {
        index: {f.operation_bytes for f in c.decided[who]}
        for index, who in enumerate(c.authorities)
    }


def run(
    n: int,
    t: int,
    f: int,
    seed: int,
    body_ops: tuple[tuple[int, bytes], ...],
    behaviors: dict[int, Behavior] | None = None,
) -> tuple[list[CommitFact | BaseException], Cluster]:
    """Proposals `(witness index, operation)` on one prestate, all at once; what each
    `propose` returned (or raised) and the cluster after a quiet while."""

    async def main() -> tuple[list[CommitFact | BaseException], Cluster]:
        c = cluster(
            n,
            t,
            faults=f,
            attach=LatencyNetwork(0.01).attach,
            config=QUICK,
            behaviors=behaviors,
        )

        async def body(c: Cluster) -> list[CommitFact | BaseException]:
            results: list[CommitFact | BaseException] = [ConsensusFailed("not run")] * len(body_ops)

            async def one(index: int, who: int, op: bytes) -> None:
                try:
                    results[index] = await c.consensus[c.authorities[who]].propose(op, PRESTATE)
                except (ConsensusFailed, PrestateDecided) as exc:
                    results[index] = exc

            async with anyio.create_task_group() as group:
                for index, (who, op) in enumerate(body_ops):
                    group.start_soon(one, index, who, op)
            await anyio.sleep(2)
            return results

        return await c.run(body), c

    return aura_sim.run(main, seed=seed)


def honest_indices(n: int, behaviors: dict[int, Behavior]) -> list[int]:
    return [i for i in range(n) if i not in behaviors]


@pytest.mark.parametrize("behavior", [Behavior.FORGE_EVIDENCE, Behavior.FORGE_RELAY])
@pytest.mark.parametrize("seed", range(2))
def test_forgeries_are_refused_excluding_nobody_and_convict_the_forwarder(
    behavior: Behavior, seed: int
) -> None:
    behaviors = {3: behavior}
    results, c = run(4, 3, 1, seed, ((0, b"op"),), behaviors)
    (fact,) = results
    assert isinstance(fact, CommitFact)
    forger = c.authorities[3]
    honest = [c.authorities[i] for i in honest_indices(4, behaviors)]
    scores = [c.consensus[w].misbehaviour(forger) for w in honest]
    assert max(scores) >= 1  # the forwarder, never the witness a forgery names
    for w in honest:
        node = c.consensus[w]
        assert not node.evidence.equivocators() & set(honest)
        assert all(node.misbehaviour(other) == 0 for other in honest)
        assert [f.operation_bytes for f in c.decided[w]] == [b"op"]


@pytest.mark.parametrize("seed", range(3))
def test_one_forger_of_five_gets_no_honest_witness_excluded(seed: int) -> None:
    """Issue 15's case: 5 witnesses, t = 3, one byzantine that gossips forged equivocation
    proofs and votes forged in honest witnesses' names. Nobody honest is excluded, so the
    slot is decided."""
    for behavior in (Behavior.FORGE_EVIDENCE, Behavior.FORGE_RELAY):
        results, c = run(5, 3, 0, seed, ((0, b"op"),), {4: behavior})
        assert isinstance(results[0], CommitFact)
        honest = set(c.authorities[:4])
        for w in sorted(honest):
            node = c.consensus[w]
            assert not node.evidence.equivocators() & honest
            assert not any(node.instances[cid].equivocators for cid in node.instances)
            assert [f.operation_bytes for f in c.decided[w]] == [b"op"]


def test_past_the_limit_a_forwarders_gossip_is_ignored() -> None:
    """With a limit of 1 the first message with forgeries is the last the forger is heard
    with (commits excepted): the forged gossip it keeps sending is dropped unread."""

    async def main() -> tuple[int, list[int]]:
        config = ConsensusConfig(
            fallback_s=0.2, gossip_s=0.1, deadline_s=6.0, round_s=0.6, misbehaviour_limit=1
        )
        c = cluster(
            4,
            3,
            faults=1,
            attach=LatencyNetwork(0.01).attach,
            config=config,
            behaviors={3: Behavior.FORGE_RELAY},
        )

        async def body(c: Cluster) -> tuple[int, list[int]]:
            await c.consensus[c.authorities[0]].propose(b"op", PRESTATE)
            await anyio.sleep(2)
            forger = c.authorities[3]
            return (
                sum(c.consensus[w].counters["forgeries_dropped"] for w in c.authorities[:3]),
                [c.consensus[w].misbehaviour(forger) for w in c.authorities[:3]],
            )

        return await c.run(body)

    dropped, scores = aura_sim.run(main, seed=3)
    # every honest node that heard the forger struck it once, then stopped reading it
    assert set(scores) <= {0, 1} and 1 in scores and dropped >= sum(scores)


def test_replayed_votes_from_other_instances_change_nothing() -> None:
    behaviors = {3: Behavior.REPLAY}
    first, c = run(4, 3, 1, 2, ((0, b"first"),), behaviors)
    assert isinstance(first[0], CommitFact)
    honest = [c.authorities[i] for i in honest_indices(4, behaviors)]
    for w in honest:
        assert not c.consensus[w].evidence.equivocators() & set(honest)


def test_two_honest_proposers_on_one_prestate_end_with_one_decision() -> None:
    """n = 4, t = 3, f = 1 (fast quorum 4): when the votes split 2/2 nothing commits in
    round 0 and a later round's leader breaks the tie. One proposer gets the commit, the other
    learns that the prestate was decided with the other operation, and every node holds that
    decision."""
    rounds = set()
    for seed in range(8):
        results, c = run(4, 3, 1, seed, ((0, b"from 0"), (1, b"from 1")))
        commits = [r for r in results if isinstance(r, CommitFact)]
        lost = [r for r in results if isinstance(r, PrestateDecided)]
        assert len(commits) + len(lost) == 2 and commits, (seed, results)
        ops = decided_ops(c)
        (decided,) = {op for held in ops.values() for op in held}
        assert all(held == {decided} for held in ops.values())
        assert all(fact.operation_bytes == decided for fact in commits)
        rounds |= {f.round for held in c.decided.values() for f in held}
    assert max(rounds) >= 1  # some seeds split the votes and needed a round


@pytest.mark.parametrize("seed", range(4))
def test_a_witness_that_signs_both_sides_cannot_make_two_commits(seed: int) -> None:
    """The byzantine witness signs every package and votes for every proposal; with t = 3 of
    4 and f = 1 the honest witnesses' single votes per round still keep one decision."""
    behaviors = {3: Behavior.DOUBLE_SIGN}
    results, c = run(4, 3, 1, seed, ((0, b"from 0"), (1, b"from 1"), (3, b"byzantine")), behaviors)
    assert any(isinstance(r, CommitFact) for r in results)
    ops = {op for held in decided_ops(c).values() for op in held}
    assert len(ops) == 1


def test_a_group_refuses_a_threshold_its_fault_bound_makes_unsafe() -> None:
    authorities = [authority(i + 1) for i in range(4)]
    witnesses, public, keys = dealt_group(authorities, 3, faults=1)
    Group(0, witnesses, public, keys[authorities[0]])  # 3-of-4 with f = 1 is safe
    assert Group(0, witnesses, public).faults == 1
    signers = {w.authority: w.signer for w in witnesses.members}
    vote_keys = {w.authority: w.key for w in witnesses.members}
    for threshold, faults in ((2, 0), (3, 2), (4, 1)):
        with pytest.raises(UnsafeThreshold):
            WitnessSet.of(signers, threshold, faults=faults, keys=vote_keys)  # type: ignore[arg-type]
