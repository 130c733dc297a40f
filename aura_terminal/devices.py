"""The demo's multi-device part: one account's devices agree on every change to it.

Four devices run in this process, each with its own SQLite file and its own guard chain, linked
by an in-memory network (simulated peers). Devices 0-2 found the account (a 2-of-3 FROST group
from an in-process DKG); then, each change agreed by threshold consensus and recorded in every
device's journal: device 3 is added, the account moves to a 3-of-4 policy, device 0 is removed,
and the remaining three refresh their shares and rotate the epoch.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import attrs
from rich.console import Console
from rich.table import Table

from aura_agent.ceremony import dkg_in_process, refresh_in_process, sign_in_process
from aura_agent.device import Device, genesis_fact, tree_group
from aura_consensus.commit import CommitFact
from aura_consensus.tree import authority_registry
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode
from aura_core.errors import AuraError
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_core.tree import LeafNode, LeafRole
from aura_effects.bundle import Effects, production_effects
from aura_effects.storage import SqliteStorage
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.tree import (
    TREE_REDUCER,
    AddLeaf,
    ChangePolicy,
    RemoveLeaf,
    RotateEpoch,
    TreeGenesis,
    TreeOp,
    TreeOpKind,
)
from aura_protocol.consensus import CAPABILITIES, ConsensusConfig
from aura_sim.peers import connect

__all__ = ["run"]

Entropy = Callable[[], bytes]
CONFIG = ConsensusConfig(fallback_s=0.5, gossip_s=0.2, deadline_s=10.0)


def run(console: Console, entropy: Entropy, data_dir: Path | None = None) -> None:
    """Print the multi-device tour; the SQLite files go to `data_dir` (a temporary directory,
    removed afterwards, if None)."""
    console.rule("[bold]Four devices, one account")
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        anyio.run(_tour, console, entropy, data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="aura-demo-") as directory:
        anyio.run(_tour, console, entropy, Path(directory))


async def _devices(entropy: Entropy, directory: Path, account: AuthorityId) -> list[Device]:
    context = ContextId.from_entropy(entropy())
    registry = authority_registry()
    made: list[tuple[AuthorityId, Effects, SigningKey, DeviceId]] = []
    for index in range(4):
        address = AuthorityId.from_entropy(entropy())
        device = DeviceId.from_entropy(entropy())
        effects = await production_effects(
            directory / f"device-{index}.sqlite",
            authority=address,
            device=device,
            registry=registry,
        )
        effects.flow.set_default(context, None)
        token = issue_token(
            entropy(), address, list(CAPABILITIES), seed=entropy(), scope=ContextScope(context)
        )
        effects.authorization.grant(context, CapabilityFrontier.of(token))
        made.append((address, effects, SigningKey(entropy()), device))
    guarded = connect({address: (effects, key) for address, effects, key, _ in made})
    return [
        Device(
            effects,
            guarded[address],
            key,
            LeafNode(index, device, LeafRole.DEVICE, key.verifying_key.raw),
            account,
            context,
        )
        for index, (address, effects, key, device) in enumerate(made)
    ]


def _seeds(entropy: Entropy, ids: Sequence[int]) -> dict[int, bytes]:
    return {i: entropy() for i in ids}


async def _settle(devices: Sequence[Device], fact: CommitFact) -> None:
    """Wait until every device's journal holds the decided change."""
    op = decode(fact.operation_bytes, TreeOp)
    with anyio.fail_after(CONFIG.deadline_s):
        while True:
            views = [
                (await d.effects.journal.journal(d.namespace)).view(TREE_REDUCER) for d in devices
            ]
            if all(op in view.log.ops for view in views):
                return
            await devices[0].effects.time.sleep(0.01)


