"""The scenario file's schema: which tables and keys a scenario TOML may have, checked strictly.

The TOML is structured into the attrs classes below with a `cattrs` converter that forbids
extra keys and accepts no coercion (`nodes = "5"`, `buggify = 1`, a string where an array
belongs, one `[phase]` table for an array of them, a NaN are errors, as is a key or table the
schema does not have), so a misspelt `[participant]` fails the load instead of leaving the run
on its defaults. Each problem is reported with the file, the line (found in the
TOML text: `tomllib` keeps no positions) and, for an unknown name, the nearest valid one.
Semantic checks (ranges, node names, known actions) are `aura_sim.scenario`'s; it reports them
through the same `problem`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from aura_sim.errors import ScenarioError

__all__ = [
    "KeyPath",
    "ScenarioTable",
    "ParticipantsTable",
    "NetworkTable",
    "FaultOptions",
    "SwarmOptions",
    "ActionTable",
    "SafetyTable",
    "LivenessTable",
    "PropertiesTable",
    "ScenarioFile",
    "structure_file",
    "problem",
    "nearest",
]

T = TypeVar("T")

KeyPath = tuple[str | int, ...]
"""Where a value is in the file: table and key names, and indexes into arrays."""


@attrs.frozen
class ScenarioTable:
    workload: str
    name: str = "unnamed"
    description: str = ""
    seed: int = 0


@attrs.frozen
class ParticipantsTable:
    nodes: int = 3
    byzantine: int = 0


@attrs.frozen
class NetworkTable:
    latency_ms: float = 10.0
    jitter_ms: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_ms: float = 50.0
    corrupt: float = 0.0


@attrs.frozen
class FaultOptions:
    """`[faults]`: taken as the scenario's value once its counts are checked."""

    partitions: int = 0
    crashes: int = 0
    holds: int = 0
    clock_skew_ms: int = 0
    lose_unsynced_ms: int = 0
    buggify: bool = False


@attrs.frozen
class SwarmOptions:
    """`[swarm]`: taken as the scenario's value once its node range is checked."""

    enabled: bool = False
    nodes: tuple[int, int] = (3, 7)


@attrs.frozen
class ActionTable:
    do: str
    at_s: float = 0.0
    node: str = "all"
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    permanent: bool = False
    count: int = 1
    skew_ms: int = 0


@attrs.frozen
class SafetyTable:
    duration_s: float
    name: str = ""
    actions: tuple[ActionTable, ...] = ()


@attrs.frozen
class LivenessTable:
    within_s: float
    name: str = ""
    core: str | tuple[str, ...] = "majority"
    require: tuple[str, ...] = ("convergence",)
    quiet: bool = True


@attrs.frozen
class PropertiesTable:
    always: tuple[str, ...] | None = None


@attrs.frozen
class ScenarioFile:
    """The whole file, table by table (`phase` is the array of `[[phase]]` tables)."""

    scenario: ScenarioTable
    phase: tuple[SafetyTable | LivenessTable, ...]
    workload: dict[str, Any] = attrs.Factory(dict)
    participants: ParticipantsTable = ParticipantsTable()
    network: NetworkTable = NetworkTable()
    faults: FaultOptions = FaultOptions()
    swarm: SwarmOptions = SwarmOptions()
    properties: PropertiesTable = PropertiesTable()


PHASE_KINDS = {SafetyTable: "safety", LivenessTable: "liveness"}


class _Wrong(Exception):
    """A value of the wrong type (raised by the strict hooks, reported as a problem)."""


def _strict(kind: str, check: Callable[[object], bool]) -> Callable[[object, type], Any]:
    def structure(value: object, _: type) -> Any:
        if not check(value):
            raise _Wrong(f"expected {kind}, got {value!r}")
        return value

    return structure


