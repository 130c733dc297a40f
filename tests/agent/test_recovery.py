"""A change interrupted by a device that stops mid-ceremony ends converged, with nothing
half-applied: before the point of no return it is recorded aborted and every holder deletes
its pending key; past it the coordinator finishes it (also after its own restart); a device
that missed its `Switch` gets it when it is back.

A device "dies" at one of the account service's fault-injection points: the `fault` hook
holds the task there while the test stops the agent (what it wrote by then is what a SIGKILL
leaves; the multi-process harness kills a real process, `test_processes`). Each agent runs in
a task of its own (`Life`), so that one can stop while the others run on."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import anyio
import anyio.abc
import attrs
import pytest

from aura_agent.accounts import RETRY_S
from aura_agent.agent import Agent, AgentSettings
from aura_agent.datadir import STORAGE_FILE
from aura_agent.keystore import KeyStore
from aura_agent.membership import Membership
from aura_consensus.ceremony import Aborted, CeremonyRegistry, Committed
from aura_consensus.facts import CEREMONY_REDUCER
from aura_consensus.tree import tree_prestate
from aura_core.crypto import frost
from aura_core.errors import (
    AccountError,
    AuraError,
    CeremonyConflict,
    ChangeUnfinished,
    EnrollmentCodeRedeemed,
)
from aura_effects.random import OsRandom
from aura_effects.storage import SqliteStorage
from aura_journal.fact import JournalNamespace
from aura_journal.tree import TREE_REDUCER, TreeState
from tests.agent.helpers import FAST, digest, snapshot
from tests.frost_local import sign_locally

pytestmark = pytest.mark.anyio


@attrs.define
class Life:
    """An agent running in its own task until `close`."""

    agent: Agent
    stop: anyio.Event
    stopped: anyio.Event

    async def close(self) -> None:
        self.stop.set()
        await self.stopped.wait()


async def _run(
    path: Path,
    stop: anyio.Event,
    stopped: anyio.Event,
    settings: AgentSettings,
    *,
    task_status: anyio.abc.TaskStatus[Agent] = anyio.TASK_STATUS_IGNORED,
) -> None:
    try:
        async with Agent.open(path, settings=settings) as agent:
            task_status.started(agent)
            await stop.wait()
    finally:
        stopped.set()


async def live(tasks: anyio.abc.TaskGroup, path: Path, settings: AgentSettings = FAST) -> Life:
    """The agent of `path`, opened, in a task of `tasks`."""
    stop, stopped = anyio.Event(), anyio.Event()
    agent = await tasks.start(_run, path, stop, stopped, settings)
    return Life(agent, stop, stopped)


def fail_once_after_commit(agent: Agent) -> None:
    """`agent`'s next change fails once right after its tree commit (past its point of no
    return), as a step failing there would."""

    async def fail_once(phase: str) -> None:
        if phase == "coordinator:committed":
            agent.accounts.fault = None
            raise AccountError("a step after the commit failed (the test)")

    agent.accounts.fault = fail_once


async def unfinished_join(a: Agent, b: Agent) -> str:
    """A creates an account and invites B; A's enrollment passes its point of no return but
    cannot finish when it answers B, so B's `join` raises `ChangeUnfinished` (B keeps its
    join). Returns the code."""
    await a.accounts.create()
    code = await a.accounts.invite(2)
    fail_once_after_commit(a)
    with anyio.fail_after(60), pytest.raises(ChangeUnfinished):
        await b.accounts.join(code)
    return code


def stop_at(phase: str, reached: anyio.Event) -> Callable[[str], Awaitable[None]]:
    """A fault hook: at `phase` the agent's task stops for good (the test then closes it)."""

    async def fault(at: str) -> None:
        if at == phase:
            reached.set()
            await anyio.sleep_forever()

    return fault


async def change_losing_switch(change: Callable[[], Awaitable[object]], member: Life) -> None:
    """Run `change` (a tree change another device coordinates) while `member` stops for good
    as the change's `Switch` reaches it; `member` is closed then."""
    reached = anyio.Event()
    member.agent.accounts.fault = stop_at("member:switch", reached)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as changing:
            changing.start_soon(change)
            await reached.wait()
            await member.close()


