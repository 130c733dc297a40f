"""Category-C ceremonies: key-changing operations that block until consensus.

Lifecycle (the facts in brackets record each step; they merge by set union like any journal):

1. Compute the prestate hash (epoch and participants included) and the operation hash;
   `CeremonyId = H(prestate, operation, nonce)` [`CeremonyStarted`]. Only one ceremony may be
   live per prestate: `CeremonyRegistry.start` refuses a second (`CeremonyConflict`).
2. Enter a pending epoch: the new key material exists (K1 local, K2 dealer or K3 DKG), the old
   epoch stays live [`CeremonyPendingEpoch`, with a commitment to the new keys].
3. Collect authenticated responses from every required participant [`CeremonyResponse`].
4. Commit through consensus [`CeremonyCommitted`, carrying the `CommitFact`], or abort with a
   reason [`CeremonyAborted`]; a newer ceremony may supersede it [`CeremonySuperseded`].

Pending key material is inert: `CeremonyRegistry.key_usable` is true only for the keys of a
committed ceremony, and `live_epoch` moves only on commit. An abort or a supersession therefore
needs no rollback: the old epoch was never left.

The registry is a function of its *set* of facts, so replicas that hold the same facts agree on
every ceremony's state whatever order the facts arrived in. Where facts conflict the rule is
fixed: a valid commit wins over an abort or a supersession (the group already signed; keys may
be in use); an explicit supersession wins over an abort; among several of one kind the smallest
wins. Two ceremonies started concurrently on one prestate (on two replicas) are resolved by
precedence: the one with the smaller id stays live and the other reads as
`Superseded(by=winner, reason=PRECEDENCE)`; a ceremony on a prestate another ceremony already
committed reads as `Superseded(reason=PRESTATE_STALE)`. `conflicts()` lists these derived
supersessions so the caller can record them as facts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import get_args

import attrs

from aura_consensus import hashing
from aura_consensus.commit import CommitFact
from aura_core.encoding import encode, record, record_tag
from aura_core.errors import (
    CeremonyClosed,
    CeremonyConflict,
    CeremonyError,
    InvalidArgument,
    InvalidCommitFact,
    UnknownCeremony,
    WrongInstance,
)
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, CeremonyId, ConsensusId
from aura_core.memo import memoized_property

__all__ = [
    "AbortReason",
    "SupersessionReason",
    "CeremonyStarted",
    "CeremonyPendingEpoch",
    "CeremonyResponse",
    "CeremonyCommitted",
    "CeremonyAborted",
    "CeremonySuperseded",
    "CeremonyFact",
    "CEREMONY_FACT_TYPES",
    "Preparing",
    "PendingEpoch",
    "Committing",
    "Committed",
    "Aborted",
    "Superseded",
    "CeremonyState",
    "CeremonyRegistry",
]


class AbortReason(enum.Enum):
    """Why a ceremony was abandoned before commit."""

    TIMEOUT = "timeout"
    DECLINED = "declined"
    """A required participant declined."""
    CONSENSUS_FAILED = "consensus_failed"
    CANCELLED = "cancelled"
    INVALID_RESPONSE = "invalid_response"


class SupersessionReason(enum.Enum):
    """Why a ceremony was replaced by another."""

    PRESTATE_STALE = "prestate_stale"
    NEWER_REQUEST = "newer_request"
    EXPLICIT_CANCEL = "explicit_cancel"
    TIMEOUT = "timeout"
    PRECEDENCE = "precedence"


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} is an unsigned 64-bit integer")


def _participants(_: object, __: object, value: tuple[AuthorityId, ...]) -> None:
    if type(value) is not tuple or not all(type(a) is AuthorityId for a in value):
        raise InvalidArgument("required participants are a tuple of AuthorityIds")
    if not value or list(value) != sorted(set(value)):
        raise InvalidArgument("required participants are non-empty, sorted and distinct")


@record("ceremony.started")
@attrs.frozen(order=True)
class CeremonyStarted:
    """A ceremony began on `prestate_hash` for the operation `operation_hash`."""

    ceremony_id: CeremonyId
    prestate_hash: Hash32
    operation_hash: Hash32
    nonce: int = attrs.field(validator=_u64)
    current_epoch: int = attrs.field(validator=_u64)
    """The live epoch the ceremony starts from (it stays live until commit)."""
    required: tuple[AuthorityId, ...] = attrs.field(validator=_participants)
    """Participants whose responses are needed before commit."""

    def __attrs_post_init__(self) -> None:
        expected = hashing.ceremony_id(self.prestate_hash, self.operation_hash, self.nonce)
        if self.ceremony_id != expected:
            raise InvalidArgument("ceremony_id is not H(prestate, operation, nonce)")


@record("ceremony.pending_epoch")
@attrs.frozen(order=True)
class CeremonyPendingEpoch:
    """New key material exists for `pending_epoch`; `key_commitment` commits to it (e.g. the
    hash of the new public key package). Inert until the ceremony commits."""

    ceremony_id: CeremonyId
    pending_epoch: int = attrs.field(validator=_u64)
    key_commitment: Hash32


@record("ceremony.response")
@attrs.frozen(order=True)
class CeremonyResponse:
    """`participant` accepted (or declined) the ceremony. Authenticated by the fact's
    signature: the journal validator must check it is the participant's key."""

    ceremony_id: CeremonyId
    participant: AuthorityId
    accepted: bool


