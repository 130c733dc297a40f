"""Test configuration: Hypothesis profiles.

Locally Hypothesis explores fresh examples on every run; with CI=true the run is derandomized so
a red CI is always reproducible from the same commit.
"""

import gc
import os

# Hypothesis imports its optimiser the first time a test needs it, and pytest's assertion
# rewriter parses the modules of plugins it loads; on CPython 3.11 that `ast.parse`, run deep
# inside a test, once failed with "SystemError: AST constructor recursion depth mismatch"
# (cpython gh-106905). Importing it here parses it before any test runs.
import hypothesis.internal.conjecture.optimiser  # noqa: F401
from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None)
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


import pytest  # noqa: E402

# The testing kit's simulator plugin (what a user's conftest.py adds), and pytest's own
# `pytester`, which tests/sim/test_testing_kit.py runs the plugin in.
pytest_plugins = ["pytester", "aura_sim.testing.plugin"]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the simulator's backend too)."""
    return "asyncio"


@pytest.fixture(autouse=True, scope="module")
def _frozen_heap() -> None:
    """What earlier test modules left alive is moved out of the collector's reach
    (`gc.freeze`) before each module. The simulator collects all garbage at the end of every
    run (so finalizers run at the same step in every run of a seed); without this, each of those
    full collections walks the whole heap the session has built up, which made the simulator's
    tests about eight times slower in the full run than alone. Freezing changes no test's
    objects (frozen ones are still freed by reference counting; only cycles among them stay)."""
    gc.collect()
    gc.freeze()
