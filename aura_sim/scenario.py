"""Scenarios: a simulated run described in TOML (stdlib `tomllib`).

    [scenario]     name, description, workload (module with a `workload(options)` factory), seed
    [workload]     options passed to the workload factory
    [participants] nodes, byzantine
    [network]      default link policy: latency_ms, jitter_ms, drop, duplicate, reorder,
                   reorder_ms, corrupt
    [faults]       random timed faults for the safety phase: partitions, crashes, holds (counts),
                   clock_skew_ms, lose_unsynced_ms, buggify
    [swarm]        enabled, nodes = [low, high]: draw the run's options from each seed
    [[phase]]      name, kind = "safety" | "liveness"; safety: duration_s, actions;
                   liveness: core ("majority" | "all" | "honest" | [names]), within_s,
                   require ("convergence", "workload"), quiet (default true: the core's
                   links become fault-free; false keeps their message faults)
    [properties]   always = [...] checked throughout

Everything is validated when the scenario is loaded: the schema (`aura_sim.scenario_file`:
no unknown table or key, no coercion), the ranges and names below, and the workload module,
which is imported and given its options. A bad scenario raises `ScenarioError` with the file,
the line and the key (and the nearest valid name for a misspelt one).

The scenarios shipped with the package (`aura_sim/scenarios/*.toml`) are addressable by name:
`load_scenario("consensus")`; anything with a `/` or ending in `.toml` is a path.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from aura_sim.errors import ScenarioError
from aura_sim.faults import LinkPolicy
from aura_sim.scenario_file import (
    ActionTable,
    FaultOptions,
    KeyPath,
    LivenessTable,
    SafetyTable,
    ScenarioFile,
    SwarmOptions,
    nearest,
    problem,
    structure_file,
)
from aura_sim.workload import load_workload

__all__ = [
    "ALWAYS_PROPERTIES",
    "EVENTUAL_PROPERTIES",
    "Action",
    "SafetyPhase",
    "LivenessPhase",
    "Phase",
    "FaultOptions",
    "SwarmOptions",
    "Scenario",
    "MAX_NODES",
    "MAX_SEED",
    "shipped_scenarios",
    "load_scenario",
    "parse_scenario",
]

MAX_NODES = 64
MAX_SEED = (1 << 64) - 1
"""Seeds are u64 (the seed tree hashes them as eight bytes)."""

ALWAYS_PROPERTIES = frozenset(
    {"facts_never_vanish", "charge_before_send", "budgets_within_limits", "workload"}
)
"""`workload` runs the workload's own invariants (`Workload.check`)."""
EVENTUAL_PROPERTIES = frozenset({"convergence", "workload"})
"""`workload` waits for the workload's own goal (`Workload.settled`)."""
ACTIONS = frozenset(
    {
        "write",
        "propose",
        "contend",
        "script",
        "partition",
        "heal",
        "crash",
        "restart",
        "block",
        "hold",
        "release",
        "skew",
    }
)
WORKLOAD_ACTIONS = frozenset({"write", "propose", "contend", "script"})
"""Actions the runner hands to the workload (`Workload.act`)."""


@attrs.frozen
class Action:
    """Something the scenario makes happen at `at_s` seconds into its phase."""

    at_s: float
    do: str
    node: str = "all"
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    permanent: bool = False
    count: int = 1
    skew_ms: int = 0


@attrs.frozen
class SafetyPhase:
    name: str
    duration_s: float
    actions: tuple[Action, ...] = ()


@attrs.frozen
class LivenessPhase:
    name: str
    within_s: float
    core: str | tuple[str, ...] = "majority"
    require: tuple[str, ...] = ("convergence",)
    quiet: bool = True
    """Whether the core's links also become fault-free; False keeps their drops, duplicates,
    reordering and corruption (partitions, holds and crashes are still healed)."""


Phase = SafetyPhase | LivenessPhase


@attrs.frozen
class Scenario:
    """A parsed scenario (the text is kept so tapes can carry it)."""

    name: str
    description: str
    workload: str
    workload_options: Mapping[str, Any] = attrs.field(hash=False)
    seed: int
    nodes: int
    byzantine: int
    network: LinkPolicy
    faults: FaultOptions
    swarm: SwarmOptions
    phases: tuple[Phase, ...]
    always: tuple[str, ...]
    text: str = attrs.field(repr=False, eq=False)

    def node_names(self, count: int | None = None) -> list[str]:
        return [f"n{i}" for i in range(self.nodes if count is None else count)]


class _Checker:
    """The semantic checks of one file, each reported at its place in the text."""

    def __init__(self, text: str, source: str, nodes: frozenset[str]) -> None:
        self.text = text
        self.source = source
        self.nodes = nodes
        """Every node name a run of the scenario can have (the most its swarm can draw)."""

    def fail(self, path: KeyPath, message: str) -> ScenarioError:
        return problem(self.text, self.source, path, message)

    def names(self, path: KeyPath, values: tuple[str, ...], valid: frozenset[str]) -> None:
        for value in values:
            if value not in valid:
                match = nearest(value, list(valid))
                hint = f"did you mean {match!r}?" if match else f"one of {sorted(valid)}"
                raise self.fail(path, f"unknown {value!r} ({hint})")

    def at_least(self, path: KeyPath, value: float, low: float) -> None:
        if value < low:
            raise self.fail(path, f"must be at least {low}, got {value}")


