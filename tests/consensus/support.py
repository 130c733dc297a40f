"""Shared fixtures for the consensus tests: FROST groups made once per (t, n), witnesses with
their key packages, and helpers that play honest witnesses.

Keys are dealt once per (t, n) and reused by every example (dealing is the slow part); every
signing round still uses fresh nonces from a per-test counter, so nothing is ever reused.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Iterable

import attrs

from aura_consensus.events import Action, SendSignRequest, WitnessShare
from aura_consensus.instance import InstanceState
from aura_consensus.nonces import WitnessNonces
from aura_consensus.params import ConsensusParams
from aura_consensus.witness import VoteLedger, sign_share
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId

_counter = itertools.count()


def seed(*labels: object) -> bytes:
    """A deterministic 32-byte seed."""
    return hashlib.sha256(repr(labels).encode()).digest()


def fresh_seed() -> bytes:
    """A seed never returned before in this process (for nonces)."""
    return seed("fresh", next(_counter))


def authority(label: object) -> AuthorityId:
    return AuthorityId.from_entropy(seed("authority", label))


@attrs.frozen(eq=False)
class Group:
    """A FROST group whose members are witness authorities."""

    t: int
    n: int
    key_packages: dict[AuthorityId, frost.KeyPackage]
    public: frost.PublicKeyPackage
    witnesses: WitnessSet

    @property
    def authorities(self) -> tuple[AuthorityId, ...]:
        return self.witnesses.authorities

    def params(
        self,
        operation: bytes = b"add device",
        prestate: Hash32 | None = None,
        nonce: int = 1,
        threshold: int | None = None,
    ) -> ConsensusParams:
        witnesses = self.witnesses
        if threshold is not None:
            witnesses = WitnessSet(witnesses.members, threshold)
        return ConsensusParams(
            prestate or Hash32.of(b"prestate"),
            operation,
            nonce,
            witnesses,
            self.public.group_public_key,
        )


@functools.cache
def group(t: int, n: int, label: str = "") -> Group:
    shares, public = frost.generate_with_dealer(t, n, seed("dealer", t, n, label))
    members = {authority((label, t, n, i)): i for i in shares}
    packages = {a: frost.key_package(shares[i]) for a, i in members.items()}
    return Group(t, n, packages, public, WitnessSet.of(members, t))


@attrs.define
class HonestWitness:
    """A witness's private bookkeeping: nonces and the ledger of what it signed."""

    authority: AuthorityId
    key_package: frost.KeyPackage
    nonces: WitnessNonces = attrs.field(factory=WitnessNonces)
    ledger: VoteLedger = attrs.field(factory=VoteLedger)

    def commit(self) -> frost.SigningCommitments:
        nonces, commitments = frost.commit(self.key_package, fresh_seed())
        self.nonces = self.nonces.add(self.nonces.epoch, nonces)
        return commitments

    def sign(self, params: ConsensusParams, package: frost.SigningPackage) -> WitnessShare:
        signed = sign_share(
            params,
            self.authority,
            self.key_package,
            package,
            nonces=self.nonces,
            ledger=self.ledger,
        )
        self.nonces, self.ledger = signed.nonces, signed.ledger
        return signed.share


def honest(g: Group) -> dict[AuthorityId, HonestWitness]:
    return {a: HonestWitness(a, kp) for a, kp in g.key_packages.items()}


def sign_requests(actions: Iterable[Action]) -> list[SendSignRequest]:
    return [a for a in actions if isinstance(a, SendSignRequest)]


def snapshot(state: InstanceState) -> tuple[object, ...]:
    """A deep copy of everything in a state, to show a refused event changed nothing (also
    not by mutating a dict inside it)."""
    return (
        state.phase,
        state.initiator,
        dict(state.votes),
        dict(state.packages),
        {pid: dict(held) for pid, held in state.shares.items()},
        {w: c.to_bytes() for w, c in state.commitments.items()},
        state.used_commitments,
        state.equivocators,
        dict(state.mismatches),
        state.evidence,
        state.commit,
        state.failure,
    )
