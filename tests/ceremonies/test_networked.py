"""The networked key ceremonies over guarded transports in the simulator: a DKG, threshold
signing with its keys, a refresh without one member (its old share no longer combines),
refusals and faults (a failed ceremony leaves nothing usable), and pending keys released only
when the journal's registry has the ceremony committed with their commitment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import attrs
import pytest

import aura_sim
from aura_consensus.ceremony import AbortReason, CeremonyRegistry
from aura_consensus.commit import single_signer_commit
from aura_consensus.hashing import operation_hash
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.errors import CeremonyFailed, InvalidArgument, InvalidShare
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, CeremonyId
from aura_protocol import Dispatcher
from aura_protocol.ceremonies import (
    CAPABILITIES,
    DKG,
    REFRESH,
    CeremonyMember,
    CeremonyService,
    CeremonyTimes,
    KeyApproval,
    KeyCeremonyStart,
    PendingKey,
    SignRequest,
    abandoned,
    released,
)
from aura_sim.faults import QUIET, LinkPolicy
from aura_sim.network import SimNetwork, SimTransport
from aura_sim.seeds import SeedTree
from tests.protocol.cluster import CONTEXT, Node, authority, make_nodes

ACCOUNT = AuthorityId(b"\xac" * 16)
TIMES = CeremonyTimes(round1_s=1.0, round2_s=1.0, limit_s=4.0)


@attrs.define
class Policy:
    """A member that takes part in everything (unless `refuse`), with its current share."""

    key: frost.KeyPackage | None = None
    public: frost.PublicKeyPackage | None = None
    refuse: bool = False
    got: list[PendingKey] = attrs.field(factory=list)

    def approve_keys(self, start: KeyCeremonyStart, coordinator: AuthorityId) -> KeyApproval | None:
        if self.refuse:
            return None
        return KeyApproval(self.key, self.public) if start.kind == REFRESH else KeyApproval()

    def approve_signing(
        self, request: SignRequest, coordinator: AuthorityId
    ) -> frost.KeyPackage | None:
        return None if self.refuse else self.key

    async def pending(self, key: PendingKey) -> None:
        self.got.append(key)


class Net:
    def __init__(self, seed: int, policy: LinkPolicy = QUIET) -> None:
        seeds = SeedTree(seed).child("network")
        self.network = SimNetwork(
            latency=seeds.stream("latency"), faults=seeds.stream("faults"), default=policy
        )
        self.names: dict[AuthorityId, str] = {}

    def attach(self, who: AuthorityId) -> SimTransport:
        self.names[who] = f"n{len(self.names)}"
        return self.network.attach(self.names[who], who)


@attrs.define
class Member:
    node: Node
    policy: Policy
    service: CeremonyService


@asynccontextmanager
async def members(count: int, net: Net) -> AsyncIterator[list[Member]]:
    nodes = make_nodes(
        [authority(i + 1) for i in range(count)],
        seed=aura_sim.current_loop().seed,
        capabilities=CAPABILITIES,
        attach=net.attach,
    )
    async with AsyncExitStack() as stack:
        found = []
        for node in nodes.values():
            dispatcher = await stack.enter_async_context(
                Dispatcher(node.guarded, node.effects.trace)
            )
            policy = Policy()
            service = await stack.enter_async_context(
                CeremonyService(node.effects, dispatcher, policy, TIMES)
            )
            found.append(Member(node, policy, service))
        yield found


def start(kind: str, threshold: int, who: Sequence[Member], label: bytes) -> KeyCeremonyStart:
    roster = tuple(CeremonyMember(m.node.authority, i + 1) for i, m in enumerate(who))
    return KeyCeremonyStart(CeremonyId(Hash32.of(label)), ACCOUNT, CONTEXT, kind, threshold, roster)


async def dkg(who: list[Member], threshold: int, label: bytes) -> dict[int, PendingKey]:
    """A DKG coordinated by `who[0]`: every member's pending key, by FROST identifier."""
    opening = start(DKG, threshold, who, label)
    mine = await who[0].service.keys(opening, KeyApproval())
    keys = {1: mine}
    for index, member in enumerate(who[1:], start=2):
        keys[index] = await told(member, opening.ceremony)
    return keys


async def told(member: Member, ceremony: CeremonyId) -> PendingKey:
    """The pending key `member` was told about (the coordinator's `Agreed` is on its way)."""
    with anyio.fail_after(5):
        while True:
            found = [k for k in member.policy.got if k.ceremony == ceremony]
            if found:
                return found[0]
            await anyio.sleep(0.01)


