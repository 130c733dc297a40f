"""The testing kit as a user meets it: the simulation marker, its repro, and the strategies."""

from __future__ import annotations

import re
import subprocess

import anyio
import attrs
import pytest
from hypothesis import given

import aura_sim
from aura_core.encoding import decode, encode, record
from aura_core.ids import AuthorityId
from aura_sim.testing.strategies import PACKAGES, records, registered_records

RACE = """
import anyio
import pytest


@pytest.mark.simulation(seeds=range(12))
async def test_first_come_first_served(aura_seed: int) -> None:
    order = []

    async def arrive(name: str, after: float) -> None:
        await anyio.sleep(after)
        order.append(name)

    async with anyio.create_task_group() as group:  # a race the schedule decides
        group.start_soon(arrive, "a", 0.0)
        group.start_soon(arrive, "b", 0.0)
    assert order == ["a", "b"], f"seed {aura_seed}"
"""


@pytest.mark.simulation(seeds=[3, 4])
async def test_a_marked_test_runs_on_the_simulator_with_its_seed(aura_seed: int) -> None:
    loop = aura_sim.current_loop()
    assert loop.seed == aura_seed
    start = loop.time()
    await anyio.sleep(3600)  # virtual: an hour passes at once
    assert loop.time() - start == 3600


def test_a_failing_seed_prints_a_repro_that_reproduces_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_race=RACE)
    first = pytester.runpytest_subprocess("-p", "aura_sim.testing.plugin", "-q")
    outcomes = first.parseoutcomes()
    assert outcomes["failed"] >= 1 and outcomes["passed"] >= 1, outcomes  # the seed decides
    output = first.stdout.str()
    repros = re.findall(r"^cd .* --aura-seed=(\d+)$", output, re.M)
    assert len(repros) == outcomes["failed"]
    (command,) = [line for line in output.splitlines() if line.endswith(f"={repros[0]}")]

    again = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"AssertionError: seed {repros[0]}" in again.stdout
    assert f"test_first_come_first_served[seed={repros[0]}]" in again.stdout
    assert "1 failed" in again.stdout and "passed" not in again.stdout


def test_the_marker_refuses_what_it_cannot_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_misuse="""
import pytest

@pytest.mark.simulation(seeds=[-1])
async def test_negative() -> None: ...
"""
    )
    result = pytester.runpytest_subprocess("-p", "aura_sim.testing.plugin", "-q")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*takes non-negative ints, got [[]-1[]]*"])


@record("kit_example.greeting", version=1)
@attrs.frozen
class Greeting:
    """A user's own record type: the kit draws it from its type hints."""

    sender: AuthorityId
    text: str
    count: int


@given(records(Greeting))
def test_the_strategies_draw_a_users_own_record(value: Greeting) -> None:
    assert decode(encode(value), Greeting) == value


def test_the_strategies_know_every_library_record_without_the_front_end() -> None:
    library = registered_records()
    assert library and all(cls.__module__.split(".")[0] in PACKAGES for cls in library)
    assert "aura_terminal" not in PACKAGES
