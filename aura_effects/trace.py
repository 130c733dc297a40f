"""Structured local traces. Never sent to peers; fields are plain values, never secrets."""

from __future__ import annotations

import logging
from collections import deque

import attrs

from aura_core.effects import TraceValue

__all__ = ["TraceEvent", "Tracer"]


@attrs.frozen
class TraceEvent:
    name: str
    fields: tuple[tuple[str, TraceValue], ...]

    def get(self, key: str) -> TraceValue:
        return dict(self.fields).get(key)


class Tracer:
    """`TraceEffects`: keeps the last `capacity` events and forwards them to `logging`."""

    def __init__(self, *, capacity: int = 10_000, logger: logging.Logger | None = None) -> None:
        self._events: deque[TraceEvent] = deque(maxlen=capacity)
        self._logger = logger or logging.getLogger("aura")

    def event(self, name: str, /, **fields: TraceValue) -> None:
        for key, value in fields.items():
            if value is not None and type(value) not in (str, int, bool):
                raise TypeError(f"trace field {key} must be str, int, bool or None")
        event = TraceEvent(name, tuple(sorted(fields.items())))
        self._events.append(event)
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("%s %s", name, " ".join(f"{k}={v}" for k, v in event.fields))

    def events(self, name: str | None = None) -> list[TraceEvent]:
        """Recorded events, optionally only those called `name`."""
        return [e for e in self._events if name is None or e.name == name]