async def three(
    tasks: anyio.abc.TaskGroup, home: Path, settings: AgentSettings = FAST
) -> tuple[Agent, Agent, Life]:
    """A and B (2-of-2, on `settings`), then C joins: 2-of-3. A, B and C's life."""
    a = (await live(tasks, home / "a", settings)).agent
    b = (await live(tasks, home / "b", settings)).agent
    c = await live(tasks, home / "c")
    await pair(a, b)
    with anyio.fail_after(60):
        await c.agent.accounts.join(await a.accounts.invite(2))
        while (a.account.devices, b.account.devices) != (3, 3):
            await anyio.sleep(0.05)
    return a, b, c


async def pair(a: Agent, b: Agent) -> None:
    """A creates an account and B joins it: 2-of-2."""
    await a.accounts.create()
    with anyio.fail_after(30):
        await b.accounts.join(await a.accounts.invite(2))
        while (a.account.phase, a.account.devices) != ("active", 2):
            await anyio.sleep(0.05)


async def tree(agent: Agent) -> TreeState:
    membership = agent.membership
    assert membership is not None
    journal = await agent.effects.journal.journal(JournalNamespace.of(membership.account))
    state = journal.view(TREE_REDUCER).current
    assert state is not None
    return state


async def registry(agent: Agent) -> CeremonyRegistry:
    membership = agent.membership
    assert membership is not None
    journal = await agent.effects.journal.journal(JournalNamespace.of(membership.account))
    found: CeremonyRegistry = journal.view(CEREMONY_REDUCER)
    return found


async def converged(epoch: int, *agents: Agent) -> None:
    """Every agent active at `epoch` in one membership (account, devices' context, group),
    with the same tree, no pending key, no change record left, and shares of the epoch that
    sign together under the tree's group key."""

    async def done(agent: Agent) -> bool:
        records = await agent.effects.storage.list_keys("agent/change/")
        records += await agent.effects.storage.list_keys("agent/prepared/")
        return (
            (agent.account.phase, agent.account.epoch) == ("active", epoch)
            and not agent.keys.secrets.pending
            and not records
        )

    with anyio.fail_after(60):
        while not all([await done(agent) for agent in agents]) or (
            len({(m.account, m.context, m.public_key_package) for m in _memberships(agents)}) > 1
        ):
            await anyio.sleep(0.05)
    states = {await tree(agent) for agent in agents}
    assert len(states) == 1
    [state] = states
    membership = _memberships(agents)[0]
    public = frost.PublicKeyPackage.from_bytes(membership.public_key_package)
    assert public.group_public_key == state.group_key
    keys = {}
    for agent in agents:
        share = agent.keys.secrets.share(membership.account, epoch)
        assert share is not None
        keys[share.identifier] = share
    signers = dict(sorted(keys.items())[: public.min_signers])
    seeds = {i: digest(f"converged {i}") for i in signers}
    signature = sign_locally(signers, public, b"converged", seeds)
    frost.verify(public.group_public_key, b"converged", signature)


def _memberships(agents: tuple[Agent, ...]) -> list[Membership]:
    found = [agent.membership for agent in agents]
    return [m for m in found if m is not None] if None not in found else []


async def pending_at_rest(home: Path) -> int:
    """How many pending keys the key file in `home` holds (read as the next start reads it)."""
    return len((await KeyStore.load(home / "keys", OsRandom())).secrets.pending)


async def enrollments_at_rest(home: Path) -> int:
    """How many enrollments (invitations) the key file in `home` holds."""
    return len((await KeyStore.load(home / "keys", OsRandom())).secrets.enrollments)


@pytest.mark.parametrize(
    ("phase", "kept"), [("member:prepared", 0), ("member:keys:refresh", 1)], ids=["ack", "keys"]
)
async def test_a_holder_lost_in_the_key_ceremony_aborts_the_change_and_drops_its_key(
    tmp_path: Path, phase: str, kept: int
) -> None:
    """B acknowledges the refresh's `Prepare` and stops, at once or once it has computed and
    kept its new key (before reporting it): A's refresh fails (`AccountError`), recorded
    aborted, nothing committed. B, back, forgets the change and deletes the aborted
    ceremony's key; both are as before, and the next refresh goes through."""
    async with anyio.create_task_group() as tasks:
        a, life = (await live(tasks, tmp_path / "a")).agent, await live(tasks, tmp_path / "b")
        await pair(a, life.agent)
        before, epoch = await tree(a), a.account.epoch
        reached, failed = anyio.Event(), anyio.Event()
        life.agent.accounts.fault = stop_at(phase, reached)

        async def refresh() -> None:
            with pytest.raises(AccountError, match="changed nothing"):
                await a.accounts.refresh()
            failed.set()

        with anyio.fail_after(60):
            tasks.start_soon(refresh)
            await reached.wait()
            await life.close()
            await failed.wait()
        assert await pending_at_rest(tmp_path / "b") == kept  # its new key, if it had one
        assert await tree(a) == before
        assert not a.keys.secrets.pending
        ceremonies = await registry(a)
        [ceremony] = [c for c in ceremonies.ceremonies() if ceremonies.started(c).current_epoch]
        assert isinstance(ceremonies.state(ceremony), Aborted)
        assert ceremonies.live(tree_prestate(before).hash) is None

        b = (await live(tasks, tmp_path / "b")).agent
        await converged(epoch, a, b)
        assert await tree(b) == before
        with anyio.fail_after(60):
            await a.accounts.refresh()
        await converged(epoch + 1, a, b)
        tasks.cancel_scope.cancel()


