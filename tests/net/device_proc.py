"""One device in its own process, for the multi-host tests (`python -m tests.net.device_proc
CONFIG.json`). Test-only: the agent of issue 17 replaces it.

The configuration (written by `tests.net.multihost`) deals everything a device would get from
enrollment: its network authority, signing key, static key seed and leaf; the account's tree
genesis fact and FROST public key package (and its own key package, if it holds a share); the
devices' context genesis fact and secret; its listen address and a seed table. The device keeps
its journals in SQLite under `data_dir` (so a restart on the same directory resumes from disk),
runs on TCP through `aura_agent.network.on_tcp`, goes online (dispatcher, consensus, sync) and
then answers one JSON line on stdout for each JSON line on stdin:

    {"op": "status"}                       its tree, journal, descriptors and sync counters
    {"op": "add_leaf", "leaf_id": n, "seed": hex}   propose AddLeaf by consensus
    {"op": "stop"}                         leave (also on end of stdin)

Its first line is `{"ready": ...}` with its port and how many facts of the account it loaded
from disk. Trace events go to `data_dir/trace.log` (appended, flushed per event, so a SIGKILL
loses none) and errors to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import anyio

from aura_agent.device import Device, tree_group
from aura_agent.network import TcpSetup, on_tcp
from aura_consensus.tree import authority_registry
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import decode
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_core.noise import StaticKeypair
from aura_core.tree import LeafNode, LeafRole
from aura_effects.bundle import Effects, production_effects
from aura_effects.locator import PeerAddress, StaticLocator
from aura_effects.storage import SqliteStorage
from aura_effects.tcpconfig import TcpConfig
from aura_effects.trace import Tracer
from aura_journal.budget import UNLIMITED
from aura_journal.capability import CapabilityFrontier, ContextScope, issue_token
from aura_journal.context import ContextGenesis
from aura_journal.fact import Fact, JournalNamespace
from aura_journal.tree import AddLeaf, TreeGenesis
from aura_protocol.consensus import CAPABILITIES, ConsensusConfig
from aura_protocol.rendezvous import RendezvousLocator
from aura_protocol.sync import CAPABILITIES as SYNC_CAPABILITIES
from aura_protocol.sync import SyncConfig

CONSENSUS = ConsensusConfig(fallback_s=0.5, gossip_s=0.2, deadline_s=15.0)
SYNC = SyncConfig(interval_s=1.0, session_limit_s=5.0)
"""Sync every second with each peer (jittered), sessions cut after 5 s (a peer cut off)."""


def tcp(host: str, port: int) -> TcpConfig:
    """Test timings: redial within a second, handshakes within two."""
    return TcpConfig(
        host=host,
        port=port,
        handshake_timeout=2.0,
        backoff_base=0.05,
        backoff_cap=1.0,
        idle_timeout=20.0,
    )


def _leaf(leaf_id: int, seed: bytes) -> LeafNode:
    return LeafNode(
        leaf_id, DeviceId.from_entropy(seed), LeafRole.DEVICE, SigningKey(seed).verifying_key.raw
    )


async def _prepare(
    effects: Effects, config: dict[str, Any], address: AuthorityId
) -> tuple[int, AuthorityId, ContextId]:
    """What enrollment gives a device: the geneses, the context's secret, flow and
    capabilities. Returns how many facts of the account were already on disk, the account
    and the devices' context."""
    tree = Fact.from_bytes(bytes.fromhex(config["tree_genesis"]))
    context = Fact.from_bytes(bytes.fromhex(config["context_genesis"]))
    account = decode(tree.body.payload, TreeGenesis).authority
    context_id = decode(context.body.payload, ContextGenesis).context
    loaded = len((await effects.journal.journal(JournalNamespace.of(account))).fact_ids())
    await effects.journal.merge(JournalNamespace.of(account), [tree])
    await effects.journal.merge(JournalNamespace.of(context_id), [context])
    effects.contexts.add(context_id, bytes.fromhex(config["context_secret"]))
    effects.flow.set_default(context_id, UNLIMITED)
    token = issue_token(
        await effects.random.random_bytes(32),
        address,
        [*CAPABILITIES, *SYNC_CAPABILITIES],
        seed=await effects.random.random_bytes(32),
        scope=ContextScope(context_id),
    )
    effects.authorization.grant(context_id, CapabilityFrontier.of(token))
    return loaded, account, context_id


