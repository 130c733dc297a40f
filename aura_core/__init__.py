"""Layer 1: identifiers, errors, canonical encoding, hashing, key derivation, time, lattices,
typed crypto wrappers, the effect context and the effect interfaces. Pure: every random or
temporal input is an argument."""

import importlib.metadata as _metadata

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("aura-py")
    """The installed distribution's version: one number, kept in `pyproject.toml` only."""
except _metadata.PackageNotFoundError:  # pragma: no cover - only a bare source tree on sys.path
    __version__ = "0+unknown"
