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

Everything is validated up front; a bad scenario raises `ScenarioError` naming the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from aura_core.errors import AuraError
from aura_sim.faults import LinkPolicy

__all__ = [
    "ScenarioError",
    "ALWAYS_PROPERTIES",
    "EVENTUAL_PROPERTIES",
    "Action",
    "SafetyPhase",
    "LivenessPhase",
    "Phase",
    "FaultOptions",
    "SwarmOptions",
    "Scenario",
    "load_scenario",
    "parse_scenario",
]

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
WORKLOAD_ACTIONS = frozenset({"write", "propose", "contend"})
"""Actions the runner hands to the workload (`Workload.act`)."""


class ScenarioError(AuraError):
    """A scenario file that does not parse or names something that does not exist."""

    code = "scenario"


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
class FaultOptions:
    partitions: int = 0
    crashes: int = 0
    holds: int = 0
    clock_skew_ms: int = 0
    lose_unsynced_ms: int = 0
    buggify: bool = False


@attrs.frozen
class SwarmOptions:
    enabled: bool = False
    nodes: tuple[int, int] = (3, 7)


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


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"[{key}] must be a table")
    return value


def _get(
    table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str
) -> Any:
    value = table.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ScenarioError(f"{where}.{key} has the wrong type: {value!r}")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScenarioError(f"{where} must be a list of node names")
    return tuple(value)


def _action(raw: Any, where: str) -> Action:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where} must be a table")
    unknown = set(raw) - {"at_s", "do", "node", "nodes", "groups", "permanent", "count", "skew_ms"}
    if unknown:
        raise ScenarioError(f"{where} has unknown keys {sorted(unknown)}")
    do = _get(raw, "do", str, None, where)
    if do not in ACTIONS:
        raise ScenarioError(f"{where}.do: unknown action {do!r} (one of {sorted(ACTIONS)})")
    groups = tuple(_names(g, f"{where}.groups") for g in raw.get("groups", []))
    return Action(
        at_s=float(_get(raw, "at_s", (int, float), 0.0, where)),
        do=do,
        node=_get(raw, "node", str, "all", where),
        nodes=_names(raw.get("nodes", []), f"{where}.nodes"),
        groups=groups,
        permanent=_get(raw, "permanent", bool, False, where),
        count=_get(raw, "count", int, 1, where),
        skew_ms=_get(raw, "skew_ms", int, 0, where),
    )


def _phase(raw: Any, index: int) -> Phase:
    where = f"phase[{index}]"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where} must be a table")
    name = _get(raw, "name", str, f"phase{index}", where)
    kind = _get(raw, "kind", str, None, where)
    if kind == "safety":
        actions = raw.get("actions", [])
        if not isinstance(actions, list):
            raise ScenarioError(f"{where}.actions must be a list")
        return SafetyPhase(
            name,
            float(_get(raw, "duration_s", (int, float), None, where)),
            tuple(_action(a, f"{where}.actions[{i}]") for i, a in enumerate(actions)),
        )
    if kind == "liveness":
        core = raw.get("core", "majority")
        if isinstance(core, list):
            core = _names(core, f"{where}.core")
        elif core not in ("majority", "all", "honest"):
            raise ScenarioError(f"{where}.core is 'majority', 'all', 'honest' or a list of names")
        require = _names(raw.get("require", ["convergence"]), f"{where}.require")
        unknown = set(require) - EVENTUAL_PROPERTIES
        if unknown:
            raise ScenarioError(f"{where}.require: unknown properties {sorted(unknown)}")
        return LivenessPhase(
            name,
            float(_get(raw, "within_s", (int, float), None, where)),
            core,
            require,
            _get(raw, "quiet", bool, True, where),
        )
    raise ScenarioError(f"{where}.kind must be 'safety' or 'liveness', got {kind!r}")


def parse_scenario(text: str) -> Scenario:
    """Parse and validate a scenario; raises `ScenarioError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}") from None
    head = _table(data, "scenario")
    participants = _table(data, "participants")
    network = _table(data, "network")
    faults = _table(data, "faults")
    swarm = _table(data, "swarm")
    properties = _table(data, "properties")
    try:
        policy = LinkPolicy(**{k: float(v) for k, v in network.items()})
    except (TypeError, ValueError, AuraError) as exc:
        raise ScenarioError(f"[network]: {exc}") from None
    try:
        fault_options = FaultOptions(**faults)
    except TypeError as exc:
        raise ScenarioError(f"[faults]: {exc}") from None
    nodes = _get(participants, "nodes", int, 3, "participants")
    byzantine = _get(participants, "byzantine", int, 0, "participants")
    if not 1 <= nodes <= 64 or not 0 <= byzantine < nodes:
        raise ScenarioError("participants: 1 <= nodes <= 64 and 0 <= byzantine < nodes")
    swarm_nodes = swarm.get("nodes", [3, 7])
    if not (
        isinstance(swarm_nodes, list)
        and len(swarm_nodes) == 2
        and 1 <= swarm_nodes[0] <= swarm_nodes[1] <= 64
    ):
        raise ScenarioError("swarm.nodes is [low, high] with 1 <= low <= high <= 64")
    raw_phases = data.get("phase", [])
    if not isinstance(raw_phases, list) or not raw_phases:
        raise ScenarioError("a scenario needs at least one [[phase]]")
    always = _names(properties.get("always", sorted(ALWAYS_PROPERTIES)), "properties.always")
    unknown = set(always) - ALWAYS_PROPERTIES
    if unknown:
        raise ScenarioError(f"properties.always: unknown properties {sorted(unknown)}")
    workload = _get(head, "workload", str, None, "scenario")
    return Scenario(
        name=_get(head, "name", str, "unnamed", "scenario"),
        description=_get(head, "description", str, "", "scenario"),
        workload=workload,
        workload_options=dict(_table(data, "workload")),
        seed=_get(head, "seed", int, 0, "scenario"),
        nodes=nodes,
        byzantine=byzantine,
        network=policy,
        faults=fault_options,
        swarm=SwarmOptions(
            _get(swarm, "enabled", bool, False, "swarm"), (swarm_nodes[0], swarm_nodes[1])
        ),
        phases=tuple(_phase(p, i) for i, p in enumerate(raw_phases)),
        always=always,
        text=text,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and parse a scenario file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc}") from None
    return parse_scenario(text)
