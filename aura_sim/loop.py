"""`SimLoop`: a seeded, virtual-time asyncio event loop with no real I/O.

It runs unmodified asyncio and anyio code. Three things differ from the stock loop:

* **Time is virtual.** `time()` is a float that starts at `start_time` and moves only when
  nothing is ready: then it jumps straight to the earliest pending timer. A run never sleeps
  and never reads a real clock, so ten thousand simulated seconds cost what their callbacks
  cost.
* **Ready callbacks run in a seeded order.** Each loop iteration takes the batch of callbacks
  that are ready, puts it in a canonical order (task steps by the loop's own task number,
  other callbacks in the order they were scheduled) and, under `Schedule.RANDOM`, shuffles it
  with the `scheduler` stream of the seed tree. Everything ready at the start of an iteration
  runs in that iteration and everything it schedules runs in a later one, exactly as in
  asyncio, so no callback starves, `sleep(0)` still lets every other ready task run first, and
  causality (a callback runs after the one that scheduled it) holds. What a seed changes is the
  order *within* a batch, which is where interleaving bugs hide.
* **The world is closed.** Sockets, DNS, pipes, subprocesses, signal handlers and executors
  raise `SimulationUnsupported`; a thread started by the code under test (e.g.
  `anyio.to_thread`) is detected the next time the loop goes idle and refused the same way.

When nothing is ready and no timer is pending the run can never finish, and the loop raises
`Deadlock` naming the blocked tasks; `max_steps` and `max_time` turn livelocks and endless
timers into `SimulationLimitExceeded`. A `StepHook` sees `(virtual_time, label)` for every
callback run, which is what the trace and the determinism check are built on.

The loop subclasses `asyncio.BaseEventLoop` and replaces `_run_once`, so scheduling, timers,
tasks, futures, async-generator hooks and the exception handler are the standard library's own.
`_run_once` reads the base class's private `_ready`, `_scheduled`, `_stopping` and
`_timer_cancelled_count` and the handles' `_callback`, `_cancelled`, `_when` and `_scheduled`;
they have had these names and meanings from Python 3.4 through 3.13.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import functools
import gc
import heapq
import os
import threading
import weakref
from collections.abc import Callable, Coroutine, Generator
from contextvars import Context
from typing import Any, NoReturn, TypeVar

import attrs

from aura_core.errors import InvalidArgument
from aura_sim.errors import (
    BlockedTask,
    Deadlock,
    SimulationError,
    SimulationLimitExceeded,
    SimulationUnsupported,
)
from aura_sim.seeds import SeedTree
from aura_sim.trace import StepHook

__all__ = ["Schedule", "LoopStats", "SimTask", "SimLoop", "current_loop", "wait_all_tasks_blocked"]

T = TypeVar("T")

_GC_EVERY = 10_000
"""Steps between the loop's own garbage collections (automatic GC is off during a run)."""
_TEARDOWN_STEPS = 1_000_000
"""Extra step budget for cancelling the tasks left over after a failed run."""
_MIN_SCHEDULED = 100
_CANCELLED_FRACTION = 0.5
_TASK_STEPS = frozenset({"task_wakeup", "_Task__step", "_Task__wakeup"})
"""Names of the bound methods through which asyncio runs a task (C and pure-Python tasks); the
C step wrapper has no name at all."""
_OTHER = 1 << 80
"""Sort key bit that puts plain callbacks after task steps in the canonical batch order (task
keys are `task number << 32 | position`)."""


class Schedule(enum.Enum):
    """How the loop orders a batch of ready callbacks."""

    RANDOM = "random"
    """Canonical order, then a seeded uniform shuffle (the default)."""
    FIFO = "fifo"
    """asyncio's own order. Useful to ask whether a failure needs the seeded interleaving;
    not guaranteed stable across runs when code enqueues work while iterating a set of
    identity-hashed objects (anyio's cancel-scope trees do)."""


@attrs.frozen
class LoopStats:
    """Counters of one loop, read with `SimLoop.stats()`."""

    steps: int
    """Callbacks run (task steps and plain callbacks)."""
    batches: int
    """Loop iterations that ran at least one callback."""
    timers_fired: int
    """Timers whose time came (`call_later`, `call_at`, `sleep`, deadlines)."""
    time_jumps: int
    """Times the clock moved forward because nothing was ready."""
    virtual_time: float
    tasks_created: int
    max_ready: int
    """Largest batch of ready callbacks seen."""


