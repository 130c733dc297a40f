"""Hypothesis strategies for the library's values and every public record type.

`records(cls)` draws instances of any `@record` class, yours included: each field's strategy
comes from its type hint (ints, bytes, str, ids, hashes, keys, enums, optionals, unions, tuples,
sets, maps and nested records), values that the field's own validator refuses are filtered out,
and the class is built with its constructor (a refused combination is discarded). Classes whose
invariants tie several fields together (a hash of other fields, a sorted roster, an encoded
operation) have a hand-written strategy in `CUSTOM`, the one place to register them (add your
own with `CUSTOM[cls] = strategy`). Values come from small pools (a few ids and hashes, small
ints) so that duplicates, ties and boundary values are common.

`values` draws any value the canonical codec accepts, `entropy` 32 bytes of entropy (what ids
and keys are made from). `registered_records()` imports every module of the library packages,
so every `@record` class is registered, and lists them.
"""

from __future__ import annotations

import enum
import functools
import importlib
import pkgutil
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from aura_consensus import hashing as consensus_hashing
from aura_consensus.ceremony import CeremonyStarted
from aura_consensus.commit import CommitFact
from aura_consensus.evidence import EquivocationProof
from aura_consensus.rounds import Justification
from aura_consensus.statements import (
    LockCertificate,
    RoundChange,
    SignedRoundChange,
    SignedVote,
    Vote,
)
from aura_consensus.tree import TreeCommit
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import INT_MAX, INT_MIN, Value, encode, record_classes, record_tag
from aura_core.errors import AuraError
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, CeremonyId, ContextId, DeviceId
from aura_core.lattice import MAX_SIGNERS, Policy
from aura_journal.context import NONCE_LEN, ContextGenesis, ContextMember
from aura_journal.rendezvous import NONCE_LEN as DESCRIPTOR_NONCE_LEN
from aura_journal.rendezvous import Descriptor
from aura_journal.tree import TreeOp
from aura_protocol.ceremonies.wire import KINDS, CeremonyMember, KeyCeremonyStart

__all__ = [
    "PACKAGES",
    "CUSTOM",
    "NoStrategy",
    "registered_records",
    "records",
    "for_type",
    "values",
    "scalar_values",
    "entropy",
]

PACKAGES = (
    "aura_core",
    "aura_journal",
    "aura_effects",
    "aura_guards",
    "aura_consensus",
    "aura_protocol",
    "aura_agent",
    "aura_sim",
)
"""The library's packages. The front end `aura_terminal` (the `cli` extra) is not among them:
pass it to `registered_records` to include its records too."""
_NEEDS_CLI = ("aura_sim.cli",)


# ----------------------------------------------------------------------------- codec values

scalar_values: st.SearchStrategy[Value] = (
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.integers(-30, 30)
    | st.text(max_size=20)
    | st.binary(max_size=40)
)

values: st.SearchStrategy[Value] = st.recursive(
    scalar_values,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=25,
)

entropy = st.binary(min_size=32, max_size=32)


class NoStrategy(TypeError):
    """A type hint this module cannot draw values for."""


@functools.cache
def registered_records(packages: tuple[str, ...] = PACKAGES) -> tuple[type[Any], ...]:
    """Every record class of `packages`, sorted by tag (after importing all their modules)."""
    for name in packages:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, name + "."):
            if not module.name.startswith(_NEEDS_CLI):
                importlib.import_module(module.name)
    found = [cls for cls in record_classes() if cls.__module__.split(".")[0] in packages]
    return tuple(sorted(found, key=record_tag))


# ----------------------------------------------------------------------------- leaf values


def _pooled_bytes(size: int) -> st.SearchStrategy[bytes]:
    """`size` bytes: mostly one of three fixed values (so equal values and ties are common)."""
    pool = [bytes(size), b"\x01" * size, b"\xff" * size]
    return st.sampled_from(pool) | st.binary(min_size=size, max_size=size)


ints: st.SearchStrategy[int] = (
    st.integers(0, 3)
    | st.integers(0, 2**16)
    | st.sampled_from([2**16 - 1, 2**32 - 1, 2**64 - 1])
    | st.integers(INT_MIN, INT_MAX)
)
"""Mostly small non-negative ints (counters, epochs, thresholds), sometimes any int at all."""

byte_strings: st.SearchStrategy[bytes] = st.sampled_from([16, 32, 64]).flatmap(
    _pooled_bytes
) | st.binary(max_size=8)
"""The lengths that fixed-size fields use (ids, hashes, keys, signatures), or short ones."""

texts: st.SearchStrategy[str] = st.sampled_from(["", "a", "b", "send"]) | st.text(max_size=6)

