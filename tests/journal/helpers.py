"""Builders for facts used across the journal tests.

The context `CONTEXT` is founded by `CONTEXT_GENESIS` with three members (ALICE, BOB, CAROL),
each signing with its own key; `journal()` of a context starts with that genesis. Replicated
context facts must be signed by a member (`member_signed`, `spent`); local-only facts are
unsigned and offered with `Origin.LOCAL` (`local`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import encode, record_tag
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, DeviceId
from aura_core.time import OrderTime, PhysicalTime
from aura_core.tree import LeafNode, LeafRole
from aura_journal.budget import MAX_FLOW_COST, FlowSpent
from aura_journal.context import ContextGenesis, ContextMember
from aura_journal.fact import (
    Fact,
    FactBody,
    JournalNamespace,
    ThresholdAttestation,
    Unattested,
    sign_fact,
    signing_message,
)
from aura_journal.journal import Journal
from aura_journal.registry import Origin
from aura_journal.standard import standard_registry

REGISTRY = standard_registry()
ALICE = AuthorityId(b"\xa1" * 16)
BOB = AuthorityId(b"\xb0" * 16)
CAROL = AuthorityId(b"\xc0" * 16)
MALLORY = AuthorityId(b"\x3a" * 16)
"""Not a member of anything here."""
KEYS = {
    ALICE: SigningKey(b"\xa1" * 32),
    BOB: SigningKey(b"\xb0" * 32),
    CAROL: SigningKey(b"\xc0" * 32),
    MALLORY: SigningKey(b"\x3a" * 32),
}
CONTEXT_GENESIS = ContextGenesis.create(
    [ContextMember(a, KEYS[a].verifying_key) for a in (ALICE, BOB, CAROL)], 2, b"\xcc" * 32
)
CONTEXT = CONTEXT_GENESIS.context
CONTEXT_NS = JournalNamespace.of(CONTEXT)
ALICE_NS = JournalNamespace.of(ALICE)
"""An authority namespace with no genesis (ALICE is a network identity, not a tree)."""
DEVICE_KEY = KEYS[ALICE]


def order(label: object) -> OrderTime:
    return OrderTime(hashlib.sha256(repr(label).encode()).digest())


def body(namespace: JournalNamespace, payload: Any, label: object, ts: int = 0) -> FactBody:
    type_id, version = record_tag(type(payload))
    return FactBody(namespace, type_id, version, encode(payload), order(label), PhysicalTime(ts))


def signed(
    namespace: JournalNamespace, payload: Any, label: object, key: SigningKey = DEVICE_KEY
) -> Fact:
    return sign_fact(body(namespace, payload, label), key)


def member_signed(payload: Any, label: object, member: AuthorityId = ALICE) -> Fact:
    """A context fact written by `member` (signed with its context key)."""
    return signed(CONTEXT_NS, payload, label, KEYS[member])


def local(payload: Any, label: object, namespace: JournalNamespace = CONTEXT_NS) -> Fact:
    """A local-only fact (unsigned): accepted only with `Origin.LOCAL`."""
    return Fact(body(namespace, payload, label), Unattested())


def spent_payload(
    source: AuthorityId, peer: AuthorityId, epoch: int, amount: int, nonce: int | None = None
) -> FlowSpent:
    """A flow's spending with a plausible receipt reference (nonce large enough to cover it)."""
    sends = nonce if nonce is not None else max(1, -(-amount // MAX_FLOW_COST))
    receipt = Hash32.of(repr((source, peer, epoch, sends)).encode())
    return FlowSpent(source, peer, epoch, amount, sends, receipt)


def spent(source: AuthorityId, peer: AuthorityId, epoch: int, amount: int, label: object) -> Fact:
    """A `FlowSpent` fact written by its source."""
    return member_signed(spent_payload(source, peer, epoch, amount), label, source)


def genesis_fact() -> Fact:
    return member_signed(CONTEXT_GENESIS, "context genesis", ALICE)


def threshold_signed(
    namespace: JournalNamespace,
    payload: Any,
    label: object,
    group: SigningKey,
    signers: tuple[int, ...],
) -> Fact:
    """A fact attested as a threshold signature; `group` stands in for the FROST aggregate
    (a FROST signature is a plain Ed25519 signature under the group key)."""
    b = body(namespace, payload, label)
    return Fact(
        b, ThresholdAttestation(group.verifying_key, group.sign(signing_message(b)), signers)
    )


def journal(namespace: JournalNamespace = CONTEXT_NS) -> Journal:
    """An empty journal; a context journal starts with `CONTEXT`'s genesis."""
    j = Journal(namespace, REGISTRY)
    if namespace == CONTEXT_NS:
        j.insert(genesis_fact())
    return j


def insert_local(j: Journal, facts: list[Fact]) -> int:
    return j.insert_batch(facts, origin=Origin.LOCAL)


def leaf(i: int) -> LeafNode:
    key = SigningKey(bytes([0x40 + i]) * 32)
    return LeafNode(i, DeviceId(bytes([0x10 + i]) * 16), LeafRole.DEVICE, key.verifying_key.raw)


def leaf_key(i: int) -> SigningKey:
    """The device key of `leaf(i)`."""
    return SigningKey(bytes([0x40 + i]) * 32)