@pytest.mark.parametrize("corrupt", [False, True], ids=["plan", "beside_a_corrupt_plan"])
async def test_a_coordinator_restarted_past_the_tree_commit_finishes_the_change(
    tmp_path: Path, corrupt: bool
) -> None:
    """A's refresh commits its `RotateEpoch` (by consensus with B) and A stops before recording
    the ceremony's commit. Restarted, A finishes it from its plan: the commit
    recorded, its share taken, the new devices' context, B switched; both converge on the new
    epoch. A plan record that does not decode beside it is dropped (traced), not a stop to
    every recovery round."""
    async with anyio.create_task_group() as tasks:
        life, b = await live(tasks, tmp_path / "a"), (await live(tasks, tmp_path / "b")).agent
        a = life.agent
        await pair(a, b)
        epoch = a.account.epoch
        reached = anyio.Event()
        a.accounts.fault = stop_at("coordinator:committed", reached)
        with anyio.fail_after(60):
            tasks.start_soon(a.accounts.refresh)
            await reached.wait()
            assert (await tree(a)).epoch == epoch + 1  # committed: past the point of no return
            await life.close()  # the refresh with it
        assert b.account.epoch == epoch  # B has not moved
        assert b.keys.secrets.pending
        assert await pending_at_rest(tmp_path / "a") == 1
        if corrupt:
            storage = await SqliteStorage.open(tmp_path / "a" / STORAGE_FILE)
            await storage.put("agent/change/zz", b"not a plan")
            await storage.close()

        a = (await live(tasks, tmp_path / "a")).agent
        await converged(epoch + 1, a, b)
        ceremonies = await registry(b)
        assert any(isinstance(ceremonies.state(c), Committed) for c in ceremonies.ceremonies())
        corrupt_seen = [e.get("key") for e in a.effects.trace.events("account.plan_corrupt")]
        assert set(corrupt_seen) == ({"agent/change/zz"} if corrupt else set())
        tasks.cancel_scope.cancel()


async def test_a_device_that_missed_its_switch_moves_when_it_is_back(tmp_path: Path) -> None:
    """B stops as A's committed refresh's `Switch` reaches it: A moves alone (its refresh
    succeeds), B is left on the old epoch with its new key pending. Back, B is sent the
    `Switch` again and moves; both converge."""
    async with anyio.create_task_group() as tasks:
        a, life = (await live(tasks, tmp_path / "a")).agent, await live(tasks, tmp_path / "b")
        await pair(a, life.agent)
        epoch = a.account.epoch
        await change_losing_switch(a.accounts.refresh, life)
        assert a.account.epoch == epoch + 1
        assert await a.effects.storage.list_keys("agent/change/")  # B's Switch outstanding
        assert await pending_at_rest(tmp_path / "b") == 1

        b = (await live(tasks, tmp_path / "b")).agent
        await converged(epoch + 1, a, b)
        tasks.cancel_scope.cancel()


