"""NAIVE PUSH: a simple replication workload the simulator tests itself with (planted bugs).

Every node writes signed `note` facts into the run's shared context journal and pushes every
note it holds to every peer through the guard chain, again and again until that peer acks it
(naive push with retry, backing off exponentially while a peer acks nothing: no digests, no
reconciliation). Receivers validate and merge what they
get and ack it. Enough to exercise the simulator (faults, crashes, convergence, monitors) end to
end; real replication is anti-entropy sync (`aura_sim.examples.sync`).

Options (`[workload]` in a scenario):
    push_interval_s   how often a node re-pushes unacked notes (default 0.2)
    planted_bug       "" (default); "drop_out_of_order": a receiver that gets a note whose
                      order token is below the highest it has seen from that peer drops it but
                      acks it anyway — a merge that loses facts under reordering; or
                      "send_before_charge": pushes leave on the raw transport, skipping the
                      guard chain. Kept so tests can show the simulator and its monitors find,
                      replay and shrink such bugs.
    ambient_time      true makes nodes read the real clock, and
    ambient_random    true makes them draw unseeded randomness: both exist only to show that
                      the determinism check catches them; never use otherwise.
"""

from __future__ import annotations

import random
import time
from typing import Any

import anyio
import attrs

from aura_core.encoding import decode, encode, record, record_tag
from aura_core.errors import AuraError, EncodingError, FactRejected
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, FactId
from aura_effects.bundle import Effects
from aura_guards.chain import GuardAnnotations
from aura_guards.transport import GuardedMessage, GuardedTransport
from aura_journal.context import CONTEXT_MEMBERS
from aura_journal.fact import Fact, FactBody, JournalNamespace, NamespaceKind, sign_fact
from aura_journal.receipt import ReceiptBody, message_digest, sign_receipt
from aura_journal.registry import FactRegistry, FactType
from aura_sim.node import SimNode
from aura_sim.runner import SimRun
from aura_sim.scenario import Action

__all__ = ["Note", "Push", "Ack", "NaivePush", "write_note", "workload"]

CAPABILITY = "sim:replicate"
MAX_BACKOFF = 8
"""A silent peer is retried at most every 8 push rounds."""
PUSH = GuardAnnotations(capability=CAPABILITY, flow_cost=1)


@record("sim.note")
@attrs.frozen
class Note:
    author: AuthorityId
    seq: int
    text: str


@record("sim.push")
@attrs.frozen
class Push:
    fact: bytes


@record("sim.ack")
@attrs.frozen
class Ack:
    fact: FactId


@attrs.frozen
class _Incarnation:
    node: SimNode
    effects: Effects
    guarded: GuardedTransport


