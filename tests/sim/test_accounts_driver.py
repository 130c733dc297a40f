"""The accounts workload's driver (aura_sim/examples/accounts.py) on its own: a scripted
partition heals only what it cut, and a call the driver gives up on stops in the node."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from aura_core.ids import AuthorityId
from aura_sim import run as sim_run
from aura_sim.examples.accounts import AccountsWorkload, Step, _Call, _serve
from aura_sim.network import SimNetwork
from aura_sim.seeds import SeedTree

NODES = ("n0", "n1", "n2", "n3")


class _Run:
    """What `AccountsWorkload._partition` uses of a `SimRun`."""

    def __init__(self, network: SimNetwork, group: anyio.abc.TaskGroup) -> None:
        self.network = network
        self.permanent_blocks: set[tuple[str, str]] = set()
        self._group = group

    def start_soon(self, work: Callable[[], Awaitable[None]]) -> None:
        self._group.start_soon(work)


def network() -> SimNetwork:
    made = SimNetwork(latency=SeedTree(1).stream("latency"), faults=None)
    for i, name in enumerate(NODES):
        made.attach(name, AuthorityId(bytes([i + 1]) * 16))
    return made


def cut(net: SimNetwork) -> set[tuple[str, str]]:
    return {(a, b) for a in NODES for b in NODES if a != b and not net.reachable(a, b)}


def test_a_scripted_partition_heals_only_the_links_it_cut() -> None:
    """n3 is cut off for 10 s, then {n0, n1} from {n2, n3} for 20 s, and the runner blocks
    n0→n2 for good: when the first heals, the second's cuts and the permanent block stay; when
    the second heals, only the permanent block is left."""
    seen: dict[str, set[tuple[str, str]]] = {}

    async def main() -> None:
        net = network()
        workload = AccountsWorkload({"script": []})
        async with anyio.create_task_group() as group:
            run = _Run(net, group)
            run.permanent_blocks.add(("n0", "n2"))
            net.block("n0", "n2")
            workload._partition(
                run, Step("partition", groups=(("n0", "n1", "n2"), ("n3",)), seconds=10)
            )  # type: ignore[arg-type]
            await anyio.sleep(5)
            workload._partition(
                run, Step("partition", groups=(("n0", "n1"), ("n2", "n3")), seconds=20)
            )  # type: ignore[arg-type]
            seen["both"] = cut(net)
            await anyio.sleep(6)  # the first has healed
            seen["second"] = cut(net)
            await anyio.sleep(20)  # and the second
            seen["none"] = cut(net)

    sim_run(main, seed=1)
    across = {(a, b) for a in ("n0", "n1") for b in ("n2", "n3")}
    across |= {(b, a) for a, b in across}
    isolated = {(a, "n3") for a in ("n0", "n1", "n2")} | {("n3", a) for a in ("n0", "n1", "n2")}
    assert seen["both"] == across | isolated
    assert seen["second"] == across  # n2↔n3 restored; n0→n2 is in `across` anyway
    assert seen["none"] == {("n0", "n2")}


def test_a_call_the_driver_gives_up_on_is_stopped_in_the_node() -> None:
    outcome: dict[str, object] = {}

    async def forever(agent: object) -> None:
        outcome["started"] = True
        try:
            await anyio.sleep_forever()
        finally:
            outcome["stopped_at"] = anyio.current_time()

    async def main() -> None:
        workload = AccountsWorkload({"script": []})
        send, receive = anyio.create_memory_object_stream[_Call](4)
        workload._calls["n0"] = send

        async def node() -> None:
            async with anyio.create_task_group() as calls:
                async for call in receive:
                    calls.start_soon(_serve, call, None)

        async with send, receive, anyio.create_task_group() as group:
            group.start_soon(node)
            with pytest.raises(TimeoutError):
                with anyio.fail_after(3):
                    await workload._call(None, "n0", forever)  # type: ignore[arg-type]
            await anyio.sleep(1)
            group.cancel_scope.cancel()

    sim_run(main, seed=1)
    assert outcome == {"started": True, "stopped_at": pytest.approx(3.0)}