async def test_an_enrollment_whose_joiner_is_lost_in_the_dkg_adds_no_leaf(tmp_path: Path) -> None:
    """The joiner stops in the enrollment's DKG, holding its key: the inviter commits nothing
    (the new leaf comes after the keys) and records the ceremony aborted, so the prestate is
    free; the joiner, back, deletes the key and joins with a new code."""
    async with anyio.create_task_group() as tasks:
        a, life = (await live(tasks, tmp_path / "a")).agent, await live(tasks, tmp_path / "b")
        account = await a.accounts.create()
        before = await tree(a)
        code = await a.accounts.invite(2)
        reached = anyio.Event()
        life.agent.accounts.fault = stop_at("joiner:keys:dkg", reached)
        with anyio.fail_after(60):
            tasks.start_soon(life.agent.accounts.join, code)
            await reached.wait()
            await life.close()  # the join with it
        assert await pending_at_rest(tmp_path / "b") == 1
        with anyio.fail_after(30):
            while not any(isinstance(s, Aborted) for s in await _states(a)):
                await anyio.sleep(0.05)
        assert await tree(a) == before  # no AddLeaf
        assert (await registry(a)).live(tree_prestate(before).hash) is None

        b = (await live(tasks, tmp_path / "b")).agent
        with anyio.fail_after(30):
            while b.keys.secrets.pending:
                await anyio.sleep(0.05)
        assert b.membership is None
        with anyio.fail_after(30):
            assert await b.accounts.join(await a.accounts.invite(2)) == account
        await converged(1, a, b)
        tasks.cancel_scope.cancel()


async def _join_lost(agent: Agent, code: str) -> None:
    """`agent` joins with `code` and is stopped meanwhile: its join ends as it may."""
    with contextlib.suppress(AuraError):
        await agent.accounts.join(code)


async def _lose_joiner_past_commit(tasks: anyio.abc.TaskGroup, home: Path) -> tuple[Agent, str]:
    """A (1-of-1) invites B; B is stopped once A passed the enrollment's point of no return
    (before its tree changes commit): A commits, moves to 2-of-2 and keeps B's admission
    outstanding. A and the code."""
    a, life = (await live(tasks, home / "a")).agent, await live(tasks, home / "b")
    await a.accounts.create()
    code = await a.accounts.invite(2)

    async def lose_b(phase: str) -> None:
        if phase == "coordinator:committing":
            await life.close()

    a.accounts.fault = lose_b
    tasks.start_soon(_join_lost, life.agent, code)
    with anyio.fail_after(60):
        while not await a.effects.storage.list_keys("agent/change/") or a.account.devices != 2:
            await anyio.sleep(0.05)
    a.accounts.fault = None
    assert (a.account.phase, a.account.threshold) == ("active", 2)
    assert await pending_at_rest(home / "b") == 1  # its key, kept: the join may have committed
    assert await enrollments_at_rest(home / "b") == 1
    assert a.keys.secrets.enrollments  # the invitation, until B acknowledges its admission
    return a, code


async def _enrollment_held_at(
    tasks: anyio.abc.TaskGroup, home: Path, phase: str
) -> tuple[Life, Life]:
    """A (1-of-1) invites B and B joins, until A's enrollment reaches `phase`, where A is held:
    the inviter's and the joiner's lives, both still running, for the test to stop."""
    inviter, joiner = await live(tasks, home / "a"), await live(tasks, home / "b")
    a = inviter.agent
    await a.accounts.create()
    code = await a.accounts.invite(2)
    reached = anyio.Event()
    a.accounts.fault = stop_at(phase, reached)
    tasks.start_soon(_join_lost, joiner.agent, code)
    with anyio.fail_after(60):
        await reached.wait()
    return inviter, joiner


async def test_a_joiner_lost_past_the_point_of_no_return_is_admitted_when_it_is_back(
    tmp_path: Path,
) -> None:
    """B stops after A passed the enrollment's point of no return: A finishes it alone (a
    2-of-2 group whose second share only B holds). B, back, still holds its key and the
    invitation, asks A again and is admitted: both end full devices of the account, their
    shares sign together, and neither keeps the invitation."""
    async with anyio.create_task_group() as tasks:
        a, _ = await _lose_joiner_past_commit(tasks, tmp_path)
        b = (await live(tasks, tmp_path / "b")).agent
        await converged(1, a, b)
        assert not a.keys.secrets.enrollments and not b.keys.secrets.enrollments
        assert await enrollments_at_rest(tmp_path / "b") == 0
        tasks.cancel_scope.cancel()


