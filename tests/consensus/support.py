"""Shared fixtures for the consensus tests: FROST groups made once per (t, n), witnesses with
their key packages and vote keys, and helpers that play honest witnesses and sign votes.

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
from aura_consensus.statements import LockCertificate, SignedVote, Vote
from aura_consensus.witness import VoteLedger, sign_share
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
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
    """A FROST group whose members are witness authorities, with their vote keys."""

    t: int
    n: int
    key_packages: dict[AuthorityId, frost.KeyPackage]
    public: frost.PublicKeyPackage
    witnesses: WitnessSet
    vote_keys: dict[AuthorityId, SigningKey]

    @property
    def authorities(self) -> tuple[AuthorityId, ...]:
        return self.witnesses.authorities

    def params(
        self,
        operation: bytes = b"add device",
        prestate: Hash32 | None = None,
        nonce: int = 1,
        threshold: int | None = None,
        round: int = 0,
    ) -> ConsensusParams:
        witnesses = self.witnesses
        if threshold is not None:
            witnesses = WitnessSet(witnesses.members, threshold, witnesses.faults)
        return ConsensusParams(
            prestate or Hash32.of(b"prestate"),
            operation,
            nonce,
            witnesses,
            self.public.group_public_key,
            round,
        )

    def vote(
        self,
        who: AuthorityId,
        params: ConsensusParams,
        *,
        result: Hash32 | None = None,
        attachment: Hash32 | None = None,
        key: SigningKey | None = None,
    ) -> SignedVote:
        """`who`'s vote in `params`'s instance (for its result unless `result` is given),
        signed with its own key unless `key` is given."""
        vote = Vote(
            params.group_public_key,
            who,
            params.consensus_id,
            params.prestate_hash,
            params.round,
            result or params.result_id,
            attachment or Hash32.zero(),
        )
        return vote.sign(key or self.vote_keys[who])


@functools.cache
def group(t: int, n: int, label: str = "", faults: int = 0) -> Group:
    shares, public = frost.generate_with_dealer(t, n, seed("dealer", t, n, label))
    members = {authority((label, t, n, i)): i for i in shares}
    packages = {a: frost.key_package(shares[i]) for a, i in members.items()}
    vote_keys = {a: SigningKey(seed("vote key", a.raw)) for a in members}
    witnesses = WitnessSet.of(
        members, t, faults=faults, keys={a: k.verifying_key for a, k in vote_keys.items()}
    )
    return Group(t, n, packages, public, witnesses, vote_keys)


@attrs.define
class HonestWitness:
    """A witness's private bookkeeping: nonces and the ledger of what it signed."""

    authority: AuthorityId
    key_package: frost.KeyPackage
    signing_key: SigningKey
    nonces: WitnessNonces = attrs.field(factory=WitnessNonces)
    ledger: VoteLedger = attrs.field(factory=VoteLedger)

    def commit(self) -> frost.SigningCommitments:
        nonces, commitments = frost.commit(self.key_package, fresh_seed())
        self.nonces = self.nonces.add(self.nonces.epoch, nonces)
        return commitments

    def sign(
        self,
        params: ConsensusParams,
        package: frost.SigningPackage,
        lock: LockCertificate | None = None,
    ) -> WitnessShare:
        signed = sign_share(
            params,
            self.authority,
            self.key_package,
            package,
            signing_key=self.signing_key,
            nonces=self.nonces,
            ledger=self.ledger,
            lock=lock,
        )
        self.nonces, self.ledger = signed.nonces, signed.ledger
        return signed.share


def honest(g: Group) -> dict[AuthorityId, HonestWitness]:
    return {a: HonestWitness(a, kp, g.vote_keys[a]) for a, kp in g.key_packages.items()}


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