@record("ceremony.committed")
@attrs.frozen(order=True)
class CeremonyCommitted:
    """Consensus decided the ceremony's operation on its prestate."""

    ceremony_id: CeremonyId
    commit: CommitFact


@record("ceremony.aborted")
@attrs.frozen(order=True)
class CeremonyAborted:
    ceremony_id: CeremonyId
    reason: AbortReason


@record("ceremony.superseded")
@attrs.frozen(order=True)
class CeremonySuperseded:
    """`old` was replaced by `new` (which may not have started yet)."""

    old: CeremonyId
    new: CeremonyId
    reason: SupersessionReason


CeremonyFact = (
    CeremonyStarted
    | CeremonyPendingEpoch
    | CeremonyResponse
    | CeremonyCommitted
    | CeremonyAborted
    | CeremonySuperseded
)

CEREMONY_FACT_TYPES: tuple[type[CeremonyFact], ...] = get_args(CeremonyFact)
"""The six ceremony fact classes, in the order of `CeremonyFact`."""

# --------------------------------------------------------------------------------- states


@attrs.frozen
class Preparing:
    """Started; no pending epoch yet."""


@attrs.frozen
class PendingEpoch:
    """New keys exist at `pending_epoch`; waiting for every required response."""

    pending_epoch: int
    key_commitment: Hash32
    required: frozenset[AuthorityId]
    received: frozenset[AuthorityId]
    """Required participants that accepted."""
    declined: frozenset[AuthorityId] = frozenset()


@attrs.frozen
class Committing:
    """Every required participant accepted; consensus on the operation is running."""

    pending_epoch: int
    key_commitment: Hash32


@attrs.frozen
class Committed:
    """Final: the pending epoch is live and its keys usable."""

    consensus_id: ConsensusId
    pending_epoch: int | None
    """None while the pending-epoch fact has not arrived (it is implied by the commit)."""
    key_commitment: Hash32 | None


@attrs.frozen
class Aborted:
    """Final: the old epoch stays live; the pending keys are never used."""

    reason: AbortReason


@attrs.frozen
class Superseded:
    """Final: replaced by `by`; the old epoch stays live; the pending keys are never used."""

    by: CeremonyId
    reason: SupersessionReason


CeremonyState = Preparing | PendingEpoch | Committing | Committed | Aborted | Superseded
_FINAL = (Committed, Aborted, Superseded)


def _binds(started: CeremonyStarted, commit: CommitFact) -> bool:
    return (
        commit.prestate_hash == started.prestate_hash
        and commit.operation_hash == started.operation_hash
    )


