"""Canonical CBOR (the DAG-CBOR subset) and the typed record codec.

Everything that is signed, hashed or sent is encoded here, so two replicas always agree on the
bytes of a value. The allowed values are str-keyed maps, lists, str, bytes, bool, None and ints
in [-2**64, 2**64); no floats, tags or `undefined`. Maps are written with keys in length-first
then bytewise order (RFC 7049 canonical order, the order DAG-CBOR uses).

Encoding is one native pass (`_native.cbor_encode`) over a value whose maps already list their
keys in canonical order (the record codec builds them that way; `canonical_encode` sorts first);
it checks that order and every type rather than trusting it, so its output is always canonical.

`strict_decode` accepts only the exact canonical encoding of an allowed value. The native core
checks the bytes first in one pass (shortest heads, definite lengths, text keys in strictly
increasing canonical order, no floats, tags or simple values, no trailing bytes, bounded
nesting); only then does cbor2 decode them. Decoding untrusted bytes raises `EncodingError` and
nothing else.

Records are frozen attrs classes registered with `@record(tag, version=...)`. A record encodes as
a map of its fields plus `"$t"` (the tag) and `"$v"` (the schema version), so equal field values
of two different record types never share bytes or content ids. `encode` and `decode` are the
only way records enter and leave bytes.

Decoding is the exact inverse of encoding: bytes decode only if they are the encoding of the
value they decode to, so a value has one encoding and one content id. The decoder refuses, never
normalises: sets and maps must come sorted and duplicate-free, elements that decode to equal
values are refused, and record fields have no attrs converters (a class that wants a forgiving
constructor offers a classmethod beside the validating one).
"""

from __future__ import annotations

import enum
import itertools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, Self, TypeAlias, TypeVar, cast

import attrs
import cbor2

from aura_core import _native
from aura_core.errors import AuraError, EncodingError, SchemaError

__all__ = [
    "Value",
    "INT_MIN",
    "INT_MAX",
    "MAX_DEPTH",
    "canonical_encode",
    "strict_decode",
    "CborScalar",
    "record",
    "is_record",
    "record_tag",
    "record_classes",
    "encode",
    "decode",
    "to_value",
    "from_value",
]

Value: TypeAlias = "bool | int | str | bytes | list[Value] | dict[str, Value] | None"
"""A value of the canonical CBOR data model."""

INT_MIN = -(2**64)
INT_MAX = 2**64 - 1
MAX_DEPTH = 64
"""Deepest nesting of lists and maps accepted; deeper input is rejected, not recursed into."""

TAG_KEY = "$t"
VERSION_KEY = "$v"

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Values


def _key_order(key: str) -> tuple[int, bytes]:
    raw = key.encode("utf-8")
    return (len(raw), raw)


def _normalize(value: object, depth: int) -> Value:
    """Check that `value` is in the data model and return it with map keys in canonical order."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bool or value is None:
        return cast(Value, value)
    if kind is int:
        if not INT_MIN <= cast(int, value) <= INT_MAX:
            raise EncodingError("integer outside [-2**64, 2**64)")
        return cast(int, value)
    if depth >= MAX_DEPTH:
        raise EncodingError(f"value nested deeper than {MAX_DEPTH} levels")
    if kind is list:
        return [_normalize(item, depth + 1) for item in cast(list[object], value)]
    if kind is dict:
        items = cast(dict[object, object], value)
        for key in items:
            if type(key) is not str:
                raise EncodingError(f"map key of type {type(key).__name__}; only str keys")
        try:
            keys = sorted(cast(dict[str, object], items), key=_key_order)
        except UnicodeEncodeError:
            raise EncodingError("map key is not valid Unicode") from None
        return {key: _normalize(items[key], depth + 1) for key in keys}
    raise EncodingError(f"values of type {kind.__name__} cannot be encoded")


def _dumps(value: Value) -> bytes:
    """Encode a value whose map keys are already in canonical order."""
    try:
        return _native.cbor_encode(value)
    except _native.NativeError as exc:
        raise EncodingError(str(exc.args[1])) from None


def canonical_encode(value: Value) -> bytes:
    """The canonical CBOR bytes of `value`.

    Raises `EncodingError` if `value` (at any depth) is outside the data model.
    """
    return _dumps(_normalize(value, 0))


def strict_decode(data: bytes) -> Value:
    """Decode bytes that must be exactly the canonical encoding of one allowed value.

    Raises `EncodingError` for anything else: malformed CBOR, trailing bytes, duplicate or
    unsorted map keys, non-minimal integers or lengths, indefinite lengths, floats, tags,
    simple values, `undefined`, non-text map keys or nesting deeper than `MAX_DEPTH`.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"expected bytes, got {type(data).__name__}")
    raw = bytes(data)
    try:
        _native.cbor_check_canonical(raw)
    except _native.NativeError as exc:
        raise EncodingError(str(exc.args[1])) from None
    try:
        return cast(Value, cbor2.loads(raw))
    except Exception as exc:  # unreachable for checked bytes; kept so only EncodingError escapes
        raise EncodingError(f"not decodable: {type(exc).__name__}") from None


