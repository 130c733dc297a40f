"""A committed change's outstanding devices that never answer: a removed device that is gone
is abandoned after `SwitchTimes.removed_for_s` (the plan completes) and told if it ever shows
up again; an enrollment's joiner whose `Ack` was lost is taken as admitted once its descriptor
reaches the inviter (the bootstrap secret leaves the key file).

Each agent runs in a task of its own (`tests.agent.test_recovery.live`) so that one can stop
while the others run on."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import anyio
import anyio.abc
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_agent.agent import Agent
from aura_agent.changes import SwitchTimes
from aura_core.errors import AccountError, InvalidArgument
from aura_effects.trace import Tracer
from tests.agent.helpers import FAST
from tests.agent.test_recovery import (
    Life,
    change_losing_switch,
    converged,
    enrollments_at_rest,
    live,
    three,
    tree,
)

BOUND_S = 2.0
QUICK = attrs.evolve(
    FAST, switches=SwitchTimes(retry_s=0.2, retry_cap_s=1.0, removed_for_s=BOUND_S)
)
"""A removed device is told for `BOUND_S`; a failed `Switch` is sent again after 0.1..1 s."""


def traced(agent: Agent, name: str) -> list[dict[str, object]]:
    trace = agent.effects.trace
    assert isinstance(trace, Tracer)
    return [dict(e.fields) for e in trace.events(name)]


async def plans(agent: Agent) -> list[str]:
    return await agent.effects.storage.list_keys("agent/change/")


async def _abandoned(a: Agent, b: Agent, c: Life) -> None:
    """A's removal of C completes without C: C abandoned (traced, naming it), the plan
    forgotten, A and B converged."""
    with anyio.fail_after(30):
        while await plans(a):
            await anyio.sleep(0.05)
    peer = str(c.agent.address)
    assert [e["peer"] for e in traced(a, "account.switch_abandoned")] == [peer]
    assert len(traced(a, "account.change_done")) >= 1
    await converged(a.account.epoch, a, b)
    assert (a.account.devices, a.account.threshold) == (2, 2)


@pytest.mark.anyio
async def test_a_removed_device_that_dies_on_its_switch_is_abandoned(tmp_path: Path) -> None:
    """C stops as its removal's `Switch` reaches it and never comes back: A tells it for
    `removed_for_s`, then abandons it and forgets the removal (before: sent for good)."""
    async with anyio.create_task_group() as tasks:
        a, b, c = await three(tasks, tmp_path, QUICK)
        await change_losing_switch(partial(a.accounts.remove, c.agent.identity.device), c)
        await _abandoned(a, b, c)
        tasks.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_device_that_is_down_is_removed_and_changes_nothing_when_back(
    tmp_path: Path,
) -> None:
    """C is down when A removes it (a lost device): the removal neither asks nor waits for it,
    A abandons it after `removed_for_s`. C, back after that, is not told (A and B refuse it in
    the devices' context it was left in): it still shows the old account, but nothing it asks
    reaches the others, a change it starts fails before anything commits, and A and B are
    unaffected."""
    async with anyio.create_task_group() as tasks:
        a, b, c = await three(tasks, tmp_path, QUICK)
        await c.close()
        with anyio.fail_after(60):
            await a.accounts.remove(c.agent.identity.device)
        await _abandoned(a, b, c)
        epoch, state = a.account.epoch, await tree(a)

        back = (await live(tasks, tmp_path / "c")).agent
        assert back.account.epoch < epoch  # it never learned of its removal
        with anyio.fail_after(60), pytest.raises(AccountError, match="changed nothing"):
            await back.accounts.refresh()
        assert await tree(a) == state and await tree(b) == state
        assert (a.account.epoch, a.account.devices, b.account.devices) == (epoch, 2, 2)
        tasks.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_device_staying_is_never_abandoned(tmp_path: Path) -> None:
    """C stops on the `Switch` of A's refresh (it stays in the account): A's plan keeps it
    outstanding well past `removed_for_s` (it cannot move without it) and sends it again with
    a back-off; C, back, takes it (it shows up, so it is due at once) and all converge."""
    async with anyio.create_task_group() as tasks:
        a, b, c = await three(tasks, tmp_path, QUICK)
        epoch = a.account.epoch
        await change_losing_switch(a.accounts.refresh, c)
        await anyio.sleep(2 * BOUND_S)
        assert await plans(a)
        assert not traced(a, "account.switch_abandoned")
        peer = str(c.agent.address)
        assert [e for e in traced(a, "account.switch_failed") if e["peer"] == peer]

        back = (await live(tasks, tmp_path / "c")).agent
        await converged(epoch + 1, a, b, back)
        tasks.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_joiner_whose_ack_was_lost_does_not_leave_the_secret_behind(
    tmp_path: Path,
) -> None:
    """B takes its admission but its `Ack` is lost (A's hook swallows it): B has joined and
    does not ask again. A sees B's descriptor in the new devices' context and takes the
    admission as acknowledged: the plan is forgotten and the bootstrap secret leaves A's key
    file (before: kept for good)."""
    async with anyio.create_task_group() as tasks:
        a = (await live(tasks, tmp_path / "a", QUICK)).agent
        b = (await live(tasks, tmp_path / "b", QUICK)).agent
        await a.accounts.create()
        code = await a.accounts.invite(2)

        async def lose_ack(phase: str) -> None:
            if phase == "inviter:ack":
                await anyio.sleep_forever()  # the session's wait for the Ack ends without it

        a.accounts.fault = lose_ack
        with anyio.fail_after(60):
            await b.accounts.join(code)
        assert not b.keys.secrets.enrollments  # B's join is over: it will not ask again
        with anyio.fail_after(30):
            while a.keys.secrets.enrollments or await plans(a):
                await anyio.sleep(0.05)
        assert await enrollments_at_rest(tmp_path / "a") == 0
        assert [e["peer"] for e in traced(a, "account.admission_seen")] == [str(b.address)]
        assert not traced(a, "account.admitted")[1:]  # taken once, not acknowledged
        await converged(1, a, b)
        tasks.cancel_scope.cancel()


@given(
    st.floats(0.01, 10.0),
    st.floats(1.0, 1000.0),
    st.integers(1, 200),
    st.binary(min_size=2, max_size=2),
)
def test_the_back_off_doubles_is_capped_and_jittered(
    base: float, factor: float, failures: int, jitter: bytes
) -> None:
    times = SwitchTimes(retry_s=base, retry_cap_s=base * factor)
    full = min(base * factor, base * 2.0 ** (failures - 1))
    delay = times.delay_s(failures, jitter)
    assert full / 2 <= delay <= full
    assert times.delay_s(failures + 1, jitter) >= delay


@pytest.mark.parametrize(
    ("retry", "cap", "removed"), [(0.0, 1.0, 1.0), (2.0, 1.0, 1.0), (1.0, 2.0, -1.0)]
)
def test_bad_switch_times_are_refused(retry: float, cap: float, removed: float) -> None:
    with pytest.raises(InvalidArgument):
        SwitchTimes(retry_s=retry, retry_cap_s=cap, removed_for_s=removed)
