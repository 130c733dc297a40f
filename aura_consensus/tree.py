"""Commitment-tree operations agreed by consensus: `TreeCommit` facts and the tree's witnesses.

A tree change (add or remove a leaf, change the policy, rotate the epoch) is an operation on
one tree state: the consensus prestate is that state (`tree_prestate`), the operation bytes are
the canonical encoding of the `TreeOp`, and the witnesses are the state's leaves
(`tree_witnesses`). What the authority journal stores is the resulting commit, wrapped as a
`TreeCommit` fact; any replica validates it offline: the op's parent is a known state, the
commit is for that state's prestate, it is threshold-signed by that state's group key with at
least its required signers, and the parent allows the op. The tree reducer then applies the op
(`aura_journal.tree`), whichever device recorded the fact.

FROST identifiers: the leaf with id `i` signs as FROST participant `i + 1` (identifiers start
at 1), so a tree's key shares and its witnesses line up without a separate table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from aura_consensus.commit import CommitFact
from aura_consensus.facts import consensus_fact_types, trust_tree_keys
from aura_consensus.prestate import Prestate
from aura_consensus.witnesses import WitnessSet
from aura_core.crypto import frost
from aura_core.encoding import decode, record
from aura_core.errors import (
    EncodingError,
    FactRejected,
    InvalidArgument,
    InvalidAttestation,
    InvalidCommitFact,
    SchemaError,
)
from aura_core.hashing import tagged_hash, u32
from aura_core.ids import AuthorityId, DeviceId
from aura_core.tree import LeafNode
from aura_journal.fact import Ed25519Attestation, Fact, NamespaceKind
from aura_journal.registry import FactRegistry, FactType, JournalState, Origin
from aura_journal.standard import standard_registry
from aura_journal.tree import (
    AUTHORITY_DEVICES,
    TREE_REDUCER,
    AddLeaf,
    TreeOp,
    TreeState,
    check_op,
    parent_state,
)

__all__ = [
    "TreeCommit",
    "TreeAgreement",
    "TREE_COMMIT",
    "tree_prestate",
    "frost_identifier",
    "tree_witnesses",
    "authority_registry",
]

_CONTEXT_TAG = "aura.tree.prestate/v1"
MAX_FROST_LEAF = 65_534
"""The largest leaf id that has a FROST identifier (identifiers are u16, from 1)."""


def tree_prestate(state: TreeState) -> Prestate:
    """The consensus prestate of a tree state: the authority's root commitment, and a context
    commitment over the epoch, the threshold and the group key (the root commitment covers the
    leaves, the epoch and the threshold; the group key is not in it)."""
    context = tagged_hash(_CONTEXT_TAG, u32(state.epoch), u32(state.threshold), state.group_key.raw)
    return Prestate.of({state.authority: state.commitment}, context)


def frost_identifier(leaf: LeafNode) -> int:
    """The FROST participant identifier of a leaf's key share: `leaf_id + 1`."""
    if leaf.leaf_id > MAX_FROST_LEAF:
        raise InvalidArgument(f"leaf {leaf.leaf_id} has no FROST identifier (max {MAX_FROST_LEAF})")
    return leaf.leaf_id + 1


def tree_witnesses(
    state: TreeState,
    public_key_package: frost.PublicKeyPackage,
    witness_of: Mapping[DeviceId, AuthorityId],
) -> WitnessSet:
    """The witnesses of operations on `state`: every leaf that holds a share of the state's
    group key (its FROST identifier is in `public_key_package`; a leaf just added holds none
    until the next key rotation), as the authority its device answers as on the network
    (`witness_of`), at the state's required number of signers. `InvalidArgument` if the
    package is not the state's group or a witness's device is not in `witness_of`."""
    if public_key_package.group_public_key != state.group_key:
        raise InvalidArgument("the key package is not the tree state's group")
    holders = set(public_key_package.identifiers)
    members: dict[AuthorityId, int] = {}
    for leaf in state.leaves:
        if frost_identifier(leaf) not in holders:
            continue
        authority = witness_of.get(leaf.device_id)
        if authority is None:
            raise InvalidArgument(f"no network authority for the device of leaf {leaf.leaf_id}")
        members[authority] = frost_identifier(leaf)
    return WitnessSet.of(members, state.required_signers)


def _op_bytes(_: object, __: object, commit: CommitFact) -> None:
    if type(commit) is not CommitFact:
        raise SchemaError("a TreeCommit holds a CommitFact")
    try:
        decode(commit.operation_bytes, TreeOp)
    except EncodingError as exc:
        raise SchemaError(f"the commit's operation is not a tree op: {exc.message}") from None


@record("consensus.tree_commit")
@attrs.frozen
class TreeCommit:
    """A tree operation with the commit that agreed it (the journal payload of a tree change)."""

    commit: CommitFact = attrs.field(validator=_op_bytes)

    @property
    def tree_op(self) -> TreeOp:
        return decode(self.commit.operation_bytes, TreeOp)


def _validate(state: JournalState, fact: Fact, payload: Any) -> None:
    if type(payload) is not TreeCommit:
        raise FactRejected(f"fact {fact.id}: expected a TreeCommit")
    op = payload.tree_op
    parent = parent_state(state, fact, op)
    commit = payload.commit
    if commit.prestate_hash != tree_prestate(parent).hash:
        raise FactRejected(f"tree op {fact.id}: the commit is for another prestate")
    try:
        commit.verify(parent.group_key)
    except InvalidCommitFact as exc:
        raise InvalidAttestation(f"tree op {fact.id}: {exc.message}") from None
    required = parent.required_signers
    if commit.threshold < required or len(commit.participants) < required:
        raise InvalidAttestation(f"tree op {fact.id}: fewer than {required} signers")
    check_op(fact, parent, op)


@attrs.frozen
class TreeAgreement:
    """A tree change is written by the authority's group at the op's parent state: the
    commit's threshold signature under that state's group key (checked by the validator).
    The fact's own signature names the device that recorded it: a device of the authority, or
    the device the change adds (so a new device can record its own enrollment)."""

    summary = (
        "the group key of the op's parent state (the commit); recorded by a device of the "
        "authority or the one it adds"
    )

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        change: TreeCommit = payload
        kind = change.tree_op.kind
        attestation = fact.attestation
        if (
            isinstance(kind, AddLeaf)
            and isinstance(attestation, Ed25519Attestation)
            and attestation.signer.raw == kind.leaf.public_key
            and state.view(TREE_REDUCER).genesis is not None
        ):
            return
        AUTHORITY_DEVICES.check(state, fact, payload, origin)


TREE_COMMIT: FactType[TreeCommit] = FactType(
    payload_type=TreeCommit,
    namespace_kind=NamespaceKind.AUTHORITY,
    writer=TreeAgreement(),
    validate=_validate,
    reducer=TREE_REDUCER,
)


def authority_registry() -> FactRegistry:
    """The registry of an authority journal: the standard types, agreed tree operations, and
    commits and ceremonies signed by any known group key of the authority's tree."""
    registry = standard_registry()
    registry.register(TREE_COMMIT)
    for fact_type in consensus_fact_types(trust_tree_keys):
        registry.register(fact_type)
    return registry