# --------------------------------------------------------------------------------------------
# Records


class CborScalar(Protocol):
    """A value type that encodes as one canonical value (ids as bytes, hashes as bytes, ...).

    `from_cbor` must accept exactly the values `to_cbor` returns (`to_cbor(from_cbor(v)) == v`)
    and raise an `AuraError` (or `ValueError`/`TypeError`) for anything else; the codec turns
    that into `SchemaError`.
    """

    def to_cbor(self) -> Value: ...

    @classmethod
    def from_cbor(cls, value: Value) -> Self: ...


_Encoder: TypeAlias = Callable[[Any], Value]
_Decoder: TypeAlias = Callable[[Value], Any]


@attrs.frozen
class _RecordInfo:
    tag: str
    version: int
    cls: type[Any]


_RECORDS: dict[type[Any], _RecordInfo] = {}
_BY_TAG: dict[tuple[str, int], type[Any]] = {}
_CODECS: dict[object, tuple[_Encoder, _Decoder]] = {}


def record(tag: str, *, version: int = 1) -> Callable[[type[T]], type[T]]:
    """Register an attrs class with the codec under `tag` and schema `version`.

    Apply it above `@attrs.frozen`. The pair (tag, version) must be unique in the process.
    """
    if not tag or not all(c.isascii() and (c.isalnum() or c in "._-:") for c in tag):
        raise TypeError(f"record tag {tag!r} must be non-empty ASCII [A-Za-z0-9._:-]")
    if not 0 < version < 2**16:
        raise TypeError("record version must be in [1, 65535]")

    def register(cls: type[T]) -> type[T]:
        target: type[Any] = cls
        if not attrs.has(target):
            raise TypeError(f"@record needs an attrs class, got {cls.__name__}")
        if (tag, version) in _BY_TAG:
            raise TypeError(f"record tag {tag!r} version {version} is already registered")
        for field in attrs.fields(target):
            if not field.init:
                raise TypeError(f"{cls.__name__}.{field.name}: record fields must be init fields")
            if field.converter is not None:
                # A converter would let decoding normalise (accept bytes the encoder never
                # writes); records validate instead and offer a constructor that normalises.
                raise TypeError(f"{cls.__name__}.{field.name}: record fields have no converter")
        _RECORDS[cls] = _RecordInfo(tag, version, cls)
        _BY_TAG[(tag, version)] = cls
        return cls

    return register


def is_record(obj: object) -> bool:
    """Whether `obj` is an instance of a registered record class."""
    return type(obj) in _RECORDS


def record_tag(cls: type[Any]) -> tuple[str, int]:
    """The (tag, version) a record class was registered with."""
    info = _RECORDS.get(cls)
    if info is None:
        raise TypeError(f"{cls.__name__} is not a registered record")
    return (info.tag, info.version)


def record_classes() -> tuple[type[Any], ...]:
    """Every record class registered so far, in registration order (for checks that must cover
    them all, such as the canonical-form test)."""
    return tuple(_RECORDS)


_RECORD_ENCODERS: dict[type[Any], _Encoder] = {}


def _record_encoder(kind: type[Any]) -> _Encoder:
    info = _RECORDS.get(kind)
    if info is None:
        raise EncodingError(f"{kind.__name__} is not a registered record")
    encoder = _RECORD_ENCODERS[kind] = _codec(info.cls)[0]
    return encoder


