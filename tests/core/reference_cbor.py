"""A second, independent strict decoder used as a test oracle for the native canonical check.

It follows the recipe in the dependency notes: cbor2 decode with duplicate keys refused, a
type/range/key-order walk, then re-encode and require identical bytes.
"""

from __future__ import annotations

import cbor2

from aura_core.encoding import INT_MAX, INT_MIN, MAX_DEPTH


class Rejected(Exception):
    pass


def _walk(value: object, depth: int) -> None:
    if type(value) in (str, bytes, bool, type(None)):
        return
    if type(value) is int:
        if not INT_MIN <= value <= INT_MAX:
            raise Rejected("int range")
        return
    if depth >= MAX_DEPTH:
        raise Rejected("depth")
    if type(value) is list:
        for item in value:
            _walk(item, depth + 1)
        return
    if type(value) is dict:
        previous = None
        for key, item in value.items():
            if type(key) is not str:
                raise Rejected("key type")
            order = (len(key.encode()), key.encode())
            if previous is not None and order <= previous:
                raise Rejected("key order")
            previous = order
            _walk(item, depth + 1)
        return
    raise Rejected(type(value).__name__)


def reference_decode(data: bytes) -> object:
    try:
        value = cbor2.loads(data, allow_duplicate_keys=False)
    except Exception as exc:
        raise Rejected("cbor2") from exc
    _walk(value, 0)
    if cbor2.dumps(value) != data:
        raise Rejected("not canonical")
    return value