@attrs.define
class _Tour:
    """The tour's state: the devices, who is who, and the table of changes."""

    console: Console
    entropy: Entropy
    devices: list[Device]
    steps: Table = attrs.field(
        factory=lambda: Table(
            "change",
            "proposed by",
            "signed by",
            "path",
            "time",
            "epoch",
            "leaves",
            "tree root",
            title="Changes to the account, each agreed by threshold consensus",
        )
    )

    @property
    def witness_of(self) -> dict[DeviceId, AuthorityId]:
        return {d.leaf.device_id: d.address for d in self.devices}

    def _names(self, addresses: Sequence[AuthorityId]) -> str:
        number = {d.address: str(d.leaf.leaf_id) for d in self.devices}
        return "devices " + ", ".join(sorted(number[a] for a in addresses))

    async def show(
        self, label: str, by: Device | None, fact: CommitFact | None, took: float
    ) -> None:
        state = await self.devices[1].tree()
        self.steps.add_row(
            label,
            "" if by is None else f"device {by.leaf.leaf_id}",
            "" if fact is None else self._names(fact.participants),
            "" if fact is None else ("fast" if fact.fast_path else "fallback"),
            f"{took * 1000:.0f} ms",
            str(state.epoch),
            ", ".join(str(leaf.leaf_id) for leaf in state.leaves),
            state.commitment.hex()[:16] + "…",
        )

    async def found(self) -> tuple[dict[int, frost.KeyPackage], frost.PublicKeyPackage]:
        """Devices 0-2 run a DKG and sign the genesis; every device records it."""
        start = time.perf_counter()
        founders = self.devices[:3]
        ids = [d.frost_identifier for d in founders]
        keys, public = dkg_in_process(ids, 2, _seeds(self.entropy, ids))
        signers = dict(sorted(keys.items())[:2])

        def sign(message: bytes) -> tuple[bytes, tuple[int, ...]]:
            seeds = _seeds(self.entropy, list(signers))
            return sign_in_process(signers, public, message, seeds), tuple(signers)

        leaves = tuple(d.leaf for d in founders)
        account = self.devices[0].authority
        genesis = TreeGenesis(account, leaves, 2, public.group_public_key)
        fact = await genesis_fact(self.devices[0].effects, genesis, sign)
        for d in self.devices:
            await d.effects.journal.merge(d.namespace, [fact])
        await self.show("found (2-of-3, DKG)", None, None, time.perf_counter() - start)
        return keys, public

    async def change(
        self, by: Device, kind: TreeOpKind, label: str, everyone: list[Device]
    ) -> None:
        start = time.perf_counter()
        fact = await by.change(kind)
        assert by.consensus is not None
        await by.consensus.announce(fact, [d.address for d in everyone])
        await _settle(everyone, fact)
        await self.show(label, by, fact, time.perf_counter() - start)

    async def regroup(
        self,
        members: list[Device],
        keys: dict[int, frost.KeyPackage],
        public: frost.PublicKeyPackage,
    ) -> None:
        """Every member moves to the group of the current tree state with its new share."""
        state = await members[0].tree()
        for d in members:
            assert d.consensus is not None
            group = tree_group(state, public, keys[d.frost_identifier], self.witness_of)
            d.consensus.set_group(group)


async def _tour(console: Console, entropy: Entropy, directory: Path) -> None:
    account = AuthorityId.from_entropy(entropy())
    devices = await _devices(entropy, directory, account)
    tour = _Tour(console, entropy, devices)
    d0, d1, d2, d3 = devices
    try:
        keys0, public0 = await tour.found()
        state0 = await d0.tree()
        async with AsyncExitStack() as stack:
            for d in devices:
                key = keys0.get(d.frost_identifier)
                group = tree_group(state0, public0, key, tour.witness_of)
                await stack.enter_async_context(d.online(group, CONFIG))
            await tour.change(d0, AddLeaf(d3.leaf), "add device 3", devices)
            ids = [d.frost_identifier for d in devices]
            keys1, public1 = dkg_in_process(ids, 2, _seeds(entropy, ids))
            await tour.change(
                d0, ChangePolicy(3, public1.group_public_key), "3-of-4 policy", devices
            )
            await tour.regroup(devices, keys1, public1)
            await tour.change(d3, RemoveLeaf(0), "remove device 0", devices)
            remaining = [d1, d2, d3]
            ids = [d.frost_identifier for d in remaining]
            keys2, public2 = refresh_in_process(ids, keys1, public1, _seeds(entropy, ids))
            await tour.regroup(remaining, keys2, public2)
            kind = RotateEpoch(public2.group_public_key)
            await tour.change(d1, kind, "refresh, new epoch", remaining)
        console.print(tour.steps)
        await _report(tour, (keys1, keys2), public2, directory)
    finally:
        for d in devices:
            if isinstance(d.effects.storage, SqliteStorage):
                await d.effects.storage.close()


async def _report(
    tour: _Tour,
    keys: tuple[dict[int, frost.KeyPackage], dict[int, frost.KeyPackage]],
    public: frost.PublicKeyPackage,
    directory: Path,
) -> None:
    """Each device's journal, and what the removed device's old share is worth now."""
    table = Table("device", "SQLite file", "facts", "tree root", title="Every device's journal")
    for d in tour.devices:
        journal = await d.effects.journal.journal(d.namespace)
        root = (await d.tree()).commitment.hex()[:16] + "…"
        path = directory / f"device-{d.leaf.leaf_id}.sqlite"
        table.add_row(f"device {d.leaf.leaf_id}", path.name, str(len(journal)), root)
    tour.console.print(table)
    old, new = keys
    removed, kept = tour.devices[0].frost_identifier, tour.devices[1].frost_identifier
    first = frost.commit(old[removed], tour.entropy())
    second = frost.commit(new[kept], tour.entropy())
    package = frost.signing_package({removed: first[1], kept: second[1]}, b"by device 0")
    shares = {
        removed: frost.sign(package, first[0], old[removed]),
        kept: frost.sign(package, second[0], new[kept]),
    }
    try:
        frost.aggregate(package, shares, public)
        verdict = "combined (unexpected)"
    except AuraError as exc:
        verdict = f"refused: {exc.message}"
    tour.console.print(
        "Devices 1-3 agree on the tree root; device 0 saw its own removal. Its old share with a "
        f"refreshed one: {verdict}."
    )