@record("ceremony.registry")
@attrs.frozen(slots=False)
class CeremonyRegistry:
    """Every ceremony fact of one namespace, and the states derived from them.

    `apply`/`join` add facts (order-independent). The command methods (`start`,
    `enter_pending_epoch`, `respond`, `commit`, `abort`, `supersede`) check the transition and
    return the fact to record together with the registry that includes it; a refused command
    raises a `CeremonyError` and the registry is unchanged.
    """

    facts: frozenset[CeremonyFact] = frozenset()

    # ------------------------------------------------------------------ adding facts

    def apply(self, fact: CeremonyFact) -> CeremonyRegistry:
        """The registry with one more fact (any order; duplicates change nothing)."""
        if type(fact) not in CEREMONY_FACT_TYPES:
            raise InvalidArgument(f"not a ceremony fact: {type(fact).__name__}")
        if fact in self.facts:
            return self
        return CeremonyRegistry(self.facts | {fact})

    def join(self, other: CeremonyRegistry) -> CeremonyRegistry:
        """Union of the facts: commutative, associative, idempotent."""
        if other.facts <= self.facts:
            return self
        return CeremonyRegistry(self.facts | other.facts)

    # ------------------------------------------------------------------ derived views

    @memoized_property
    def _by_kind(self) -> dict[type, list[CeremonyFact]]:
        grouped: dict[type, list[CeremonyFact]] = {kind: [] for kind in CEREMONY_FACT_TYPES}
        for fact in sorted(self.facts, key=_fact_order):
            grouped[type(fact)].append(fact)
        return grouped

    @memoized_property
    def _started(self) -> dict[CeremonyId, CeremonyStarted]:
        found: dict[CeremonyId, CeremonyStarted] = {}
        for fact in self._by_kind[CeremonyStarted]:
            assert isinstance(fact, CeremonyStarted)
            found[fact.ceremony_id] = fact
        return found

    def _of(self, kind: type, ceremony_id: CeremonyId) -> list[CeremonyFact]:
        key = "old" if kind is CeremonySuperseded else "ceremony_id"
        return [f for f in self._by_kind[kind] if getattr(f, key) == ceremony_id]

    def _explicit(self, ceremony_id: CeremonyId) -> CeremonyState | None:
        """The final state recorded by facts about this ceremony, if any."""
        started = self._started[ceremony_id]
        pending = self._pending(ceremony_id)
        commits = [
            f.commit
            for f in self._of(CeremonyCommitted, ceremony_id)
            if isinstance(f, CeremonyCommitted) and _binds(started, f.commit)
        ]
        if commits:
            winner = min(commits, key=lambda c: c.consensus_id)
            return Committed(
                winner.consensus_id,
                None if pending is None else pending.pending_epoch,
                None if pending is None else pending.key_commitment,
            )
        superseded = self._of(CeremonySuperseded, ceremony_id)
        if superseded:
            first = min(superseded, key=_fact_order)
            assert isinstance(first, CeremonySuperseded)
            return Superseded(first.new, first.reason)
        aborted = self._of(CeremonyAborted, ceremony_id)
        if aborted:
            first_abort = min(aborted, key=_fact_order)
            assert isinstance(first_abort, CeremonyAborted)
            return Aborted(first_abort.reason)
        return None

    def _pending(self, ceremony_id: CeremonyId) -> CeremonyPendingEpoch | None:
        started = self._started[ceremony_id]
        valid = [
            f
            for f in self._of(CeremonyPendingEpoch, ceremony_id)
            if isinstance(f, CeremonyPendingEpoch) and f.pending_epoch > started.current_epoch
        ]
        if not valid:
            return None
        first = min(valid, key=_fact_order)
        assert isinstance(first, CeremonyPendingEpoch)
        return first

    @memoized_property
    def _states(self) -> dict[CeremonyId, CeremonyState]:
        states: dict[CeremonyId, CeremonyState] = {}
        open_by_prestate: dict[Hash32, list[CeremonyId]] = {}
        committed_by_prestate: dict[Hash32, list[CeremonyId]] = {}
        for cid, started in self._started.items():
            explicit = self._explicit(cid)
            if explicit is None:
                open_by_prestate.setdefault(started.prestate_hash, []).append(cid)
            else:
                states[cid] = explicit
                if isinstance(explicit, Committed):
                    committed_by_prestate.setdefault(started.prestate_hash, []).append(cid)
        for prestate, ids in open_by_prestate.items():
            consumed = committed_by_prestate.get(prestate)
            winner = min(ids)
            for cid in ids:
                if consumed:
                    states[cid] = Superseded(min(consumed), SupersessionReason.PRESTATE_STALE)
                elif cid != winner:
                    states[cid] = Superseded(winner, SupersessionReason.PRECEDENCE)
                else:
                    states[cid] = self._progress(cid)
        return states

    def _progress(self, ceremony_id: CeremonyId) -> CeremonyState:
        started = self._started[ceremony_id]
        pending = self._pending(ceremony_id)
        if pending is None:
            return Preparing()
        required = frozenset(started.required)
        accepted: set[AuthorityId] = set()
        declined: set[AuthorityId] = set()
        for fact in self._of(CeremonyResponse, ceremony_id):
            assert isinstance(fact, CeremonyResponse)
            if fact.participant in required:
                (accepted if fact.accepted else declined).add(fact.participant)
        accepted -= declined  # a participant that said both is counted as declining
        if accepted == required:
            return Committing(pending.pending_epoch, pending.key_commitment)
        return PendingEpoch(
            pending.pending_epoch,
            pending.key_commitment,
            required,
            frozenset(accepted),
            frozenset(declined),
        )

    def ceremonies(self) -> tuple[CeremonyId, ...]:
        """Every started ceremony, sorted."""
        return tuple(sorted(self._started))

    def started(self, ceremony_id: CeremonyId) -> CeremonyStarted:
        fact = self._started.get(ceremony_id)
        if fact is None:
            raise UnknownCeremony(f"no ceremony {ceremony_id}")
        return fact

    def state(self, ceremony_id: CeremonyId) -> CeremonyState:
        """The ceremony's state; `UnknownCeremony` if it has not started here."""
        self.started(ceremony_id)
        return self._states[ceremony_id]

    def live(self, prestate_hash: Hash32) -> CeremonyId | None:
        """The live (not final) ceremony on a prestate, if any: at most one."""
        for cid, started in self._started.items():
            if started.prestate_hash == prestate_hash and not isinstance(self._states[cid], _FINAL):
                return cid
        return None

    def live_epoch(self, base_epoch: int) -> int:
        """The live epoch: `base_epoch` (the namespace's epoch before any ceremony here) or the
        highest pending epoch a ceremony *committed*. Aborted, superseded and unfinished
        ceremonies never move it."""
        epochs = [
            s.pending_epoch
            for s in self._states.values()
            if isinstance(s, Committed) and s.pending_epoch is not None
        ]
        return max([base_epoch, *epochs])

    def key_usable(self, key_commitment: Hash32) -> bool:
        """True only for key material of a committed ceremony: pending keys are inert."""
        return any(
            isinstance(s, Committed) and s.key_commitment == key_commitment
            for s in self._states.values()
        )

    def conflicts(self) -> tuple[CeremonySuperseded, ...]:
        """Supersessions the registry derived (precedence, stale prestate) that no fact
        records yet; record them so the outcome no longer depends on the winner's fate."""
        derived = []
        for cid in sorted(self._started):
            state = self._states[cid]
            if isinstance(state, Superseded) and not self._of(CeremonySuperseded, cid):
                derived.append(CeremonySuperseded(cid, state.by, state.reason))
        return tuple(derived)

    # ------------------------------------------------------------------ commands

    def _open(self, ceremony_id: CeremonyId, allowed: tuple[type, ...]) -> CeremonyState:
        state = self.state(ceremony_id)
        if not isinstance(state, allowed):
            raise CeremonyClosed(f"ceremony {ceremony_id} is {type(state).__name__}")
        return state

    def start(
        self,
        prestate_hash: Hash32,
        operation_hash: Hash32,
        nonce: int,
        current_epoch: int,
        required: Iterable[AuthorityId],
    ) -> tuple[CeremonyStarted, CeremonyRegistry]:
        """Start a ceremony. `CeremonyConflict` if one is live on the prestate, or if a
        ceremony already committed on it (the prestate is stale)."""
        participants = tuple(sorted(set(required)))
        fact = CeremonyStarted(
            hashing.ceremony_id(prestate_hash, operation_hash, nonce),
            prestate_hash,
            operation_hash,
            nonce,
            current_epoch,
            participants,
        )
        live = self.live(prestate_hash)
        if live is not None:
            raise CeremonyConflict(f"ceremony {live} is live on prestate {prestate_hash}")
        if fact.ceremony_id in self._started:
            raise CeremonyConflict(f"ceremony {fact.ceremony_id} already exists")
        for cid, started in self._started.items():
            if started.prestate_hash == prestate_hash and isinstance(self._states[cid], Committed):
                raise CeremonyConflict(f"ceremony {cid} already committed prestate {prestate_hash}")
        return fact, self.apply(fact)

    def enter_pending_epoch(
        self, ceremony_id: CeremonyId, pending_epoch: int, key_commitment: Hash32
    ) -> tuple[CeremonyPendingEpoch, CeremonyRegistry]:
        """Record that the new keys exist. Only from Preparing; the pending epoch must be
        after the ceremony's current epoch."""
        self._open(ceremony_id, (Preparing,))
        if type(key_commitment) is not Hash32:
            raise InvalidArgument("the key commitment is a Hash32")
        fact = CeremonyPendingEpoch(ceremony_id, pending_epoch, key_commitment)
        if pending_epoch <= self._started[ceremony_id].current_epoch:
            raise CeremonyError(f"pending epoch {pending_epoch} is not after the current one")
        return fact, self.apply(fact)

    def respond(
        self, ceremony_id: CeremonyId, participant: AuthorityId, accepted: bool
    ) -> tuple[CeremonyResponse, CeremonyRegistry]:
        """Record a required participant's response. Only in PendingEpoch, once each."""
        state = self._open(ceremony_id, (PendingEpoch,))
        assert isinstance(state, PendingEpoch)
        if participant not in state.required:
            raise CeremonyError(f"{participant} is not a participant of ceremony {ceremony_id}")
        if participant in state.received or participant in state.declined:
            raise CeremonyError(f"{participant} already responded to ceremony {ceremony_id}")
        if type(accepted) is not bool:
            raise InvalidArgument("accepted is a bool")
        fact = CeremonyResponse(ceremony_id, participant, accepted)
        return fact, self.apply(fact)

    def commit(
        self, ceremony_id: CeremonyId, commit: CommitFact
    ) -> tuple[CeremonyCommitted, CeremonyRegistry]:
        """Record the consensus decision. Only from Committing (every response in); the commit
        must decide this ceremony's operation on its prestate and verify (check the group key
        you trust with `commit.verify(key)` first, or let the journal validator do it)."""
        self._open(ceremony_id, (Committing,))
        if type(commit) is not CommitFact:
            raise InvalidCommitFact("expected a CommitFact")
        if not _binds(self._started[ceremony_id], commit):
            raise WrongInstance(f"commit {commit.consensus_id} is not for ceremony {ceremony_id}")
        commit.verify()
        fact = CeremonyCommitted(ceremony_id, commit)
        return fact, self.apply(fact)

    def abort(
        self, ceremony_id: CeremonyId, reason: AbortReason
    ) -> tuple[CeremonyAborted, CeremonyRegistry]:
        """Abandon a ceremony that has not finished; the old epoch stays live."""
        self._open(ceremony_id, (Preparing, PendingEpoch, Committing))
        if type(reason) is not AbortReason:
            raise InvalidArgument("expected an AbortReason")
        fact = CeremonyAborted(ceremony_id, reason)
        return fact, self.apply(fact)

    def supersede(
        self, old: CeremonyId, new: CeremonyId, reason: SupersessionReason
    ) -> tuple[CeremonySuperseded, CeremonyRegistry]:
        """Replace an unfinished ceremony by `new` (which may start afterwards, on the same
        prestate); the old epoch stays live."""
        self._open(old, (Preparing, PendingEpoch, Committing))
        if type(new) is not CeremonyId or new == old:
            raise InvalidArgument("a ceremony is superseded by another CeremonyId")
        if type(reason) is not SupersessionReason:
            raise InvalidArgument("expected a SupersessionReason")
        fact = CeremonySuperseded(old, new, reason)
        return fact, self.apply(fact)


def _fact_order(fact: CeremonyFact) -> tuple[str, bytes]:
    return (record_tag(type(fact))[0], encode(fact))
