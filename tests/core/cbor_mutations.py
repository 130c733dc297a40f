"""Values of the canonical CBOR data model near a given one: one structural edit away.

The record codec's canonical-form test encodes a record, decodes the bytes to a `Value`, edits
that value in one place and re-encodes it canonically. The edits are the ones a normalising
decoder would quietly accept: drop, duplicate, reorder or empty an array; drop a map key, add
one, or set it to None; set an int to 0, 1, its neighbours or the ends of the range; shorten,
lengthen or empty bytes and text; and splice in a value found at the same place in another
value of the same type (a None that becomes present, a union member that becomes another, a
field taken from another record).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from aura_core.encoding import INT_MAX, INT_MIN, Value, canonical_encode

__all__ = ["Path", "nodes", "replace", "shape", "donor_index", "mutations"]

Path = tuple[str | int, ...]


def nodes(value: Value, path: Path = ()) -> Iterator[tuple[Path, Value]]:
    """Every node of `value` with its path, the root first."""
    yield path, value
    if type(value) is list:
        for index, item in enumerate(value):
            yield from nodes(item, (*path, index))
    elif type(value) is dict:
        for key, item in value.items():
            yield from nodes(item, (*path, key))


def replace(value: Value, path: Path, new: Value) -> Value:
    """`value` with the node at `path` replaced by `new` (the rest shared, nothing mutated)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if type(value) is list:
        items = list(value)
        items[cast(int, head)] = replace(items[cast(int, head)], rest, new)
        return items
    mapping = dict(cast(dict[str, Value], value))
    mapping[cast(str, head)] = replace(mapping[cast(str, head)], rest, new)
    return mapping


def shape(path: Path) -> tuple[str, ...]:
    """A path with array indices erased: where a node sits in its type's schema."""
    return tuple("*" if type(step) is int else cast(str, step) for step in path)


def donor_index(values: list[Value]) -> dict[tuple[str, ...], list[Value]]:
    """The nodes of `values` by shape, without repeats (the donors of splices)."""
    index: dict[tuple[str, ...], dict[bytes, Value]] = {}
    for value in values:
        for path, node in nodes(value):
            index.setdefault(shape(path), {}).setdefault(canonical_encode(node), node)
    return {key: list(found.values()) for key, found in index.items()}


def _ints(n: int) -> list[Value]:
    candidates = [0, 1, -1, n - 1, n + 1, INT_MAX, INT_MIN, True, False]
    return [c for c in candidates if type(c) is bool or INT_MIN <= c <= INT_MAX]


def _edits(node: Value) -> list[Value]:
    """Replacements for one node that keep its place in the tree."""
    if type(node) is bool:
        return [not node, 0, 1, None]
    if type(node) is int:
        return _ints(node)
    if type(node) is bytes:
        return [
            b"",
            node[:-1],
            node + b"\x00",
            bytes([node[0] ^ 1]) + node[1:] if node else b"\x01",
        ]
    if type(node) is str:
        return ["", node[:-1], node + "a"]
    if node is None:
        return [0, b"", "", [], {}]
    if type(node) is list:
        edits: list[Value] = [[], list(reversed(node))]
        for i in range(len(node)):
            edits.append(node[:i] + node[i + 1 :])  # drop
            edits.append(node[: i + 1] + node[i:])  # duplicate
            if i + 1 < len(node):
                edits.append([*node[:i], node[i + 1], node[i], *node[i + 2 :]])  # swap
        return edits
    mapping = cast(dict[str, Value], node)
    edits = [{}, {**mapping, "extra": None}]
    for key in mapping:
        edits.append({k: v for k, v in mapping.items() if k != key})  # drop
        edits.append({**mapping, key: None})
    return edits


def mutations(value: Value, donors: dict[tuple[str, ...], list[Value]]) -> Iterator[Value]:
    """Every value one edit or one splice away from `value` (some may equal it)."""
    for path, node in nodes(value):
        for new in _edits(node):
            yield replace(value, path, new)
        for new in donors.get(shape(path), ()):
            yield replace(value, path, new)
        if type(node) is list:
            for new in donors.get((*shape(path), "*"), ()):
                yield replace(value, path, [*node, new])  # append an element from elsewhere
