"""A consensus cluster in the simulator: n witness nodes with a dealt FROST group.

Every node has the protocol cluster's effects and guarded transport (tests/protocol/cluster.py),
a `Dispatcher` and a `ConsensusNode`; `Cluster.run(body)` opens them all, runs `body` and
closes them. A node holds the prestate an instance names unless `prestates` overrides it
(then it holds that one for every instance).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import TypeVar

import attrs

from aura_consensus.commit import CommitFact
from aura_consensus.params import ConsensusParams
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId
from aura_protocol import Dispatcher, Monitor
from aura_protocol.consensus import (
    CAPABILITIES,
    Behavior,
    ConsensusConfig,
    ConsensusNode,
    Group,
)
from tests.protocol.cluster import CONTEXT, Node, TransportFactory, authority, make_nodes

T = TypeVar("T")
PRESTATE = Hash32.of(b"the prestate every witness holds")


def seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def dealt_group(
    authorities: list[AuthorityId],
    threshold: int,
    label: str = "dealer",
    *,
    faults: int = 0,
    vote_keys: Mapping[AuthorityId, VerifyingKey] | None = None,
) -> tuple[WitnessSet, frost.PublicKeyPackage, dict[AuthorityId, frost.KeyPackage]]:
    """A t-of-n FROST group dealt to `authorities`, whose witness set names `vote_keys` (made
    up from the label if not given) and tolerates `faults` byzantine witnesses."""
    shares, public = frost.generate_with_dealer(threshold, len(authorities), seed(label))
    ids = sorted(shares)
    keys = {a: frost.key_package(shares[i]) for a, i in zip(authorities, ids, strict=True)}
    if vote_keys is None:
        vote_keys = {a: SigningKey(seed(f"{label} vote key {a}")).verifying_key for a in keys}
    witnesses = WitnessSet.of(
        {a: k.identifier for a, k in keys.items()}, threshold, faults=faults, keys=vote_keys
    )
    return witnesses, public, keys


@attrs.define
class Cluster:
    authorities: list[AuthorityId]
    nodes: dict[AuthorityId, Node]
    groups: dict[AuthorityId, Group]
    prestates: dict[AuthorityId, Hash32]
    """Nodes that hold another prestate than the one proposed."""
    behaviors: dict[AuthorityId, Behavior]
    config: ConsensusConfig
    monitor: Monitor | None = None
    consensus: dict[AuthorityId, ConsensusNode] = attrs.field(factory=dict)
    decided: dict[AuthorityId, list[CommitFact]] = attrs.field(factory=dict)

    async def run(self, body: Callable[[Cluster], Awaitable[T]]) -> T:
        async with AsyncExitStack() as stack:
            for who in self.authorities:
                node = self.nodes[who]
                dispatcher = await stack.enter_async_context(
                    Dispatcher(node.guarded, node.effects.trace, monitor=self.monitor)
                )
                decided = self.decided.setdefault(who, [])

                async def record(fact: CommitFact, into: list[CommitFact] = decided) -> None:
                    into.append(fact)

                async def prestate(params: ConsensusParams, me: AuthorityId = who) -> Hash32:
                    return self.prestates.get(me, params.prestate_hash)

                self.consensus[who] = await stack.enter_async_context(
                    ConsensusNode(
                        node.effects,
                        dispatcher,
                        context=CONTEXT,
                        group=self.groups[who],
                        prestate=prestate,
                        on_decided=record,
                        signing_key=node.key,
                        config=self.config,
                        behavior=self.behaviors.get(who, Behavior.HONEST),
                    )
                )
            return await body(self)


def cluster(
    n: int,
    t: int,
    *,
    faults: int = 0,
    seed_value: int = 1,
    attach: TransportFactory | None = None,
    behaviors: Mapping[int, Behavior] | None = None,
    prestates: Mapping[int, Hash32] | None = None,
    config: ConsensusConfig | None = None,
    monitor: Monitor | None = None,
) -> Cluster:
    """n witnesses (authorities 1..n) of a t-of-n group tolerating `faults` byzantine ones
    (each votes with its node's identity key); call inside the simulator."""
    authorities = [authority(i + 1) for i in range(n)]
    nodes = make_nodes(authorities, seed=seed_value, capabilities=CAPABILITIES, attach=attach)
    vote_keys = {a: nodes[a].key.verifying_key for a in authorities}
    witnesses, public, keys = dealt_group(authorities, t, faults=faults, vote_keys=vote_keys)
    groups = {a: Group(0, witnesses, public, keys[a]) for a in authorities}
    held = {authorities[index]: value for index, value in (prestates or {}).items()}
    return Cluster(
        authorities,
        nodes,
        groups,
        held,
        {authorities[i]: b for i, b in (behaviors or {}).items()},
        config or ConsensusConfig(),
        monitor,
    )
