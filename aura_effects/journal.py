"""Journals persisted through a `StorageEffects`.

Facts are stored under `journal/<namespace>/<fact id>`; a namespace's journal is loaded (and
every fact re-validated, writer rules included) the first time it is used. An entry that does
not load — undecodable bytes, a key that is not its fact's id in its namespace, a fact that
fails validation — is left out, traced (`journal.load.rejected`) and listed by `rejected()`;
the rest of the journal loads. Changes go through a transaction that holds the namespace's lock
across stage → storage batch → commit, so a fact is in memory only after its write is durable,
and concurrent writers cannot commit views validated against a stale state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
import attrs

from aura_core.buggify import buggify
from aura_core.effects import Put, StorageEffects, StorageOp, TraceEffects
from aura_core.errors import AuraError, EncodingError, FactRejected, StorageError
from aura_core.ids import FactId
from aura_journal.fact import Fact, JournalNamespace
from aura_journal.journal import Journal, StagedFacts
from aura_journal.registry import FactRegistry, Origin

__all__ = ["JournalHandler", "LoadRejection", "fact_key"]


_PREFIXES: dict[JournalNamespace, str] = {}


def _prefix(namespace: JournalNamespace) -> str:
    prefix = _PREFIXES.get(namespace)
    if prefix is None:
        prefix = _PREFIXES[namespace] = f"journal/{namespace}/"
    return prefix


def fact_key(namespace: JournalNamespace, fact: Fact) -> str:
    """The storage key of a fact."""
    return _prefix(namespace) + fact.id.hash.hex()


class _Transaction:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    @property
    def journal(self) -> Journal:
        return self._journal

    def stage(
        self,
        facts: Sequence[Fact],
        *,
        payloads: Mapping[FactId, object] | None = None,
        origin: Origin = Origin.PEER,
    ) -> StagedFacts:
        return self._journal.stage(facts, payloads=payloads, origin=origin)

    def storage_ops(self, staged: StagedFacts) -> list[StorageOp]:
        namespace = self._journal.namespace
        return [Put(fact_key(namespace, fact), fact.encoded) for fact in staged.facts]

    def commit(self, staged: StagedFacts) -> None:
        staged.commit()


class _Locked:
    """Holds a namespace's lock for one transaction (a class, not a generator: it is entered
    on every guarded send)."""

    __slots__ = ("_handler", "_lock", "_namespace")

    def __init__(self, handler: JournalHandler, namespace: JournalNamespace) -> None:
        self._handler = handler
        self._namespace = namespace
        self._lock = handler._lock(namespace)

    async def __aenter__(self) -> _Transaction:
        lock = self._lock
        try:
            lock.acquire_nowait()  # uncontended: no trip through the event loop
        except anyio.WouldBlock:
            await lock.acquire()
        try:
            handler, namespace = self._handler, self._namespace
            journal = handler._journals.get(namespace) or await handler._load(namespace)
        except BaseException:
            lock.release()
            raise
        return _Transaction(journal)

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()


@attrs.frozen
class LoadRejection:
    """A stored entry that was not loaded, and why (the entry stays in storage untouched)."""

    key: str
    error: AuraError


class JournalHandler:
    """`JournalEffects` for one device."""

    def __init__(
        self, storage: StorageEffects, registry: FactRegistry, trace: TraceEffects | None = None
    ) -> None:
        self._storage = storage
        self._registry = registry
        self._trace = trace
        self._journals: dict[JournalNamespace, Journal] = {}
        self._locks: dict[JournalNamespace, anyio.Lock] = {}
        self._rejected: dict[JournalNamespace, tuple[LoadRejection, ...]] = {}

    @property
    def registry(self) -> FactRegistry:
        return self._registry

    def _lock(self, namespace: JournalNamespace) -> anyio.Lock:
        lock = self._locks.get(namespace)
        if lock is None:
            lock = self._locks[namespace] = anyio.Lock()
        return lock

    def rejected(self, namespace: JournalNamespace) -> tuple[LoadRejection, ...]:
        """The stored entries of `namespace` that did not load (empty before it is loaded)."""
        return self._rejected.get(namespace, ())

    async def _load(self, namespace: JournalNamespace) -> Journal:
        journal = self._journals.get(namespace)
        if journal is not None:
            return journal
        journal = Journal(namespace, self._registry)
        prefix = _prefix(namespace)
        rejected: list[LoadRejection] = []
        facts: dict[str, Fact] = {}
        for key, data in await self._storage.scan(prefix):
            try:
                fact = Fact.from_bytes(data)
            except EncodingError as exc:
                rejected.append(LoadRejection(key, exc))
                continue
            if fact.namespace != namespace or fact_key(namespace, fact) != key:
                rejected.append(
                    LoadRejection(
                        key, StorageError(f"{key} holds fact {fact.id} of {fact.namespace}")
                    )
                )
                continue
            facts[key] = fact
        try:  # the common case: everything loads in one validated batch
            journal.insert_batch(facts.values(), origin=Origin.LOCAL)
        except FactRejected:
            rejected += _load_one_by_one(journal, facts)
        for rejection in rejected:
            self._report(namespace, rejection)
        self._rejected[namespace] = tuple(rejected)
        self._journals[namespace] = journal
        return journal

    def _report(self, namespace: JournalNamespace, rejection: LoadRejection) -> None:
        if self._trace is not None:
            self._trace.event(
                "journal.load.rejected",
                namespace=str(namespace),
                key=rejection.key,
                error=rejection.error.code,
                detail=rejection.error.message,
            )

    async def journal(self, namespace: JournalNamespace) -> Journal:
        async with self._lock(namespace):
            return await self._load(namespace)

    def transaction(self, namespace: JournalNamespace) -> _Locked:
        return _Locked(self, namespace)

    async def merge(
        self, namespace: JournalNamespace, facts: Sequence[Fact], *, origin: Origin = Origin.PEER
    ) -> int:
        async with self.transaction(namespace) as tx:
            staged = tx.stage(facts, origin=origin)
            if not staged.facts:
                return 0
            staged.require_valid()  # never persist a fact whose signature failed
            if buggify("journal.merge.storage_error"):
                raise StorageError("injected storage failure (buggify)")
            await self._storage.batch(tx.storage_ops(staged))
            tx.commit(staged)
            return len(staged.facts)


def _load_one_by_one(journal: Journal, facts: Mapping[str, Fact]) -> list[LoadRejection]:
    """Insert stored facts one at a time, again while any went in, leaving out (and returning)
    those that never go in. A rejected fact is retried too, not only one missing its parent:
    storage keys are not the order facts were accepted in, and whether a fact is valid can
    depend on another (a commit signed by the group key a later tree change brought)."""
    snapshot = "journal.snapshot"  # checked against what it covers: after everything else
    pending = dict(sorted(facts.items(), key=lambda kv: (kv[1].type_id == snapshot, kv[0])))
    errors: dict[str, AuraError] = {}
    progress = True
    while pending and progress:
        progress = False
        errors = {}
        for key, fact in list(pending.items()):
            try:
                journal.insert(fact, origin=Origin.LOCAL)
            except FactRejected as exc:
                errors[key] = exc
                continue
            del pending[key]
            progress = True
    return [LoadRejection(key, errors[key]) for key in sorted(pending)]
