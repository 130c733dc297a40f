"""A journal: one namespace's grow-only set of validated facts, with cached views.

`insert` and `insert_batch` validate before they change anything and are all-or-nothing: a
rejected fact raises a `FactRejected` subclass and leaves the journal exactly as it was.
Validation includes the fact type's writer rule (who may write it), which depends on where the
facts come from (`Origin`): a device's own local-only facts are accepted only from itself.
`join` is set union (commutative, associative, idempotent, with the empty journal as identity)
and is an error across namespaces. Views are computed by the registry's reducers: lazily in full
(sorted iteration), then kept up to date incrementally as facts arrive; both give the same
result because reducers are order-independent.

Snapshots (see `aura_journal.snapshot`) let a journal `prune` the facts they cover without
changing any view.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from aura_core.crypto.ed25519 import VerifyingKey, start_verification
from aura_core.encoding import decode
from aura_core.errors import (
    EncodingError,
    FactRejected,
    InvalidArgument,
    InvalidAttestation,
    LocalOnlyFact,
    MissingParent,
    NamespaceMismatch,
    PayloadTooLarge,
    SnapshotMismatch,
    WrongNamespace,
)
from aura_core.ids import FactId
from aura_core.time import OrderTime
from aura_journal.fact import (
    MAX_PAYLOAD,
    Ed25519Attestation,
    Fact,
    JournalNamespace,
    ThresholdAttestation,
    Unattested,
    signing_message,
)
from aura_journal.registry import FactRegistry, FactType, Origin, Reducer
from aura_journal.snapshot import Snapshot, covered_digest
from aura_journal.writers import SNAPSHOT_WRITER

__all__ = ["Journal", "StagedFacts", "SNAPSHOT_TYPE"]

V = TypeVar("V")

SNAPSHOT_TYPE = ("journal.snapshot", 1)
"""Snapshots are built into every journal; they need no registration."""


class Journal:
    """The facts of one namespace and the views reduced from them."""

    def __init__(self, namespace: JournalNamespace, registry: FactRegistry) -> None:
        if type(namespace) is not JournalNamespace:
            raise InvalidArgument("a journal needs a JournalNamespace")
        self._namespace = namespace
        self._registry = registry
        self._facts: dict[FactId, Fact] = {}
        self._payloads: dict[FactId, Any] = {}
        self._members: dict[str, set[FactId]] = {}
        """Reducer name → ids of retained facts it consumes."""
        self._by_type: dict[str, set[FactId]] = {}
        """Type id → ids of retained facts of that type."""
        self._views: dict[str, Any] = {}
        self._pruned: set[FactId] = set()
        self._covered: dict[FactId, frozenset[FactId]] = {}
        """Snapshot fact id → the ids it covers (computed when it was validated)."""
        self._latest: FactId | None = None
        self._version = 0
        """Bumped by every change, so a stale `StagedFacts` can refuse to commit."""

    # ---------------------------------------------------------------- reading

    @property
    def namespace(self) -> JournalNamespace:
        return self._namespace

    @property
    def registry(self) -> FactRegistry:
        return self._registry

    def __len__(self) -> int:
        """Number of facts the journal holds logically (pruned ones included)."""
        return len(self._facts) + len(self._pruned)

    def __contains__(self, item: object) -> bool:
        fact_id = item.id if isinstance(item, Fact) else item
        return fact_id in self._facts or fact_id in self._pruned

    def __iter__(self) -> Iterator[Fact]:
        """Retained facts in their total order (order token, then id)."""
        return iter(sorted(self._facts.values(), key=Fact.sort_key))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Journal):
            return NotImplemented
        return self._namespace == other._namespace and self.fact_ids() == other.fact_ids()

    __hash__ = None  # type: ignore[assignment]  # mutable container

    def __repr__(self) -> str:
        return f"Journal({self._namespace}, {len(self)} facts)"

    def fact_ids(self) -> frozenset[FactId]:
        """Ids of every fact held logically, retained or pruned."""
        return frozenset(self._facts.keys() | self._pruned)

    def of_type(self, type_id: str) -> list[Fact]:
        """Retained facts of one type, in their total order (an index, not a scan)."""
        ids = self._by_type.get(type_id, ())
        return sorted((self._facts[fid] for fid in ids), key=Fact.sort_key)

    def get(self, fact_id: FactId) -> Fact | None:
        """A retained fact by id (pruned facts are gone)."""
        return self._facts.get(fact_id)

    def payload(self, fact_id: FactId) -> Any:
        """The decoded payload of a retained fact."""
        return self._payloads[fact_id]

    @property
    def snapshot(self) -> Snapshot | None:
        """The latest validated snapshot, if any."""
        if self._latest is None:
            return None
        snapshot: Snapshot = self._payloads[self._latest]
        return snapshot

    def view(self, reducer: Reducer[V]) -> V:
        """The reducer's view of every fact in the journal (cached)."""
        cached = self._views.get(reducer.name)
        if cached is None:
            cached = self._full_view(reducer)
            self._views[reducer.name] = cached
        view: V = cached
        return view

    def full_view(self, reducer: Reducer[V]) -> V:
        """Recompute the view from scratch, ignoring the cache (for checks and benchmarks)."""
        return self._full_view(reducer)

    # ---------------------------------------------------------------- writing

    def insert(self, fact: Fact, *, origin: Origin = Origin.PEER) -> bool:
        """Validate and add one fact. Returns False if it was already present.

        Raises a `FactRejected` subclass (and changes nothing) if the fact is invalid here.
        """
        return self.insert_batch([fact], origin=origin) == 1

    def insert_batch(self, facts: Iterable[Fact], *, origin: Origin = Origin.PEER) -> int:
        """Validate and add facts, all or none; returns how many were new.

        Facts may come in any order: one that is valid only after a later one in the batch (its
        parent, or the change that brought its signer's key) is retried after it. Any rejection
        raises and leaves the journal unchanged. `origin` says where
        they come from (a peer unless said otherwise: the strict default).
        """
        return self.stage(facts, origin=origin).commit()

    def stage(
        self,
        facts: Iterable[Fact],
        *,
        payloads: Mapping[FactId, Any] | None = None,
        origin: Origin = Origin.PEER,
    ) -> StagedFacts:
        """Validate facts against the journal without changing it.

        Returns the new facts and a `commit` that adds them. Signatures are still being checked
        on native threads when this returns: call `require_valid()` before persisting the facts
        (`commit` calls it too). Commit before anything else changes the journal (callers hold a
        lock across persist and commit). Raises a `FactRejected` subclass if any fact is invalid.

        `payloads` (fact id → decoded payload) is for facts the caller has just built itself:
        their payloads are taken as given instead of decoded again. Never pass payloads of
        facts that came from elsewhere. `origin` decides whether local-only facts are accepted:
        only `Origin.LOCAL` (this device, or its own storage) may offer them.
        """
        if type(origin) is not Origin:
            raise InvalidArgument("origin is an Origin")
        staged = _Staged(self, payloads or {}, origin)
        incoming = [f for f in facts if staged.note_incoming(f)]
        # A snapshot is checked against the facts it covers: validate it after the rest of
        # the batch, whatever order the batch came in.
        pending = [f for f in incoming if not _is_snapshot(f)] + [
            f for f in incoming if _is_snapshot(f)
        ]
        signatures = _SignatureChecks(pending)  # native threads verify while Python validates
        # Retried while any goes in: whether a fact is valid can depend on a later one in the
        # batch (its parent, or the tree change that brought the group key that signed it),
        # and a batch's order is the sender's. When none goes in, the first real rejection is
        # raised, or else the first missing parent (retry after sync).
        while pending:
            deferred: list[Fact] = []
            errors: list[FactRejected] = []
            for fact in pending:
                try:
                    staged.add(fact)
                except FactRejected as exc:
                    deferred.append(fact)
                    errors.append(exc)
            if len(deferred) == len(pending):
                raise next((e for e in errors if not isinstance(e, MissingParent)), errors[0])
            pending = deferred
        return StagedFacts(staged, signatures)

    def ingest(
        self, encoded: Iterable[bytes], *, batch: int = 500, origin: Origin = Origin.PEER
    ) -> int:
        """Decode, validate and add facts received as bytes; returns how many were new.

        Each batch of `batch` facts is all-or-nothing, and batches commit in order: if one is
        rejected it raises and the batches before it stay. Decoding the next batch overlaps
        with checking the signatures of the current one, which is what makes bulk sync fast.
        """
        if type(batch) is not int or batch < 1:
            raise InvalidArgument("batch is a positive int")
        total = 0
        pending: StagedFacts | None = None
        for chunk in _chunks(encoded, batch):
            facts = [Fact.from_bytes(data) for data in chunk]
            if pending is not None:
                total += pending.commit()
            pending = self.stage(facts, origin=origin)
        if pending is not None:
            total += pending.commit()
        return total

    def snapshot_payload(self, cutoff: OrderTime, sequence: int) -> Snapshot:
        """The snapshot this journal would accept now for `cutoff` (to sign and insert)."""
        covered, states = self._snapshot_contents(cutoff, self._facts, self._payloads)
        count, digest = covered_digest(covered)
        return Snapshot(cutoff, sequence, count, digest, states)

    def prune(self) -> int:
        """Drop the facts covered by the latest snapshot; views do not change."""
        if self._latest is None:
            return 0
        dropped = [fid for fid in self._covered[self._latest] if fid in self._facts]
        for fid in dropped:
            self._retire(fid)
            self._pruned.add(fid)
        self._version += 1
        return len(dropped)

    def copy(self) -> Journal:
        """An independent journal with the same facts and cached views."""
        twin = Journal(self._namespace, self._registry)
        twin._facts = dict(self._facts)
        twin._payloads = dict(self._payloads)
        twin._members = {name: set(ids) for name, ids in self._members.items()}
        twin._by_type = {name: set(ids) for name, ids in self._by_type.items()}
        twin._views = dict(self._views)
        twin._pruned = set(self._pruned)
        twin._covered = dict(self._covered)
        twin._latest = self._latest
        return twin

    def join(self, other: Journal) -> Journal:
        """A new journal holding the union of both fact sets.

        Every fact of either journal passed validation there, writer rule included, and every
        rule is monotone (what it accepts stays acceptable as a journal grows), so the union
        needs no re-validation except for what only its own device may hold: local-only facts
        (and unsigned snapshots) that only one side has are that side's device's own, and
        joining them in is refused with `LocalOnlyFact`. Raises `NamespaceMismatch` across
        namespaces, and `SnapshotMismatch` if a pruned fact would not be covered by the
        result's latest snapshot (its contribution would be lost).
        """
        if not isinstance(other, Journal) or other._namespace != self._namespace:
            raise NamespaceMismatch("only journals of the same namespace can be joined")
        if other._registry is not self._registry:
            raise InvalidArgument("joined journals must share one fact registry")
        self._refuse_foreign_local(other)
        other._refuse_foreign_local(self)
        big, small = (self, other) if len(self._facts) >= len(other._facts) else (other, self)
        result = big.copy()
        result._absorb(small)
        return result

    # ---------------------------------------------------------------- internals

    def _refuse_foreign_local(self, other: Journal) -> None:
        """`LocalOnlyFact` if `other` holds a device-local fact this journal does not."""
        local = {t.type_id for t in self._registry.types() if t.local_only}
        local.add(SNAPSHOT_TYPE[0])
        for type_id in sorted(local & other._by_type.keys()):
            for fid in sorted(other._by_type[type_id]):
                if fid in self._facts or fid in self._pruned:
                    continue
                if type(other._facts[fid].attestation) is Unattested:
                    raise LocalOnlyFact(
                        f"fact {fid}: {type_id} is local to the device whose journal holds it"
                    )

    def _retire(self, fact_id: FactId) -> None:
        fact = self._facts.pop(fact_id)
        self._payloads.pop(fact_id)
        self._by_type[fact.body.type_id].discard(fact_id)
        fact_type = self._fact_type(fact)
        if fact_type is not None and fact_type.reducer is not None:
            self._members[fact_type.reducer.name].discard(fact_id)

    def _fact_type(self, fact: Fact) -> FactType[Any] | None:
        if (fact.body.type_id, fact.body.schema_version) == SNAPSHOT_TYPE:
            return None
        return self._registry.lookup(fact.body.type_id, fact.body.schema_version)

    def _reducer_of(self, fact: Fact) -> Reducer[Any] | None:
        fact_type = self._fact_type(fact)
        return None if fact_type is None else fact_type.reducer

    def _latest_covered(self) -> frozenset[FactId]:
        return frozenset() if self._latest is None else self._covered[self._latest]

    def _base_view(self, reducer: Reducer[V]) -> V:
        snapshot = self.snapshot
        if snapshot is None or reducer.name not in snapshot.states:
            return reducer.initial()
        return reducer.decode_view(snapshot.states[reducer.name])

    def _full_view(self, reducer: Reducer[V]) -> V:
        covered = self._latest_covered()
        view = self._base_view(reducer)
        members = [
            self._facts[fid] for fid in self._members.get(reducer.name, ()) if fid not in covered
        ]
        for fact in sorted(members, key=Fact.sort_key):
            view = reducer.apply(view, fact, self._payloads[fact.id])
        return view

    def _snapshot_contents(
        self, cutoff: OrderTime, facts: dict[FactId, Fact], payloads: dict[FactId, Any]
    ) -> tuple[frozenset[FactId], dict[str, bytes]]:
        previous = self._latest_covered()
        fresh = [
            fact
            for fid, fact in facts.items()
            if fid not in previous
            and fact.body.order.token <= cutoff.token
            and (fact.body.type_id, fact.body.schema_version) != SNAPSHOT_TYPE
        ]
        fresh.sort(key=Fact.sort_key)
        states: dict[str, bytes] = {}
        for reducer in self._registry.reducers():
            view = self._base_view(reducer)
            for fact in fresh:
                fact_type = self._registry.lookup(fact.body.type_id, fact.body.schema_version)
                if fact_type.reducer is reducer:
                    view = reducer.apply(view, fact, payloads[fact.id])
            states[reducer.name] = reducer.encode_view(view)
        return previous | {fact.id for fact in fresh}, states

    def _absorb(self, other: Journal) -> None:
        self._version += 1
        pruned = self._pruned | other._pruned
        candidates = [
            self if self._latest is not None else None,
            other if other._latest is not None else None,
        ]
        latest_owner = max(
            (j for j in candidates if j is not None),
            key=lambda j: (j.snapshot.sequence, j._latest.hash.digest),  # type: ignore[union-attr]
            default=None,
        )
        covered = latest_owner._latest_covered() if latest_owner is not None else frozenset()
        if not pruned <= covered:
            raise SnapshotMismatch("a pruned fact is not covered by the latest snapshot")
        reuse_views = other._pruned <= (self._facts.keys() | self._pruned)
        new_ids = [fid for fid in other._facts if fid not in self._facts and fid not in pruned]
        # Each new fact's reducer is looked up once: the views below are brought up to date
        # reducer by reducer over just that reducer's facts.
        fresh_by_reducer: dict[str, list[Fact]] = {}
        for fid in new_ids:
            fact = other._facts[fid]
            self._facts[fid] = fact
            self._payloads[fid] = other._payloads[fid]
            self._by_type.setdefault(fact.body.type_id, set()).add(fid)
            fact_type = self._fact_type(fact)
            if fact_type is not None and fact_type.reducer is not None:
                name = fact_type.reducer.name
                self._members.setdefault(name, set()).add(fid)
                fresh_by_reducer.setdefault(name, []).append(fact)
        for fid in pruned & self._facts.keys():
            self._retire(fid)
        self._pruned = pruned
        self._covered.update(other._covered)
        if latest_owner is not None:
            self._latest = latest_owner._latest
        if not reuse_views:
            self._views.clear()
            return
        for reducer in self._registry.reducers():
            view = self._views.get(reducer.name)
            fresh = fresh_by_reducer.get(reducer.name)
            if view is None or not fresh:
                continue
            for fact in sorted(fresh, key=Fact.sort_key):
                view = reducer.apply(view, fact, self._payloads[fact.id])
            self._views[reducer.name] = view