def to_value(obj: object) -> Value:
    """The canonical value (a map) of a record instance."""
    kind = type(obj)
    encoder = _RECORD_ENCODERS.get(kind) or _record_encoder(kind)
    return encoder(obj)


def from_value(value: Value, cls: type[T]) -> T:
    """Rebuild a record of type `cls` from its canonical value; raises `SchemaError`."""
    if cls not in _RECORDS:
        raise TypeError(f"{cls.__name__} is not a registered record")
    return cast(T, _codec(cls)[1](value))


def encode(obj: object) -> bytes:
    """The canonical bytes of a record instance."""
    kind = type(obj)
    encoder = _RECORD_ENCODERS.get(kind) or _record_encoder(kind)
    try:
        return _native.cbor_encode(encoder(obj))
    except _native.NativeError as exc:
        raise EncodingError(str(exc.args[1])) from None


def decode(data: bytes, cls: type[T]) -> T:
    """Strictly decode bytes into a record of type `cls`.

    Raises `EncodingError` (or its subclass `SchemaError` when the bytes are canonical but not a
    valid `cls` of the registered schema version) and nothing else.
    """
    return from_value(strict_decode(data), cls)


_COMPILING: set[object] = set()


def _codec(tp: object) -> tuple[_Encoder, _Decoder]:
    codec = _CODECS.get(tp)
    if codec is not None:
        return codec
    if tp in _COMPILING:  # a recursive type: defer to the entry being compiled

        def forward_encode(value: Any) -> Value:
            return _CODECS[tp][0](value)

        def forward_decode(value: Value) -> Any:
            return _CODECS[tp][1](value)

        return forward_encode, forward_decode
    _COMPILING.add(tp)
    try:
        codec = _compile(tp)
    finally:
        _COMPILING.discard(tp)
    _CODECS[tp] = codec
    return codec


def _type_name(tp: object) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _compile(tp: object) -> tuple[_Encoder, _Decoder]:
    if tp in _RECORDS:
        return _compile_record(_RECORDS[tp])
    if tp is int:
        return _encode_int, _decode_int
    if tp is bool:
        return _exact(bool), _exact(bool)
    if tp is str:
        return _exact(str), _exact(str)
    if tp is bytes:
        return _exact(bytes), _exact(bytes)
    if tp is type(None) or tp is None:
        return _exact(type(None)), _exact(type(None))
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _compile_union(args)
    if origin is list or origin is Sequence:
        return _compile_list(args[0], list)
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only homogeneous tuple[X, ...] fields are supported, got {tp!r}")
        return _compile_list(args[0], tuple)
    if origin is frozenset:
        return _compile_set(args[0])
    if origin is dict or origin is Mapping:
        return _compile_map(args[0], args[1])
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _compile_enum(tp)
    if isinstance(tp, type) and hasattr(tp, "to_cbor") and hasattr(tp, "from_cbor"):
        return _compile_scalar(tp)
    raise TypeError(f"the record codec does not support the type {tp!r}")


def _exact(kind: type[Any]) -> _Encoder:
    name = kind.__name__

    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise SchemaError(f"expected {name}, got {type(value).__name__}")
        return value

    return check


def _encode_int(value: Any) -> Value:
    if type(value) is not int:
        raise EncodingError(f"expected int, got {type(value).__name__}")
    if not INT_MIN <= value <= INT_MAX:
        raise EncodingError("integer outside [-2**64, 2**64)")
    return value


def _decode_int(value: Value) -> Any:
    if type(value) is not int:
        raise SchemaError(f"expected int, got {type(value).__name__}")
    return value


def _bad_encode(kind: str, value: object) -> Any:
    if kind == "int" and type(value) is int:
        raise EncodingError("integer outside [-2**64, 2**64)")
    raise EncodingError(f"expected {kind}, got {type(value).__name__}")


def _bad_decode(kind: str, value: object) -> Any:
    raise SchemaError(f"expected {kind}, got {type(value).__name__}")


_PRIMITIVE_NAMES = {int: "int", str: "str", bytes: "bytes", bool: "bool"}


