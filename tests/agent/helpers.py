"""Shared pieces of the agent tests: fast settings, opening agents, and an account dealt to
running agents (standing in for the account workflows, which come separately).

`deal` gives agents one account the way enrollment will: a FROST key dealt to them (each
agent keeps its key package in its key file), the tree genesis signed by it, the devices'
context founded by the first agent with all of them as members (its secret in every key
file), both geneses merged into every journal, then `Agent.join` with seeds pointing at the
others' listeners.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from aura_agent.agent import Agent, AgentSettings
from aura_agent.device import genesis_fact
from aura_agent.keystore import TESTING
from aura_agent.membership import Membership, Seed
from aura_agent.network import found_context
from aura_core.crypto import frost
from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import encode
from aura_core.tree import LeafNode, LeafRole
from aura_effects.tcpconfig import TcpConfig
from aura_journal.context import ContextMember
from aura_journal.fact import JournalNamespace
from aura_journal.tree import TreeGenesis
from aura_protocol.consensus import ConsensusConfig
from aura_protocol.sync import SyncConfig
from tests.frost_local import sign_locally

FAST = AgentSettings(
    tcp=TcpConfig(handshake_timeout=2.0, backoff_base=0.02, backoff_cap=0.2),
    sync=SyncConfig(interval_s=3600.0, session_limit_s=10.0),
    consensus=ConsensusConfig(fallback_s=0.5, gossip_s=0.2, deadline_s=15.0),
    kdf=TESTING,
)
"""Test settings: Argon2id at libsodium's minimum, quick redials, no periodic sync (tests
sync on demand or on connection)."""


def digest(label: str) -> bytes:
    return hashlib.sha256(f"agent tests {label}".encode()).digest()


def tree(path: Path) -> dict[str, bytes]:
    """Every file under `path` (but the socket and lock) and its bytes: a directory's state."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name not in ("agent.sock", "lock")
    }


async def deal(agents: Sequence[Agent], threshold: int) -> Membership:
    """One account of `agents` (leaf i is agents[i]) with a `threshold`-of-n key; every agent
    joined. Returns the membership (seeds as the first agent has them)."""
    leaves = [
        LeafNode(i, a.identity.device, LeafRole.DEVICE, a.identity.signing_key)
        for i, a in enumerate(agents)
    ]
    ids = [leaf.leaf_id + 1 for leaf in leaves]
    shares, public = frost.generate_with_dealer(threshold, len(ids), digest("dealer"), ids)
    keys = {i: frost.key_package(share) for i, share in shares.items()}
    genesis = TreeGenesis.found(leaves, threshold, public.group_public_key)
    signers = dict(sorted(keys.items())[:threshold])

    async def sign(message: bytes) -> tuple[bytes, tuple[int, ...]]:
        nonces = {i: digest(f"nonce {i}") for i in signers}
        return sign_locally(signers, public, message, nonces), tuple(signers)

    first = agents[0]
    tree_fact = await genesis_fact(first.effects, genesis, sign)
    members = [ContextMember(a.address, VerifyingKey(a.identity.signing_key)) for a in agents]
    context_genesis, context_fact = await found_context(
        first.effects, members, first.keys.secrets.signing_key
    )
    context = context_genesis.context
    secret = digest(f"context secret {context}")
    membership = Membership(genesis.authority, context, public.to_bytes())
    for index, agent in enumerate(agents):
        await agent.effects.journal.merge(JournalNamespace.of(genesis.authority), [tree_fact])
        await agent.effects.journal.merge(JournalNamespace.of(context), [context_fact])
        await agent.add_context_secret(context, secret)
        await agent.add_share(genesis.authority, 0, keys[index + 1])
    for agent in agents:
        seeds = tuple(
            Seed(o.address, "127.0.0.1", o.listener.port, o.identity.static_key)
            for o in agents
            if o is not agent
        )
        await agent.join(Membership(genesis.authority, context, public.to_bytes(), seeds))
    return membership


async def snapshot(agent: Agent) -> dict[str, object]:
    """What must survive a restart of `agent`, as JSON values."""
    membership = agent.membership
    journals = {}
    if membership is not None:
        for namespace in (
            JournalNamespace.of(membership.account),
            JournalNamespace.of(membership.context),
        ):
            journal = await agent.effects.journal.journal(namespace)
            journals[str(namespace)] = sorted(str(f) for f in journal.fact_ids())
    return {
        "identity": encode(agent.identity).hex(),
        "secrets": encode(agent.keys.secrets).hex(),
        "membership": None if membership is None else encode(membership).hex(),
        "journals": journals,
        "account": [agent.account.phase, agent.account.devices, agent.account.epoch],
    }
