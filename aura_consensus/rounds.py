"""Rounds of a prestate: how contention and stalls are resolved without losing safety.

Consensus on a prestate P runs in rounds r = 0, 1, 2, ... (the round is in every signed vote
and in the commit transcript). Round 0 is the fast path: honest witnesses vote for the first
proposal they see and sign its packages, which name `fast_quorum` witnesses. When a round
does not commit in time, witnesses move to the next round; rounds r ≥ 1 each have one leader
and run in two steps:

1. **Round change.** A witness leaving its round for r signs a `RoundChange` (it will never act
   below r again) reporting its round-0 vote and its highest lock, and sends it to
   `leader(P, r)`, the witness with the smallest `H("AURA_CONSENSUS_ROUND_LEADER_V1" ‖ P ‖ r ‖
   authority)`: deterministic, and checkable by everyone.
2. **Proposal, votes, lock, shares.** With n - f round changes (a `Justification`) the leader
   proposes the one result `Justification.value` allows, in the instance `round_params`
   (same operation, nonce derived from (P, result, r), `round = r`). A witness votes for it only
   if the justification verifies; t votes are a `LockCertificate`, and a witness gives its
   FROST share for a round-r package only with that certificate (it then *locks* on the
   result at round r).

`Justification.value`, from n - f round changes (n witnesses, threshold t, fault bound f,
fast quorum q₀):

1. if some change reports a lock, the result of the highest reported lock (proved by its
   certificate; every change reporting a lock in that round must name the same result);
2. else, if some result may have committed in round 0 — reported as the round-0 vote of c
   changes with c + (n - |changes|) + f ≥ q₀ — that result (at most one can be);
3. else, the result with the most round-0 votes among the changes (ties: smallest
   `H("AURA_CONSENSUS_ROUND_TIEBREAK_V1" ‖ P ‖ r ‖ result)`), or, if none was reported, any
   result (the leader's choice).

Safety (docs/consensus.md states it in full): with at most f byzantine witnesses, 2t > n + f
and q₀ > (n + 3f)/2, if result X commits in round r*, every justified proposal of every later
round is X. If r* ≥ 1, at least t - f honest witnesses locked on X at r*; any n - f round
changes include one of them (t - f + n - f > n since t > 2f), every lock after r* is on X (by
induction: a lock needs t votes, at least t - f honest, and honest witnesses vote only for
justified proposals), so rule 1 picks X. If r* = 0, at least q₀ - f honest witnesses voted X in
round 0 and at least q₀ - 2f of them are among any n - f changes, which makes X possible under
rule 2 and no other result possible (that would need 2(q₀ - 2f) ≤ n - f); rule 1, if it
applies, also names X by the same induction. Honest witnesses vote at most once per round and
never below their round, so no other result reaches t votes or t shares in any round.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import attrs

from aura_consensus.params import ConsensusParams
from aura_consensus.statements import LockCertificate, SignedRoundChange
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import record
from aura_core.errors import ConsensusError, InvalidArgument, InvalidCertificate
from aura_core.hashing import Hash32, tagged_hash, u32
from aura_core.ids import AuthorityId

__all__ = [
    "leader",
    "round_params",
    "tiebreak",
    "Justification",
    "check_proposal",
]

LEADER_TAG = "AURA_CONSENSUS_ROUND_LEADER_V1"
NONCE_TAG = "AURA_CONSENSUS_ROUND_NONCE_V1"
TIEBREAK_TAG = "AURA_CONSENSUS_ROUND_TIEBREAK_V1"


def _round(value: object) -> int:
    if type(value) is not int or not 1 <= value < 2**32:
        raise InvalidArgument("a leader's round is in 1..2^32-1")
    return value


def leader(witnesses: WitnessSet, prestate_hash: Hash32, round: int) -> AuthorityId:
    """The leader of round r ≥ 1 of a prestate: the witness whose
    `H(LEADER_TAG ‖ prestate ‖ r ‖ authority)` is smallest."""
    r = u32(_round(round))
    return min(
        witnesses.authorities,
        key=lambda a: tagged_hash(LEADER_TAG, prestate_hash.digest, r, a.raw).digest,
    )


def round_params(params: ConsensusParams, round: int) -> ConsensusParams:
    """The instance that round r ≥ 1 runs for `params`'s operation: the same prestate,
    operation, witnesses and group, `round = r` and the nonce
    `H(NONCE_TAG ‖ prestate ‖ result id ‖ r)[:8]` (little-endian), so every node names the
    round's instance alike."""
    r = _round(round)
    digest = tagged_hash(
        NONCE_TAG, params.prestate_hash.digest, params.result_id.digest, u32(r)
    ).digest
    return attrs.evolve(params, nonce=int.from_bytes(digest[:8], "little"), round=r)


