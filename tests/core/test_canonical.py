"""Canonical means bijective, for every registered record type.

Fact ids (and every other content id) are hashes of encodings, so a record must have exactly
one encoding: `decode(encode(v)) == v` for every value, and `encode(decode(b)) == b` for every
byte string that decodes at all. A decoder that normalises (drops a zero counter, sorts or
deduplicates an array, reads None as an empty collection) breaks the second law, so the
near-encodings test feeds each record type the canonical encodings of values one edit away
from valid ones (see `cbor_mutations`) and checks that whatever decodes re-encodes to the same
bytes. The record types are the codec's own registry after importing every library module, so
a new record class is covered without touching this file (or fails
`test_every_record_type_has_a_strategy` until `aura_sim.testing.strategies` can draw it).

Examples per record type: `AURA_CANONICAL_EXAMPLES` (default 10; each example of the
near-encodings test decodes every one-edit neighbour of a value, hundreds of inputs).
"""

from __future__ import annotations

import os
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_core.encoding import (
    Value,
    canonical_encode,
    decode,
    encode,
    record,
    record_tag,
    strict_decode,
)
from aura_core.errors import EncodingError
from aura_core.time import LogicalTime, PhysicalTime
from aura_journal.fact import Fact
from aura_sim.testing.strategies import PACKAGES, records, registered_records
from tests.core.cbor_mutations import donor_index, mutations

RECORDS = registered_records((*PACKAGES, "aura_terminal"))

CANONICAL = settings(
    max_examples=int(os.environ.get("AURA_CANONICAL_EXAMPLES", "10")),
    suppress_health_check=[HealthCheck.too_slow],
)


def _tag(cls: type[Any]) -> str:
    tag, version = record_tag(cls)
    return f"{tag}.v{version}"


def test_every_record_type_has_a_strategy() -> None:
    assert {Fact, LogicalTime, PhysicalTime} <= set(RECORDS)  # the walk imported the packages
    for cls in RECORDS:
        records(cls)  # raises NoStrategy, naming the type hint, if one cannot be drawn


@pytest.mark.parametrize("cls", RECORDS, ids=_tag)
@CANONICAL
@given(data=st.data())
def test_decode_inverts_encode(cls: type[Any], data: st.DataObject) -> None:
    value = data.draw(records(cls), label=cls.__name__)
    raw = encode(value)
    back = decode(raw, cls)
    assert back == value
    assert encode(back) == raw


def _decodes_only_to_itself(cls: type[Any], tree: Value) -> None:
    """Check that `tree`'s bytes are refused (with an `EncodingError`, nothing else) or decode
    to a value that encodes to exactly those bytes."""
    raw = canonical_encode(tree)
    try:
        value = decode(raw, cls)
    except EncodingError:
        return
    assert encode(value) == raw, f"{cls.__name__}: {tree!r} decoded to {value!r}"


@pytest.mark.parametrize("cls", RECORDS, ids=_tag)
@CANONICAL
@given(data=st.data())
def test_near_encodings_decode_only_to_themselves(cls: type[Any], data: st.DataObject) -> None:
    values = data.draw(st.lists(records(cls), min_size=2, max_size=3), label="values")
    trees = [strict_decode(encode(value)) for value in values]
    donors = donor_index(trees)
    near = list(mutations(trees[0], donors))
    for tree in near:
        _decodes_only_to_itself(cls, tree)
    # Two edits: a neighbour of a neighbour (e.g. drop an entry and zero another).
    for _ in range(3):
        first = data.draw(st.sampled_from(near), label="first edit")
        second = data.draw(st.sampled_from(list(mutations(first, donors))), label="second edit")
        _decodes_only_to_itself(cls, second)


@record("test.canonical.sloppy")
@attrs.frozen
class Sloppy:
    """A record that normalises after construction (drops zero counts): what the test is for."""

    counts: tuple[int, ...]

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "counts", tuple(c for c in self.counts if c))


def test_the_near_encodings_check_catches_a_normalising_record() -> None:
    tree = strict_decode(encode(Sloppy((1, 2))))
    with pytest.raises(AssertionError, match="decoded to Sloppy"):
        for near in mutations(tree, donor_index([tree])):
            _decodes_only_to_itself(Sloppy, near)
