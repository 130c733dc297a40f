"""`memoized_property`: a value computed from a frozen object on first use, then kept.

`functools.cached_property` does the same but takes a lock on every first access in Python
3.11, which costs more than the encodings and hashes it caches on the send and ingest paths.
The values cached here are pure functions of frozen fields, so two threads racing to compute
one store equal values and no lock is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar, overload

__all__ = ["memoized_property"]

T = TypeVar("T")


class memoized_property(Generic[T]):
    """A non-data descriptor: after the first access the instance `__dict__` answers."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self._func = func
        self._name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...

    @overload
    def __get__(self, obj: object, owner: type[Any] | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type[Any] | None = None) -> T | Self:
        if obj is None:
            return self
        value = self._func(obj)
        obj.__dict__[self._name] = value
        return value
