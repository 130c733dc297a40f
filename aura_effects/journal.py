"""Journals persisted through a `StorageEffects`.

Facts are stored under `journal/<namespace>/<fact id>`; a namespace's journal is loaded (and
every fact re-validated) the first time it is used. Changes go through a transaction that holds
the namespace's lock across stage → storage batch → commit, so a fact is in memory only after
its write is durable, and concurrent writers cannot commit views validated against a stale
state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio

from aura_core.buggify import buggify
from aura_core.effects import Put, StorageEffects, StorageOp
from aura_core.errors import EncodingError, FactRejected, StorageError
from aura_core.ids import FactId
from aura_journal.fact import Fact, JournalNamespace
from aura_journal.journal import Journal, StagedFacts
from aura_journal.registry import FactRegistry

__all__ = ["JournalHandler", "fact_key"]


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
        self, facts: Sequence[Fact], *, payloads: Mapping[FactId, object] | None = None
    ) -> StagedFacts:
        return self._journal.stage(facts, payloads=payloads)

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


class JournalHandler:
    """`JournalEffects` for one device."""

    def __init__(self, storage: StorageEffects, registry: FactRegistry) -> None:
        self._storage = storage
        self._registry = registry
        self._journals: dict[JournalNamespace, Journal] = {}
        self._locks: dict[JournalNamespace, anyio.Lock] = {}

    @property
    def registry(self) -> FactRegistry:
        return self._registry

    def _lock(self, namespace: JournalNamespace) -> anyio.Lock:
        lock = self._locks.get(namespace)
        if lock is None:
            lock = self._locks[namespace] = anyio.Lock()
        return lock

    async def _load(self, namespace: JournalNamespace) -> Journal:
        try:
            return await self._load_checked(namespace)
        except (EncodingError, FactRejected) as exc:
            raise StorageError(f"stored journal {namespace} is corrupt: {exc.message}") from None

    async def _load_checked(self, namespace: JournalNamespace) -> Journal:
        journal = self._journals.get(namespace)
        if journal is None:
            journal = Journal(namespace, self._registry)
            facts = []
            for key in await self._storage.list_keys(_prefix(namespace)):
                data = await self._storage.get(key)
                if data is None:
                    raise StorageError(f"fact {key} vanished while loading")
                facts.append(Fact.from_bytes(data))
            journal.insert_batch(facts)
            self._journals[namespace] = journal
        return journal

    async def journal(self, namespace: JournalNamespace) -> Journal:
        async with self._lock(namespace):
            return await self._load(namespace)

    def transaction(self, namespace: JournalNamespace) -> _Locked:
        return _Locked(self, namespace)

    async def merge(self, namespace: JournalNamespace, facts: Sequence[Fact]) -> int:
        async with self.transaction(namespace) as tx:
            staged = tx.stage(facts)
            if not staged.facts:
                return 0
            staged.require_valid()  # never persist a fact whose signature failed
            if buggify("journal.merge.storage_error"):
                raise StorageError("injected storage failure (buggify)")
            await self._storage.batch(tx.storage_ops(staged))
            tx.commit(staged)
            return len(staged.facts)
