"""The typed record codec: attrs classes <-> canonical CBOR maps."""

from __future__ import annotations

import contextlib
import enum

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import (
    canonical_encode,
    decode,
    encode,
    from_value,
    record,
    record_tag,
    strict_decode,
    to_value,
)
from aura_core.errors import EncodingError, SchemaError
from aura_core.hashing import Hash32, content_id
from aura_core.ids import AuthorityId, DeviceId
from aura_sim.testing.strategies import entropy


class Role(enum.Enum):
    DEVICE = "device"
    GUARDIAN = "guardian"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@record("test.leaf")
@attrs.frozen
class Leaf:
    leaf_id: int
    device: DeviceId
    role: Role
    public_key: bytes


@record("test.branch")
@attrs.frozen
class Branch:
    label: str
    level: Level
    children: tuple[Leaf, ...]
    members: frozenset[AuthorityId]
    weights: dict[str, int] = attrs.field(hash=False)
    by_device: dict[DeviceId, int] = attrs.field(hash=False)
    digest: Hash32 | None = None
    note: str | None = None
    flag: bool = False


@record("test.cat")
@attrs.frozen
class Cat:
    name: str


@record("test.dog")
@attrs.frozen
class Dog:
    name: str


@record("test.pen")
@attrs.frozen
class Pen:
    animals: tuple[Cat | Dog, ...]
    keeper: Cat | Dog | None = None


@record("test.node")
@attrs.frozen
class Node:
    value: int
    next: Node | None = None


@record("test.positive")
@attrs.frozen
class Positive:
    n: int = attrs.field(validator=attrs.validators.gt(0))


@record("test.positive", version=2)
@attrs.frozen
class PositiveV2:
    n: int
    unit: str


@record("test.loose")
@attrs.frozen(order=True)
class Loose:
    """A record whose equality ignores a field: two encodings, one value (a bad design the
    codec must not paper over by deduplicating)."""

    key: int
    note: str = attrs.field(eq=False, order=False)


@record("test.loose_bag")
@attrs.frozen
class LooseBag:
    items: frozenset[Loose]
    counts: dict[Loose, int] = attrs.field(hash=False)


leaves = st.builds(
    Leaf,
    leaf_id=st.integers(0, 2**32 - 1),
    device=entropy.map(DeviceId.from_entropy),
    role=st.sampled_from(Role),
    public_key=st.binary(max_size=64),
)
branches = st.builds(
    Branch,
    label=st.text(max_size=10),
    level=st.sampled_from(Level),
    children=st.lists(leaves, max_size=3).map(tuple),
    members=st.frozensets(entropy.map(AuthorityId.from_entropy), max_size=4),
    weights=st.dictionaries(st.text(max_size=4), st.integers(-5, 5), max_size=4),
    by_device=st.dictionaries(entropy.map(DeviceId.from_entropy), st.integers(0, 9), max_size=3),
    digest=st.none() | st.binary(min_size=32, max_size=32).map(Hash32),
    note=st.none() | st.text(max_size=5),
    flag=st.booleans(),
)


@given(branches)
def test_round_trip(value: Branch) -> None:
    data = encode(value)
    assert decode(data, Branch) == value
    assert canonical_encode(strict_decode(data)) == data
    assert from_value(to_value(value), Branch) == value


@given(st.lists(st.sampled_from([Cat("tom"), Dog("rex"), Cat("kit")]), max_size=4).map(tuple))
def test_tagged_unions(animals: tuple[Cat | Dog, ...]) -> None:
    pen = Pen(animals, keeper=Dog("boss"))
    assert decode(encode(pen), Pen) == pen
    # A Cat and a Dog with the same name have different bytes and content ids.
    assert encode(Cat("x")) != encode(Dog("x"))
    assert content_id(Cat("x")) != content_id(Dog("x"))


def test_recursive_record() -> None:
    chain = Node(1, Node(2, Node(3)))
    assert decode(encode(chain), Node) == chain


def test_tag_and_version_are_part_of_the_bytes() -> None:
    value = to_value(Cat("tom"))
    assert value == {"$t": "test.cat", "$v": 1, "name": "tom"}
    assert record_tag(PositiveV2) == ("test.positive", 2)


@given(branches, st.data())
def test_content_id_changes_when_any_field_changes(value: Branch, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(attrs.fields(Branch)))
    replacement = data.draw(branches)
    changed = attrs.evolve(value, **{field.name: getattr(replacement, field.name)})
    if getattr(changed, field.name) == getattr(value, field.name):
        assert content_id(changed) == content_id(value)
    else:
        assert content_id(changed) != content_id(value)


