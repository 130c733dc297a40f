"""The exit codes of the command lines (`aura`, `aura-sim`): one scheme, so a script or CI job
can tell "the thing you checked failed" from "you asked wrongly" from "the tool broke"."""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    OK = 0
    """Done: the command did what it was asked (every property held, the demo ran)."""
    FAILED = 1
    """The command ran and its subject failed: a property was violated (`aura-sim`), the
    agent reported a failure or could not be reached (`aura agent`)."""
    INVALID_INPUT = 2
    """Bad input: an option out of range, a scenario or tape that does not validate, a data
    directory that cannot be used. Nothing ran (typer's own usage errors are 2 as well)."""
    INTERNAL_ERROR = 3
    """A bug: an unexpected exception, a run that did not reproduce its tape, a
    nondeterministic trace. The message says so; please report it."""