class StagedFacts:
    """Facts validated against a journal, not yet added to it."""

    def __init__(self, staged: _Staged, signatures: _SignatureChecks) -> None:
        self._staged = staged
        self._signatures = signatures
        self._committed = False

    def require_valid(self) -> None:
        """Wait for the signature checks; raise `InvalidAttestation` if any failed."""
        self._signatures.require_valid()

    @property
    def facts(self) -> list[Fact]:
        """The new facts, in the order they were validated."""
        return list(self._staged.added.values())

    def commit(self) -> int:
        """Add the facts to the journal; returns how many. Can be called once.

        Raises `InvalidArgument` if the journal changed since the facts were staged (they were
        validated against a state that no longer exists).
        """
        if self._committed:
            raise InvalidArgument("staged facts were already committed")
        if self._staged.version != self._staged.journal._version:
            raise InvalidArgument("the journal changed after these facts were staged")
        self.require_valid()
        self._committed = True
        self._staged.commit()
        return len(self._staged.added)


class _Staged:
    """The journal plus a batch being validated; commits all of it or is thrown away."""

    def __init__(self, journal: Journal, trusted: Mapping[FactId, Any], origin: Origin) -> None:
        self.journal = journal
        self.trusted = trusted
        self.origin = origin
        self.added: dict[FactId, Fact] = {}
        self.payloads: dict[FactId, Any] = {}
        self.views: dict[str, Any] = {}
        self.snapshot: FactId | None = journal._latest
        self.covered: dict[FactId, frozenset[FactId]] = {}
        self.seen: set[FactId] = set()
        self.version = journal._version

    @property
    def namespace(self) -> JournalNamespace:
        return self.journal.namespace

    def __contains__(self, fact_id: object) -> bool:
        return fact_id in self.added or fact_id in self.journal

    def note_incoming(self, fact: object) -> bool:
        """Whether `fact` is new (not in the journal and not earlier in the batch)."""
        if not isinstance(fact, Fact):
            raise FactRejected(f"expected a Fact, got {type(fact).__name__}")
        if fact.id in self.journal or fact.id in self.seen:
            return False
        self.seen.add(fact.id)
        return True

    def view(self, reducer: Reducer[V]) -> V:
        staged = self.views.get(reducer.name)
        if staged is None:
            staged = self.journal.view(reducer)
            for fid, fact in self.added.items():
                if self.journal._reducer_of(fact) is reducer:
                    staged = reducer.apply(staged, fact, self.payloads[fid])
            self.views[reducer.name] = staged
        view: V = staged
        return view

    def add(self, fact: Fact) -> None:
        body = fact.body
        if body.namespace != self.journal.namespace:
            raise WrongNamespace(f"fact {fact.id} belongs to {body.namespace}")
        if len(body.payload) > MAX_PAYLOAD:
            raise PayloadTooLarge(f"fact {fact.id}: payload of {len(body.payload)} bytes")
        if (body.type_id, body.schema_version) == SNAPSHOT_TYPE:
            self._add_snapshot(fact)
            return
        fact_type = self.journal.registry.lookup(body.type_id, body.schema_version)
        kind = fact_type.namespace_kind
        if kind is not None and kind is not body.namespace.kind:
            raise WrongNamespace(f"{body.type_id} facts live in {kind.value} journals")
        payload = self.trusted.get(fact.id)
        if payload is None or type(payload) is not fact_type.payload_type:
            payload = _decode_payload(fact, fact_type.payload_type)
        fact_type.writer.check(self, fact, payload, self.origin)
        fact_type.validate(self, fact, payload)
        reducer = fact_type.reducer
        if reducer is not None and (
            reducer.name in self.views or reducer.name in self.journal._views
        ):
            self.views[reducer.name] = reducer.apply(self.view(reducer), fact, payload)
        self.added[fact.id] = fact
        self.payloads[fact.id] = payload

    def _add_snapshot(self, fact: Fact) -> None:
        snapshot = _decode_payload(fact, Snapshot)
        SNAPSHOT_WRITER.check(self, fact, snapshot, self.origin)
        journal = self.journal
        previous = self.payloads[self.snapshot] if self.snapshot in self.added else journal.snapshot
        expected = 1 if previous is None else previous.sequence + 1
        if snapshot.sequence > expected:
            raise MissingParent(
                f"snapshot {fact.id}: sequence {snapshot.sequence} before {expected} is known"
            )
        if snapshot.sequence != expected:
            raise SnapshotMismatch(
                f"snapshot {fact.id}: sequence {snapshot.sequence}, the next one is {expected}"
            )
        if previous is not None and snapshot.cutoff.token < previous.cutoff.token:
            raise SnapshotMismatch("a snapshot's cutoff cannot move back")
        facts = {**journal._facts, **self.added}
        payloads = {**journal._payloads, **self.payloads}
        covered, states = journal._snapshot_contents(snapshot.cutoff, facts, payloads)
        if covered_digest(covered) != (snapshot.fact_count, snapshot.facts_digest):
            raise SnapshotMismatch("the snapshot covers a different set of facts")
        if states != snapshot.states:
            raise SnapshotMismatch("the snapshot's views differ from the covered facts' views")
        self.added[fact.id] = fact
        self.payloads[fact.id] = snapshot
        self.covered[fact.id] = covered
        self.snapshot = fact.id

    def commit(self) -> None:
        journal = self.journal
        for fid, fact in self.added.items():
            journal._facts[fid] = fact
            journal._payloads[fid] = self.payloads[fid]
            journal._by_type.setdefault(fact.body.type_id, set()).add(fid)
            fact_type = journal._fact_type(fact)
            if fact_type is not None and fact_type.reducer is not None:
                journal._members.setdefault(fact_type.reducer.name, set()).add(fid)
        journal._views.update(self.views)
        journal._covered.update(self.covered)
        journal._latest = self.snapshot
        journal._version += 1


