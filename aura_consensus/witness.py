"""What an honest witness does, as pure functions over its vote ledger.

A witness (1) compares the prestate hash in `Execute` with its own view and answers
`StateMismatch` if they differ (`prestate_matches`); (2) otherwise makes round-1 nonces with
`frost.commit(key_package, seed)` (the seed from `RandomEffects`), keeps them in its
`WitnessNonces` and answers `NonceCommit`; (3) on `SignRequest` calls `sign_share`, which
checks the package against the instance and the ledger, takes the nonces the package names and
returns the signed vote with the FROST share for `SignShare`. For rounds r ≥ 1
(`aura_consensus.rounds`) it also votes on a leader's proposal (`cast_vote`) and moves to a
later round (`change_round`).

The ledger is what keeps an honest witness out of the evidence and the rounds safe: per
prestate it remembers the round the witness is in (it never acts below it), its round-0 vote,
its vote in the current round and its highest lock. The instance tolerates and reports
equivocators; the ledger makes sure this node never becomes one. Keep it durable
(`aura_protocol.consensus.ledger`): a witness that forgets it after a restart could be made
to equivocate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import attrs

from aura_consensus.events import WitnessShare
from aura_consensus.nonces import WitnessNonces
from aura_consensus.params import ConsensusParams
from aura_consensus.rounds import Justification, check_proposal
from aura_consensus.statements import (
    LockCertificate,
    RoundChange,
    SignedRoundChange,
    SignedVote,
    Vote,
    share_digest,
)
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.encoding import record
from aura_core.errors import (
    InvalidArgument,
    InvalidCertificate,
    InvalidSigningPackage,
    RoundPassed,
    WouldEquivocate,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId

__all__ = [
    "PrestateVotes",
    "VoteLedger",
    "Signed",
    "RoundChangeReport",
    "prestate_matches",
    "sign_share",
    "cast_vote",
    "change_round",
]


@record("consensus.prestate_votes")
@attrs.frozen
class PrestateVotes:
    """What this witness did on one prestate."""

    prestate_hash: Hash32
    round: int = 0
    """The round it is in: it never votes or signs in a lower one again."""
    first_result: Hash32 | None = None
    """Its round-0 vote."""
    round_result: Hash32 | None = None
    """Its vote in `round`, when that is a round r ≥ 1."""
    lock: LockCertificate | None = None
    """The certificate of the highest round r ≥ 1 in which it gave a share."""
    values: tuple[ConsensusParams, ...] = ()
    """The instances of its round-0 vote and of its lock (a round change carries them, so the
    leader can propose the result they name)."""

    def voted(self, round: int) -> Hash32 | None:
        """Its vote in `round`, if that round is 0 or its current round."""
        if round == 0:
            return self.first_result
        return self.round_result if round == self.round else None

    def check(self, round: int, result_id: Hash32) -> None:
        """Raise unless it may vote (or sign) for `result_id` in `round`: `RoundPassed` below
        its round, `WouldEquivocate` if it voted for another result in that round."""
        if round < self.round:
            raise RoundPassed(
                f"round {round} of {self.prestate_hash}: this witness is at {self.round}"
            )
        held = self.voted(round)
        if held is not None and held != result_id:
            raise WouldEquivocate(
                f"already voted for another result in round {round} of {self.prestate_hash}"
            )

    def vote(self, params: ConsensusParams) -> PrestateVotes:
        """Record a vote for `params`'s result in its round (joining the round if it is above
        the current one); raises as `check`."""
        round, result = params.round, params.result_id
        self.check(round, result)
        if round == 0:
            if self.first_result == result:
                return self
            return self._keeping(attrs.evolve(self, first_result=result), params)
        if round == self.round and self.round_result == result:
            return self
        return attrs.evolve(self, round=round, round_result=result)

    def locked(self, params: ConsensusParams, lock: LockCertificate) -> PrestateVotes:
        """Record a share in round r ≥ 1: the vote, and the lock if it is the highest."""
        voted = self.vote(params)
        if voted.lock is not None and voted.lock.round >= lock.round:
            return voted
        return self._keeping(attrs.evolve(voted, lock=lock), params)

    @staticmethod
    def _keeping(entry: PrestateVotes, params: ConsensusParams) -> PrestateVotes:
        """`entry` with the instances of its round-0 vote and its lock (and no others)."""
        wanted = {entry.first_result, None if entry.lock is None else entry.lock.result_id}
        values: dict[Hash32, ConsensusParams] = {
            p.result_id: p for p in (*entry.values, params) if p.result_id in wanted
        }
        return attrs.evolve(entry, values=tuple(values[r] for r in sorted(values)))


@attrs.frozen
class VoteLedger:
    """What this witness did, by prestate hash."""

    prestates: Mapping[Hash32, PrestateVotes] = attrs.field(factory=dict)

    def of(self, prestate_hash: Hash32) -> PrestateVotes:
        return self.prestates.get(prestate_hash) or PrestateVotes(prestate_hash)

    def put(self, entry: PrestateVotes) -> VoteLedger:
        if self.prestates.get(entry.prestate_hash) == entry:
            return self
        return VoteLedger({**self.prestates, entry.prestate_hash: entry})


class Signed(NamedTuple):
    """A witness's answer to `SignRequest` and its updated bookkeeping (store `entry` before
    the share leaves)."""

    share: WitnessShare
    nonces: WitnessNonces
    ledger: VoteLedger
    entry: PrestateVotes


class RoundChangeReport(NamedTuple):
    """A witness's round change with what the leader needs to use it: the certificate of the
    lock it reports and the instances of the results it reports."""

    change: SignedRoundChange
    lock: LockCertificate | None
    values: tuple[ConsensusParams, ...]
    ledger: VoteLedger
    entry: PrestateVotes


def prestate_matches(params: ConsensusParams, local_prestate_hash: Hash32) -> bool:
    """Whether `Execute` names the prestate this witness holds (else answer `StateMismatch`)."""
    if type(local_prestate_hash) is not Hash32:
        raise InvalidArgument("the local prestate hash is a Hash32")
    return params.prestate_hash == local_prestate_hash


def _own_key(params: ConsensusParams, witness: AuthorityId, key: SigningKey) -> None:
    if not isinstance(key, SigningKey):
        raise InvalidArgument("expected an ed25519.SigningKey")
    if params.witnesses.key_of(witness) != key.verifying_key:
        raise InvalidArgument(f"{witness} votes with another key")


def sign_share(
    params: ConsensusParams,
    witness: AuthorityId,
    key_package: frost.KeyPackage,
    package: frost.SigningPackage,
    *,
    signing_key: SigningKey,
    nonces: WitnessNonces,
    ledger: VoteLedger,
    lock: LockCertificate | None = None,
) -> Signed:
    """Sign `package` as `witness`, voting for the instance's own result in its round.

    Refuses (typed error, nothing consumed) when: the keys are not the witness's (its share of
    the instance's group, its vote key); the package's message is not this instance's
    transcript or does not include this witness (`InvalidSigningPackage`); the witness left
    the round (`RoundPassed`) or voted for another result in it (`WouldEquivocate`); in a round
    r ≥ 1, `lock` is not t votes for this result in this round (`InvalidCertificate`); it holds
    no unused nonces for the commitment the package names (`NonceReuse`, also for another
    epoch's commitments).
    """
    if not isinstance(key_package, frost.KeyPackage):
        raise InvalidArgument("expected a frost.KeyPackage")
    identifier = params.witnesses.signer_of(witness)
    if key_package.identifier != identifier:
        raise InvalidArgument(f"{witness} signs with FROST identifier {identifier}")
    if key_package.group_public_key != params.group_public_key:
        raise InvalidArgument("the key package belongs to another group")
    _own_key(params, witness, signing_key)
    info = params.describe_package(package)
    if witness not in info.signers:
        raise InvalidSigningPackage(f"{witness} is not a signer of this package")
    entry = ledger.of(params.prestate_hash)
    entry.check(params.round, params.result_id)
    if params.round > 0:
        if lock is None:
            raise InvalidCertificate(f"round {params.round}: a share needs a lock certificate")
        lock.verify(params.witnesses, params.group_public_key)
        if (lock.prestate_hash, lock.round, lock.result_id) != (
            params.prestate_hash,
            params.round,
            params.result_id,
        ):
            raise InvalidCertificate("the lock certificate is for another result or round")
        entry = entry.locked(params, lock)
    else:
        entry = entry.vote(params)
    mine, rest = nonces.take(nonces.epoch, package.commitments[identifier])
    share = frost.sign(package, mine, key_package)
    vote = _vote(params, witness, share_digest(info.package_id, share)).sign(signing_key)
    return Signed(WitnessShare(vote, info.package_id, share), rest, ledger.put(entry), entry)


def _vote(params: ConsensusParams, witness: AuthorityId, attachment: Hash32) -> Vote:
    return Vote(
        params.group_public_key,
        witness,
        params.consensus_id,
        params.prestate_hash,
        params.round,
        params.result_id,
        attachment,
    )


def cast_vote(
    params: ConsensusParams,
    witness: AuthorityId,
    justification: Justification,
    *,
    signing_key: SigningKey,
    ledger: VoteLedger,
) -> tuple[SignedVote, VoteLedger, PrestateVotes]:
    """Vote for a leader's proposal of round r ≥ 1 (a bare vote): only if the justification
    allows its result (`InvalidCertificate`) and the witness has not left the round
    (`RoundPassed`) or voted for another result in it (`WouldEquivocate`). Joins the round if
    the witness was below it."""
    _own_key(params, witness, signing_key)
    check_proposal(params, justification)
    entry = ledger.of(params.prestate_hash).vote(params)
    vote = _vote(params, witness, Hash32.zero()).sign(signing_key)
    return vote, ledger.put(entry), entry


def change_round(
    group_key: VerifyingKey,
    witness: AuthorityId,
    prestate_hash: Hash32,
    round: int,
    *,
    signing_key: SigningKey,
    ledger: VoteLedger,
) -> RoundChangeReport:
    """Leave for round `round` of a prestate (`RoundPassed` unless it is above the current
    one): the signed round change reporting the round-0 vote and the highest lock."""
    if not isinstance(signing_key, SigningKey):
        raise InvalidArgument("expected an ed25519.SigningKey")
    entry = ledger.of(prestate_hash)
    if type(round) is not int or round <= entry.round:
        raise RoundPassed(f"round {round} of {prestate_hash}: this witness is at {entry.round}")
    moved = attrs.evolve(entry, round=round, round_result=None)
    lock = moved.lock
    change = RoundChange(
        group_key,
        witness,
        prestate_hash,
        round,
        moved.first_result,
        0 if lock is None else lock.round,
        None if lock is None else lock.result_id,
    ).sign(signing_key)
    return RoundChangeReport(change, lock, moved.values, ledger.put(moved), moved)