def _encode_item(
    key: str,
    hints: dict[str, Any],
    codecs: dict[str, tuple[_Encoder, _Decoder]],
    namespace: dict[str, Any],
) -> str:
    """Source of one `key: value` item of a generated encoder."""
    if key == TAG_KEY:
        return f"{key!r}: TAG"
    if key == VERSION_KEY:
        return f"{key!r}: VERSION"
    tp = hints[key]
    if tp is int:
        check = f"type(_v := obj.{key}) is int and INT_MIN <= _v <= INT_MAX"
        return f"{key!r}: (_v if {check} else _bad_encode('int', _v))"
    if tp in _PRIMITIVE_NAMES:
        name = _PRIMITIVE_NAMES[tp]
        check = f"type(_v := obj.{key}) is {name}"
        return f"{key!r}: (_v if {check} else _bad_encode({name!r}, _v))"
    if _is_scalar(tp):
        namespace[f"S_{key}"] = tp
        check = f"type(_v := obj.{key}) is S_{key}"
        return f"{key!r}: (_v.to_cbor() if {check} else _bad_encode({_type_name(tp)!r}, _v))"
    namespace[f"enc_{key}"] = codecs[key][0]
    return f"{key!r}: enc_{key}(obj.{key})"


def _decode_arg(
    field: attrs.Attribute[Any],
    tp: object,
    codecs: dict[str, tuple[_Encoder, _Decoder]],
    namespace: dict[str, Any],
) -> str:
    """Source of one keyword argument of a generated decoder."""
    key = field.name
    if tp in _PRIMITIVE_NAMES:
        name = _PRIMITIVE_NAMES[tp]
        value = f"(_v if type(_v := value[{key!r}]) is {name} else _bad_decode({name!r}, _v))"
        return f"{field.alias}={value}"
    if _is_scalar(tp):
        namespace[f"S_{key}"] = tp
        return f"{field.alias}=S_{key}.from_cbor(value[{key!r}])"
    namespace[f"dec_{key}"] = codecs[key][1]
    return f"{field.alias}=dec_{key}(value[{key!r}])"


def _compile_record(info: _RecordInfo) -> tuple[_Encoder, _Decoder]:
    """Generate a specialised encoder and decoder for one record class.

    Records are on every hot path (facts, envelopes, receipts), so, like attrs itself, the codec
    writes straight-line Python per class: primitive fields are checked inline and nested types
    call their own compiled converters. Malformed input falls back to `_explain`, which names
    the problem precisely.
    """
    cls = info.cls
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    codecs = {field.name: _codec(hints[field.name]) for field in fields}
    keys = sorted([TAG_KEY, VERSION_KEY, *codecs], key=_key_order)
    tag, version = info.tag, info.version
    qualified = f"{tag} v{version}"
    namespace: dict[str, Any] = {
        "cls": cls,
        "TAG": tag,
        "VERSION": version,
        "INT_MIN": INT_MIN,
        "INT_MAX": INT_MAX,
        "EncodingError": EncodingError,
        "SchemaError": SchemaError,
        "AuraError": AuraError,
        "_bad_encode": _bad_encode,
        "_bad_decode": _bad_decode,
    }

    encode_items = [_encode_item(key, hints, codecs, namespace) for key in keys]
    decode_args = [_decode_arg(field, hints[field.name], codecs, namespace) for field in fields]

    source = f"""
def encode_record(obj):
    if type(obj) is not cls:
        raise EncodingError(f"expected {{cls.__name__}}, got {{type(obj).__name__}}")
    return {{{", ".join(encode_items)}}}

def decode_record(value):
    if (type(value) is not dict or len(value) != {len(keys)} or value.get("$t") != TAG
            or type(value.get("$v")) is not int or value["$v"] != VERSION):
        explain(value)
    try:
        return cls({", ".join(decode_args)})
    except KeyError:
        explain(value)
    except (ValueError, TypeError, AuraError) as exc:
        explain_field(value, exc)
"""

    def explain(value: Value) -> None:
        """Raise the precise `SchemaError` for a value the fast path refused."""
        if type(value) is not dict:
            raise SchemaError(f"{qualified}: expected a map, got {type(value).__name__}")
        got_tag = value.get(TAG_KEY)
        if type(got_tag) is not str or got_tag != tag:
            raise SchemaError(f"expected record {tag!r}, got {got_tag!r}")
        got_version = value.get(VERSION_KEY)
        if type(got_version) is not int or got_version != version:
            raise SchemaError(f"{tag}: unsupported schema version {got_version!r}")
        extra = sorted(set(value) - set(keys))
        missing = sorted(set(keys) - set(value))
        raise SchemaError(f"{qualified}: unknown fields {extra}, missing fields {missing}")

    field_decoders = [(field, codecs[field.name][1]) for field in fields]

    def explain_field(value: dict[str, Value], error: Exception) -> None:
        """Raise a `SchemaError` naming the field the fast path refused: the first whose value
        does not decode, else the first whose validator refuses it on its own, else say that
        the class refused the fields together."""
        decoded = []
        for field, decode_field in field_decoders:
            if field.name not in value:
                explain(value)
            try:
                decoded.append((field, decode_field(value[field.name])))
            except (ValueError, TypeError, AuraError) as exc:
                raise SchemaError(f"{qualified}: field {field.name!r}: {_message(exc)}") from None
        for field, item in decoded:
            try:
                if field.validator is not None:
                    field.validator(None, field, item)
            except (ValueError, TypeError, AuraError) as exc:
                raise SchemaError(f"{qualified}: field {field.name!r}: {_message(exc)}") from None
            except AttributeError:  # a validator that reads the other fields cannot run alone
                continue
        raise SchemaError(f"{qualified}: invalid value: {_message(error)}") from None

    namespace["explain"] = explain
    namespace["explain_field"] = explain_field
    exec(compile(source, f"<record codec {tag}>", "exec"), namespace)
    return namespace["encode_record"], namespace["decode_record"]


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, AuraError) else str(exc)


