"""What a witness does with `Execute` and `SignRequest`, as pure functions.

A witness (1) compares the prestate hash in `Execute` with its own view and answers
`StateMismatch` if they differ (`prestate_matches`); (2) otherwise makes round-1 nonces with
`frost.commit(key_package, seed)` (the seed from `RandomEffects`), keeps them in its
`WitnessNonces` and answers `NonceCommit`; (3) on `SignRequest` calls `sign_share`, which
checks the package against the instance, refuses to sign a second result on a prestate it
already signed (its `VoteLedger`), takes the nonces the package names and returns the
`WitnessShare` for `SignShare`.

The ledger is what keeps an honest witness out of the evidence: the instance tolerates and
reports equivocators, the ledger makes sure this node never becomes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import attrs

from aura_consensus.events import WitnessShare
from aura_consensus.nonces import WitnessNonces
from aura_consensus.params import ConsensusParams
from aura_core.crypto import frost
from aura_core.errors import InvalidArgument, InvalidSigningPackage, WouldEquivocate
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId

__all__ = ["VoteLedger", "Signed", "prestate_matches", "sign_share"]


@attrs.frozen
class VoteLedger:
    """The results this witness has signed, by prestate hash. Keep it durable: a witness that
    forgets it after a restart could be made to equivocate."""

    signed: Mapping[Hash32, Hash32] = attrs.field(factory=dict)
    """Prestate hash → the result id signed on it."""

    def check(self, prestate_hash: Hash32, result_id: Hash32) -> None:
        """Raise `WouldEquivocate` if another result was signed on this prestate."""
        held = self.signed.get(prestate_hash)
        if held is not None and held != result_id:
            raise WouldEquivocate(f"already signed another result on prestate {prestate_hash}")

    def record(self, prestate_hash: Hash32, result_id: Hash32) -> VoteLedger:
        self.check(prestate_hash, result_id)
        if prestate_hash in self.signed:
            return self
        return VoteLedger({**self.signed, prestate_hash: result_id})


class Signed(NamedTuple):
    """A witness's answer to `SignRequest` and its updated bookkeeping."""

    share: WitnessShare
    nonces: WitnessNonces
    ledger: VoteLedger


def prestate_matches(params: ConsensusParams, local_prestate_hash: Hash32) -> bool:
    """Whether `Execute` names the prestate this witness holds (else answer `StateMismatch`)."""
    if type(local_prestate_hash) is not Hash32:
        raise InvalidArgument("the local prestate hash is a Hash32")
    return params.prestate_hash == local_prestate_hash


def sign_share(
    params: ConsensusParams,
    witness: AuthorityId,
    key_package: frost.KeyPackage,
    package: frost.SigningPackage,
    *,
    nonces: WitnessNonces,
    ledger: VoteLedger,
) -> Signed:
    """Sign `package` as `witness`, voting for the instance's own result.

    Refuses (typed error, nothing consumed) when: the key package is not the witness's share of
    the instance's group; the package's message is not this instance's transcript or does not
    include this witness (`InvalidSigningPackage`); the witness already signed another result
    on this prestate (`WouldEquivocate`); it holds no unused nonces for the commitment the
    package names (`NonceReuse`, also for another epoch's commitments).
    """
    if not isinstance(key_package, frost.KeyPackage):
        raise InvalidArgument("expected a frost.KeyPackage")
    identifier = params.witnesses.signer_of(witness)
    if key_package.identifier != identifier:
        raise InvalidArgument(f"{witness} signs with FROST identifier {identifier}")
    if key_package.group_public_key != params.group_public_key:
        raise InvalidArgument("the key package belongs to another group")
    info = params.describe_package(package)
    if witness not in info.signers:
        raise InvalidSigningPackage(f"{witness} is not a signer of this package")
    ledger.check(params.prestate_hash, params.result_id)
    mine, rest = nonces.take(nonces.epoch, package.commitments[identifier])
    share = frost.sign(package, mine, key_package)
    return Signed(
        WitnessShare(witness, params.result_id, params.prestate_hash, info.package_id, share),
        rest,
        ledger.record(params.prestate_hash, params.result_id),
    )
