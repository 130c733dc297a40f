"""The version comes from the installed distribution's metadata, so it has one source."""

from __future__ import annotations

from importlib.metadata import version

import aura_core


def test_the_version_is_the_distributions() -> None:
    assert aura_core.__version__ == version("aura-py")
    assert aura_core.__version__[0].isdigit()