def _float(value: object, _: type) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
        raise _Wrong(f"expected a finite number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _table(cls: type, converter: cattrs.Converter) -> Callable[[object, type], Any]:
    """An attrs class from a TOML table (and only a table: cattrs would try any mapping)."""
    inner: Callable[[dict[str, Any], type], Any] = make_dict_structure_fn(cls, converter)

    def structure(value: object, _: type) -> Any:
        if not isinstance(value, dict):
            raise _Wrong(f"expected a table, got {value!r}")
        return inner(value, cls)

    return structure


def _array(kind: Any, converter: cattrs.Converter) -> Callable[[object, type], Any]:
    """A tuple from a TOML array (and only an array: cattrs would split a string into its
    characters), each item structured and noted with its index like cattrs' own."""
    items = get_args(kind)
    fixed = not (len(items) == 2 and items[1] is Ellipsis)

    def structure(value: object, _: type) -> tuple[Any, ...]:
        if isinstance(value, dict):
            raise _Wrong("expected an array (of tables: [[...]]), got one table")
        if not isinstance(value, list):
            raise _Wrong(f"expected an array, got {value!r}")
        if fixed and len(value) != len(items):
            raise _Wrong(f"expected an array of {len(items)}, got {value!r}")
        out: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                out.append(converter.structure(item, items[index] if fixed else items[0]))
            except Exception as exc:
                exc.add_note(IterableValidationNote(f"@ index {index}", index, kind))
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {kind!r}", errors, kind)
        return tuple(out)

    return structure


def _core(value: object, _: type) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _Wrong(f"expected 'majority', 'all', 'honest' or a list of node names, got {value!r}")


def _phase(value: object, _: type) -> SafetyTable | LivenessTable:
    if not isinstance(value, dict):
        raise _Wrong(f"expected a table, got {value!r}")
    fields = dict(value)
    kind = fields.pop("kind", None)
    if kind is None:
        # No kind, but perhaps a misspelt one: report that key, on its line.
        known = {field.name for cls in PHASE_KINDS for field in attrs.fields(cls)}
        typos = {key for key in fields if key not in known and nearest(key, ["kind"])}
        if typos:
            raise ForbiddenExtraKeysError("", SafetyTable, typos)
    for cls, name in PHASE_KINDS.items():
        if kind == name:
            made: SafetyTable | LivenessTable = _CONVERTER.structure(fields, cls)
            return made
    raise _Wrong(f"kind must be 'safety' or 'liveness', got {kind!r}")


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(int, _strict("an integer", lambda v: type(v) is int))
    converter.register_structure_hook(bool, _strict("true or false", lambda v: type(v) is bool))
    converter.register_structure_hook(str, _strict("a string", lambda v: type(v) is str))
    converter.register_structure_hook(float, _float)
    converter.register_structure_hook_factory(_is_tuple, lambda t: _array(t, converter))
    converter.register_structure_hook_factory(attrs.has, lambda t: _table(t, converter))
    converter.register_structure_hook_func(lambda t: t == str | tuple[str, ...], _core)
    converter.register_structure_hook_func(lambda t: t == SafetyTable | LivenessTable, _phase)
    # A plain table of options for the workload's factory: any TOML values, checked by it.
    converter.register_structure_hook_func(
        lambda t: t == dict[str, Any], _strict("a table", _is_table)
    )
    return converter


def _is_tuple(kind: Any) -> bool:
    return get_origin(kind) is tuple


def _is_table(value: object) -> bool:
    return isinstance(value, dict)


_CONVERTER = _converter()


def structure_file(data: dict[str, Any], text: str, source: str) -> ScenarioFile:
    """`data` (parsed from `text`) as a `ScenarioFile`; `ScenarioError` at the first problem
    (by line), saying how many more there are."""
    try:
        structured: ScenarioFile = _CONVERTER.structure(data, ScenarioFile)
    except (ClassValidationError, _Wrong) as group:
        found = sorted(
            (problem(text, source, path, message) for path, message in _problems(group, ())),
            # What is missing is often the misspelt name another problem is about, so a
            # problem found on its own line is shown before one of absence.
            key=lambda e: (e.detail.startswith(_ABSENT), e.line == 0, e.line),
        )
        first = found[0]
        if len(found) > 1:
            more = len(found) - 1
            raise ScenarioError(
                f"{first.detail} (and {more} more problem{'s' if more > 1 else ''})",
                source=first.source,
                line=first.line,
                where=first.where,
            ) from None
        raise first from None
    return structured


_ABSENT = ("missing required", "a scenario needs")


def _problems(error: BaseException, path: KeyPath) -> list[tuple[KeyPath, str]]:
    """Each leaf of cattrs' exception tree as (where in the file, what is wrong)."""
    if isinstance(error, BaseExceptionGroup):
        out: list[tuple[KeyPath, str]] = []
        for sub in error.exceptions:
            out.extend(_problems(sub, (*path, *_steps(sub))))
        return out
    if isinstance(error, ForbiddenExtraKeysError):
        valid = [field.name for field in attrs.fields(error.cl)]
        if error.cl in PHASE_KINDS:
            valid.append("kind")
        return [
            ((*path, key), _unknown(key, valid, table=error.cl is ScenarioFile))
            for key in sorted(error.extra_fields)
        ]
    if isinstance(error, KeyError):
        if path == ("phase",):
            return [(path, "a scenario needs at least one [[phase]]")]
        if len(path) == 1:
            return [(path, f"missing required table [{path[0]}]")]
        return [(path, f"missing required key {error.args[0]!r}")]
    return [(path, str(error))]


def _steps(error: BaseException) -> KeyPath:
    """The attribute names and indexes cattrs noted on `error` (outermost first)."""
    steps: list[str | int] = []
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, IterableValidationNote):
            steps.append(note.index)
        elif hasattr(note, "name"):
            steps.append(note.name)
    return tuple(steps)


