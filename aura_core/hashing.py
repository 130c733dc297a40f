"""BLAKE3-256 hashes, domain-tagged hashing and content identifiers.

Preimages are an ASCII domain tag followed by fixed-width little-endian integers and byte
strings, so two structures hashed under different tags can never collide by construction.
`content_id` is the hash of a value's canonical CBOR encoding.
"""

from __future__ import annotations

from typing import Self

import attrs
import blake3

from aura_core.encoding import Value, canonical_encode, encode, is_record
from aura_core.errors import InvalidArgument, InvalidIdentifier

__all__ = ["Hash32", "tagged_hash", "content_id", "u8", "u16", "u32", "u64"]

HASH_LEN = 32


def _check_digest(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != HASH_LEN:
        raise InvalidArgument("a Hash32 holds exactly 32 bytes")


@attrs.frozen(order=True, repr=False, cache_hash=True)
class Hash32:
    """A 32-byte BLAKE3 digest. Orders bytewise; text form is 64 lowercase hex digits."""

    digest: bytes = attrs.field(validator=_check_digest)

    @classmethod
    def of(cls, data: bytes) -> Hash32:
        """The BLAKE3-256 hash of `data` (no domain tag)."""
        return cls(blake3.blake3(data).digest())

    @classmethod
    def zero(cls) -> Hash32:
        """All-zero digest, used as the `prev` of the first link in a chain."""
        return cls(bytes(HASH_LEN))

    @classmethod
    def from_hex(cls, text: str) -> Hash32:
        """Parse 64 lowercase hex digits; raises `InvalidIdentifier` for anything else."""
        if type(text) is not str or len(text) != 2 * HASH_LEN or not _is_lower_hex(text):
            raise InvalidIdentifier("a hash is 64 lowercase hex digits")
        return cls(bytes.fromhex(text))

    def hex(self) -> str:
        return self.digest.hex()

    def to_cbor(self) -> Value:
        return self.digest

    @classmethod
    def from_cbor(cls, value: Value) -> Self:
        if type(value) is not bytes:
            raise InvalidArgument("a Hash32 is encoded as a byte string")
        return cls(value)

    def __str__(self) -> str:
        return self.digest.hex()

    def __repr__(self) -> str:
        return f"Hash32({self.digest.hex()})"

    def __bytes__(self) -> bytes:
        return self.digest


def _is_lower_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _int_bytes(value: int, width: int) -> bytes:
    if type(value) is not int or not 0 <= value < 1 << (8 * width):
        raise InvalidArgument(f"{value!r} does not fit an unsigned {8 * width}-bit integer")
    return value.to_bytes(width, "little")


def u8(value: int) -> bytes:
    """`value` as 1 byte (for hash preimages)."""
    return _int_bytes(value, 1)


def u16(value: int) -> bytes:
    """`value` as 2 little-endian bytes (for hash preimages)."""
    return _int_bytes(value, 2)


def u32(value: int) -> bytes:
    """`value` as 4 little-endian bytes (for hash preimages)."""
    return _int_bytes(value, 4)


def u64(value: int) -> bytes:
    """`value` as 8 little-endian bytes (for hash preimages)."""
    return _int_bytes(value, 8)


def tagged_hash(tag: str, *parts: bytes) -> Hash32:
    """BLAKE3(tag ‖ parts...) for an ASCII domain tag.

    The parts are concatenated without framing: use it for fixed-layout preimages (the tree
    commitment formulas, consensus ids) and length-prefix variable fields yourself.
    """
    prefix = _TAGS.get(tag)
    if prefix is None:
        if type(tag) is not str or not tag or not tag.isascii():
            raise InvalidArgument("a domain tag is a non-empty ASCII string")
        prefix = tag.encode("ascii")
        if len(_TAGS) < _MAX_TAGS:  # bounded, in case a caller builds tags at run time
            _TAGS[tag] = prefix
    return Hash32(blake3.blake3(b"".join((prefix, *parts))).digest())


_TAGS: dict[str, bytes] = {}
"""Encoded domain tags: a program uses a handful, and hashes under them on every hot path."""
_MAX_TAGS = 1024


def content_id(value: object) -> Hash32:
    """BLAKE3 of the canonical encoding of a record instance or a plain canonical value."""
    data = encode(value) if is_record(value) else canonical_encode(value)  # type: ignore[arg-type]
    return Hash32.of(data)
