"""`join` again with a code this device already used: a typed answer at once, never a wait.

Used successfully: `AlreadyJoined` (nothing changed). Still pending (the join may have
committed and this device keeps asking its inviter until it learns the outcome): a second
`join` with the code used to ask again under the join lock, behind the recovery's own ask,
each waiting up to `JOIN_LIMIT_S` (60 s) for an inviter that may be gone, so it looked hung; it
is now `JoinInProgress` at once, and the join goes on by itself."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from aura_agent.agent import Agent
from aura_core.errors import (
    AlreadyInAccount,
    AlreadyJoined,
    JoinInProgress,
)
from tests.agent.helpers import FAST, snapshot
from tests.agent.test_recovery import converged, live, unfinished_join

pytestmark = pytest.mark.anyio


async def test_a_code_used_to_join_is_refused_at_once_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with (
        Agent.open(tmp_path / "a", settings=FAST) as a,
        Agent.open(tmp_path / "b", settings=FAST) as b,
    ):
        account = await a.accounts.create()
        code = await a.accounts.invite(2)
        with anyio.fail_after(30):
            assert await b.accounts.join(code) == account
        before = await snapshot(b)
        with anyio.fail_after(1), pytest.raises(AlreadyJoined, match="joined") as raised:
            await b.accounts.join(code)
        assert isinstance(raised.value, AlreadyInAccount)
        assert str(account) in raised.value.message
        assert await snapshot(b) == before


async def test_a_code_whose_join_is_pending_is_in_progress_at_once(tmp_path: Path) -> None:
    """A's enrollment passes its point of no return but cannot finish when it answers B, so B
    is told `unfinished` and keeps its join; A then stops. B's `join` with the same code is
    told at once that the join is in progress (its state unchanged), however often asked;
    once A is back, B's own asking admits it."""
    async with anyio.create_task_group() as tasks:
        inviter = await live(tasks, tmp_path / "a")
        a = inviter.agent
        b = (await live(tasks, tmp_path / "b")).agent
        code = await unfinished_join(a, b)
        await inviter.close()
        assert b.membership is None and b.keys.secrets.enrollments
        before = await snapshot(b)
        for _ in range(3):
            with anyio.fail_after(1), pytest.raises(JoinInProgress, match="in progress"):
                await b.accounts.join(code)
        assert await snapshot(b) == before
        a = (await live(tasks, tmp_path / "a")).agent
        await converged(1, a, b)
        with anyio.fail_after(1), pytest.raises(AlreadyJoined):
            await b.accounts.join(code)
        tasks.cancel_scope.cancel()
