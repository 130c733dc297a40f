"""EffectContext propagation through contextvars."""

from __future__ import annotations

import anyio
import pytest

from aura_core.context import EffectContext, ExecutionMode, current_context, use_context
from aura_core.errors import InvalidArgument, NoEffectContext
from aura_core.ids import AuthorityId, ContextId, SessionId


def make() -> EffectContext:
    return EffectContext(
        authority=AuthorityId(bytes(16)),
        session=SessionId(b"\x01" * 16),
        mode=ExecutionMode.simulation(7),
        metadata={"b": "2", "a": "1"},
    )


def test_current_context_outside_use_context() -> None:
    with pytest.raises(NoEffectContext):
        current_context()


def test_child_tasks_inherit_and_scopes_restore() -> None:
    seen: list[EffectContext] = []

    async def child() -> None:
        seen.append(current_context())

    async def main() -> None:
        outer = make()
        with use_context(outer):
            inner = outer.with_context(ContextId(b"\x02" * 16))
            async with anyio.create_task_group() as tg:
                tg.start_soon(child)
                with use_context(inner):
                    tg.start_soon(child)
            assert current_context() is outer
        with pytest.raises(NoEffectContext):
            current_context()

    anyio.run(main)
    assert seen[0].context is None
    assert seen[1].context == ContextId(b"\x02" * 16)


def test_values_and_derivations() -> None:
    ctx = make()
    assert list(ctx.metadata) == ["a", "b"]
    assert ctx.with_metadata(c="3").metadata == {"a": "1", "b": "2", "c": "3"}
    assert ctx.snapshot().metadata == {}
    assert ctx.with_session(SessionId(bytes(16))).session == SessionId(bytes(16))
    with pytest.raises(InvalidArgument):
        ExecutionMode.simulation(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        EffectContext(None, SessionId(bytes(16)), ExecutionMode.testing(), metadata={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgument), use_context("ctx"):  # type: ignore[arg-type]
        pass
