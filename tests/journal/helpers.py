"""Builders for facts used across the journal tests."""

from __future__ import annotations

import hashlib
from typing import Any

from aura_core.crypto.ed25519 import SigningKey
from aura_core.encoding import encode, record_tag
from aura_core.ids import AuthorityId, ContextId, DeviceId
from aura_core.time import OrderTime, PhysicalTime
from aura_core.tree import LeafNode, LeafRole
from aura_journal.fact import (
    Fact,
    FactBody,
    JournalNamespace,
    ThresholdAttestation,
    sign_fact,
    signing_message,
)
from aura_journal.journal import Journal
from aura_journal.standard import standard_registry

REGISTRY = standard_registry()
ALICE = AuthorityId(b"\xa1" * 16)
BOB = AuthorityId(b"\xb0" * 16)
CAROL = AuthorityId(b"\xc0" * 16)
CONTEXT = ContextId(b"\xcc" * 16)
CONTEXT_NS = JournalNamespace.of(CONTEXT)
ALICE_NS = JournalNamespace.of(ALICE)
DEVICE_KEY = SigningKey(b"\x01" * 32)


def order(label: object) -> OrderTime:
    return OrderTime(hashlib.sha256(repr(label).encode()).digest())


def body(namespace: JournalNamespace, payload: Any, label: object, ts: int = 0) -> FactBody:
    type_id, version = record_tag(type(payload))
    return FactBody(namespace, type_id, version, encode(payload), order(label), PhysicalTime(ts))


def signed(
    namespace: JournalNamespace, payload: Any, label: object, key: SigningKey = DEVICE_KEY
) -> Fact:
    return sign_fact(body(namespace, payload, label), key)


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
    return Journal(namespace, REGISTRY)


def leaf(i: int) -> LeafNode:
    key = SigningKey(bytes([0x40 + i]) * 32)
    return LeafNode(i, DeviceId(bytes([0x10 + i]) * 16), LeafRole.DEVICE, key.verifying_key.raw)