class SimTask(asyncio.Task[T]):
    """An asyncio task that carries the loop's creation number and hashes by it.

    Sets of tasks (anyio keeps several) then iterate in an order that depends on the run, not
    on memory addresses, which would otherwise differ from one run of a seed to the next.
    """

    __slots__ = ("sim_id",)

    def __init__(
        self,
        coro: Coroutine[Any, Any, T] | Generator[Any, None, T],
        *,
        loop: asyncio.AbstractEventLoop,
        sim_id: int,
        name: str | None = None,
        context: Context | None = None,
    ) -> None:
        # Set before Task.__init__: it adds the task to a WeakSet, which hashes it.
        self.sim_id = sim_id
        super().__init__(coro, loop=loop, name=name, context=context)

    def __hash__(self) -> int:
        return self.sim_id


class SimLoop(asyncio.BaseEventLoop):
    """A deterministic event loop: virtual time, seeded ordering, no I/O.

    Build one per run (`aura_sim.Simulation` does) and drive it through anyio or asyncio as
    any loop. Inside the run, `current_loop()` returns it.
    """

    # Private state of asyncio.BaseEventLoop that typeshed does not declare.
    _ready: collections.deque[Any]
    _scheduled: list[Any]
    _stopping: bool
    _timer_cancelled_count: int
    _thread_id: int | None
    _closed: bool

    def __init__(
        self,
        seeds: SeedTree | int = 0,
        *,
        start_time: float = 0.0,
        schedule: Schedule = Schedule.RANDOM,
        max_steps: int | None = None,
        max_time: float | None = None,
        on_step: StepHook | None = None,
    ) -> None:
        try:
            if isinstance(seeds, int):
                seeds = SeedTree(seeds)
            if not isinstance(schedule, Schedule):
                raise InvalidArgument(f"schedule must be a Schedule, got {schedule!r}")
            if max_steps is not None and (type(max_steps) is not int or max_steps <= 0):
                raise InvalidArgument("max_steps is a positive int or None")
            if max_time is not None and not max_time >= start_time:
                raise InvalidArgument("max_time is None or not before start_time")
        except InvalidArgument:
            self._closed = True  # BaseEventLoop.__del__ still runs on a rejected loop
            raise
        super().__init__()
        self.seeds = seeds
        self.schedule = schedule
        self.max_steps = max_steps
        self.max_time = max_time
        self._rng = seeds.stream("scheduler")
        self._shuffle = schedule is Schedule.RANDOM
        self._on_step = on_step
        self._now = float(start_time)
        self._step_limit = max_steps if max_steps is not None else 1 << 63
        self._steps = 0
        self._batches = 0
        self._timers_fired = 0
        self._time_jumps = 0
        self._max_ready = 0
        self._next_task_id = 1
        self._other_task_ids: weakref.WeakKeyDictionary[asyncio.Task[Any], int] = (
            weakref.WeakKeyDictionary()
        )
        self._next_gc = _GC_EVERY
        self._gc_runs = 0
        self._home_thread = threading.get_ident()
        self._threads_at_start = threading.active_count()
        self._foreign: collections.deque[asyncio.Handle] = collections.deque()
        self._failure: SimulationError | None = None
        self._teardown = False
        self._blocked_waiters: list[asyncio.Future[None]] = []

    # -- public surface -----------------------------------------------------------------------

    def time(self) -> float:
        """The virtual clock, in seconds. Never reads a real clock."""
        return self._now

    @property
    def seed(self) -> int:
        """The root seed of this run."""
        return self.seeds.root

    @property
    def failure(self) -> SimulationError | None:
        """The loop-level error (deadlock, limit, unsupported) that ended the run, if any."""
        return self._failure

    def set_step_hook(self, hook: StepHook | None) -> None:
        """Replace the hook called with `(virtual_time, label)` before every step."""
        self._on_step = hook

    def note(self, label: str) -> None:
        """Put an event of the code's own (a message sent, a fault injected) on the trace.

        Scheduling alone may not show that a value differs between two runs; noting it makes
        the determinism check compare it. The label must be deterministic (no addresses, no
        set-order-dependent text).
        """
        hook = self._on_step
        if hook is not None:
            hook(self._now, "note:" + label)

    async def wait_all_tasks_blocked(self) -> None:
        """Return once every other task is blocked: nothing is ready to run, before the clock
        moves on to the next timer (trio's `wait_all_tasks_blocked`, without a cushion).

        It is how a scenario knows a burst of zero-latency work has settled ("heal, let the
        messages flow, then check convergence"). Every waiter is woken at the same idle
        point; a task that waits for this in a loop keeps the clock from moving, which the
        step limit turns into an error.
        """
        waiter: asyncio.Future[None] = self.create_future()
        self._blocked_waiters.append(waiter)
        await waiter

    def stats(self) -> LoopStats:
        """A snapshot of the counters (they keep counting during teardown of a failed run)."""
        return LoopStats(
            steps=self._steps,
            batches=self._batches,
            timers_fired=self._timers_fired,
            time_jumps=self._time_jumps,
            virtual_time=self._now,
            tasks_created=self._next_task_id - 1,
            max_ready=self._max_ready,
        )

    def task_id(self, task: asyncio.Task[Any]) -> int:
        """The loop's number for `task`: creation order for tasks made by `create_task`,
        order of first sight for tasks constructed directly."""
        if isinstance(task, SimTask):
            return task.sim_id
        known = self._other_task_ids.get(task)
        if known is None:
            known = self._next_task_id
            self._next_task_id += 1
            self._other_task_ids[task] = known
        return known

    def create_task(
        self,
        coro: Coroutine[Any, Any, T] | Generator[Any, None, T],
        *,
        name: object = None,
        context: Context | None = None,
    ) -> asyncio.Task[T]:
        """Create a `SimTask` numbered by this loop; unnamed tasks are called `task-<n>`.

        A custom task factory, if one is set, is respected; its tasks get a number when the
        loop first runs them.
        """
        self._check_closed()  # type: ignore[attr-defined]
        if self.get_task_factory() is not None:
            return super().create_task(coro, name=name, context=context)
        sim_id = self._next_task_id
        self._next_task_id += 1
        return SimTask(
            coro,
            loop=self,
            sim_id=sim_id,
            name=f"task-{sim_id}" if name is None else str(name),
            context=context,
        )

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Context | None = None
    ) -> asyncio.Handle:
        """From the loop's own thread this is `call_soon` (asyncio's async-generator finalizer
        uses it). From any other thread the callback is held back and never runs: another
        thread's timing is real, so admitting it would make the run nondeterministic. The loop
        fails with `SimulationUnsupported` when it next goes idle."""
        if threading.get_ident() == self._home_thread:
            return self.call_soon(callback, *args, context=context)
        handle = asyncio.Handle(callback, args, self, context)
        self._foreign.append(handle)
        return handle

    def run_forever(self) -> None:
        """Run until `stop()`. Automatic garbage collection is off meanwhile: the loop collects
        at fixed step counts instead, so finalizers (async generators' `aclose`, weak-reference
        callbacks) run at the same step in every run of a seed; it collects everything when it
        stops."""
        self._home_thread = threading.get_ident()
        if self._failure is not None and not self._teardown:
            # Something already ended the run; what follows is asyncio cancelling the tasks
            # that are left. Give it a fresh budget and no virtual-time limit.
            self._teardown = True
            self._step_limit = self._steps + _TEARDOWN_STEPS
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            super().run_forever()
        finally:
            # What the run left to the collector is collected here, at the same point in every
            # run: automatic collection between two runs of the loop (asyncio's runner calls
            # it again to finalize async generators) would find more or less of it depending
            # on what the process did before, and schedule more or fewer `aclose` tasks.
            gc.collect()
            if gc_was_enabled:
                gc.enable()

    # -- the scheduler ------------------------------------------------------------------------

    def _run_once(self) -> None:
        """One iteration: fire due timers; if nothing is ready, jump the clock (or fail);
        then run the ready batch in seeded order."""
        if self._steps >= self._next_gc:
            self._collect_garbage()
        if self._scheduled:
            self._purge_cancelled_timers()  # may replace the heap
            scheduled = self._scheduled
            if scheduled and scheduled[0]._when <= self._now:
                self._fire_due_timers()
        ready = self._ready
        if not ready:
            if self._stopping:
                return
            self._advance()
        count = len(ready)
        self._batches += 1
        self._max_ready = max(self._max_ready, count)
        if count == 1:
            batch = [ready.popleft()]
        else:
            batch = list(ready)
            ready.clear()
            if self._shuffle:
                batch = self._seeded_order(batch)
        hook = self._on_step
        started = 0
        try:
            for handle in batch:
                if handle._cancelled:
                    started += 1
                    continue
                if self._steps >= self._step_limit:
                    raise self._fail(self._limit_error("steps", self._step_limit))
                self._steps += 1
                if hook is not None:
                    hook(self._now, self._label(handle))
                started += 1
                handle._run()
        except BaseException:
            # Leave what did not run in the queue, in order, for teardown to cancel.
            if started < count:
                ready.extendleft(reversed(batch[started:]))
            raise

    def _seeded_order(self, batch: list[Any]) -> list[Any]:
        """Canonical order (task steps by task number, other callbacks in enqueue order),
        then a uniform shuffle from the scheduler stream.

        The canonical sort matters as much as the shuffle: code that enqueues work while
        iterating a set of identity-hashed objects (anyio cancelling a tree of cancel scopes)
        produces an order that depends on memory addresses; shuffling that order with a seeded
        permutation would still depend on them.
        """
        keyed: list[tuple[int, Any]] = []
        append = keyed.append
        for index, handle in enumerate(batch):
            owner = getattr(handle._callback, "__self__", None)
            if type(owner) is SimTask:
                append((owner.sim_id << 32 | index, handle))
            elif isinstance(owner, asyncio.Task):
                append((self.task_id(owner) << 32 | index, handle))
            else:
                append((_OTHER | index, handle))
        keyed.sort(key=_first)
        ordered = [handle for _, handle in keyed]
        self._rng.shuffle(ordered)
        return ordered

    def _label(self, handle: Any) -> str:
        callback = handle._callback
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task):
            task = f"task:{self.task_id(owner)}:{owner.get_name()}"
            method = getattr(callback, "__name__", None)
            if method is None or method in _TASK_STEPS:
                return task
            return f"call:Task.{method}@{task}"  # e.g. call_soon(task.cancel)
        while isinstance(callback, functools.partial):
            callback = callback.func
        name = getattr(callback, "__qualname__", None) or type(callback).__qualname__
        return "call:" + name

    def _purge_cancelled_timers(self) -> None:
        scheduled = self._scheduled
        if (
            len(scheduled) > _MIN_SCHEDULED
            and self._timer_cancelled_count / len(scheduled) > _CANCELLED_FRACTION
        ):
            kept = []
            for handle in scheduled:
                if handle._cancelled:
                    handle._scheduled = False
                else:
                    kept.append(handle)
            heapq.heapify(kept)
            self._scheduled = kept
            self._timer_cancelled_count = 0
        else:
            while scheduled and scheduled[0]._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(scheduled)._scheduled = False

    def _fire_due_timers(self) -> None:
        scheduled = self._scheduled
        ready = self._ready
        now = self._now
        while scheduled and scheduled[0]._when <= now:
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
            if handle._cancelled:
                self._timer_cancelled_count -= 1
            else:
                ready.append(handle)
                self._timers_fired += 1

    def _advance(self) -> None:
        """Nothing is ready: move the clock to the next timer, or say why there is none."""
        if not self._teardown:
            self._refuse_threads()
        if self._blocked_waiters:
            waiters, self._blocked_waiters = self._blocked_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            if self._ready:
                return
        self._purge_cancelled_timers()
        scheduled = self._scheduled
        if not scheduled:
            raise self._fail(self._deadlock())
        when = scheduled[0]._when
        if not self._teardown and self.max_time is not None and when > self.max_time:
            raise self._fail(self._limit_error("time", self.max_time))
        if when > self._now:
            self._now = when
            self._time_jumps += 1
        self._fire_due_timers()

    def _refuse_threads(self) -> None:
        # Checked only when the loop goes idle: a thread started by a step is still alive
        # there (anyio's worker threads live until the run ends), so the failure lands on the
        # same step in every run of the seed.
        if threading.active_count() > self._threads_at_start or self._foreign:
            raise self._fail(
                SimulationUnsupported(
                    "the simulated code started a thread (anyio.to_thread, from_thread, "
                    "threading): threads run in real time and cannot be simulated; "
                    f"at virtual time {self._now!r}, step {self._steps}"
                )
            )

    def _fail(self, error: SimulationError) -> SimulationError:
        if self._failure is None:
            self._failure = error
        return error

    def _limit_error(self, limit: str, value: float) -> SimulationLimitExceeded:
        return SimulationLimitExceeded(limit, value, self._now, self._steps)

    def _deadlock(self) -> Deadlock:
        tasks = sorted(asyncio.all_tasks(self), key=self.task_id)
        blocked = [BlockedTask(self.task_id(t), t.get_name(), _waiting_at(t)) for t in tasks]
        hint = ""
        if self._foreign:
            hint = f"{len(self._foreign)} callback(s) from other threads were refused"
        return Deadlock(self._now, blocked, hint)

    def _collect_garbage(self) -> None:
        self._gc_runs += 1
        generation = 2 if self._gc_runs % 100 == 0 else 1 if self._gc_runs % 10 == 0 else 0
        gc.collect(generation)
        self._next_gc = self._steps + _GC_EVERY

    # -- refused: real I/O, processes, signals, threads ---------------------------------------

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> NoReturn:  # type: ignore[override]
        raise SimulationUnsupported(
            "run_in_executor: threads run in real time and cannot be simulated"
        )

    def set_default_executor(self, executor: Any) -> NoReturn:
        raise SimulationUnsupported("set_default_executor: the simulation has no executor")

    def add_signal_handler(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise SimulationUnsupported("add_signal_handler: the simulation has no signals")

    def remove_signal_handler(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise SimulationUnsupported("remove_signal_handler: the simulation has no signals")

    def add_reader(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        _no_io("add_reader")

    def remove_reader(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("remove_reader")

    def add_writer(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        _no_io("add_writer")

    def remove_writer(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("remove_writer")

    def getaddrinfo(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("getaddrinfo")

    def getnameinfo(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("getnameinfo")

    def create_connection(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("create_connection")

    def create_server(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("create_server")

    def create_unix_connection(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("create_unix_connection")

    def create_unix_server(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("create_unix_server")

    def create_datagram_endpoint(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("create_datagram_endpoint")

    def connect_accepted_socket(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("connect_accepted_socket")

    def start_tls(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("start_tls")

    def sendfile(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sendfile")

    def connect_read_pipe(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("connect_read_pipe")

    def connect_write_pipe(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("connect_write_pipe")

    def subprocess_exec(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("subprocess_exec")

    def subprocess_shell(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("subprocess_shell")

    def sock_recv(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_recv")

    def sock_recv_into(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_recv_into")

    def sock_recvfrom(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_recvfrom")

    def sock_recvfrom_into(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_recvfrom_into")

    def sock_sendall(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_sendall")

    def sock_sendto(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_sendto")

    def sock_connect(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_connect")

    def sock_accept(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_accept")

    def sock_sendfile(self, *args: Any, **kwargs: Any) -> NoReturn:
        _no_io("sock_sendfile")

    # BaseEventLoop leaves these to its subclasses; nothing here polls for events.
    def _process_events(self, event_list: Any) -> None:
        return None

    def _write_to_self(self) -> None:
        return None


def _first(entry: tuple[int, Any]) -> int:
    return entry[0]


def _no_io(name: str) -> NoReturn:
    raise SimulationUnsupported(
        f"{name}: the simulation has no real I/O; reach peers and storage through the "
        "simulated effect handlers"
    )


def _waiting_at(task: asyncio.Task[Any]) -> str:
    """The innermost `function (file:line)` of a task's await chain."""
    frame = None
    awaitable: Any = task.get_coro()
    while awaitable is not None:
        inner = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if inner is None:
            break
        frame = inner
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    if frame is None:
        return "<not started>"
    code = frame.f_code
    return f"{code.co_qualname} ({os.path.basename(code.co_filename)}:{frame.f_lineno})"


async def wait_all_tasks_blocked() -> None:
    """`current_loop().wait_all_tasks_blocked()`."""
    await current_loop().wait_all_tasks_blocked()


def current_loop() -> SimLoop:
    """The `SimLoop` running the current task; `SimulationError` outside a simulation."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise SimulationError("not running inside an event loop") from None
    if not isinstance(loop, SimLoop):
        raise SimulationError(f"the running loop is a {type(loop).__name__}, not a SimLoop")
    return loop