def _compile_union(args: tuple[object, ...]) -> tuple[_Encoder, _Decoder]:
    none_type = type(None)
    members = [a for a in args if a is not none_type]
    optional = len(members) < len(args)
    if len(members) == 1:
        enc, dec = _codec(members[0])

        def encode_optional(value: Any) -> Value:
            return None if value is None else enc(value)

        def decode_optional(value: Value) -> Any:
            return None if value is None else dec(value)

        return encode_optional, decode_optional
    if not all(m in _RECORDS for m in members):
        raise TypeError(f"unions must be X | None or of record classes, got {args!r}")
    by_type = {m: _codec(m)[0] for m in members}
    by_tag = {_RECORDS[cast(type[Any], m)].tag: _codec(m)[1] for m in members}
    if len(by_tag) != len(members):
        raise TypeError(f"union members must have distinct tags: {args!r}")
    names = sorted(by_tag)

    def encode_union(value: Any) -> Value:
        if value is None and optional:
            return None
        enc = by_type.get(type(value))
        if enc is None:
            raise EncodingError(f"{type(value).__name__} is not one of {names}")
        return enc(value)

    def decode_union(value: Value) -> Any:
        if value is None and optional:
            return None
        tag = value.get(TAG_KEY) if type(value) is dict else None
        dec = by_tag.get(tag) if type(tag) is str else None
        if dec is None:
            raise SchemaError(f"expected one of {names}, got {tag!r}")
        return dec(value)

    return encode_union, decode_union


def _compile_list(item: object, kind: type[Any]) -> tuple[_Encoder, _Decoder]:
    enc, dec = _codec(item)

    def encode_list(value: Any) -> Value:
        if not isinstance(value, list | tuple):
            raise EncodingError(f"expected a sequence, got {type(value).__name__}")
        return [enc(x) for x in value]

    def decode_list(value: Value) -> Any:
        if type(value) is not list:
            raise SchemaError(f"expected an array, got {type(value).__name__}")
        return kind(dec(x) for x in value)

    return encode_list, decode_list


def _sorted_by_encoding(values: list[Value]) -> list[Value]:
    keyed = sorted(((_dumps(v), v) for v in values), key=lambda kv: kv[0])
    for (a, _), (b, _) in itertools.pairwise(keyed):
        if a == b:
            raise EncodingError("set or map contains two elements with equal encodings")
    return [v for _, v in keyed]


def _require_sorted_unique(values: list[Value], what: str) -> None:
    encoded = [_dumps(v) for v in values]
    for a, b in itertools.pairwise(encoded):
        if not a < b:
            raise SchemaError(f"{what} elements are not in strictly increasing canonical order")