def tiebreak(prestate_hash: Hash32, round: int, result_id: Hash32) -> bytes:
    """Rule 3's order among equally supported results (smallest first)."""
    return tagged_hash(TIEBREAK_TAG, prestate_hash.digest, u32(round), result_id.digest).digest


def _check_changes(_: object, __: object, value: tuple[SignedRoundChange, ...]) -> None:
    if type(value) is not tuple or not all(type(c) is SignedRoundChange for c in value):
        raise InvalidCertificate("a justification holds signed round changes")
    witnesses = [c.witness for c in value]
    if witnesses != sorted(set(witnesses)):
        raise InvalidCertificate("a justification holds one round change per witness, sorted")


@record("consensus.justification")
@attrs.frozen
class Justification:
    """A round proposal's proof: n - f signed round changes to one round of one prestate, and
    the lock certificate of the highest lock they report (None if they report none)."""

    changes: tuple[SignedRoundChange, ...] = attrs.field(validator=_check_changes)
    lock: LockCertificate | None

    @classmethod
    def assemble(
        cls,
        witnesses: WitnessSet,
        group_key: VerifyingKey,
        prestate_hash: Hash32,
        round: int,
        entries: Iterable[tuple[SignedRoundChange, LockCertificate | None]],
    ) -> Justification | None:
        """(Leader) The justification from the round changes received: only changes that
        verify, name this round, and prove the lock they report are used. None while fewer
        than n - f are usable."""
        usable: dict[AuthorityId, SignedRoundChange] = {}
        locks: list[LockCertificate] = []
        for signed, lock in entries:
            change = signed.change
            if change.prestate_hash != prestate_hash or change.round != round:
                continue
            try:
                signed.verify(witnesses, group_key)
                if change.lock_round:
                    if lock is None:
                        continue
                    lock.verify(witnesses, group_key)
                    if (lock.prestate_hash, lock.round, lock.result_id) != (
                        prestate_hash,
                        change.lock_round,
                        change.lock_result,
                    ):
                        continue
                    locks.append(lock)
            except ConsensusError:
                continue
            usable[change.witness] = signed
        if len(usable) < witnesses.change_quorum:
            return None
        highest = max(locks, key=lambda c: c.round, default=None)
        return cls(tuple(usable[w] for w in sorted(usable)), highest)

    def value(
        self, witnesses: WitnessSet, group_key: VerifyingKey, prestate_hash: Hash32, round: int
    ) -> Hash32 | None:
        """The result a proposal for round `round` must have (rules 1-3 of the module doc),
        or None if any result may be proposed. `InvalidCertificate` if the justification does
        not prove anything for this round."""
        changes = [c.change for c in self.changes]
        for signed in self.changes:
            change = signed.change
            if change.prestate_hash != prestate_hash or change.round != round:
                raise InvalidCertificate("a round change for another prestate or round")
            try:
                signed.verify(witnesses, group_key)
            except ConsensusError as exc:
                raise InvalidCertificate(f"a justification holds {exc.message}") from None
        if len(changes) < witnesses.change_quorum:
            raise InvalidCertificate(
                f"{len(changes)} round changes, {witnesses.change_quorum} needed"
            )
        highest = max(c.lock_round for c in changes)
        if highest:
            lock = self.lock
            if lock is None or lock.round != highest or lock.prestate_hash != prestate_hash:
                raise InvalidCertificate("the highest reported lock is not proved")
            lock.verify(witnesses, group_key)
            if any(c.lock_round == highest and c.lock_result != lock.result_id for c in changes):
                raise InvalidCertificate("two locks reported in one round")
            return lock.result_id
        if self.lock is not None:
            raise InvalidCertificate("a lock certificate nobody reported")
        counts = Counter(c.first_result for c in changes if c.first_result is not None)
        unknown = len(witnesses) - len(changes)
        possible = sorted(
            rid
            for rid, count in counts.items()
            if count + unknown + witnesses.faults >= witnesses.fast_quorum
        )
        if len(possible) > 1:  # impossible with n - f changes when 2q0 > n + 3f
            raise InvalidCertificate("two results may have committed in round 0")
        if possible:
            return possible[0]
        if counts:
            return min(counts, key=lambda rid: (-counts[rid], tiebreak(prestate_hash, round, rid)))
        return None


def check_proposal(params: ConsensusParams, justification: Justification) -> None:
    """Raise `InvalidCertificate` unless `params` is the instance a leader may propose for its
    round (r ≥ 1, `round_params` of its operation) and `justification` allows its result."""
    if type(params) is not ConsensusParams or type(justification) is not Justification:
        raise InvalidArgument("expected ConsensusParams and a Justification")
    if params.round < 1 or round_params(params, params.round) != params:
        raise InvalidCertificate(f"{params.consensus_id} is not a round instance")
    required = justification.value(
        params.witnesses, params.group_public_key, params.prestate_hash, params.round
    )
    if required is not None and required != params.result_id:
        raise InvalidCertificate(f"round {params.round} must decide another result")