async def test_a_lost_joiner_is_admitted_after_the_inviter_restarted_too(tmp_path: Path) -> None:
    """A stops once the enrollment's tree changes are in, and B with it (waiting for its
    answer). A, back, finishes the enrollment from its plan and opens the code's bootstrap
    context again from its key file; B, back, asks again and is admitted."""
    async with anyio.create_task_group() as tasks:
        inviter, joiner = await _enrollment_held_at(tasks, tmp_path, "coordinator:committed")
        assert len((await tree(inviter.agent)).leaves) == 2  # past the point of no return
        await joiner.close()
        await inviter.close()
        assert await pending_at_rest(tmp_path / "b") == 1
        assert await enrollments_at_rest(tmp_path / "a") == 1

        a = (await live(tasks, tmp_path / "a")).agent
        b = (await live(tasks, tmp_path / "b")).agent
        await converged(1, a, b)
        assert await enrollments_at_rest(tmp_path / "a") == 0
        tasks.cancel_scope.cancel()


async def test_a_committed_code_used_by_another_device_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """While B's admission is outstanding, C joins with the same code: `EnrollmentCodeRedeemed`,
    and nothing changes on C (no key, no invitation kept) nor on A (the plan still waits for
    B); B, back, is admitted all the same."""
    async with anyio.create_task_group() as tasks:
        a, code = await _lose_joiner_past_commit(tasks, tmp_path)
        c = (await live(tasks, tmp_path / "c")).agent
        [plan_key] = await a.effects.storage.list_keys("agent/change/")
        plan, state, before = (
            await a.effects.storage.get(plan_key),
            await tree(a),
            await snapshot(c),
        )
        with anyio.fail_after(60), pytest.raises(EnrollmentCodeRedeemed):
            await c.accounts.join(code)
        assert await snapshot(c) == before
        assert await enrollments_at_rest(tmp_path / "c") == 0
        assert await a.effects.storage.get(plan_key) == plan
        assert await tree(a) == state

        b = (await live(tasks, tmp_path / "b")).agent
        await converged(1, a, b)
        tasks.cancel_scope.cancel()


async def _states(agent: Agent) -> list[object]:
    found = await registry(agent)
    return [found.state(c) for c in found.ceremonies()]


async def test_a_holder_lost_past_the_point_of_no_return_is_waited_for(tmp_path: Path) -> None:
    """B signs the refresh's commit and stops before the tree change's consensus: A cannot
    commit it, and does not undo anything (`ChangeUnfinished`; the ceremony stays live, so no
    other change starts on its prestate). Once B is back, A's recovery commits the tree change
    and finishes the refresh: both converge on the new epoch."""
    quick = attrs.evolve(FAST, consensus=attrs.evolve(FAST.consensus, deadline_s=4.0))
    async with anyio.create_task_group() as tasks:
        a = (await live(tasks, tmp_path / "a", quick)).agent
        life = await live(tasks, tmp_path / "b", quick)
        await pair(a, life.agent)
        before, epoch = await tree(a), a.account.epoch

        async def lose_b(phase: str) -> None:
            if phase == "coordinator:committing":
                await life.close()

        a.accounts.fault = lose_b
        with anyio.fail_after(90), pytest.raises(ChangeUnfinished, match="finishes it"):
            await a.accounts.refresh()
        a.accounts.fault = None
        assert await tree(a) == before  # nothing committed without B, nothing undone
        ceremonies = await registry(a)
        assert ceremonies.live(tree_prestate(before).hash) is not None
        assert await a.effects.storage.list_keys("agent/change/")
        with pytest.raises(CeremonyConflict):
            await a.accounts.refresh()

        b = (await live(tasks, tmp_path / "b")).agent
        await converged(epoch + 1, a, b)
        tasks.cancel_scope.cancel()


async def test_a_removed_device_missing_its_switch_does_not_hold_the_account_back(
    tmp_path: Path,
) -> None:
    """C stops as the bare `Switch` of its removal reaches it: it stays outstanding while A and
    B go on (a later refresh moves them again; A's recovery leaves A where it is); C, back, is
    told and shows itself removed, and A forgets the removal."""
    async with anyio.create_task_group() as tasks:
        a, b, life = await three(tasks, tmp_path)
        device = life.agent.identity.device
        await change_losing_switch(partial(a.accounts.remove, device), life)
        epoch = a.account.epoch
        with anyio.fail_after(60):
            while (b.account.epoch, b.account.devices) != (epoch, 2):
                await anyio.sleep(0.05)
            await b.accounts.refresh()
        with anyio.fail_after(60):
            while a.account.epoch != epoch + 1:
                await anyio.sleep(0.05)
        await anyio.sleep(2 * RETRY_S)  # the recovery has looked again: A stays where it is
        assert a.account.epoch == epoch + 1
        assert await a.effects.storage.list_keys("agent/change/")  # C's Switch outstanding

        c = (await live(tasks, tmp_path / "c")).agent
        with anyio.fail_after(60):
            while c.account.phase != "removed" or await a.effects.storage.list_keys(
                "agent/change/"
            ):
                await anyio.sleep(0.05)
        await converged(epoch + 1, a, b)
        tasks.cancel_scope.cancel()