async def _status(device: Device) -> dict[str, Any]:
    state = await device.tree()
    journal = await device.effects.journal.journal(device.namespace)
    trace = device.effects.trace
    assert isinstance(trace, Tracer)
    sessions = trace.events("sync.session") + trace.events("sync.served")
    initiated = trace.events("sync.session")
    peers = sorted({str(e.get("peer")) for e in initiated if e.get("outcome") == "complete"})
    located = await RendezvousLocator(device.effects).descriptors(device.context)
    return {
        "ok": True,
        "root": state.commitment.hex(),
        "epoch": state.epoch,
        "leaves": [leaf.leaf_id for leaf in state.leaves],
        "facts": sorted(str(f) for f in journal.fact_ids()),
        "sync_merged": sum(int(e.get("merged") or 0) for e in sessions),
        "sync_failed": sum(e.get("outcome") != "complete" for e in initiated),
        "synced_with": peers,
        "descriptors": sorted(str(member) for member in located),
    }


async def _handle(device: Device, command: dict[str, Any]) -> dict[str, Any] | None:
    op = command.get("op")
    if op == "stop":
        return None
    if op == "status":
        return await _status(device)
    if op == "add_leaf":
        leaf = _leaf(int(command["leaf_id"]), bytes.fromhex(command["seed"]))
        fact = await device.change(AddLeaf(leaf))
        return {
            "ok": True,
            "participants": sorted(str(p) for p in fact.participants),
            "fast_path": fact.fast_path,
        }
    return {"ok": False, "error": f"unknown op {op!r}"}


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _serve(device: Device) -> None:
    async for line in anyio.wrap_file(sys.stdin):
        if not line.strip():
            continue
        try:
            answer = await _handle(device, json.loads(line))
        except Exception as exc:  # report it and go on: the test decides
            logging.getLogger("aura").exception("command failed")
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        if answer is None:
            _say({"ok": True, "stopped": True})
            return
        _say(answer)


async def main(path: str) -> None:
    config = json.loads(Path(path).read_text())
    data = Path(config["data_dir"])
    data.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(data / "trace.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("aura")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    address = AuthorityId.parse(config["address"])
    key = SigningKey(bytes.fromhex(config["signing_seed"]))
    leaf = LeafNode(
        config["leaf_id"],
        DeviceId.parse(config["device"]),
        LeafRole.DEVICE,
        key.verifying_key.raw,
    )
    effects = await production_effects(
        data / "device.sqlite",
        authority=address,
        device=leaf.device_id,
        registry=authority_registry(),
    )
    try:
        loaded, account, context = await _prepare(effects, config, address)
        seeds = StaticLocator(
            {
                AuthorityId.parse(s["authority"]): PeerAddress(
                    s["host"], s["port"], bytes.fromhex(s["static_key"])
                )
                for s in config["seeds"]
            }
        )
        setup = TcpSetup(
            seeds=seeds,
            tcp=tcp(config["host"], config["port"]),
            sync=SYNC,
            keypair=StaticKeypair.from_seed(bytes.fromhex(config["static_seed"])),
        )
        public = frost.PublicKeyPackage.from_bytes(bytes.fromhex(config["public_key_package"]))
        share = config["key_package"]
        key_package = None if share is None else frost.KeyPackage.from_bytes(bytes.fromhex(share))
        witness_of = {
            DeviceId.parse(d): AuthorityId.parse(a) for d, a in config["witness_of"].items()
        }
        async with on_tcp(
            effects,
            address=address,
            key=key,
            leaf=leaf,
            account=account,
            context=context,
            setup=setup,
        ) as device:
            group = tree_group(await device.tree(), public, key_package, witness_of)
            async with device.online(group, CONSENSUS):
                assert device.network is not None
                _say({"ready": True, "port": device.network.port, "loaded": loaded})
                await _serve(device)
    finally:
        if isinstance(effects.storage, SqliteStorage):
            await effects.storage.close()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
