"""The simulated network between nodes: the raw, unguarded transport, with faults.

Only the guard chain may hold a node's transport; an import-linter contract keeps
`aura_protocol`, `aura_agent` and `aura_terminal` from importing this module, directly or
through anything else.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable

import attrs

from aura_core.effects import Envelope
from aura_core.errors import InvalidArgument, TransportError
from aura_core.ids import AuthorityId, ContextId
from aura_effects.loopback import Mailbox
from aura_sim.faults import QUIET, LinkPolicy, MessageFault, MessageFaultKind
from aura_sim.seeds import Stream

__all__ = ["SimNetwork", "SimTransport"]


@attrs.frozen
class _Flight:
    """What a message's delivery depends on, taken when it was sent: the destination's
    incarnation and how often the link had been cut. A crash or a cut while the message is on
    its way changes one of them, and the message is lost."""

    incarnation: int
    cuts: int


class SimNetwork:
    """A faulty network between named simulated nodes, timed by the event loop's clock.

    Per directed link: latency (FIFO unless a message is reordered), drop, duplicate, reorder
    and corrupt (bit flip or truncation) with `LinkPolicy` odds; partitions (symmetric or one
    direction), holds and crashed nodes. In random mode (`faults` given, `schedule` None) every
    fault is drawn from the `faults` stream and appended to `injected`; in scheduled mode only
    the faults of `schedule` happen. Latencies always come from the `latency` stream, so a run
    and its replay see the same timings.

    One reachability rule covers every way a message travels (first copy, duplicate, reordered
    copy, held then released): it is delivered only if its link stayed uncut and its
    destination stayed up (the same incarnation) from the moment it was sent to the moment it
    arrives. What a node sent before it crashed is still delivered.
    """

    def __init__(
        self,
        *,
        latency: Stream,
        faults: Stream | None,
        default: LinkPolicy = QUIET,
        schedule: Iterable[MessageFault] = (),
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._latency = latency
        self._faults = faults
        self._default = default
        self._policies: dict[tuple[str, str], LinkPolicy] = {}
        self._scheduled: dict[tuple[str, str, int], list[MessageFault]] = {}
        for fault in schedule:
            self._scheduled.setdefault((fault.source, fault.destination, fault.seq), []).append(
                fault
            )
        self._on_event = on_event
        self._names: dict[AuthorityId, str] = {}
        self._inboxes: dict[str, Mailbox] = {}
        self._incarnations: dict[str, int] = {}
        self._seq: dict[tuple[str, str], int] = {}
        self._last_arrival: dict[tuple[str, str], float] = {}
        self._blocked: set[tuple[str, str]] = set()
        self._cuts: Counter[tuple[str, str]] = Counter()
        self._held: dict[tuple[str, str], list[tuple[Envelope, _Flight]]] = {}
        self._down: set[str] = set()
        self.injected: list[MessageFault] = []
        self.counters: Counter[str] = Counter()
        self.send_hooks: list[Callable[[str, Envelope], None]] = []
        self.deliver_hooks: list[Callable[[str, Envelope], None]] = []

    # -------------------------------------------------------------- topology and faults

    def attach(self, name: str, authority: AuthorityId) -> SimTransport:
        if name in self._inboxes or authority in self._names:
            raise InvalidArgument(f"{name} is already attached")
        self._names[authority] = name
        self._inboxes[name] = Mailbox(name)
        self._incarnations[name] = 1
        return SimTransport(self, name, authority)

    def alias(self, name: str, authority: AuthorityId) -> SimTransport:
        """Another address of the attached node `name`: messages to `authority` reach its
        inbox, under its crashes and cuts. For a device whose address derives from a key it
        drew after the node was attached (an agent: self-certifying addresses). Naming the
        same pair again gives another transport of it; an address of another node is refused."""
        if name not in self._inboxes:
            raise InvalidArgument(f"{name} is not attached")
        owner = self._names.setdefault(authority, name)
        if owner != name:
            raise InvalidArgument(f"{authority} is {owner}'s address")
        return SimTransport(self, name, authority)

    @property
    def nodes(self) -> list[str]:
        return sorted(self._inboxes)

    def set_default(self, policy: LinkPolicy) -> None:
        self._default = policy

    def set_link(self, source: str, destination: str, policy: LinkPolicy) -> None:
        self._policies[(source, destination)] = policy

    def policy(self, source: str, destination: str) -> LinkPolicy:
        return self._policies.get((source, destination), self._default)

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Cut every link between nodes of different groups (a node not listed is isolated)."""
        groups = [list(group) for group in groups]
        for a, b in sorted(self.separated(groups)):
            self._cut(a, b)
        group_of = {node: index for index, group in enumerate(groups) for node in group}
        self._event(f"partition {sorted(group_of.items())}")

    def separated(self, groups: Iterable[Iterable[str]]) -> frozenset[tuple[str, str]]:
        """The (source, destination) links `partition(groups)` cuts."""
        group_of = {node: index for index, group in enumerate(groups) for node in group}
        nodes = self._inboxes
        return frozenset(
            (a, b)
            for a in nodes
            for b in nodes
            if a != b and (a not in group_of or group_of.get(b) != group_of[a])
        )

    def block(self, source: str, destination: str) -> None:
        """Cut one direction of one link."""
        self._cut(source, destination)
        self._event(f"block {source}->{destination}")

    def _cut(self, source: str, destination: str) -> None:
        # Counting cuts (not just the current state) is what loses a message whose link was
        # cut and healed again while it was on its way.
        self._blocked.add((source, destination))
        self._cuts[(source, destination)] += 1

    def heal(self, nodes: Iterable[str] | None = None) -> None:
        """Restore every link (or every link between `nodes`)."""
        if nodes is None:
            self._blocked.clear()
        else:
            chosen = set(nodes)
            self._blocked = {(a, b) for a, b in self._blocked if a not in chosen or b not in chosen}
        self._event("heal")

    def restore(self, links: Iterable[tuple[str, str]]) -> None:
        """Restore these (source, destination) links only: the end of one cut among others."""
        chosen = list(links)
        self._blocked.difference_update(chosen)
        self._event(f"restore {chosen}")

    def reachable(self, source: str, destination: str) -> bool:
        return (source, destination) not in self._blocked

    def hold(self, source: str, destination: str) -> None:
        """Keep the messages sent from `source` to `destination` on the wire until `release`."""
        self._held.setdefault((source, destination), [])
        self._event(f"hold {source}->{destination}")

    def release(self, source: str, destination: str) -> None:
        """Send the held messages on their way (each still subject to the reachability rule)."""
        waiting = self._held.pop((source, destination), [])
        self._event(f"release {source}->{destination} ({len(waiting)})")
        for envelope, flight in waiting:
            delay = self._base_delay(source, destination)
            self._schedule(source, destination, envelope, flight, delay)

    def crash(self, name: str) -> None:
        """The node goes down: every message in flight to it (on the wire, held, reordered,
        duplicated, queued in its inbox) is lost, and it can neither send nor receive. What
        it sent before is still delivered. Crashing a node that is down changes nothing."""
        if name in self._down:
            return
        self._down.add(name)
        dropped = self._inboxes[name].close()
        if dropped:
            self.counters["lost_in_inbox"] += dropped
        self._event(f"crash {name}")

    def restart(self, name: str) -> None:
        """The node comes back as its next incarnation, with an empty inbox. Restarting a node
        that is up changes nothing."""
        if name not in self._down:
            return
        self._down.discard(name)
        self._incarnations[name] += 1
        self._inboxes[name] = Mailbox(name)
        self._event(f"restart {name}")

    def is_down(self, name: str) -> bool:
        return name in self._down

    def incarnation(self, name: str) -> int:
        """1 when attached, one more at every restart: only the incarnation a message was sent
        to can receive it."""
        return self._incarnations[name]

    # -------------------------------------------------------------------- delivery

    def _event(self, text: str) -> None:
        if self._on_event is not None:
            self._on_event(text)

    def _base_delay(self, source: str, destination: str) -> float:
        policy = self.policy(source, destination)
        jitter = self._latency.uniform(0.0, policy.jitter_ms) if policy.jitter_ms else 0.0
        return (policy.latency_ms + jitter) / 1000

    def _draw_faults(
        self, source: str, destination: str, seq: int, size: int
    ) -> list[MessageFault]:
        key = (source, destination, seq)
        if self._faults is None:
            return self._scheduled.get(key, [])
        policy = self.policy(source, destination)
        if not policy.faulty:
            return []
        drawn: list[MessageFault] = []
        stream = self._faults
        if stream.bernoulli(policy.drop):
            drawn.append(MessageFault(source, destination, seq, MessageFaultKind.DROP))
        else:
            if stream.bernoulli(policy.corrupt) and size:
                if stream.bernoulli(0.5):
                    flip = stream.below(size * 8)
                    drawn.append(
                        MessageFault(source, destination, seq, MessageFaultKind.BIT_FLIP, flip)
                    )
                else:
                    cut = stream.below(size)
                    drawn.append(
                        MessageFault(source, destination, seq, MessageFaultKind.TRUNCATE, cut)
                    )
            if stream.bernoulli(policy.reorder):
                extra = 1 + stream.below(max(int(policy.reorder_ms), 1))
                drawn.append(
                    MessageFault(source, destination, seq, MessageFaultKind.REORDER, extra)
                )
            if stream.bernoulli(policy.duplicate):
                extra = stream.below(max(int(policy.latency_ms) * 2, 1))
                drawn.append(
                    MessageFault(source, destination, seq, MessageFaultKind.DUPLICATE, extra)
                )
        self.injected.extend(drawn)
        return drawn

    def _send(self, source: str, envelope: Envelope) -> None:
        destination = self._names.get(envelope.destination)
        if destination is None:
            raise TransportError(f"no route to {envelope.destination}")
        if source in self._down:
            raise TransportError(f"{source} is down")
        key = (source, destination)
        seq = self._seq.get(key, 0) + 1
        self._seq[key] = seq
        self.counters["sent"] += 1
        for hook in self.send_hooks:
            hook(source, envelope)
        delay = self._base_delay(source, destination)
        if key in self._blocked:
            self.counters["lost_to_partition"] += 1
            return
        if destination in self._down:
            self.counters["lost_to_down"] += 1
            return
        flight = _Flight(self._incarnations[destination], self._cuts[key])
        faults = self._draw_faults(source, destination, seq, len(envelope.payload))
        kinds = {fault.kind: fault for fault in faults}
        if MessageFaultKind.DROP in kinds:
            self.counters["dropped"] += 1
            return
        if MessageFaultKind.BIT_FLIP in kinds:
            envelope = _flip(envelope, kinds[MessageFaultKind.BIT_FLIP].amount)
            self.counters["corrupted"] += 1
        if MessageFaultKind.TRUNCATE in kinds:
            envelope = attrs.evolve(
                envelope, payload=envelope.payload[: kinds[MessageFaultKind.TRUNCATE].amount]
            )
            self.counters["corrupted"] += 1
        if key in self._held:
            self._held[key].append((envelope, flight))
            self.counters["held"] += 1
            return
        reordered = kinds.get(MessageFaultKind.REORDER)
        if reordered is not None:
            self.counters["reordered"] += 1
            extra = reordered.amount / 1000
            self._schedule(source, destination, envelope, flight, delay + extra, fifo=False)
        else:
            self._schedule(source, destination, envelope, flight, delay)
        duplicated = kinds.get(MessageFaultKind.DUPLICATE)
        if duplicated is not None:
            self.counters["duplicated"] += 1
            extra = duplicated.amount / 1000
            self._schedule(source, destination, envelope, flight, delay + extra, fifo=False)

    def _schedule(
        self,
        source: str,
        destination: str,
        envelope: Envelope,
        flight: _Flight,
        delay: float,
        *,
        fifo: bool = True,
    ) -> None:
        loop = asyncio.get_running_loop()
        arrival = loop.time() + delay
        key = (source, destination)
        if fifo:
            # Keep the link first-in first-out: never arrive before the previous message.
            arrival = max(arrival, self._last_arrival.get(key, 0.0) + 1e-6)
            self._last_arrival[key] = arrival
        loop.call_at(arrival, self._deliver, source, destination, envelope, flight)

    def _deliver(self, source: str, destination: str, envelope: Envelope, flight: _Flight) -> None:
        # The reachability rule, applied when the message arrives: a crash of the destination
        # or a cut of the link since it was sent (even one already healed) loses it.
        if destination in self._down or self._incarnations[destination] != flight.incarnation:
            self.counters["lost_in_flight"] += 1
            return
        if (source, destination) in self._blocked or self._cuts[
            (source, destination)
        ] != flight.cuts:
            self.counters["cut_in_flight"] += 1
            return
        self._inboxes[destination].put(envelope)
        self.counters["delivered"] += 1
        for hook in self.deliver_hooks:
            hook(destination, envelope)

    async def _receive(self, name: str) -> Envelope:
        return await self._inboxes[name].get()

    async def _receive_many(self, name: str, limit: int) -> list[Envelope]:
        return await self._inboxes[name].get_many(limit)


def _flip(envelope: Envelope, bit: int) -> Envelope:
    payload = bytearray(envelope.payload)
    if payload:
        bit %= len(payload) * 8
        payload[bit // 8] ^= 1 << (bit % 8)
    return attrs.evolve(envelope, payload=bytes(payload))


class SimTransport:
    """`TransportEffects` of one node on a `SimNetwork` (the raw, unguarded transport)."""

    def __init__(self, network: SimNetwork, name: str, authority: AuthorityId) -> None:
        self._network = network
        self.name = name
        self.authority = authority

    async def send(self, destination: AuthorityId, context: ContextId, payload: bytes) -> None:
        self._network._send(self.name, Envelope(self.authority, destination, context, payload))

    async def receive(self) -> Envelope:
        return await self._network._receive(self.name)

    async def receive_many(self, limit: int) -> list[Envelope]:
        return await self._network._receive_many(self.name, limit)