def _action(check: _Checker, raw: ActionTable, path: KeyPath) -> Action:
    check.names((*path, "do"), (raw.do,), ACTIONS)
    check.names((*path, "node"), (raw.node,), check.nodes | {"all"})
    check.names((*path, "nodes"), raw.nodes, check.nodes)
    for group in raw.groups:
        check.names((*path, "groups"), group, check.nodes)
    check.at_least((*path, "at_s"), raw.at_s, 0)
    check.at_least((*path, "count"), raw.count, 1)
    return Action(
        at_s=raw.at_s,
        do=raw.do,
        node=raw.node,
        nodes=raw.nodes,
        groups=raw.groups,
        permanent=raw.permanent,
        count=raw.count,
        skew_ms=raw.skew_ms,
    )


def _phase(check: _Checker, raw: SafetyTable | LivenessTable, index: int) -> Phase:
    path: KeyPath = ("phase", index)
    name = raw.name or f"phase{index}"
    if isinstance(raw, SafetyTable):
        check.at_least((*path, "duration_s"), raw.duration_s, 0)
        actions = tuple(_action(check, a, (*path, "actions", i)) for i, a in enumerate(raw.actions))
        return SafetyPhase(name, raw.duration_s, actions)
    check.at_least((*path, "within_s"), raw.within_s, 0)
    if isinstance(raw.core, str):
        check.names((*path, "core"), (raw.core,), frozenset({"majority", "all", "honest"}))
    else:
        check.names((*path, "core"), raw.core, check.nodes)
    check.names((*path, "require"), raw.require, EVENTUAL_PROPERTIES)
    return LivenessPhase(name, raw.within_s, raw.core, raw.require, raw.quiet)


def _convert(check: _Checker, raw: ScenarioFile) -> Scenario:
    participants = raw.participants
    if not 1 <= participants.nodes <= MAX_NODES:
        raise check.fail(("participants", "nodes"), f"must be in 1..{MAX_NODES}")
    if not 0 <= participants.byzantine < participants.nodes:
        raise check.fail(("participants", "byzantine"), "must be in 0..nodes - 1")
    if not 0 <= raw.scenario.seed <= MAX_SEED:
        raise check.fail(("scenario", "seed"), "must be in 0..2**64 - 1")
    for field in attrs.fields(type(raw.network)):
        value = getattr(raw.network, field.name)
        if field.name.endswith("_ms"):
            check.at_least(("network", field.name), value, 0)
        elif not 0 <= value <= 1:
            raise check.fail(("network", field.name), f"is a probability in [0, 1], got {value}")
    faults = raw.faults
    for field in attrs.fields(type(faults)):
        value = getattr(faults, field.name)
        if type(value) is int:
            check.at_least(("faults", field.name), value, 0)
    low, high = raw.swarm.nodes
    if not 1 <= low <= high <= MAX_NODES:
        raise check.fail(("swarm", "nodes"), f"is [low, high] with 1 <= low <= high <= {MAX_NODES}")
    always = (
        raw.properties.always if raw.properties.always is not None else sorted(ALWAYS_PROPERTIES)
    )
    check.names(("properties", "always"), tuple(always), ALWAYS_PROPERTIES)
    if not raw.phase:
        raise check.fail(("phase",), "a scenario needs at least one [[phase]]")
    phases = tuple(_phase(check, p, i) for i, p in enumerate(raw.phase))
    try:
        # Imported (and given its options) now, so a missing module or a bad option is an
        # error of the scenario, not a crash once the run has started.
        load_workload(raw.scenario.workload, raw.workload)
    except ScenarioError as exc:
        raise check.fail(("scenario", "workload"), exc.message) from None
    return Scenario(
        name=raw.scenario.name,
        description=raw.scenario.description,
        workload=raw.scenario.workload,
        workload_options=dict(raw.workload),
        seed=raw.scenario.seed,
        nodes=participants.nodes,
        byzantine=participants.byzantine,
        network=LinkPolicy(**attrs.asdict(raw.network)),
        faults=faults,
        swarm=raw.swarm,
        phases=phases,
        always=tuple(always),
        text=check.text,
    )


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario; `ScenarioError` names `source`, the line and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", source=source) from None
    raw = structure_file(data, text, source)
    most = raw.swarm.nodes[1] if raw.swarm.enabled else raw.participants.nodes
    check = _Checker(text, source, frozenset(f"n{i}" for i in range(min(max(most, 0), MAX_NODES))))
    return _convert(check, raw)


def shipped_scenarios() -> list[str]:
    """The names of the scenarios shipped in the package (`aura_sim/scenarios/`)."""
    folder = resources.files("aura_sim") / "scenarios"
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load_scenario(ref: str | Path) -> Scenario:
    """Read and parse a scenario: a shipped scenario's name (`consensus`), or a path (anything
    with a `/` or ending in `.toml`)."""
    text_ref = str(ref)
    if isinstance(ref, Path) or "/" in text_ref or text_ref.endswith(".toml"):
        try:
            text = Path(ref).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"cannot read {text_ref}: {exc}") from None
        return parse_scenario(text, source=text_ref)
    names = shipped_scenarios()
    if text_ref not in names:
        match = nearest(text_ref, names)
        hint = f"did you mean {match!r}? " if match else ""
        raise ScenarioError(
            f"no shipped scenario {text_ref!r} ({hint}shipped: {', '.join(names)}; "
            "a path needs a '/' or '.toml')"
        )
    resource = resources.files("aura_sim") / "scenarios" / f"{text_ref}.toml"
    return parse_scenario(resource.read_text(encoding="utf-8"), source=f"{text_ref}.toml")
