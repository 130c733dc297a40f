"""`InternTable`: the value already built from the same bytes, for immutable values decoded
over and over.

Every received message names the same few ids and keys (its context, source, destination and
signer), and decoding built each of them afresh: construction and validation were a good part
of decoding a receipt. A table hands back the instance built the first time, so only new bytes
are validated, and later comparisons of shared instances are cheaper too. It is bounded: once
full it starts again from empty, so a peer sending ever new ids costs us only the hits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Generic, TypeVar

__all__ = ["INTERN_LIMIT", "InternTable"]

INTERN_LIMIT: Final = 4096
"""Entries a table holds before it starts again from empty."""

T = TypeVar("T")


class InternTable(Generic[T]):
    """Builds values from bytes with `build` (which validates and may raise), keeping the
    latest `limit` distinct ones. Only for immutable values whose equality is that of their
    bytes; `build`'s errors pass through and store nothing."""

    __slots__ = ("_build", "_limit", "_values")

    def __init__(self, build: Callable[[bytes], T], limit: int = INTERN_LIMIT) -> None:
        if type(limit) is not int or limit < 1:
            raise ValueError("an intern table holds at least one entry")
        self._build = build
        self._limit = limit
        self._values: dict[bytes, T] = {}

    def __call__(self, raw: bytes) -> T:
        """The value of `raw` (callers pass exact `bytes`; their type is part of the key's
        meaning)."""
        values = self._values
        value = values.get(raw)
        if value is None:
            value = self._build(raw)
            if len(values) >= self._limit:
                values.clear()  # atomic, unlike evicting one entry while another thread reads
            values[raw] = value
        return value

    def __len__(self) -> int:
        return len(self._values)
