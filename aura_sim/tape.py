"""Trace tapes: everything needed to replay a run, in canonical CBOR.

A tape holds the scenario text, the seed, the schedule of every fault the run injected, the
digest of its trace and its outcome. Replaying runs the scenario from the seed with exactly
those faults and checks that the digest and the outcome come back the same.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from aura_core.encoding import decode, encode, record
from aura_core.errors import EncodingError
from aura_core.hashing import Hash32
from aura_sim.errors import ScenarioError
from aura_sim.faults import FaultSchedule
from aura_sim.runner import RunResult, run_scenario
from aura_sim.scenario import parse_scenario

__all__ = ["Tape", "tape_of", "save_tape", "load_tape", "replay"]


@record("sim.tape")
@attrs.frozen
class Tape:
    scenario_text: str
    seed: int
    schedule: FaultSchedule
    trace_digest: Hash32
    passed: bool
    violations: tuple[str, ...]
    failed_properties: tuple[str, ...]


def tape_of(result: RunResult, scenario_text: str) -> Tape:
    return Tape(
        scenario_text,
        result.seed,
        result.schedule,
        result.trace_digest,
        result.passed,
        tuple(v.describe() for v in result.violations),
        tuple(sorted(result.failed_properties)),
    )


def save_tape(tape: Tape, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(encode(tape))
    return target


def load_tape(path: str | Path) -> Tape:
    """Read a tape; `ScenarioError` if the file is missing or not a tape."""
    try:
        return decode(Path(path).read_bytes(), Tape)
    except OSError as exc:
        raise ScenarioError(f"cannot read tape {path}: {exc}") from None
    except EncodingError as exc:
        raise ScenarioError(f"{path} is not a tape: {exc.message}") from None


def replay(tape: Tape, *, keep_trace: bool = False) -> tuple[RunResult, bool]:
    """Run the tape again; the result and whether digest and outcome were reproduced."""
    scenario = parse_scenario(tape.scenario_text, source="the tape's scenario")
    result = run_scenario(scenario, tape.seed, schedule=tape.schedule, keep_trace=keep_trace)
    same = result.trace_digest == tape.trace_digest and result.passed == tape.passed
    return result, same
