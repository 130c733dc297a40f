"""The accounts workload's own pieces: its script language and its safety checks (which must
be able to fail: fed diverging trees, they report it)."""

from __future__ import annotations

from typing import cast

import pytest

from aura_consensus.ceremony import CeremonyRegistry
from aura_core.crypto.ed25519 import SigningKey
from aura_core.ids import AuthorityId, DeviceId
from aura_core.tree import LeafNode, LeafRole
from aura_journal.tree import TreeState
from aura_sim.examples.accounts import AccountsWorkload, Step, _Snapshot, parse_step
from aura_sim.runner import SimRun

ACCOUNT = AuthorityId(b"\xac" * 16)
KEY = SigningKey(b"\x01" * 32).verifying_key


def leaf(i: int) -> LeafNode:
    return LeafNode(i, DeviceId(bytes([i + 1]) * 16), LeafRole.DEVICE, bytes([i + 1]) * 32)


def state(epoch: int, leaves: int) -> TreeState:
    return TreeState.build(ACCOUNT, epoch, 1, KEY, tuple(leaf(i) for i in range(leaves)))


class Recorder:
    """What `check` reports to (the run's `violate`)."""

    def __init__(self) -> None:
        self.violations: list[tuple[str, str]] = []

    def violate(self, prop: str, detail: str) -> None:
        self.violations.append((prop, detail))


def snapshot(*chain: TreeState) -> _Snapshot:
    return _Snapshot(chain, CeremonyRegistry(), b"", ())


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("n0 create", Step("create", "n0")),
        ("n0 invite n1 2", Step("invite", "n0", "n1", 2)),
        ("n1 refresh", Step("refresh", "n1")),
        ("n1 threshold 3", Step("threshold", "n1", threshold=3)),
        ("n1 remove n0", Step("remove", "n1", "n0")),
        ("crash n2", Step("crash", "n2")),
        (
            "partition n0 n1 | n2 for 15",
            Step("partition", groups=(("n0", "n1"), ("n2",)), seconds=15),
        ),
    ],
)
def test_script_steps_parse_and_describe_themselves(text: str, step: Step) -> None:
    assert parse_step(text) == step
    assert step.describe() == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "n0",
        "n0 invite n1",
        "n0 invite n1 two",
        "n0 fly",
        "partition n0 n1 for 5",
        "partition n0 | | n1 for 5",
        "partition n0 | n1 for -1",
        "partition n0 | n1",
    ],
)
def test_bad_script_steps_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a script step"):
        parse_step(text)


def test_the_invariants_report_devices_whose_trees_diverge() -> None:
    workload = AccountsWorkload({})
    run = Recorder()
    genesis, added = state(0, 1), state(0, 2)
    workload._snapshots = {"n0": snapshot(genesis, added), "n1": snapshot(genesis)}
    workload.check(cast(SimRun, run))
    assert run.violations == []  # one chain a prefix of the other: n1 is behind
    workload._snapshots["n1"] = snapshot(genesis, state(0, 3))  # another op on the genesis
    workload.check(cast(SimRun, run))
    assert [prop for prop, _ in run.violations] == ["workload"]
    assert "n1 and n0 hold different trees after 1 changes" in run.violations[0][1]
    workload.check(cast(SimRun, run))
    assert len(run.violations) == 1  # reported once