hashes = _pooled_bytes(32).map(Hash32)

SCALARS: dict[type[Any], st.SearchStrategy[Any]] = {
    Hash32: hashes,
    VerifyingKey: _pooled_bytes(32).map(VerifyingKey),
}
"""Scalar types with a hand-made strategy; other scalars are drawn through their `from_cbor`."""


def _from_cbor(tp: type[Any], value: object) -> object:
    try:
        return tp.from_cbor(value)
    except (AuraError, ValueError, TypeError):
        return None


def _via_from_cbor(tp: type[Any]) -> st.SearchStrategy[Any]:
    """Any other scalar type: probe which byte lengths (or ints, or text) its `from_cbor`
    accepts, then draw those (ids take 16 bytes, content ids 32, ...)."""
    probes: list[object] = [bytes(n) for n in range(65)] + [0, 1, "", "a"]
    accepted = [p for p in probes if _from_cbor(tp, p) is not None]
    candidates: list[st.SearchStrategy[object]] = [
        _pooled_bytes(len(p)) for p in accepted if type(p) is bytes
    ]
    if any(type(p) is int for p in accepted):
        candidates.append(ints)
    if any(type(p) is str for p in accepted):
        candidates.append(texts)
    if not candidates:
        raise NoStrategy(f"{tp.__name__}.from_cbor accepts no probe value")
    build = functools.partial(_from_cbor, tp)
    return st.one_of(candidates).map(build).filter(lambda v: v is not None)


# ----------------------------------------------------------------------------- derivation


