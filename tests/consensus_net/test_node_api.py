"""The consensus node's own API: bad input is refused with typed errors and changes nothing,
and the vote ledger survives a restart."""

from __future__ import annotations

import anyio
import attrs
import pytest

import aura_sim
from aura_consensus.commit import MAX_OPERATION_BYTES, CommitFact
from aura_consensus.params import ConsensusParams
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto.ed25519 import SigningKey
from aura_core.errors import (
    EncodingError,
    InvalidArgument,
    InvalidWitnessSet,
    PrestateDecided,
    StaleEpoch,
)
from aura_core.hashing import Hash32
from aura_protocol import Dispatcher
from aura_protocol.consensus import ConsensusConfig, ConsensusNode, Group
from aura_protocol.consensus.ledger import LEDGER_PREFIX, load_ledger
from aura_sim.handlers import Disk, MemoryStorage
from tests.consensus_net.cluster import Cluster, cluster, dealt_group
from tests.protocol.cluster import CONTEXT, authority

QUICK = ConsensusConfig(fallback_s=0.2, gossip_s=0.1, deadline_s=3.0)


def test_config_refuses_nonsense() -> None:
    for bad in (
        {"fallback_s": 0},
        {"gossip_s": -1.0},
        {"deadline_s": float("inf")},
        {"fanout": 0},
        {"round_s": 0},
        {"misbehaviour_limit": 0},
    ):
        with pytest.raises(InvalidArgument):
            ConsensusConfig(**bad)  # type: ignore[arg-type]
    config = ConsensusConfig(round_s=0.5)
    assert [config.round_timeout(r) for r in range(3)] == [0.5, 1.0, 1.5]


def test_a_group_must_fit_its_key_packages() -> None:
    authorities = [authority(i + 1) for i in range(3)]
    witnesses, public, keys = dealt_group(authorities, 2)
    _, _, other_keys = dealt_group(authorities, 2, "another dealer")
    _, small_public, _ = dealt_group(authorities[:2], 2, "two only")
    Group(0, witnesses, public, keys[authorities[0]])  # fine
    with pytest.raises(InvalidWitnessSet):
        Group(0, witnesses, small_public)  # a witness has no share in this group
    with pytest.raises(InvalidWitnessSet):
        Group(0, witnesses, public, other_keys[authorities[0]])  # a share of another group
    with pytest.raises(InvalidArgument):
        Group(-1, witnesses, public)
    keyless = WitnessSet.of({w.authority: w.signer for w in witnesses.members}, 2)
    with pytest.raises(InvalidWitnessSet):
        Group(0, keyless, public)  # votes could not be checked


def run(body: object, n: int = 3, t: int = 2) -> object:
    async def main() -> object:
        c = cluster(n, t, config=QUICK)
        return await c.run(body)  # type: ignore[arg-type]

    return aura_sim.run(main, seed=2)


def test_set_group_only_moves_forward_and_bad_proposals_change_nothing() -> None:
    async def body(c: Cluster) -> None:
        node = c.consensus[c.authorities[0]]
        group = node.group
        with pytest.raises(StaleEpoch):
            node.set_group(group)
        assert node.group is group
        with pytest.raises(InvalidArgument):
            await node.propose(b"x" * (MAX_OPERATION_BYTES + 1), Hash32.of(b"p"))
        with pytest.raises(InvalidArgument):
            await node.propose(b"op", b"not a hash")  # type: ignore[arg-type]
        assert node.instances == {}
        node.set_group(attrs.evolve(group, epoch=1))
        assert node.group.epoch == 1
        # The others are still at epoch 0 with the same witnesses: the instance still runs
        # (the epoch scopes nonce material, not the witness set).
        fact = await node.propose(b"op", Hash32.of(b"p"))
        assert fact.operation_bytes == b"op"

    run(body)


def test_the_vote_ledger_survives_a_restart_and_refuses_a_second_result() -> None:
    """A witness that signed one result on a prestate refuses another after a restart: the
    second proposal never commits, and the round that follows (every round-0 vote was for the
    first result, so it may have committed) decides the first result again."""

    async def main() -> None:
        c = cluster(3, 3, config=QUICK)  # 3-of-3: every witness must sign
        disk_keys: list[str] = []

        async def first(c: Cluster) -> None:
            await c.consensus[c.authorities[0]].propose(b"first", Hash32.of(b"p"))
            await anyio.sleep(0.5)  # every witness records the commit
            storage = c.nodes[c.authorities[1]].effects.storage
            disk_keys.extend(await storage.list_keys(LEDGER_PREFIX))

        await c.run(first)
        assert len(disk_keys) == 1

        # Same storage, new consensus nodes (a restart): the ledger is read back.
        async def second(c: Cluster) -> None:
            with pytest.raises(PrestateDecided):
                await c.consensus[c.authorities[0]].propose(b"second", Hash32.of(b"p"))
            await anyio.sleep(0.5)

        await c.run(second)
        for who in c.authorities:
            assert {f.operation_bytes for f in c.decided[who]} == {b"first"}

    aura_sim.run(main, seed=4)


def test_a_corrupt_ledger_entry_is_refused() -> None:
    async def main() -> None:
        storage = MemoryStorage(Disk(), clock=anyio.current_time)
        await storage.put(LEDGER_PREFIX + "zz", b"\x00" * 32)
        with pytest.raises(EncodingError):
            await load_ledger(storage)
        storage = MemoryStorage(Disk(), clock=anyio.current_time)
        await storage.put(LEDGER_PREFIX + Hash32.of(b"p").hex(), b"short")
        with pytest.raises(EncodingError):
            await load_ledger(storage)

    aura_sim.run(main, seed=1)


def test_a_node_must_vote_with_the_key_its_group_names() -> None:
    async def main() -> None:
        c = cluster(3, 2, config=QUICK)
        who = c.authorities[0]
        node = c.nodes[who]
        with pytest.raises(InvalidArgument):
            ConsensusNode(
                node.effects,
                Dispatcher(node.guarded, node.effects.trace),
                context=CONTEXT,
                group=c.groups[who],
                prestate=agree,
                on_decided=ignore,
                signing_key=SigningKey(bytes(32)),  # not the key the witness set names
            )

    aura_sim.run(main, seed=1)


async def agree(params: ConsensusParams) -> Hash32:
    return params.prestate_hash


async def ignore(_: CommitFact) -> None:
    return None