_POSITIVE = {"$t": "test.positive", "$v": 1, "n": 3}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({**_POSITIVE, "$t": "test.cat"}, id="wrong tag"),
        pytest.param({**_POSITIVE, "$v": 3}, id="wrong version"),
        pytest.param({**_POSITIVE, "$v": True}, id="bool as version"),
        pytest.param({"$t": "test.positive", "$v": 1}, id="missing field"),
        pytest.param({**_POSITIVE, "extra": 1}, id="extra field"),
        pytest.param({**_POSITIVE, "n": "3"}, id="wrong type"),
        pytest.param({**_POSITIVE, "n": True}, id="bool as int"),
        pytest.param({**_POSITIVE, "n": 0}, id="validator"),
        pytest.param([1, 2], id="not a map"),
    ],
)
def test_decode_checks_tag_version_and_fields(value: dict[str, object]) -> None:
    assert decode(canonical_encode(_POSITIVE), Positive) == Positive(3)
    with pytest.raises(SchemaError):
        decode(canonical_encode(value), Positive)  # type: ignore[arg-type]


def test_versions_are_distinct_schemas() -> None:
    v2 = PositiveV2(3, "kg")
    with pytest.raises(SchemaError, match="unsupported schema version"):
        decode(encode(v2), Positive)
    assert decode(encode(v2), PositiveV2) == v2


def test_set_and_map_encodings_are_canonical() -> None:
    a, b = AuthorityId(bytes(16)), AuthorityId(b"\x01" * 16)
    d1, d2 = DeviceId(bytes(16)), DeviceId(b"\x01" * 16)
    value = Branch("x", Level.LOW, (), frozenset({b, a}), {"bb": 1, "a": 2}, {d2: 1, d1: 2})
    decoded = strict_decode(encode(value))
    assert isinstance(decoded, dict)
    assert decoded["members"] == [a.raw, b.raw]
    assert decoded["by_device"] == [[d1.raw, 2], [d2.raw, 1]]
    # A set encoded out of order, or with a duplicate, is rejected.
    for members in ([b.raw, a.raw], [a.raw, a.raw]):
        with pytest.raises(SchemaError):
            decode(canonical_encode({**decoded, "members": members}), Branch)
    with pytest.raises(SchemaError):
        decode(canonical_encode({**decoded, "by_device": [[d2.raw, 1], [d1.raw, 2]]}), Branch)


def test_encode_checks_field_types() -> None:
    with pytest.raises(EncodingError):
        encode(PositiveV2("3", "kg"))  # type: ignore[arg-type]
    with pytest.raises(EncodingError):
        encode(Leaf(True, DeviceId(bytes(16)), Role.DEVICE, b""))  # bool is not an int here
    with pytest.raises(EncodingError):
        encode(object())


def test_registration_errors() -> None:
    with pytest.raises(TypeError):
        record("test.cat")(attrs.frozen(type("Other", (), {})))
    with pytest.raises(TypeError):
        record("bad tag!")
    with pytest.raises(TypeError):
        record("test.plain")(type("Plain", (), {}))


@given(st.binary(max_size=80))
def test_fuzz_decode_raises_only_encoding_errors(data: bytes) -> None:
    for cls in (Branch, Pen, Positive, Node):
        with contextlib.suppress(EncodingError):
            decode(data, cls)


def test_registration_refuses_converters() -> None:
    # A converter would normalise whatever the decoder hands it: bytes the encoder never
    # writes would decode, and re-encode differently.
    with pytest.raises(TypeError, match="converter"):

        @record("test.converted")
        @attrs.frozen
        class Converted:
            n: int = attrs.field(converter=abs)


def test_sets_and_maps_refuse_elements_that_decode_to_equal_values() -> None:
    a, b = to_value(Loose(1, "a")), to_value(Loose(1, "b"))
    assert decode(encode(LooseBag(frozenset(), {})), LooseBag) == LooseBag(frozenset(), {})
    assert canonical_encode(a) < canonical_encode(b)
    for value in (
        {"$t": "test.loose_bag", "$v": 1, "items": [a, b], "counts": []},
        {"$t": "test.loose_bag", "$v": 1, "items": [], "counts": [[a, 1], [b, 2]]},
    ):
        with pytest.raises(SchemaError, match="decode to equal values"):
            decode(canonical_encode(value), LooseBag)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({**_POSITIVE, "n": "3"}, "test.positive v1: field 'n': expected int, got str"),
        ({**_POSITIVE, "n": 0}, "test.positive v1: field 'n': 'n' must be > 0: 0"),
    ],
)
def test_schema_errors_name_the_record_and_field(value: dict[str, object], message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        decode(canonical_encode(value), Positive)  # type: ignore[arg-type]
    assert caught.value.message == message


def test_nested_schema_errors_name_the_path() -> None:
    value = to_value(Pen((Cat("tom"),), keeper=Dog("rex")))
    assert isinstance(value, dict) and isinstance(value["keeper"], dict)
    value["keeper"] = {**value["keeper"], "name": 7}
    with pytest.raises(SchemaError) as caught:
        decode(canonical_encode(value), Pen)
    assert caught.value.message == (
        "test.pen v1: field 'keeper': test.dog v1: field 'name': expected str, got int"
    )