def _sorted_if_orderable(items: list[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return items


def _sequences(item: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """Lists in any order, or sorted and duplicate-free (the form many rosters require)."""
    return st.lists(item, max_size=3) | st.lists(item, max_size=3, unique=True).map(
        _sorted_if_orderable
    )


_DERIVED: dict[object, st.SearchStrategy[Any]] = {}
_DERIVING: set[object] = set()


def for_type(tp: object) -> st.SearchStrategy[Any]:
    """A strategy for values of the type hint `tp`; raises `NoStrategy` if there is none.

    Derivation is eager, so a missing strategy anywhere inside `tp` raises here."""
    found = _DERIVED.get(tp)
    if found is not None:
        return found
    if tp in _DERIVING:  # a record type that refers to itself
        return st.deferred(lambda: _DERIVED[tp])
    _DERIVING.add(tp)
    try:
        found = _DERIVED[tp] = _derive(tp)
    finally:
        _DERIVING.discard(tp)
    return found


def _derive(tp: object) -> st.SearchStrategy[Any]:
    if isinstance(tp, type) and tp in CUSTOM:
        return CUSTOM[tp]()
    if isinstance(tp, type) and tp in record_classes():
        return _record_fields(tp)
    if tp is int:
        return ints
    if tp is bool:
        return st.booleans()
    if tp is str:
        return texts
    if tp is bytes:
        return byte_strings
    if tp is None or tp is type(None):
        return st.none()
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of([for_type(arg) for arg in args])
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _sequences(for_type(args[0])).map(tuple)
    if origin is list or origin is Sequence:
        return _sequences(for_type(args[0]))
    if origin is frozenset:
        return st.frozensets(for_type(args[0]), max_size=3)
    if origin is dict or origin is Mapping:
        return st.dictionaries(for_type(args[0]), for_type(args[1]), max_size=3)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if isinstance(tp, type) and tp in SCALARS:
        return SCALARS[tp]
    if isinstance(tp, type) and hasattr(tp, "to_cbor") and hasattr(tp, "from_cbor"):
        return _via_from_cbor(tp)
    raise NoStrategy(f"no strategy for the type {tp!r}")


def _passes(field: attrs.Attribute[Any]) -> Callable[[object], bool]:
    """Whether a value passes the field's own validator (validators that need the other fields
    cannot be run alone; the constructor checks those)."""
    validator = field.validator

    def check(value: object) -> bool:
        if validator is None:
            return True
        try:
            validator(None, field, value)
        except AttributeError:
            return True
        except (AuraError, ValueError, TypeError):
            return False
        return True

    return check


_INT_PROBES = [*range(-2, 300), *(2**k + d for k in (16, 32) for d in (-1, 0)), INT_MAX]
"""Ints the validators are probed with (all inside the codec's range: a value outside it is
refused by the encoder, whatever the validator says)."""


def _field_strategy(field: attrs.Attribute[Any], tp: object) -> st.SearchStrategy[Any]:
    """The type's strategy, narrowed to what the field's validator accepts: probing it finds
    the byte lengths (a signature is 64 bytes) or the int range (a percentage is 1..100) it
    allows, so that drawing rarely has to discard a value."""
    passes = _passes(field)
    if field.validator is not None and tp is bytes:
        lengths = [n for n in range(100) if passes(bytes(n))]
        if lengths and len(lengths) < 100:
            return st.one_of([_pooled_bytes(n) for n in lengths[:8]]).filter(passes)
    if field.validator is not None and tp is int:
        accepted = [n for n in _INT_PROBES if passes(n)]
        if accepted and len(accepted) < len(_INT_PROBES):
            lo, hi = min(accepted), max(accepted)
            return (st.sampled_from(accepted[:4] + accepted[-2:]) | st.integers(lo, hi)).filter(
                passes
            )
    return for_type(tp).filter(passes)


def _build(cls: type[Any]) -> Callable[[dict[str, Any]], Any]:
    def build(kwargs: dict[str, Any]) -> Any:
        try:
            return cls(**kwargs)
        except (AuraError, ValueError, TypeError):
            return None

    return build


def _record_fields(cls: type[Any]) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {field.alias: _field_strategy(field, hints[field.name]) for field in attrs.fields(cls)}
    return st.fixed_dictionaries(fields).map(_build(cls)).filter(lambda v: v is not None)


def records(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Instances of the record class `cls`."""
    if cls not in record_classes():
        raise NoStrategy(f"{cls.__name__} is not a registered record")
    return for_type(cls)


# ----------------------------------------------------------------------------- custom

authorities = _pooled_bytes(16).map(AuthorityId)


def _policies() -> st.SearchStrategy[Policy]:
    thresholds = st.integers(2, MAX_SIGNERS).flatmap(
        lambda n: st.integers(1, n - 1).map(lambda m: Policy.threshold(m, n))
    )
    return st.sampled_from([Policy.any(), Policy.all()]) | thresholds


def _witness_sets() -> st.SearchStrategy[WitnessSet]:
    """Witness sets the fault bound allows: 2t > n + f and t <= n - f, with or without keys."""
    signers = st.dictionaries(authorities, st.integers(1, 5), min_size=1, max_size=3).filter(
        lambda d: len(set(d.values())) == len(d)
    )

    def safe(d: dict[AuthorityId, int]) -> st.SearchStrategy[WitnessSet]:
        n = len(d)
        shapes = [(t, f) for t in range(1, n + 1) for f in range(n) if 2 * t > n + f and t <= n - f]
        keyed = st.one_of(st.none(), st.fixed_dictionaries({a: for_type(VerifyingKey) for a in d}))
        return st.builds(
            lambda shape, keys: WitnessSet.of(d, shape[0], faults=shape[1], keys=keys),
            st.sampled_from(shapes),
            keyed,
        )

    return signers.flatmap(safe)


def _ceremony_started() -> st.SearchStrategy[CeremonyStarted]:
    def build(prestate: Hash32, operation: Hash32, nonce: int, epoch: int, required: Any) -> Any:
        ceremony = consensus_hashing.ceremony_id(prestate, operation, nonce)
        return CeremonyStarted(ceremony, prestate, operation, nonce, epoch, required)

    return st.builds(
        build,
        hashes,
        hashes,
        st.integers(0, 2**64 - 1),
        st.integers(0, 3),
        st.lists(authorities, min_size=1, max_size=3, unique=True).map(sorted).map(tuple),
    )


def _key_ceremony_starts() -> st.SearchStrategy[KeyCeremonyStart]:
    """Openings the constructor accepts: a known kind, two to four members sorted by identifier
    and distinct in both fields, a threshold within 2..members."""
    members = st.lists(authorities, min_size=2, max_size=4, unique=True).flatmap(
        lambda addresses: st.lists(
            st.integers(1, 2**16 - 1), min_size=len(addresses), max_size=len(addresses), unique=True
        ).map(lambda ids: tuple(map(CeremonyMember, addresses, sorted(ids))))
    )
    return members.flatmap(
        lambda chosen: st.builds(
            KeyCeremonyStart,
            for_type(CeremonyId),
            authorities,
            for_type(ContextId),
            st.sampled_from(sorted(KINDS)),
            st.integers(2, len(chosen)),
            st.just(chosen),
        )
    )


def _tree_commits() -> st.SearchStrategy[TreeCommit]:
    def build(commit: CommitFact, op: TreeOp) -> TreeCommit:
        return TreeCommit(attrs.evolve(commit, operation_bytes=encode(op)))

    return st.builds(build, for_type(CommitFact), for_type(TreeOp))


def _context_geneses() -> st.SearchStrategy[ContextGenesis]:
    def build(context: ContextId, members: Any, threshold: int, nonce: bytes) -> ContextGenesis:
        return ContextGenesis(context, members, min(threshold, len(members)), nonce)

    members = st.lists(
        st.builds(ContextMember, authorities, for_type(VerifyingKey)),
        min_size=1,
        max_size=3,
        unique_by=(lambda m: m.authority, lambda m: m.key.raw),
    ).map(lambda ms: tuple(sorted(ms)))
    return st.builds(
        build, for_type(ContextId), members, st.integers(1, 3), _pooled_bytes(NONCE_LEN)
    )


HINTS = ["tcp://127.0.0.1:7000", "tcp://[::1]:1", "tcp://a.example:65535", "tcp://h:1"]


def _descriptors() -> st.SearchStrategy[Descriptor]:
    def build(authority: AuthorityId, fields: Any, hints: Any, start: int, length: int) -> Any:
        device, context, key, nonce = fields
        return Descriptor(
            authority, device, context, key, tuple(hints), start, start + length, nonce
        )

    fields = st.tuples(
        for_type(DeviceId),
        for_type(ContextId),
        _pooled_bytes(32),
        _pooled_bytes(DESCRIPTOR_NONCE_LEN),
    )
    return st.builds(
        build,
        authorities,
        fields,
        st.lists(st.sampled_from(HINTS), min_size=1, max_size=3, unique=True),
        st.integers(0, 2**63),
        st.integers(0, 2**62),
    )


def _round_changes() -> st.SearchStrategy[RoundChange]:
    def build(fields: tuple[Any, Any, Any, int, Any, tuple[int, Hash32]]) -> RoundChange:
        key, witness, prestate, round_, first, (lock_round, lock_result) = fields
        lock_round = min(lock_round, round_ - 1)
        return RoundChange(
            key, witness, prestate, round_, first, lock_round, lock_result if lock_round else None
        )

    return st.tuples(
        for_type(VerifyingKey),
        authorities,
        hashes,
        st.integers(1, 4),
        st.none() | hashes,
        st.tuples(st.integers(0, 3), hashes),
    ).map(build)


def _equivocation_proofs() -> st.SearchStrategy[EquivocationProof]:
    """Two signed votes of one witness in one round of one prestate, for different results."""

    def build(vote: Vote, other: Hash32, signatures: tuple[bytes, bytes]) -> EquivocationProof:
        if other == vote.result_id:  # a proof needs two different results
            other = Hash32(bytes([other.digest[0] ^ 1]) + other.digest[1:])
        second = attrs.evolve(vote, result_id=other)
        return EquivocationProof.of(
            SignedVote(vote, signatures[0]), SignedVote(second, signatures[1])
        )

    votes = for_type(Vote)
    return st.builds(build, votes, hashes, st.tuples(_pooled_bytes(64), _pooled_bytes(64))).filter(
        lambda p: p is not None
    )


def _lock_certificates() -> st.SearchStrategy[LockCertificate]:
    """Signed votes of distinct witnesses (sorted) for one result in one round (>= 1)."""

    def build(vote: Vote, round_: int, witnesses: list[AuthorityId], sigs: list[bytes]) -> Any:
        votes = tuple(
            SignedVote(attrs.evolve(vote, round=round_, witness=w), sig)
            for w, sig in zip(sorted(witnesses), sigs, strict=False)
        )
        return LockCertificate(votes)

    return st.builds(
        build,
        for_type(Vote),
        st.integers(1, 4),
        st.lists(authorities, min_size=3, max_size=3, unique=True),
        st.lists(_pooled_bytes(64), min_size=1, max_size=3),
    )


def _justifications() -> st.SearchStrategy[Justification]:
    changes = st.lists(
        st.builds(SignedRoundChange, _round_changes(), _pooled_bytes(64)),
        max_size=3,
        unique_by=lambda c: c.witness,
    ).map(lambda cs: tuple(sorted(cs, key=lambda c: c.witness)))
    return st.builds(Justification, changes, st.none())


CUSTOM: dict[type[Any], Callable[[], st.SearchStrategy[Any]]] = {
    RoundChange: _round_changes,
    LockCertificate: _lock_certificates,
    EquivocationProof: _equivocation_proofs,
    Justification: _justifications,
    Descriptor: _descriptors,
    ContextGenesis: _context_geneses,
    Policy: _policies,
    WitnessSet: _witness_sets,
    CeremonyStarted: _ceremony_started,
    KeyCeremonyStart: _key_ceremony_starts,
    TreeCommit: _tree_commits,
}
"""Record classes whose fields constrain one another, drawn through their own constructors."""
