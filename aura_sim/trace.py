"""The step trace: what ran, at which virtual time, in which order.

The loop calls a `StepHook` with `(virtual_time, label)` before every callback it runs and for
every `SimLoop.note`. `Trace` is the hook that keeps the tape and hashes it; two runs of one
seed must produce equal digests, and `first_difference` finds where two tapes part.

Labels are built only from deterministic data: `task:<id>:<name>` for a task step (the loop's
own creation counter, never the process-global `Task-N` counter), `call:<qualname>` for a plain
callback (`call:Task.cancel@task:<id>:<name>` for a task's other methods), `note:<text>` for a
note. No repr with a memory address ever enters a label.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import blake3

from aura_core.hashing import Hash32, u32

__all__ = ["StepHook", "Trace", "format_step"]

StepHook = Callable[[float, str], None]
"""Called as `hook(virtual_time, label)`; must not await or schedule anything."""

_TAG = b"AURA_SIM_TRACE_V1"
_pack_time = struct.Struct("<d").pack


def format_step(index: int, time: float, label: str) -> str:
    """One step as a report line: `#index t=time label`."""
    return f"#{index} t={time!r} {label}"


class Trace:
    """A recording `StepHook`: the whole tape in memory, plus its BLAKE3 digest.

    The digest covers each entry's time (IEEE-754 binary64, little-endian) and its UTF-8 label
    (length-prefixed), so two tapes hash equal exactly when they are equal.
    """

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[tuple[float, str]] = []

    def __call__(self, time: float, label: str) -> None:
        self.entries.append((time, label))

    def __len__(self) -> int:
        return len(self.entries)

    def digest(self) -> Hash32:
        hasher = blake3.blake3(_TAG)
        for time, label in self.entries:
            data = label.encode("utf-8")
            hasher.update(_pack_time(time) + u32(len(data)) + data)
        return Hash32(hasher.digest())

    def first_difference(self, other: Trace) -> int | None:
        """Index of the first entry where the two tapes differ (or one ends); None if equal."""
        for index, (mine, theirs) in enumerate(zip(self.entries, other.entries, strict=False)):
            if mine != theirs:
                return index
        if len(self.entries) != len(other.entries):
            return min(len(self.entries), len(other.entries))
        return None

    def step(self, index: int) -> str | None:
        """Entry `index` formatted for a report, or None past the end."""
        if 0 <= index < len(self.entries):
            time, label = self.entries[index]
            return format_step(index, time, label)
        return None
