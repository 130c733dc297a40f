"""Test configuration: Hypothesis profiles.

Locally Hypothesis explores fresh examples on every run; with CI=true the run is derandomized so
a red CI is always reproducible from the same commit.
"""

import os

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