def _compile_set(item: object) -> tuple[_Encoder, _Decoder]:
    enc, dec = _codec(item)

    def encode_set(value: Any) -> Value:
        if not isinstance(value, frozenset | set):
            raise EncodingError(f"expected a set, got {type(value).__name__}")
        return _sorted_by_encoding([enc(x) for x in value])

    def decode_set(value: Value) -> Any:
        if type(value) is not list:
            raise SchemaError(f"expected an array for a set, got {type(value).__name__}")
        _require_sorted_unique(value, "set")
        decoded = frozenset(dec(x) for x in value)
        if len(decoded) != len(value):
            raise SchemaError("two set elements with different encodings decode to equal values")
        return decoded

    return encode_set, decode_set


def _compile_map(key_tp: object, val_tp: object) -> tuple[_Encoder, _Decoder]:
    venc, vdec = _codec(val_tp)
    if key_tp is str:

        def encode_str_map(value: Any) -> Value:
            if not isinstance(value, Mapping):
                raise EncodingError(f"expected a mapping, got {type(value).__name__}")
            for key in value:
                if type(key) is not str:
                    raise EncodingError("map keys must be str")
            return {k: venc(value[k]) for k in sorted(value, key=_key_order)}

        def decode_str_map(value: Value) -> Any:
            if type(value) is not dict:
                raise SchemaError(f"expected a map, got {type(value).__name__}")
            return {k: vdec(v) for k, v in value.items()}

        return encode_str_map, decode_str_map

    kenc, kdec = _codec(key_tp)

    def encode_pairs(value: Any) -> Value:
        if not isinstance(value, Mapping):
            raise EncodingError(f"expected a mapping, got {type(value).__name__}")
        keyed = sorted(((_dumps(kenc(k)), k) for k in value), key=lambda kv: kv[0])
        for (a, _), (b, _) in itertools.pairwise(keyed):
            if a == b:
                raise EncodingError("two map keys have equal encodings")
        return [[kenc(k), venc(value[k])] for _, k in keyed]

    def decode_pairs(value: Value) -> Any:
        if type(value) is not list:
            raise SchemaError(f"expected an array of pairs, got {type(value).__name__}")
        for pair in value:
            if type(pair) is not list or len(pair) != 2:
                raise SchemaError("map entries must be [key, value] pairs")
        _require_sorted_unique([cast(list[Value], p)[0] for p in value], "map")
        decoded = {kdec(p[0]): vdec(p[1]) for p in cast(list[list[Value]], value)}
        if len(decoded) != len(value):
            raise SchemaError("two map keys with different encodings decode to equal values")
        return decoded

    return encode_pairs, decode_pairs


def _compile_enum(tp: type[enum.Enum]) -> tuple[_Encoder, _Decoder]:
    for member in tp:
        if type(member.value) not in (int, str):
            raise TypeError(f"enum {tp.__name__} must have int or str values")
    by_value = {m.value: m for m in tp}

    def encode_enum(value: Any) -> Value:
        if type(value) is not tp:
            raise EncodingError(f"expected {tp.__name__}, got {type(value).__name__}")
        return cast(Value, value.value)

    def decode_enum(value: Value) -> Any:
        member = by_value.get(value) if type(value) in (int, str) else None
        if member is None or type(member.value) is not type(value):
            raise SchemaError(f"{value!r} is not a {tp.__name__}")
        return member

    return encode_enum, decode_enum


def _is_scalar(tp: object) -> bool:
    return (
        isinstance(tp, type)
        and tp not in _RECORDS
        and not issubclass(tp, enum.Enum)
        and hasattr(tp, "to_cbor")
        and hasattr(tp, "from_cbor")
    )


def _compile_scalar(tp: type[Any]) -> tuple[_Encoder, _Decoder]:
    scalar = cast(type[CborScalar], tp)

    def encode_scalar(value: Any) -> Value:
        if type(value) is not tp:
            raise EncodingError(f"expected {tp.__name__}, got {type(value).__name__}")
        return cast(CborScalar, value).to_cbor()

    def decode_scalar(value: Value) -> Any:
        try:
            return scalar.from_cbor(value)
        except (ValueError, TypeError, AuraError) as exc:
            raise SchemaError(f"invalid {tp.__name__}: {exc}") from None

    return encode_scalar, decode_scalar