def test_dkg_sign_refresh_and_the_removed_share() -> None:
    async def main() -> None:
        async with members(3, Net(1)) as group:
            keys = await dkg(group, 2, b"dkg")
            public = keys[1].public_key_package
            assert {k.public_key_package.to_bytes() for k in keys.values()} == {public.to_bytes()}
            assert {k.key_commitment for k in keys.values()} == {keys[1].key_commitment}
            assert public.min_signers == 2 and public.identifiers == (1, 2, 3)
            for i, member in enumerate(group, start=1):
                member.policy.key, member.policy.public = keys[i].key_package, public

            signers = (
                CeremonyMember(group[0].node.authority, 1),
                CeremonyMember(group[2].node.authority, 3),
            )
            request = SignRequest(
                CeremonyId(Hash32.of(b"sign")), ACCOUNT, CONTEXT, 0, b"transcript", signers
            )
            signature = await group[0].service.sign(request, keys[1].key_package, public)
            frost.verify(public.group_public_key, b"transcript", signature)

            # A refresh among members 2 and 3: same group key; member 1's share is out.
            remaining = group[1:]
            opening = attrs.evolve(
                start(REFRESH, 2, group, b"refresh"),
                members=(
                    CeremonyMember(remaining[0].node.authority, 2),
                    CeremonyMember(remaining[1].node.authority, 3),
                ),
            )
            fresh = await remaining[0].service.keys(
                opening, KeyApproval(keys[2].key_package, public)
            )
            other = await told(remaining[1], opening.ceremony)
            new_public = fresh.public_key_package
            assert new_public.group_public_key == public.group_public_key
            assert new_public.identifiers == (2, 3)
            assert other.public_key_package.to_bytes() == new_public.to_bytes()
            old = frost.commit(keys[1].key_package, b"\x01" * 32)
            new = frost.commit(fresh.key_package, b"\x02" * 32)
            package = frost.signing_package({1: old[1], 2: new[1]}, b"m")
            shares = {
                1: frost.sign(package, old[0], keys[1].key_package),
                2: frost.sign(package, new[0], fresh.key_package),
            }
            with pytest.raises((InvalidArgument, InvalidShare)):
                frost.aggregate(package, shares, new_public)

    aura_sim.run(main, seed=5)


def test_a_refusal_fails_the_ceremony_and_nobody_keeps_a_key() -> None:
    async def main() -> None:
        async with members(3, Net(2)) as group:
            group[2].policy.refuse = True
            with pytest.raises(CeremonyFailed, match="refused"):
                await dkg(group, 2, b"refused")
            assert all(not m.policy.got for m in group)
            # Signing with a refusing signer fails the same way.
            group[2].policy.refuse = False
            keys = await dkg(group, 2, b"accepted")
            keys_public = keys[1].public_key_package
            group[1].policy.key, group[1].policy.refuse = keys[2].key_package, True
            request = SignRequest(
                CeremonyId(Hash32.of(b"s")),
                ACCOUNT,
                CONTEXT,
                0,
                b"x",
                (
                    CeremonyMember(group[0].node.authority, 1),
                    CeremonyMember(group[1].node.authority, 2),
                ),
            )
            with pytest.raises(CeremonyFailed, match="refused"):
                await group[0].service.sign(request, keys[1].key_package, keys_public)

    aura_sim.run(main, seed=6)


def test_under_faults_a_ceremony_agrees_or_fails_cleanly() -> None:
    """Drops, duplicates and reordering, a few seeds: the coordinator either gets a key or
    `CeremonyFailed`; a member that kept a key (it keeps it before reporting it) holds the
    coordinator's, never one computed differently; after a failed ceremony the keys members
    kept are one key at most (inert: the coordinator records the ceremony aborted)."""
    outcomes = []

    async def main() -> None:
        lossy = LinkPolicy(latency_ms=5, jitter_ms=20, drop=0.05, duplicate=0.1, reorder=0.2)
        async with members(3, Net(aura_sim.current_loop().seed, lossy)) as group:
            opening = start(DKG, 2, group, b"lossy")
            try:
                mine = await group[0].service.keys(opening, KeyApproval())
            except CeremonyFailed:
                mine = None
            await anyio.sleep(TIMES.limit_s)  # every participant's run is over
            told = [k for m in group[1:] for k in m.policy.got]
            if mine is None:
                assert len({k.key_commitment for k in told}) <= 1
            else:
                assert {k.key_commitment for k in told} <= {mine.key_commitment}
            outcomes.append(mine is not None)

    for seed in (11, 12, 13, 14, 15, 16):
        aura_sim.run(main, seed=seed)
    assert any(outcomes)  # the faults are not so heavy that nothing ever agrees


def test_pending_keys_are_released_only_by_a_commit_with_their_commitment() -> None:
    async def main() -> None:
        async with members(2, Net(3)) as group:
            keys = await dkg(group, 2, b"pending")
        key = keys[1]
        device = SigningKey(b"\x42" * 32)
        prestate, operation = Hash32.of(b"prestate"), b"the ceremony's operation"
        registry = CeremonyRegistry()
        started, registry = registry.start(prestate, operation_hash(operation), 9, 0, [ACCOUNT])
        assert released(key, registry) is None  # unknown to the registry
        assert released(None, registry) is None
        ceremony = started.ceremony_id
        key = attrs.evolve(key, ceremony=ceremony)
        _, registry = registry.enter_pending_epoch(ceremony, 1, key.key_commitment)
        assert released(key, registry) is None and not abandoned(ceremony, registry)  # inert
        _, aborted = registry.abort(ceremony, AbortReason.TIMEOUT)
        assert released(key, aborted) is None and abandoned(ceremony, aborted)
        _, registry = registry.respond(ceremony, ACCOUNT, True)
        commit = single_signer_commit(
            prestate_hash=prestate, operation_bytes=operation, nonce=9, witness=ACCOUNT, key=device
        )
        _, committed = registry.commit(ceremony, commit)
        assert released(key, committed) == key and not abandoned(ceremony, committed)

    aura_sim.run(main, seed=7)
