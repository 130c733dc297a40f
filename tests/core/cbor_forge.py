"""A test-only CBOR writer that can produce the non-canonical forms strict decoding must reject.

It writes heads with a chosen width, maps in a chosen key order and indefinite-length items, so
the tests can build inputs a canonical encoder never emits.
"""

from __future__ import annotations

import struct

WIDTH_CODES = {1: 24, 2: 25, 4: 26, 8: 27}


def minimal_width(n: int) -> int:
    if n < 24:
        return 0
    for width in (1, 2, 4, 8):
        if n < 1 << (8 * width):
            return width
    raise ValueError(n)


def head(major: int, n: int, width: int | None = None) -> bytes:
    """A CBOR head; `width` 0 means inline, otherwise 1/2/4/8 argument bytes."""
    width = minimal_width(n) if width is None else width
    if width == 0:
        assert n < 24
        return bytes([major << 5 | n])
    return bytes([major << 5 | WIDTH_CODES[width]]) + n.to_bytes(width, "big")


def item(value: object, *, key_order: str = "canonical") -> bytes:
    """Minimal-width encoding of a value; maps in canonical, reversed or insertion order."""
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(item(v, key_order=key_order) for v in value)
    if isinstance(value, dict):
        keys = list(value)
        if key_order != "insertion":
            keys.sort(key=lambda k: (len(k.encode()), k.encode()), reverse=key_order == "reversed")
        body = b"".join(item(k) + item(value[k], key_order=key_order) for k in keys)
        return head(5, len(value)) + body
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    raise TypeError(type(value))
