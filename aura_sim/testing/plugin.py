"""A pytest plugin: async tests on the deterministic simulator, with a repro on failure.

Enable it in your `conftest.py` with `pytest_plugins = ["aura_sim.testing.plugin"]`, then mark
an async test::

    @pytest.mark.simulation(seeds=range(20))
    async def test_my_protocol(aura_seed: int) -> None:
        ...

Each seed is one test (`test_my_protocol[seed=3]`) run by `aura_sim.run` under a seeded loop:
virtual time, a seeded schedule, and the seeded handlers, so the same seed is the same run.
The marker's other keywords go to `aura_sim.run` (`schedule`, `max_steps`, `max_time`,
`start_time`). A failing seed's report ends with a section `aura-sim repro` holding the one
command that runs exactly that seed again (`--aura-seed N` replaces every marker's seeds).
Requesting the `aura_seed` argument is optional; the test gets its seed through it.
"""

from __future__ import annotations

import functools
import inspect
import shlex
import sys
from collections.abc import Generator, Iterable
from typing import Any

import pytest

import aura_sim

__all__ = ["MARKER", "SEED_ARGUMENT", "repro_command"]

MARKER = "simulation"
SEED_ARGUMENT = "aura_seed"
_SIMULATION_OPTIONS = frozenset({"schedule", "max_steps", "max_time", "start_time"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("aura-sim").addoption(
        "--aura-seed",
        type=int,
        default=None,
        help="run every simulation test with this seed only (what a printed repro sets)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(seeds=(0,), **options): run this async test on the deterministic simulator "
        "once per seed (options go to aura_sim.run)",
    )


def _seeds(config: pytest.Config, marker: pytest.Mark) -> list[int]:
    forced = config.getoption("--aura-seed")
    if forced is not None:
        return [forced]
    chosen: Iterable[int] = marker.kwargs.get("seeds", (0,))
    seeds = list(chosen)
    if not seeds or any(type(s) is not int or s < 0 for s in seeds):
        raise pytest.UsageError(f"@{MARKER}(seeds=...) takes non-negative ints, got {seeds!r}")
    return seeds


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    if not inspect.iscoroutinefunction(metafunc.function):
        raise pytest.UsageError(f"@{MARKER} marks async tests: {metafunc.definition.nodeid}")
    unknown = set(marker.kwargs) - _SIMULATION_OPTIONS - {"seeds"}
    if unknown:
        raise pytest.UsageError(f"@{MARKER} has no option {sorted(unknown)}")
    if SEED_ARGUMENT not in metafunc.fixturenames:
        metafunc.fixturenames.append(SEED_ARGUMENT)
    seeds = _seeds(metafunc.config, marker)
    metafunc.parametrize(SEED_ARGUMENT, seeds, ids=[f"seed={s}" for s in seeds])


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marker = pyfuncitem.get_closest_marker(MARKER)
    if marker is None:
        return None
    seed = pyfuncitem.callspec.params[SEED_ARGUMENT]
    assert isinstance(seed, int)
    wanted = pyfuncitem._fixtureinfo.argnames  # what pytest's own call passes
    arguments = {name: pyfuncitem.funcargs[name] for name in wanted}
    options = {k: v for k, v in marker.kwargs.items() if k in _SIMULATION_OPTIONS}
    aura_sim.run(functools.partial(pyfuncitem.obj, **arguments), seed=seed, **options)
    return True


def repro_command(item: pytest.Item, seed: int) -> str:
    """The shell command that runs `item` again with `seed` alone, from its root directory."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        __name__,
        item.nodeid,
        f"--aura-seed={seed}",
    ]
    return f"cd {shlex.quote(str(item.config.rootpath))} && {shlex.join(command)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    callspec: Any = getattr(item, "callspec", None)
    if report.failed and call.when == "call" and callspec is not None:
        seed = callspec.params.get(SEED_ARGUMENT)
        if seed is not None:
            report.sections.append(("aura-sim repro", repro_command(item, seed)))
    return report
