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


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the simulator's backend too)."""
    return "asyncio"
