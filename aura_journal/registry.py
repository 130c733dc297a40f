"""The registry of fact types and the reducers that turn facts into views.

Every fact type declares its type id, schema version, payload record, which namespace kind it
lives in, who may write it (a `WriterRule`), a validator and (optionally) a reducer. A journal
accepts only registered types, and a fact only from a writer its type allows: well-formed and
signed is not enough, the question is always *who* signed. Reducers are pure and commutative:
applying the same facts in any order, in one batch or many, yields the same view, so incremental
and full reduction agree and replicas converge whatever order facts arrive in.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

import attrs

from aura_core.encoding import record_tag
from aura_core.errors import InvalidArgument, LocalOnlyFact, UnknownFactType
from aura_core.ids import FactId
from aura_journal.fact import Fact, JournalNamespace, NamespaceKind, Unattested

__all__ = [
    "Reducer",
    "JournalState",
    "Validator",
    "Origin",
    "WriterRule",
    "LocalDevice",
    "LOCAL_DEVICE",
    "FactType",
    "FactRegistry",
]

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


class Origin(enum.Enum):
    """Where facts offered to a journal come from: the writer rules of local-only facts depend
    on it (a device's own accounting is never accepted from anyone else)."""

    LOCAL = "local"
    """Written by this device, or loaded back from its own storage."""
    PEER = "peer"
    """Received from another device (sync, a protocol, a joined journal)."""


class WriterRule(Protocol):
    """Who may write facts of one type.

    `check` runs before the type's validator, against the journal as it is just before the
    fact, and raises `UnauthorizedWriter` (or `LocalOnlyFact`) if the fact's attestation is not
    by an allowed writer, or `MissingParent` while the journal cannot yet tell (no genesis).
    The signature itself is verified separately; a rule decides only whose it may be. Rules
    must be monotone: a fact a rule accepts stays acceptable as the journal grows, so replicas
    that hold the same facts accept the same facts, whatever order they arrived in.
    """

    @property
    def summary(self) -> str:
        """Who may write, in a few words (the docs' table of fact types is built from these)."""
        ...

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None: ...


@attrs.frozen
class LocalDevice:
    """This device's own accounting: unsigned, and accepted only from this device (never from
    a peer, so nobody else can charge, couple or leak in its name)."""

    summary = "this device only (unsigned; never accepted from a peer)"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        if type(fact.attestation) is not Unattested:
            raise LocalOnlyFact(f"fact {fact.id}: {fact.body.type_id} facts are never signed")
        if origin is not Origin.LOCAL:
            raise LocalOnlyFact(f"fact {fact.id}: {fact.body.type_id} is local to its device")


LOCAL_DEVICE = LocalDevice()


def _accept(_: JournalState, __: Fact, ___: Any) -> None:
    return None


def _writer_rule(_: object, __: object, value: Any) -> None:
    if not callable(getattr(value, "check", None)) or not isinstance(
        getattr(value, "summary", None), str
    ):
        raise InvalidArgument("every fact type declares a writer rule (a WriterRule)")


@attrs.frozen
class FactType(Generic[P]):
    """The contract of one (type id, schema version)."""

    payload_type: type[P]
    namespace_kind: NamespaceKind | None
    """Which kind of journal holds these facts; None for both."""
    writer: WriterRule = attrs.field(validator=_writer_rule)
    """Who may write these facts (checked on insert, merge and load)."""
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
        """Whether these facts are a device's own (never replicated)."""
        return isinstance(self.writer, LocalDevice)


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

    def types(self) -> tuple[FactType[Any], ...]:
        """Every registered fact type, sorted by (type id, schema version)."""
        return tuple(self._types[key] for key in sorted(self._types))