async def test_a_joiner_told_unfinished_asks_again_and_is_admitted(tmp_path: Path) -> None:
    """A's enrollment passes its point of no return but cannot finish when it answers B (a
    step fails once after its tree changes committed): B is told `unfinished`, keeps its key
    and, still running, asks again in the same bootstrap context until it is admitted. (Its
    capabilities there were granted once: a second grant from another root would meet the
    first to nothing and deny every ask, as the `accounts` simulator scenario found under 2 %
    loss.)"""
    async with anyio.create_task_group() as tasks:
        a = (await live(tasks, tmp_path / "a")).agent
        b = (await live(tasks, tmp_path / "b")).agent
        await unfinished_join(a, b)
        assert b.membership is None and b.keys.secrets.pending  # kept: it may have committed
        await converged(1, a, b)
        assert not a.keys.secrets.enrollments and not b.keys.secrets.enrollments
        tasks.cancel_scope.cancel()


async def test_a_joiner_whose_inviter_restarted_in_the_dkg_is_told_and_joins_again(
    tmp_path: Path,
) -> None:
    """A stops in the enrollment's key ceremony, before its point of no return, and B with it
    (its key reported, so the join may have committed as far as B knows). A, back, records
    the enrollment aborted; B, back, asks again and is told the code is void: it drops its key
    and the invitation, and joins with a new code."""
    async with anyio.create_task_group() as tasks:
        inviter, joiner = await _enrollment_held_at(tasks, tmp_path, "coordinator:keys:dkg")
        await inviter.close()
        await joiner.close()
        assert await pending_at_rest(tmp_path / "b") == 1
        assert await enrollments_at_rest(tmp_path / "b") == 1

        a = (await live(tasks, tmp_path / "a")).agent
        with anyio.fail_after(30):  # the one ceremony, the enrollment, recorded aborted
            while not _all_aborted(await registry(a)):
                await anyio.sleep(0.05)
        b = (await live(tasks, tmp_path / "b")).agent
        with anyio.fail_after(30):
            while b.keys.secrets.pending or b.keys.secrets.enrollments:
                await anyio.sleep(0.05)
        assert b.membership is None and len((await tree(a)).leaves) == 1
        assert a.membership is not None
        with anyio.fail_after(30):
            assert await b.accounts.join(await a.accounts.invite(2)) == a.membership.account
        await converged(1, a, b)
        tasks.cancel_scope.cancel()


def _all_aborted(found: CeremonyRegistry) -> bool:
    return all(isinstance(found.state(c), Aborted) for c in found.ceremonies())


async def test_a_coordinator_restarted_past_a_new_group_key_finishes_the_enrollment(
    tmp_path: Path,
) -> None:
    """A (2-of-2 with B) enrolls C: the DKG's new group key commits (`ChangePolicy`) and A stops
    before it moved, C with it. Restarted, A's tree is ahead of its group (its share is of the
    old key), so it runs no consensus node, but its account workflows do: it finishes the
    enrollment from its plan and moves, B switches, and C, back, asks again and is admitted;
    all three converge on 2-of-3. (A's account services used to refuse to start: "the key
    package is not the tree state's group", found by the accounts simulator scenario with a
    random crash.)"""
    async with anyio.create_task_group() as tasks:
        inviter, b = await live(tasks, tmp_path / "a"), (await live(tasks, tmp_path / "b")).agent
        joiner = await live(tasks, tmp_path / "c")
        a = inviter.agent
        await pair(a, b)
        code = await a.accounts.invite(2)
        reached = anyio.Event()
        a.accounts.fault = stop_at("coordinator:committed", reached)
        with anyio.fail_after(60):
            tasks.start_soon(_join_lost, joiner.agent, code)
            await reached.wait()
            assert len((await tree(a)).leaves) == 3  # past the point of no return
            await joiner.close()
            await inviter.close()

        a = (await live(tasks, tmp_path / "a")).agent
        c = (await live(tasks, tmp_path / "c")).agent
        await converged(2, a, b, c)
        assert (a.account.threshold, a.account.devices) == (2, 3)
        tasks.cancel_scope.cancel()
