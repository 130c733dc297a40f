"""The witness side: prestate check, signing checks, and the ledger that prevents equivocation."""

from __future__ import annotations

import pytest

from aura_consensus.nonces import WitnessNonces
from aura_consensus.witness import VoteLedger, prestate_matches, sign_share
from aura_core.crypto import frost
from aura_core.errors import (
    InvalidArgument,
    InvalidSigningPackage,
    NonceReuse,
    UnknownWitness,
    WouldEquivocate,
)
from aura_core.hashing import Hash32
from tests.consensus.support import HonestWitness, authority, fresh_seed, group


def test_prestate_matches() -> None:
    params = group(2, 3).params()
    assert prestate_matches(params, params.prestate_hash)
    assert not prestate_matches(params, Hash32.of(b"mine differs"))
    with pytest.raises(InvalidArgument):
        prestate_matches(params, params.prestate_hash.digest)  # type: ignore[arg-type]


def _package(params_signers: list[HonestWitness], message: bytes) -> frost.SigningPackage:
    g = group(2, 3)
    return frost.signing_package(
        {g.witnesses.signer_of(w.authority): w.commit() for w in params_signers}, message
    )


def test_sign_share_produces_a_vote_for_the_instance_result() -> None:
    g = group(2, 3)
    params = g.params()
    a, b, _ = (HonestWitness(x, g.key_packages[x]) for x in g.authorities)
    package = _package([a, b], params.transcript([a.authority, b.authority], True))
    share = a.sign(params, package)
    assert share.witness == a.authority
    assert (share.result_id, share.prestate_hash) == (params.result_id, params.prestate_hash)
    assert share.package_id == params.describe_package(package).package_id
    assert a.ledger.signed == {params.prestate_hash: params.result_id}
    assert len(a.nonces) == 0  # consumed
    with pytest.raises(NonceReuse):
        a.sign(params, package)  # no second share with the same nonces


def test_the_ledger_refuses_a_second_result_on_a_prestate() -> None:
    g = group(2, 3)
    first, second = g.params(operation=b"op one"), g.params(operation=b"op two")
    a, b, _ = (HonestWitness(x, g.key_packages[x]) for x in g.authorities)
    signers = [a.authority, b.authority]
    a.sign(first, _package([a, b], first.transcript(signers, True)))
    package = _package([a, b], second.transcript(signers, True))
    nonces, ledger = a.nonces, a.ledger
    with pytest.raises(WouldEquivocate):
        a.sign(second, package)
    assert a.nonces is nonces and a.ledger is ledger  # nothing consumed or recorded
    # the same result under another instance (another nonce) is not equivocation
    again = g.params(operation=b"op one", nonce=2)
    a.sign(again, _package([a, b], again.transcript(signers, False)))
    assert VoteLedger().record(Hash32.zero(), Hash32.zero()).record(
        Hash32.zero(), Hash32.zero()
    ).signed == {Hash32.zero(): Hash32.zero()}


def test_sign_share_refuses_foreign_packages_and_keys() -> None:
    g = group(2, 3)
    params = g.params()
    a, b, c = (HonestWitness(x, g.key_packages[x]) for x in g.authorities)
    signers = [a.authority, b.authority]
    not_ours = _package([a, b], b"some other message")
    without_c = _package([a, b], params.transcript(signers, True))
    cases = [
        (a, not_ours, a.key_package, InvalidSigningPackage),
        (c, without_c, c.key_package, InvalidSigningPackage),
        (a, without_c, b.key_package, InvalidArgument),  # another witness's key
    ]
    for witness, package, key, error in cases:
        with pytest.raises(error):
            sign_share(
                params,
                witness.authority,
                key,
                package,
                nonces=witness.nonces,
                ledger=witness.ledger,
            )
    with pytest.raises(UnknownWitness):
        sign_share(
            params,
            authority("stranger"),
            a.key_package,
            without_c,
            nonces=a.nonces,
            ledger=a.ledger,
        )
    other = group(2, 3, "other")
    foreign_key = other.key_packages[other.authorities[0]]
    with pytest.raises(InvalidArgument):
        sign_share(params, a.authority, foreign_key, without_c, nonces=a.nonces, ledger=a.ledger)
    # nonces made for another package cannot sign this one
    stale = WitnessNonces().add(0, frost.commit(a.key_package, fresh_seed())[0])
    fresh_package = _package([a, b], params.transcript(signers, True))
    with pytest.raises(NonceReuse):
        sign_share(params, a.authority, a.key_package, fresh_package, nonces=stale, ledger=a.ledger)
