"""What the simulator's byzantine witnesses put into their gossip (see `Behavior`).

Honest nodes never call these: they build the made-up content a byzantine node adds to what
it would honestly relay, so the sweeps can check that none of it is believed. Fake signatures
are deterministic (hashes of the statement), so a run replays byte for byte.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from aura_consensus.evidence import EquivocationProof, Evidence
from aura_consensus.instance import InstanceState
from aura_consensus.statements import SignedVote, Vote
from aura_core.crypto.ed25519 import SigningKey
from aura_core.hashing import Hash32, tagged_hash
from aura_core.ids import AuthorityId
from aura_protocol.consensus.wire import ShareVote

__all__ = ["bogus_vote", "forged_evidence", "forged_relays", "replayed_votes"]


def _fake_signature(vote: Vote, salt: bytes) -> bytes:
    first = tagged_hash("aura.sim.fake_signature", vote.message, salt).digest
    return first + tagged_hash("aura.sim.fake_signature", first).digest


def _made_up(result: Hash32, salt: bytes) -> Hash32:
    return tagged_hash("aura.sim.bogus_result", result.digest, salt)


def _vote_of(state: InstanceState, witness: AuthorityId, result: Hash32) -> Vote:
    params = state.params
    return Vote(
        params.group_public_key,
        witness,
        params.consensus_id,
        params.prestate_hash,
        params.round,
        result,
        Hash32.zero(),
    )


def bogus_vote(state: InstanceState, local: AuthorityId, key: SigningKey, which: int) -> ShareVote:
    """(EQUIVOCATE) A genuinely signed vote for a made-up result: two of them are a valid
    equivocation proof against this node."""
    result = _made_up(state.own_result, bytes([which]))
    return ShareVote(_vote_of(state, local, result).sign(key))


def _others(state: InstanceState, local: AuthorityId) -> list[AuthorityId]:
    return [w for w in state.params.witnesses.authorities if w != local]


def forged_evidence(state: InstanceState, local: AuthorityId, salt: bytes) -> Evidence:
    """(FORGE_EVIDENCE) A proof against every other witness: its genuine vote (when this node
    holds one) or a forged one, paired with a forged vote for a made-up result."""
    proofs = []
    for witness in _others(state, local):
        genuine = state.votes.get(witness)
        if genuine is None:
            vote = _vote_of(state, witness, state.own_result)
            genuine = SignedVote(vote, _fake_signature(vote, salt))
        other = _vote_of(state, witness, _made_up(genuine.result_id, salt))
        proofs.append(
            EquivocationProof.of(genuine, SignedVote(other, _fake_signature(other, salt)))
        )
    return Evidence.of(proofs)


def forged_relays(state: InstanceState, local: AuthorityId, salt: bytes) -> tuple[ShareVote, ...]:
    """(FORGE_RELAY) Votes in other witnesses' names they never signed (for the instance's
    result and for a made-up one), and genuine share votes paired with another witness's
    share."""
    forged: list[ShareVote] = []
    for witness in _others(state, local):
        for result in (state.own_result, _made_up(state.own_result, salt)):
            vote = _vote_of(state, witness, result)
            forged.append(ShareVote(SignedVote(vote, _fake_signature(vote, salt))))
    held = [s for pid in sorted(state.shares) for _, s in sorted(state.shares[pid].items())]
    for mine, theirs in itertools.pairwise(held):
        if mine.witness != theirs.witness and mine.share is not None and theirs.share is not None:
            forged.append(ShareVote(mine.vote, mine.package_id, theirs.share.to_bytes()))
    return tuple(forged)


def replayed_votes(state: InstanceState, seen: Iterable[SignedVote]) -> tuple[ShareVote, ...]:
    """(REPLAY) Genuine votes from other instances, prestates or rounds."""
    params = state.params
    return tuple(
        ShareVote(v)
        for v in seen
        if v.vote.consensus_id != params.consensus_id
        or v.prestate_hash != params.prestate_hash
        or v.round != params.round
    )
