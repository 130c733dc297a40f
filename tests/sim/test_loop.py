"""The deterministic loop: virtual time, seeded ordering that keeps asyncio's guarantees, anyio
semantics (deadlines, cancellation, task-group errors), refusal of the outside world, deadlock
detection and limits. No test looks at the wall clock."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import anyio.lowlevel
import pytest

from aura_core.errors import AuraError, ErrorKind
from aura_sim import (
    Deadlock,
    Schedule,
    SimLoop,
    Simulation,
    SimulationError,
    SimulationLimitExceeded,
    SimulationUnsupported,
    check_determinism,
    current_loop,
    run,
    wait_all_tasks_blocked,
)

SEEDS = range(12)


def now() -> float:
    return current_loop().time()


# -- virtual time -------------------------------------------------------------------------------


def test_a_long_sleep_jumps_the_clock() -> None:
    async def main() -> float:
        await anyio.sleep(10_000)
        return anyio.current_time()

    simulation = Simulation(1)
    assert simulation.run(main) == 10_000.0
    stats = simulation.stats
    assert stats.virtual_time == 10_000.0
    assert stats.time_jumps == 1
    assert stats.timers_fired == 1


def test_start_time_sets_the_epoch() -> None:
    async def main() -> tuple[float, float]:
        start = now()
        await anyio.sleep(2.5)
        return start, now()

    assert run(main, seed=0, start_time=1_000.0) == (1_000.0, 1_002.5)


def test_a_day_of_periodic_timers() -> None:
    async def main() -> list[float]:
        ticks: list[float] = []

        async def ticker(period: float) -> None:
            while now() + period <= 86_400:
                await anyio.sleep(period)
                ticks.append(now())

        async with anyio.create_task_group() as group:
            group.start_soon(ticker, 60.0)
            group.start_soon(ticker, 3_600.0)
        return ticks

    ticks = run(main, seed=3)
    assert len(ticks) == 1_440 + 24
    assert ticks == sorted(ticks)
    assert ticks[-1] == 86_400.0


def test_timers_fire_in_time_order_whatever_the_seed() -> None:
    async def main() -> list[tuple[str, float]]:
        fired: list[tuple[str, float]] = []

        async def sleeper(name: str, delay: float) -> None:
            await anyio.sleep(delay)
            fired.append((name, now()))

        async with anyio.create_task_group() as group:
            for name, delay in (("c", 3.0), ("a", 1.0), ("d", 4.0), ("b", 2.0)):
                group.start_soon(sleeper, name, delay)
        return fired

    for seed in SEEDS:
        assert run(main, seed=seed) == [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)]


def test_call_later_and_call_at() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float]] = []
        done = anyio.Event()
        loop.call_later(5.0, lambda: fired.append(("later", loop.time())))
        loop.call_at(7.5, lambda: fired.append(("at", loop.time())))
        cancelled = loop.call_later(6.0, lambda: fired.append(("cancelled", loop.time())))
        cancelled.cancel()
        loop.call_later(8.0, done.set)
        await done.wait()
        return fired

    assert run(main, seed=0) == [("later", 5.0), ("at", 7.5)]


def test_many_cancelled_timers_are_purged() -> None:
    async def main() -> int:
        for _ in range(500):
            with anyio.move_on_after(1_000):
                await anyio.lowlevel.checkpoint()
        loop = current_loop()
        return len(loop._scheduled)

    assert run(main, seed=0) < 200


# -- deadlines and cancellation (anyio semantics) ---------------------------------------------


def test_move_on_after_fires_at_the_deadline() -> None:
    async def main() -> tuple[bool, float]:
        with anyio.move_on_after(3.0) as scope:
            await anyio.sleep(100)
        return scope.cancelled_caught, now()

    for seed in SEEDS:
        assert run(main, seed=seed) == (True, 3.0)


def test_fail_after_raises_at_the_deadline() -> None:
    async def main() -> float:
        try:
            with anyio.fail_after(2.5):
                await anyio.sleep(60)
        except TimeoutError:
            return now()
        raise AssertionError("no timeout")

    for seed in SEEDS:
        assert run(main, seed=seed) == 2.5


def test_fail_after_does_not_fire_when_the_work_finishes_first() -> None:
    async def main() -> float:
        with anyio.fail_after(5.0):
            await anyio.sleep(4.75)
        await anyio.sleep(10)  # the cancelled deadline timer must not fire later
        return now()

    assert run(main, seed=0) == 14.75


def test_nested_deadlines_the_earliest_wins() -> None:
    async def main() -> tuple[bool, bool, float]:
        with anyio.move_on_after(10) as outer:
            with anyio.move_on_after(4) as inner:
                await anyio.sleep(100)
            await anyio.sleep(100)
        return inner.cancelled_caught, outer.cancelled_caught, now()

    assert run(main, seed=5) == (True, True, 10.0)


def test_cancelling_a_scope_stops_the_tasks_in_it() -> None:
    async def main() -> tuple[list[str], float]:
        log: list[str] = []

        async def forever(name: str) -> None:
            try:
                await anyio.sleep_forever()
            finally:
                log.append(f"{name} cleaned up at {now()}")

        async with anyio.create_task_group() as group:
            group.start_soon(forever, "x")
            group.start_soon(forever, "y")
            await anyio.sleep(7)
            group.cancel_scope.cancel()
        return sorted(log), now()

    for seed in SEEDS:
        assert run(main, seed=seed) == (["x cleaned up at 7.0", "y cleaned up at 7.0"], 7.0)


def test_a_shielded_scope_finishes_its_cleanup() -> None:
    async def main() -> list[str]:
        log: list[str] = []

        async def worker() -> None:
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(3)
                    log.append(f"cleanup done at {now()}")

        with anyio.move_on_after(1):
            async with anyio.create_task_group() as group:
                group.start_soon(worker)
        log.append(f"left at {now()}")
        return log

    for seed in SEEDS:
        assert run(main, seed=seed) == ["cleanup done at 4.0", "left at 4.0"]


def _exception_shape(exc: BaseException) -> object:
    if isinstance(exc, BaseExceptionGroup):
        return (type(exc).__name__, sorted(map(repr, map(_exception_shape, exc.exceptions))))
    return f"{type(exc).__name__}({exc})"


async def failing_groups() -> list[object]:
    """Task groups whose children fail, written so the outcome cannot depend on the order of
    ready tasks: real anyio and the simulator (under any seed) must report the same."""
    outcomes: list[object] = []
    log: list[str] = []

    async def fails_later(message: str) -> None:
        await anyio.lowlevel.checkpoint()
        raise ValueError(message)

    async def fails_at_once(message: str) -> None:
        raise KeyError(message)

    async def waits(name: str) -> None:
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            log.append(f"{name} cancelled")
            raise

    async def inner_group() -> None:
        async with anyio.create_task_group() as inner:
            inner.start_soon(waits, "inner waiter")
            inner.start_soon(fails_later, "inner")

    # A failure two groups down cancels both groups and arrives nested.
    try:
        async with anyio.create_task_group() as outer:
            outer.start_soon(waits, "outer waiter")
            outer.start_soon(inner_group)
    except BaseException as exc:
        outcomes.append(_exception_shape(exc))
    # Children that fail in their first step all fail before any cancellation can land.
    try:
        async with anyio.create_task_group() as group:
            for name in ("x", "y", "z"):
                group.start_soon(fails_at_once, name)
            group.start_soon(waits, "sibling")
    except BaseException as exc:
        outcomes.append(_exception_shape(exc))
    outcomes.append(sorted(log))
    return outcomes


async def start_and_cancel() -> list[str]:
    """`TaskGroup.start` handshakes, a scope cancelled from another task, and cancelling a
    whole group; the handshakes make the outcome independent of ready-task order."""
    log: list[str] = []

    async def service(name: str, *, task_status: anyio.abc.TaskStatus[str]) -> None:
        task_status.started(f"{name} up")
        try:
            await anyio.sleep_forever()
        finally:
            log.append(f"{name} down")

    async with anyio.create_task_group() as group:
        log.append(await group.start(service, "a"))
        log.append(await group.start(service, "b"))
        scope = anyio.CancelScope()
        entered = anyio.Event()
        finished = anyio.Event()

        async def victim() -> None:
            with scope:
                entered.set()
                await anyio.sleep_forever()
            log.append(f"victim cancelled={scope.cancelled_caught}")
            finished.set()

        group.start_soon(victim)
        await entered.wait()
        scope.cancel()
        await finished.wait()
        group.cancel_scope.cancel()
    return sorted(log)


@pytest.mark.parametrize("workload", [failing_groups, start_and_cancel])
def test_outcomes_match_real_anyio(workload: Callable[[], Awaitable[object]]) -> None:
    expected = anyio.run(workload)
    for seed in SEEDS:
        assert run(workload, seed=seed) == expected


def test_a_child_error_reaches_the_caller_as_a_group() -> None:
    async def main() -> None:
        async def bad() -> None:
            await anyio.sleep(1)
            raise KeyError("boom")

        async with anyio.create_task_group() as group:
            group.start_soon(bad)
            await anyio.sleep(100)

    with pytest.raises(ExceptionGroup) as caught:
        run(main, seed=1)
    assert caught.group_contains(KeyError, match="boom")


def test_an_error_in_main_propagates_with_a_replay_note() -> None:
    async def main() -> None:
        await anyio.sleep(1)
        raise LookupError("plain")

    with pytest.raises(LookupError, match="plain") as caught:
        run(main, seed=31)
    assert caught.value.__notes__ == [
        "replay with: aura_sim.Simulation(31, schedule=Schedule.RANDOM, start_time=0.0, "
        "max_steps=10000000, max_time=None).run(main, ...)"
    ]


# -- synchronisation primitives ---------------------------------------------------------------


def test_events_locks_semaphores_conditions_and_streams() -> None:
    async def main() -> tuple[list[int], int, int, list[str]]:
        lock = anyio.Lock()
        semaphore = anyio.Semaphore(2)
        condition = anyio.Condition()
        ready = anyio.Event()
        send, receive = anyio.create_memory_object_stream[int](1)
        received: list[int] = []
        inside = 0
        most_inside = 0
        shared = 0
        notes: list[str] = []

        async def producer(mine: anyio.abc.ObjectSendStream[int], base: int) -> None:
            await ready.wait()
            async with mine:
                for i in range(5):
                    await mine.send(base + i)

        async def consumer() -> None:
            async with receive:
                async for item in receive:
                    received.append(item)

        async def limited() -> None:
            nonlocal inside, most_inside
            async with semaphore:
                inside += 1
                most_inside = max(most_inside, inside)
                await anyio.sleep(1)
                inside -= 1

        async def locked_increment() -> None:
            nonlocal shared
            for _ in range(10):
                async with lock:
                    seen = shared
                    await anyio.lowlevel.checkpoint()
                    shared = seen + 1

        async def waiter() -> None:
            async with condition:
                await condition.wait()
                notes.append("notified")

        async with anyio.create_task_group() as group:
            group.start_soon(consumer)
            for base in (0, 100):
                group.start_soon(producer, send.clone(), base)
            send.close()
            for _ in range(5):
                group.start_soon(limited)
            for _ in range(3):
                group.start_soon(locked_increment)
            group.start_soon(waiter)
            await anyio.sleep(0.5)
            ready.set()
            async with condition:
                condition.notify_all()
        return sorted(received), most_inside, shared, notes

    for seed in SEEDS:
        received, most_inside, shared, notes = run(main, seed=seed)
        assert received == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]
        assert most_inside == 2
        assert shared == 30
        assert notes == ["notified"]


def test_limiters_moving_deadlines_and_sleep_until() -> None:
    async def main() -> tuple[int, float, float, float]:
        limiter = anyio.CapacityLimiter(3)
        busy = 0
        most_busy = 0

        async def job() -> None:
            nonlocal busy, most_busy
            async with limiter:
                busy += 1
                most_busy = max(most_busy, busy)
                await anyio.sleep(1)
                busy -= 1

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(job)
        jobs_done = now()

        with anyio.CancelScope(deadline=now() + 100) as scope:
            await anyio.sleep(1)
            scope.deadline = now() + 2  # moved earlier: the old timer must not matter
            await anyio.sleep_forever()
        moved = now()

        await anyio.sleep_until(1_000.0)
        return most_busy, jobs_done, moved, now()

    for seed in SEEDS:
        assert run(main, seed=seed) == (3, 4.0, 7.0, 1_000.0)


def test_plain_asyncio_primitives_work_too() -> None:
    async def main() -> list[object]:
        queue: asyncio.Queue[int] = asyncio.Queue()

        async def put_later(value: int, delay: float) -> None:
            await asyncio.sleep(delay)
            await queue.put(value)

        results = await asyncio.gather(put_later(1, 2.0), put_later(2, 1.0))
        first = await queue.get()
        try:
            await asyncio.wait_for(asyncio.sleep(10), timeout=3)
        except TimeoutError:
            timed_out_at = asyncio.get_running_loop().time()
        return [results, first, await queue.get(), timed_out_at]

    assert run(main, seed=4) == [[None, None], 2, 1, 5.0]


# -- ordering: seeded, but with asyncio's guarantees ------------------------------------------


def test_every_ready_task_runs_before_any_runs_again() -> None:
    # Whatever the seed, a batch is one asyncio iteration: sleep(0) lets every other ready
    # task run first, so nobody starves and the rounds never overlap.
    async def main() -> list[tuple[int, str]]:
        log: list[tuple[int, str]] = []

        async def worker(name: str) -> None:
            for round_ in range(6):
                log.append((round_, name))
                await asyncio.sleep(0)

        async with anyio.create_task_group() as group:
            for name in "abcde":
                group.start_soon(worker, name)
        return log

    orders = set()
    for seed in SEEDS:
        log = run(main, seed=seed)
        assert [r for r, _ in log] == sorted(r for r, _ in log)
        orders.add(tuple(log))
    assert len(orders) > 1


def test_a_self_rescheduling_callback_does_not_starve_tasks() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        spins = 0
        stop = False

        def spin() -> None:
            nonlocal spins
            spins += 1
            if not stop:
                loop.call_soon(spin)

        loop.call_soon(spin)
        for _ in range(100):
            await asyncio.sleep(0)
        stop = True
        return spins

    for seed in SEEDS:
        assert 99 <= run(main, seed=seed) <= 102


def test_a_callback_runs_after_the_one_that_scheduled_it() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        log: list[str] = []
        done = anyio.Event()

        def chain(depth: int) -> None:
            log.append(f"link {depth}")
            if depth < 5:
                loop.call_soon(chain, depth + 1)
            else:
                done.set()

        loop.call_soon(chain, 0)
        await done.wait()
        return log

    for seed in SEEDS:
        assert run(main, seed=seed) == [f"link {i}" for i in range(6)]


def test_fifo_schedule_runs_in_creation_order() -> None:
    async def main() -> str:
        order: list[str] = []

        async def record(name: str) -> None:
            order.append(name)

        async with anyio.create_task_group() as group:
            for name in "abcdef":
                group.start_soon(record, name)
        return "".join(order)

    assert {run(main, seed=seed, schedule=Schedule.FIFO) for seed in SEEDS} == {"abcdef"}
    assert len({run(main, seed=seed) for seed in SEEDS}) > 1


def test_tasks_are_numbered_by_the_loop_and_hash_by_number() -> None:
    async def main() -> list[tuple[int, int, str]]:
        loop = current_loop()
        tasks = [asyncio.create_task(asyncio.sleep(0)) for _ in range(3)]
        named = loop.create_task(asyncio.sleep(0), name="custom")
        tasks.append(named)
        await asyncio.gather(*tasks)
        return [(loop.task_id(t), hash(t), t.get_name()) for t in tasks]

    rows = run(main, seed=0)
    assert [row[0] for row in rows] == [2, 3, 4, 5]
    assert all(task_id == hashed for task_id, hashed, _ in rows)
    assert [row[2] for row in rows] == ["task-2", "task-3", "task-4", "custom"]


def test_a_custom_task_factory_is_respected() -> None:
    async def main() -> tuple[bool, int]:
        loop = current_loop()
        made: list[asyncio.Task[object]] = []

        def factory(loop: asyncio.AbstractEventLoop, coro: object, **kwargs: object) -> object:
            task = asyncio.Task(coro, loop=loop, **kwargs)  # type: ignore[arg-type]
            made.append(task)
            return task

        loop.set_task_factory(factory)  # type: ignore[arg-type]
        await loop.create_task(asyncio.sleep(0), name="via-factory")
        loop.set_task_factory(None)
        return made[0].get_name() == "via-factory", loop.task_id(made[0])

    simulation = Simulation(0, record_trace=True)
    assert simulation.run(main) == (True, 2)
    assert simulation.trace is not None
    assert any(label == "task:2:via-factory" for _, label in simulation.trace.entries)


def test_wait_all_tasks_blocked_settles_before_time_moves() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        send, receive = anyio.create_memory_object_stream[int](0)

        async def relay() -> None:
            async with receive:
                async for item in receive:
                    log.append(f"relayed {item} at {now()}")

        async def heartbeat() -> None:
            while True:
                await anyio.sleep(100)
                log.append(f"beat at {now()}")

        async with anyio.create_task_group() as group:
            group.start_soon(relay)
            group.start_soon(heartbeat)
            async with send:
                for item in range(3):
                    await wait_all_tasks_blocked()  # the relay is parked in receive()
                    send.send_nowait(item)  # so this hands the item over without blocking
            await wait_all_tasks_blocked()
            log.append(f"settled at {now()}")
            group.cancel_scope.cancel()
        return log

    for seed in SEEDS:
        assert run(main, seed=seed) == [
            "relayed 0 at 0.0",
            "relayed 1 at 0.0",
            "relayed 2 at 0.0",
            "settled at 0.0",
        ]


def test_waiting_for_blocked_tasks_is_not_a_deadlock() -> None:
    async def main() -> float:
        async def idle() -> None:
            await anyio.Event().wait()

        async with anyio.create_task_group() as group:
            group.start_soon(idle)
            with anyio.CancelScope() as scope:
                scope.cancel()
                await wait_all_tasks_blocked()  # cancelled before it waits: nothing left over
            await wait_all_tasks_blocked()
            group.cancel_scope.cancel()
        return now()

    assert run(main, seed=0) == 0.0


# -- the closed world -------------------------------------------------------------------------


def test_to_thread_is_refused() -> None:
    async def main() -> int:
        return await anyio.to_thread.run_sync(lambda: 5)

    with pytest.raises(SimulationUnsupported, match="thread"):
        run(main, seed=0)
    # Teardown stopped anyio's worker thread; it exits on its own once told to.
    for thread in threading.enumerate():
        if thread.name == "AnyIO worker thread":
            thread.join(timeout=10)
            assert not thread.is_alive()


def test_run_in_executor_is_refused() -> None:
    async def main() -> int:
        return await asyncio.to_thread(lambda: 5)

    with pytest.raises(SimulationUnsupported, match="run_in_executor"):
        run(main, seed=0)


def test_a_foreign_thread_callback_is_held_back() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def from_thread() -> None:
            loop.call_soon_threadsafe(future.set_result, 1)

        thread = threading.Thread(target=from_thread)
        thread.start()
        thread.join()  # blocks the loop: the callback is queued before the loop goes idle
        await future

    with pytest.raises(SimulationUnsupported, match="thread"):
        run(main, seed=0)


async def _wait_readable() -> None:
    with socket.socket() as sock:
        await anyio.wait_readable(sock)


async def _open_signals() -> None:
    import signal

    with anyio.open_signal_receiver(signal.SIGUSR1):
        pass


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("create_connection", lambda: anyio.connect_tcp("127.0.0.1", 9)),
        (
            "create_server",
            lambda: asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0),
        ),
        ("getaddrinfo", lambda: anyio.getaddrinfo("localhost", 80)),
        ("subprocess_exec", lambda: anyio.run_process(["true"])),
        ("add_reader", _wait_readable),
        ("add_signal_handler", _open_signals),
    ],
)
def test_real_io_is_refused(name: str, call: Callable[[], Awaitable[object]]) -> None:
    async def main() -> None:
        await call()

    with pytest.raises((SimulationUnsupported, ExceptionGroup)) as caught:
        run(main, seed=0)
    error = caught.value
    if isinstance(error, ExceptionGroup):
        found = error.subgroup(SimulationUnsupported)
        assert found is not None
        error = found.exceptions[0]
    assert name in str(error)
    assert isinstance(error, AuraError)
    assert error.kind is ErrorKind.SYSTEM


# -- deadlock and limits ----------------------------------------------------------------------


def test_deadlock_names_the_blocked_tasks() -> None:
    async def main() -> None:
        never = anyio.Event()

        async def waiter() -> None:
            await never.wait()

        async with anyio.create_task_group() as group:
            group.start_soon(waiter, name="waiter-one")
            group.start_soon(waiter, name="waiter-two")
            await anyio.sleep(12)

    with pytest.raises(Deadlock) as caught:
        run(main, seed=0)
    deadlock = caught.value
    assert deadlock.kind is ErrorKind.SYSTEM
    assert deadlock.virtual_time == 12.0
    names = [task.name for task in deadlock.blocked]
    assert names[1:] == ["waiter-one", "waiter-two"]
    assert names[0].endswith("main")
    assert all("wait" in task.waiting_at for task in deadlock.blocked[1:])
    assert "waiter-two" in str(deadlock)


def test_a_deadlock_that_survives_cancellation_is_still_reported() -> None:
    # After the deadlock, asyncio cancels the leftover tasks; this one swallows the
    # cancellation and blocks again, so teardown deadlocks too. The first error wins.
    async def main() -> None:
        stuck = anyio.Event()
        try:
            await stuck.wait()
        except asyncio.CancelledError:
            await stuck.wait()

    with pytest.raises(Deadlock) as caught:
        run(main, seed=0)
    assert any("while cancelling" in note for note in caught.value.__notes__)


def test_step_limit() -> None:
    async def spin() -> None:
        while True:
            await anyio.lowlevel.checkpoint()

    with pytest.raises(SimulationLimitExceeded) as caught:
        run(spin, seed=0, max_steps=5_000)
    assert caught.value.limit == "steps"
    assert caught.value.steps == 5_000


def test_time_limit() -> None:
    async def heartbeat() -> None:
        while True:
            await anyio.sleep(30)

    with pytest.raises(SimulationLimitExceeded) as caught:
        run(heartbeat, seed=0, max_time=3_600.0)
    assert caught.value.limit == "time"
    assert caught.value.virtual_time == 3_600.0


def test_invalid_loop_options() -> None:
    with pytest.raises(AuraError):
        SimLoop(0, max_steps=0)
    with pytest.raises(AuraError):
        SimLoop(0, start_time=10.0, max_time=5.0)
    with pytest.raises(AuraError):
        SimLoop(0, schedule="random")  # type: ignore[arg-type]


# -- access from inside, counters, notes --------------------------------------------------------


def test_current_loop_inside_and_outside() -> None:
    with pytest.raises(SimulationError):
        current_loop()

    async def under_asyncio() -> None:
        current_loop()

    with pytest.raises(SimulationError):
        asyncio.run(under_asyncio())

    async def main() -> tuple[int, int]:
        loop = current_loop()
        return loop.seed, loop.seeds.child("node", "a").stream("random").u64()

    seed, drawn = run(main, seed=77)
    assert seed == 77
    assert drawn == Simulation(77).seeds.child("node", "a").stream("random").u64()


def test_notes_and_counters() -> None:
    async def main() -> None:
        loop = current_loop()
        loop.note("hello")
        async with anyio.create_task_group() as group:
            for delay in (1, 2, 2):
                group.start_soon(anyio.sleep, delay)
        loop.note(f"done at {loop.time()}")

    simulation = Simulation(8, record_trace=True)
    simulation.run(main)
    assert simulation.trace is not None
    notes = [(t, label) for t, label in simulation.trace.entries if label.startswith("note:")]
    assert notes == [(0.0, "note:hello"), (2.0, "note:done at 2.0")]
    stats = simulation.stats
    assert stats.timers_fired == 3
    assert stats.time_jumps == 2
    assert stats.tasks_created >= 4
    assert stats.max_ready >= 2
    assert stats.steps == sum(1 for _, label in simulation.trace.entries if "note:" not in label)
    assert simulation.repro().startswith("aura_sim.Simulation(8, schedule=Schedule.RANDOM")


def test_garbage_is_collected_at_the_same_steps_in_every_run() -> None:
    # Async generators left in reference cycles are finalized by the cyclic collector; their
    # `aclose` must run at the same step of every run, whatever the process did before.
    async def main() -> None:
        loop = current_loop()

        async def numbers(i: int) -> AsyncIterator[int]:
            try:
                while True:
                    yield i
            finally:
                loop.note(f"generator {i} closed")

        for i in range(4):
            generator = numbers(i)
            await generator.__anext__()
            cycle: list[object] = [generator]
            cycle.append(cycle)
            del generator, cycle
            for _ in range(6_000):
                await anyio.lowlevel.checkpoint()

    simulation = Simulation(1, record_trace=True)
    simulation.run(main)
    assert simulation.trace is not None
    closed = [i for i, (_, label) in enumerate(simulation.trace.entries) if "closed" in label]
    assert len(closed) == 4
    assert closed[0] < len(simulation.trace) // 2  # during the run, not at shutdown
    garbage = [bytearray(1000) for _ in range(5_000)]  # disturb the collector's counters
    check_determinism(main, 1)
    del garbage


def test_a_simulation_needs_a_run_before_its_loop() -> None:
    with pytest.raises(SimulationError):
        _ = Simulation(1).loop


def test_steps_hook_sees_every_step() -> None:
    seen: list[tuple[float, str]] = []

    async def main() -> None:
        await anyio.sleep(1)

    simulation = Simulation(2, on_step=lambda t, label: seen.append((t, label)))
    simulation.run(main)
    assert len(seen) == simulation.stats.steps
    assert seen[0] == (0.0, "task:1:task-1")
    assert (1.0, "call:_set_result_unless_cancelled") in seen


def test_labels_name_what_ran() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        victim = loop.create_task(anyio.sleep_forever(), name="victim")
        await asyncio.sleep(0)
        loop.call_later(2.0, victim.cancel)
        loop.call_soon(functools.partial(sorted, [2, 1]))
        with contextlib.suppress(asyncio.CancelledError):
            await victim

    simulation = Simulation(0, record_trace=True)
    simulation.run(main)
    assert simulation.trace is not None
    labels = [label for _, label in simulation.trace.entries]
    assert "task:2:victim" in labels
    assert "call:Task.cancel@task:2:victim" in labels
    assert "call:sorted" in labels
