"""SYNC: nodes write facts; anti-entropy sync alone repairs every journal.

Every node writes signed notes into the run's context journal (`write` actions) and runs a
`SyncService` (`aura_protocol.sync`) that syncs the context with every other node every
`interval_s` (jittered), through its dispatcher and guard chain. Nothing carries a fact by hand:
a note reaches another node only through reconciliation and fetch sessions, under whatever the
network does to their messages (loss, duplication, reordering, partitions, crashes). A node's
next incarnation asks every peer for a sync at once, as a device does once it is back.

Invariant (`always = ["workload"]`): no sync session stays open past its bound
(`session_limit_s` plus a slack): a lost message may stall a session, never hang it. Goal: the
runner's `convergence` (every core node holds the same notes).

Options (`[workload]`): interval_s (default 0.5), session_limit_s (2.0), concurrency (4).
"""

from __future__ import annotations

from typing import Any

import anyio

from aura_journal.context import CONTEXT_MEMBERS
from aura_journal.fact import JournalNamespace, NamespaceKind
from aura_journal.registry import FactRegistry, FactType
from aura_protocol import Dispatcher
from aura_protocol.sync import CAPABILITIES, SyncConfig, SyncReport, SyncService
from aura_sim.examples.naive_push import Note, write_note
from aura_sim.node import SimNode
from aura_sim.runner import SimRun
from aura_sim.scenario import Action

__all__ = ["SyncWorkload", "workload"]

PROPERTY = "workload"
SLACK_S = 1.0


class SyncWorkload:
    """See the module docstring."""

    capabilities = CAPABILITIES

    def __init__(self, options: dict[str, Any]) -> None:
        unknown = set(options) - {"interval_s", "session_limit_s", "concurrency"}
        if unknown:
            raise ValueError(f"unknown sync options {sorted(unknown)}")
        self.config = SyncConfig(
            interval_s=float(options.get("interval_s", 0.5)),
            session_limit_s=float(options.get("session_limit_s", 2.0)),
            concurrency=int(options.get("concurrency", 4)),
        )
        self._written: dict[str, int] = {}
        self._dispatchers: dict[str, Dispatcher] = {}

    def register(self, registry: FactRegistry) -> None:
        registry.register(
            FactType(
                payload_type=Note, namespace_kind=NamespaceKind.CONTEXT, writer=CONTEXT_MEMBERS
            )
        )

    async def act(self, run: SimRun, node: SimNode, action: Action) -> None:
        if action.do != "write":
            raise ValueError(f"the sync workload does not know the action {action.do!r}")
        seq = self._written[node.name] = self._written.get(node.name, 0) + 1
        await write_note(run, node, seq)

    async def run_node(self, run: SimRun, node: SimNode) -> None:
        assert node.effects is not None and node.guarded is not None
        effects = node.effects
        effects.contexts.add(run.context, run.seeds.stream("context-secret").bytes(32))
        peers = [p.authority for _, p in sorted(run.nodes.items()) if p is not node]

        def observe(report: SyncReport) -> None:
            if report.merged:
                run.hit("repaired_by_sync")
            if report.dropped:
                run.hit("sync_dropped_facts")
            if report.outcome == "TimedOut":
                run.hit("sync_session_timed_out")
            elif report.outcome == "Aborted":
                run.hit("sync_session_aborted")

        async with Dispatcher(node.guarded, effects.trace) as dispatcher:
            self._dispatchers[node.name] = dispatcher
            service = SyncService(
                effects, dispatcher, peers=peers, config=self.config, on_report=observe
            )
            async with service:
                if node.incarnation > 1:  # back after a crash: catch up with everyone now
                    run.hit("sync_after_restart")
                    for peer in peers:
                        service.request(peer)
                await anyio.sleep_forever()

    async def state(self, node: SimNode) -> frozenset[object]:
        assert node.effects is not None
        journal = await node.effects.journal.journal(JournalNamespace.of(node.context))
        return frozenset(f.id for f in journal.of_type("sim.note"))

    def check(self, run: SimRun) -> None:
        bound = self.config.session_limit_s + SLACK_S
        for name in sorted(self._dispatchers):
            if not run.nodes[name].alive:
                continue
            oldest = self._dispatchers[name].oldest_open()
            if oldest is not None and anyio.current_time() - oldest > bound:
                run.violate(PROPERTY, f"{name} has a sync session open for more than {bound} s")

    async def settled(self, run: SimRun, core: list[SimNode]) -> str | None:
        """Its goal is convergence, which the runner checks itself."""
        return None


def workload(options: dict[str, Any]) -> SyncWorkload:
    """The factory a scenario names."""
    return SyncWorkload(options)