def _is_snapshot(fact: Fact) -> bool:
    return (fact.body.type_id, fact.body.schema_version) == SNAPSHOT_TYPE


def _chunks(items: Iterable[bytes], size: int) -> Iterator[tuple[bytes, ...]]:
    iterator = iter(items)
    while chunk := tuple(itertools.islice(iterator, size)):
        yield chunk


def _decode_payload(fact: Fact, payload_type: type[V]) -> V:
    try:
        return decode(fact.body.payload, payload_type)
    except EncodingError as exc:
        raise FactRejected(
            f"fact {fact.id}: payload is not a valid {payload_type.__name__}: {exc}"
        ) from None


class _SignatureChecks:
    """Every signed fact's signature, checked by one native batch on background threads."""

    def __init__(self, facts: Sequence[Fact]) -> None:
        self._signed: list[Fact] = []
        items: list[tuple[VerifyingKey, bytes, bytes]] = []
        for fact in facts:
            attestation = fact.attestation
            if isinstance(attestation, Ed25519Attestation):
                key = attestation.signer
            elif isinstance(attestation, ThresholdAttestation):
                key = attestation.group_key
            else:
                continue
            self._signed.append(fact)
            items.append((key, signing_message(fact.body), attestation.signature))
        self._job = start_verification(items)

    def require_valid(self) -> None:
        """Raise `InvalidAttestation` naming the first fact whose signature fails."""
        for fact, ok in zip(self._signed, self._job.results(), strict=True):
            if not ok:
                raise InvalidAttestation(f"fact {fact.id}: signature does not verify")