class NaivePush:
    """See the module docstring."""

    capabilities = (CAPABILITY,)

    def __init__(self, options: dict[str, Any]) -> None:
        unknown = set(options) - {
            "push_interval_s",
            "planted_bug",
            "ambient_time",
            "ambient_random",
        }
        if unknown:
            raise ValueError(f"unknown naive_push options {sorted(unknown)}")
        self.interval = float(options.get("push_interval_s", 0.2))
        self.bug = str(options.get("planted_bug", ""))
        if self.bug not in ("", "drop_out_of_order", "send_before_charge"):
            raise ValueError(f"unknown planted bug {self.bug!r}")
        self.ambient_time = bool(options.get("ambient_time", False))
        self.ambient_random = bool(options.get("ambient_random", False))
        self._written: dict[str, int] = {}

    def register(self, registry: FactRegistry) -> None:
        registry.register(
            FactType(
                payload_type=Note, namespace_kind=NamespaceKind.CONTEXT, writer=CONTEXT_MEMBERS
            )
        )

    async def act(self, run: SimRun, node: SimNode, action: Action) -> None:
        if action.do != "write":
            raise ValueError(f"naive_push does not know the action {action.do!r}")
        seq = self._written[node.name] = self._written.get(node.name, 0) + 1
        await write_note(run, node, seq)

    async def state(self, node: SimNode) -> frozenset[object]:
        assert node.effects is not None
        journal = await node.effects.journal.journal(JournalNamespace.of(node.context))
        return frozenset(f.id for f in journal.of_type("sim.note"))

    def check(self, run: SimRun) -> None:
        """No invariants of its own: the runner's properties cover replication."""

    async def settled(self, run: SimRun, core: list[SimNode]) -> str | None:
        """Its goal is convergence, which the runner checks itself."""
        return None

    async def run_node(self, run: SimRun, node: SimNode) -> None:
        # This incarnation's volatile state: a crash replaces (and drops) the node's own fields,
        # so the tasks hold on to the objects they started with.
        assert node.effects is not None and node.guarded is not None
        live = _Incarnation(node, node.effects, node.guarded)
        acked: dict[AuthorityId, set[FactId]] = {}
        highest: dict[AuthorityId, bytes] = {}
        async with anyio.create_task_group() as group:
            group.start_soon(self._receive, run, live, acked, highest)
            group.start_soon(self._push, run, live, acked)

    async def _push(
        self, run: SimRun, live: _Incarnation, acked: dict[AuthorityId, set[FactId]]
    ) -> None:
        node = live.node
        peers = [p for name, p in sorted(run.nodes.items()) if p is not node]
        # Per peer: rounds to skip, and the backoff that doubles while a peer acks nothing.
        wait = {peer.authority: 0 for peer in peers}
        backoff = {peer.authority: 1 for peer in peers}
        progress = {peer.authority: 0 for peer in peers}
        while True:
            # Deliberately nondeterministic, only when asked (see the module docstring):
            if self.ambient_time and int(time.time() * 1_000_000) % 2:
                await anyio.sleep(0.001)
            if self.ambient_random and random.random() < 0.5:
                await anyio.sleep(0.001)
            journal = await live.effects.journal.journal(run.namespace)
            notes = journal.of_type("sim.note")
            for peer in peers:
                done = acked.setdefault(peer.authority, set())
                if len(done) > progress[peer.authority]:  # the peer acked something: back to 1
                    progress[peer.authority], backoff[peer.authority] = len(done), 1
                    wait[peer.authority] = 0
                if wait[peer.authority] > 0:
                    wait[peer.authority] -= 1
                    continue
                pending = [fact for fact in notes if fact.id not in done]
                if pending:  # nothing acked since the last push: wait longer before the next
                    wait[peer.authority] = backoff[peer.authority] - 1
                    backoff[peer.authority] = min(backoff[peer.authority] * 2, MAX_BACKOFF)
                for fact in pending:
                    body = encode(Push(fact.encoded))
                    try:
                        if self.bug == "send_before_charge":
                            await self._bypass(run, node, peer, body)
                        else:
                            await live.guarded.send(
                                run.context, peer.authority, "sim.push", body, PUSH
                            )
                    except AuraError:  # denied, transport down, injected failure: retry later
                        run.hit("push_failed")
            await anyio.sleep(self.interval)

    async def _bypass(self, run: SimRun, node: SimNode, peer: SimNode, body: bytes) -> None:
        """The planted bug: a message with a signed receipt whose charge was never written."""
        receipt = sign_receipt(
            ReceiptBody(
                run.context,
                node.authority,
                peer.authority,
                0,
                1,
                1,
                Hash32.zero(),
                message_digest("sim.push", body),
            ),
            node.key,
        )
        payload = encode(GuardedMessage("sim.push", body, receipt))
        await node.transport.send(peer.authority, run.context, payload)

    async def _receive(
        self,
        run: SimRun,
        live: _Incarnation,
        acked: dict[AuthorityId, set[FactId]],
        highest: dict[AuthorityId, bytes],
    ) -> None:
        while True:
            message = await live.guarded.receive()
            try:
                if message.operation == "sim.ack":
                    ack = decode(message.body, Ack)
                    acked.setdefault(message.source, set()).add(ack.fact)
                    continue
                push = decode(message.body, Push)
                fact = Fact.from_bytes(push.fact)
            except EncodingError:
                run.hit("garbled_message")
                continue
            order = fact.body.order.token
            if self.bug == "drop_out_of_order" and order < highest.get(message.source, b""):
                run.hit("planted_bug_fired")
                await self._ack(run, live, message.source, fact)  # acked but never merged: lost
                continue
            highest[message.source] = max(order, highest.get(message.source, b""))
            try:
                added = await live.effects.journal.merge(run.namespace, [fact])
            except FactRejected:
                run.hit("rejected_fact")
                continue
            except AuraError:
                run.hit("merge_failed")
                continue
            if added:
                run.hit("replicated")
            await self._ack(run, live, message.source, fact)

    async def _ack(self, run: SimRun, live: _Incarnation, peer: AuthorityId, fact: Fact) -> None:
        try:
            await live.guarded.send(run.context, peer, "sim.ack", encode(Ack(fact.id)), PUSH)
        except AuraError:
            run.hit("ack_failed")


async def write_note(run: SimRun, node: SimNode, seq: int) -> None:
    """`node` writes its note number `seq` into the run's context journal (signed with its
    member key); an injected storage failure loses the write, and says so on the trace."""
    assert node.effects is not None
    note = Note(node.authority, seq, f"{node.name} note {seq}")
    effects = node.effects
    type_id, version = record_tag(Note)
    body = FactBody(
        run.namespace,
        type_id,
        version,
        encode(note),
        await effects.order.order_time(),
        await effects.time.now(),
    )
    try:
        await effects.journal.merge(run.namespace, [sign_fact(body, node.key)])
    except AuraError as exc:  # e.g. an injected storage failure: the write is lost, honestly
        run.note(f"{node.name} write failed: {type(exc).__name__}")
        return
    run.note(f"{node.name} wrote note {seq}")


def workload(options: dict[str, Any]) -> NaivePush:
    """The factory a scenario names."""
    return NaivePush(options)