def _unknown(key: str, valid: Sequence[str], *, table: bool) -> str:
    what = "table" if table else "key"
    match = nearest(key, valid)
    if match is None:
        return f"unknown {what} {key!r} (valid: {', '.join(sorted(valid))})"
    shown = (f"[[{match}]]" if match == "phase" else f"[{match}]") if table else repr(match)
    return f"unknown {what} {key!r} (did you mean {shown}?)"


def nearest(name: str, valid: Sequence[str]) -> str | None:
    """The valid name closest to `name`, if any is close enough to be a likely misspelling."""
    matches = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
    return matches[0] if matches else None


def problem(text: str, source: str, path: KeyPath, message: str) -> ScenarioError:
    """A `ScenarioError` for the value at `path`, with the line it is on in `text`."""
    return ScenarioError(message, source=source, line=_line(text, path), where=_where(path))


def _where(path: KeyPath) -> str:
    if not path:
        return ""
    head, rest = path[0], path[1:]
    if head == "phase" and rest and isinstance(rest[0], int):
        out = f"[[phase]] {rest[0] + 1}"
        rest = rest[1:]
    elif head == "phase":
        out = "[[phase]]"
    else:
        out = f"[{head}]"
    for step in rest:
        out += f"[{step}]" if isinstance(step, int) else f".{step}"
    return out


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")


def _line(text: str, path: KeyPath) -> int:
    """The 1-based line of `path` in `text`: the key's line inside its table, else the
    table's header, else 0. Best effort: good for what a person writes by hand."""
    lines = text.splitlines()
    sections: list[tuple[str | None, int, int]] = []  # (table name, header index, end index)
    current: str | None = None
    start = -1
    for index, text_line in enumerate(lines):
        header = _HEADER.match(text_line)
        if header:
            sections.append((current, start, index))
            current, start = header.group(2).strip(), index
    sections.append((current, start, len(lines)))
    if not path:
        return 0
    head = path[0]
    rest = list(path[1:])
    candidates = [s for s in sections if s[0] == head]
    if candidates and rest and isinstance(rest[0], int):
        position = rest.pop(0)
        assert isinstance(position, int)
        candidates = candidates[position : position + 1]
    if not candidates:
        # A key of a table the file does not write out (or a top-level key, before any
        # header): look for it before the first header.
        top = sections[0]
        found = _find_key(lines, head if isinstance(head, str) else "", 0, top[2])
        return found + 1 if found is not None else 0
    _, header_index, end = candidates[0]
    line = header_index
    begin = header_index + 1
    for step in rest:
        found = (
            _find_key(lines, step, begin, end)
            if isinstance(step, str)
            else _find_table(lines, step, begin, end)
        )
        if found is None:
            break
        line = begin = found
    return line + 1


def _find_table(lines: Sequence[str], index: int, begin: int, end: int) -> int | None:
    """The line of the `index`-th inline table (`{ ... }`) from line `begin` on."""
    seen = 0
    for number in range(max(begin, 0), end):
        seen += lines[number].split("#", 1)[0].count("{")
        if seen > index:
            return number
    return None


def _find_key(lines: Sequence[str], key: str, begin: int, end: int) -> int | None:
    pattern = re.compile(rf"(^|[\s{{,]){re.escape(key)}\s*=")
    for index in range(max(begin, 0), end):
        if pattern.search(lines[index].split("#", 1)[0]):
            return index
    return None
