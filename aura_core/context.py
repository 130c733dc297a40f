"""`EffectContext`: who is acting, in which relational context and session, in which mode.

It travels in a `contextvars` variable, so a task started inside `use_context` (asyncio and
anyio copy the context at task creation) sees the same value without threading it through every
call. Handlers read it with `current_context()`.
"""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import attrs

from aura_core.errors import InvalidArgument, NoEffectContext
from aura_core.ids import AuthorityId, ContextId, SessionId

__all__ = [
    "ExecutionKind",
    "ExecutionMode",
    "EffectContext",
    "current_context",
    "use_context",
]


class ExecutionKind(enum.Enum):
    PRODUCTION = "production"
    TESTING = "testing"
    SIMULATION = "simulation"


@attrs.frozen
class ExecutionMode:
    """Which handler set runs; a simulation carries the seed that replays it."""

    kind: ExecutionKind
    seed: int | None = None

    def __attrs_post_init__(self) -> None:
        if (self.kind is ExecutionKind.SIMULATION) != (self.seed is not None):
            raise InvalidArgument("a seed is given exactly when the mode is SIMULATION")

    @classmethod
    def production(cls) -> ExecutionMode:
        return cls(ExecutionKind.PRODUCTION)

    @classmethod
    def testing(cls) -> ExecutionMode:
        return cls(ExecutionKind.TESTING)

    @classmethod
    def simulation(cls, seed: int) -> ExecutionMode:
        return cls(ExecutionKind.SIMULATION, seed)


def _freeze_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    items = dict(metadata)
    for key, value in items.items():
        if type(key) is not str or type(value) is not str:
            raise InvalidArgument("context metadata maps str to str")
    return {key: items[key] for key in sorted(items)}


@attrs.frozen
class EffectContext:
    """The ambient facts every effect handler may need, immutable once built."""

    authority: AuthorityId | None
    """The local authority, or None on a device that has no account yet."""
    session: SessionId
    mode: ExecutionMode
    context: ContextId | None = None
    metadata: dict[str, str] = attrs.field(factory=dict, converter=_freeze_metadata, hash=False)

    def with_context(self, context: ContextId | None) -> EffectContext:
        """The same context acting in another relational context."""
        return attrs.evolve(self, context=context)

    def with_session(self, session: SessionId) -> EffectContext:
        """A child context for a new protocol session."""
        return attrs.evolve(self, session=session)

    def with_metadata(self, **entries: str) -> EffectContext:
        """A copy with `entries` added to the metadata."""
        return attrs.evolve(self, metadata={**self.metadata, **entries})

    def snapshot(self) -> EffectContext:
        """A copy without metadata, for records that must not carry local details."""
        return attrs.evolve(self, metadata={})


_CURRENT: contextvars.ContextVar[EffectContext] = contextvars.ContextVar("aura_effect_context")


def current_context() -> EffectContext:
    """The `EffectContext` of the running task; raises `NoEffectContext` outside `use_context`."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise NoEffectContext("no EffectContext is set; wrap the call in use_context()") from None


@contextmanager
def use_context(context: EffectContext) -> Iterator[EffectContext]:
    """Make `context` current for the enclosed code and every task it starts."""
    if type(context) is not EffectContext:
        raise InvalidArgument("use_context needs an EffectContext")
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
