"""The registry of fact types and the reducers that turn facts into views.

Every fact type declares its type id, schema version, payload record, which attestations it
accepts, which namespace kind it lives in, a validator and (optionally) a reducer. A journal
accepts only registered types. Reducers are pure and commutative: applying the same facts in any
order, in one batch or many, yields the same view, so incremental and full reduction agree and
replicas converge whatever order facts arrive in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

import attrs

from aura_core.encoding import record_tag
from aura_core.errors import UnknownFactType
from aura_core.ids import FactId
from aura_journal.fact import (
    Ed25519Attestation,
    Fact,
    JournalNamespace,
    NamespaceKind,
    ThresholdAttestation,
    Unattested,
)

__all__ = ["Reducer", "JournalState", "Validator", "FactType", "FactRegistry", "SIGNED"]

V = TypeVar("V")
P = TypeVar("P")


class Reducer(Protocol[V]):
    """Folds facts into a view.

    `apply(view, fact, payload)` returns the view with one more fact; it must be commutative
    over distinct facts (the journal never applies a fact twice), must not read clocks or
    randomness, and must not mutate `view`. `encode_view`/`decode_view` give a view's canonical
    bytes so snapshots can carry it.
    """

    @property
    def name(self) -> str: ...

    def initial(self) -> V: ...

    def apply(self, view: V, fact: Fact, payload: Any) -> V: ...

    def encode_view(self, view: V) -> bytes: ...

    def decode_view(self, data: bytes) -> V: ...


class JournalState(Protocol):
    """What a validator may read: the journal as it would be just before the fact is added."""

    @property
    def namespace(self) -> JournalNamespace: ...

    def view(self, reducer: Reducer[V]) -> V: ...

    def __contains__(self, fact_id: FactId) -> bool: ...


Validator = Callable[[JournalState, Fact, Any], None]
"""Raises a `FactRejected` subclass if the fact may not join the journal in this state."""

SIGNED: frozenset[type[Any]] = frozenset({Ed25519Attestation, ThresholdAttestation})


def _accept(_: JournalState, __: Fact, ___: Any) -> None:
    return None


@attrs.frozen
class FactType(Generic[P]):
    """The contract of one (type id, schema version)."""

    payload_type: type[P]
    namespace_kind: NamespaceKind | None
    """Which kind of journal holds these facts; None for both."""
    attestations: frozenset[type[Any]] = SIGNED
    """Accepted attestation classes; include `Unattested` only for local-only facts."""
    validate: Validator = _accept
    reducer: Reducer[Any] | None = None

    @property
    def type_id(self) -> str:
        return record_tag(self.payload_type)[0]

    @property
    def schema_version(self) -> int:
        return record_tag(self.payload_type)[1]

    @property
    def local_only(self) -> bool:
        return Unattested in self.attestations


@attrs.define
class FactRegistry:
    """Maps (type id, schema version) to fact types. Type ids are the payload records' tags."""

    _types: dict[tuple[str, int], FactType[Any]] = attrs.field(factory=dict)

    def register(self, fact_type: FactType[Any]) -> FactRegistry:
        """Add a fact type; registering the same (type id, version) twice is an error."""
        key = (fact_type.type_id, fact_type.schema_version)
        if key in self._types:
            raise ValueError(f"fact type {key} is already registered")
        self._types[key] = fact_type
        return self

    def lookup(self, type_id: str, schema_version: int) -> FactType[Any]:
        """The fact type for a body's (type id, version); `UnknownFactType` if none."""
        fact_type = self._types.get((type_id, schema_version))
        if fact_type is None:
            raise UnknownFactType(f"no fact type {type_id!r} version {schema_version}")
        return fact_type

    def reducers(self) -> tuple[Reducer[Any], ...]:
        """Every distinct reducer, sorted by name."""
        found: dict[str, Reducer[Any]] = {}
        for fact_type in self._types.values():
            if fact_type.reducer is not None:
                existing = found.setdefault(fact_type.reducer.name, fact_type.reducer)
                if existing is not fact_type.reducer:
                    raise ValueError(f"two reducers are named {fact_type.reducer.name!r}")
        return tuple(found[name] for name in sorted(found))

    def types_for(self, reducer: Reducer[Any]) -> Iterable[FactType[Any]]:
        return [t for t in self._types.values() if t.reducer is reducer]
