"""The fast path: one round of requests and replies when every witness is up and agrees."""

from __future__ import annotations

from collections import Counter

import anyio

import aura_sim
from aura_core.hashing import Hash32
from aura_protocol import EventKind, RuntimeEvent
from tests.consensus_net.cluster import Cluster, cluster
from tests.protocol.networks import LatencyNetwork

LATENCY = 0.01


def test_a_pipelined_instance_commits_in_one_round_of_requests_and_replies() -> None:
    """n = 5, t = 3. The first instance has no cached nonce commitments (a nonce round, then
    a signing round); its signers hand back fresh commitments, so the second instance's
    package rides on the request: 2 SignRequest + 2 Execute out, 2 SignShare back, 4 Commit
    (the initiator is one of the three signers and signs locally)."""
    sent: list[RuntimeEvent] = []

    async def main() -> tuple[Counter[str], Counter[str], bool, bool]:
        network = LatencyNetwork(LATENCY)
        c = cluster(5, 3, attach=network.attach, monitor=sent.append)

        async def body(c: Cluster) -> tuple[Counter[str], Counter[str], bool, bool]:
            initiator = c.consensus[c.authorities[0]]
            first = await initiator.propose(b"first", Hash32.of(b"p1"))
            await anyio.sleep(1)
            cold = Counter(e.label for e in sent if e.kind is EventKind.SENT)
            sent.clear()
            second = await initiator.propose(b"second", Hash32.of(b"p2"))
            await anyio.sleep(1)
            warm = Counter(e.label for e in sent if e.kind is EventKind.SENT)
            return cold, warm, first.fast_path, second.fast_path

        return await c.run(body)

    cold, warm, first_fast, second_fast = aura_sim.run(main, seed=5)
    assert warm == {"SignRequest": 2, "Execute": 2, "SignShare": 2, "Commit": 4}
    # Cold: every other witness is asked for commitments (and learns the instance); the first
    # two answers (with the initiator's own) form the package; the two late ones are dropped.
    # The commit reaches the two non-signers by an announcement (`AuraGossip`).
    assert cold == {
        "NonceRequest": 4,
        "NonceCommit": 4,
        "SignRequest": 2,
        "SignShare": 2,
        "Commit": 2,
        "Gossip": 2,
    }
    assert first_fast and second_fast
