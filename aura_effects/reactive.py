"""Latest-value reactive signals: subscribers see the newest value and may skip stale ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import anyio

from aura_core.effects import Signal

__all__ = ["SignalHub"]

T = TypeVar("T")


class SignalHub:
    """`ReactiveEffects`: one slot per signal; a burst of emits wakes a reader once."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._versions: dict[str, int] = {}
        self._changed: dict[str, anyio.Event] = {}

    async def emit(self, signal: Signal[T], value: T) -> None:
        self._values[signal.name] = value
        self._versions[signal.name] = self._versions.get(signal.name, 0) + 1
        event = self._changed.pop(signal.name, None)
        if event is not None:
            event.set()

    def read(self, signal: Signal[T]) -> T | None:
        value: T | None = self._values.get(signal.name)
        return value

    async def subscribe(self, signal: Signal[T]) -> AsyncIterator[T]:
        seen = 0
        while True:
            version = self._versions.get(signal.name, 0)
            if version > seen:
                seen = version
                value: T = self._values[signal.name]
                yield value
                continue
            event = self._changed.get(signal.name)
            if event is None:
                event = self._changed[signal.name] = anyio.Event()
            await event.wait()
