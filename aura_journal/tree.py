"""The commitment tree as journal facts: a genesis and threshold-signed operations.

Only operations are stored. `TreeGenesis` founds an authority (its leaves, threshold and group
key); every `TreeOp` is bound to the state it was made from (parent epoch and commitment) and is
agreed by consensus: the fact that carries it is a threshold-signed commit of that state's
group (`aura_consensus.tree.TreeCommit`, which validates with `parent_state` and `check_op`
from here). The reducer accepts any payload that carries an op (`CarriesTreeOp`). Reduction walks
causally from the genesis: from the current state, among the operations whose parent is that
state, the one with the largest op hash wins and yields the next state. Competing operations are
therefore resolved the same way on every replica, whatever order they arrived in.

Validation checks an operation against its *parent* state (not the replica's current state), so
a losing sibling is still a valid fact and arrival order never decides acceptance. A parent the
journal does not know (a future epoch or an unknown commitment) is `MissingParent`: retry once
the ancestors have synced. Policy changes may only tighten (meet(old, new) == new).

Authorities are self-certifying: an authority's id is derived from its founding state (leaves,
threshold, group key; `TreeGenesis.found`), so a genesis founds exactly the authority it names
or is rejected, and there is one genesis content per authority. Other facts in an authority's
journal are written by its devices (`AuthorityDevices`: a leaf key or a group key of a state
the tree has reached).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import attrs

from aura_core.crypto.ed25519 import VerifyingKey
from aura_core.encoding import decode, encode, record
from aura_core.errors import (
    FactRejected,
    IdentityMismatch,
    InvalidArgument,
    InvalidAttestation,
    MissingParent,
    PolicyWidening,
    UnauthorizedWriter,
)
from aura_core.hashing import Hash32, content_id, tagged_hash, u32
from aura_core.ids import AuthorityId
from aura_core.lattice import Policy
from aura_core.tree import LeafNode, branch_policy, compute_tree
from aura_journal.fact import Ed25519Attestation, Fact, NamespaceKind, ThresholdAttestation
from aura_journal.registry import FactType, JournalState, Origin

__all__ = [
    "OP_VERSION",
    "AddLeaf",
    "RemoveLeaf",
    "ChangePolicy",
    "RotateEpoch",
    "TreeOpKind",
    "TreeOp",
    "TreeGenesis",
    "TreeState",
    "TreeLog",
    "TreeView",
    "TreeReducer",
    "TREE_REDUCER",
    "TREE_GENESIS",
    "CarriesTreeOp",
    "AuthorityDevices",
    "AUTHORITY_DEVICES",
    "authority_id",
    "apply_op",
    "parent_state",
    "check_op",
]

OP_VERSION = 1


@record("tree.add_leaf")
@attrs.frozen
class AddLeaf:
    """Add a device or guardian. The op hash covers its public key."""

    leaf: LeafNode


@record("tree.remove_leaf")
@attrs.frozen
class RemoveLeaf:
    """Remove a leaf; the epoch advances, so keys derived from the old epoch stop applying."""

    leaf_id: int
    reason: int = 0


@record("tree.change_policy")
@attrs.frozen
class ChangePolicy:
    """Set a new threshold (tighten only) with the group key its new shares sign under."""

    threshold: int
    group_key: VerifyingKey


@record("tree.rotate_epoch")
@attrs.frozen
class RotateEpoch:
    """Advance the epoch (invalidating derived keys), with the group key for the new epoch."""

    group_key: VerifyingKey


TreeOpKind = AddLeaf | RemoveLeaf | ChangePolicy | RotateEpoch


@record("tree.op")
@attrs.frozen
class TreeOp:
    """A tree operation bound to its parent state."""

    parent_epoch: int
    parent_commitment: Hash32
    kind: TreeOpKind
    version: int = OP_VERSION

    @property
    def parent(self) -> tuple[int, Hash32]:
        return (self.parent_epoch, self.parent_commitment)


_AUTHORITY_TAG = "AURA_AUTHORITY_ID_V1"


def authority_id(
    leaves: tuple[LeafNode, ...], threshold: int, group_key: VerifyingKey
) -> AuthorityId:
    """The id of the authority a founding state creates: a hash of the leaves (in leaf-id
    order), the threshold and the group key."""
    parts = [u32(threshold), group_key.raw, u32(len(leaves))]
    for leaf in leaves:
        encoded = encode(leaf)
        parts += [u32(len(encoded)), encoded]
    return AuthorityId.derived(tagged_hash(_AUTHORITY_TAG, *parts))


@record("tree.genesis")
@attrs.frozen
class TreeGenesis:
    """The founding state of an authority's tree; `authority` is derived from the rest (build
    it with `found`)."""

    authority: AuthorityId
    leaves: tuple[LeafNode, ...]
    """In increasing leaf-id order."""
    threshold: int
    group_key: VerifyingKey

    @classmethod
    def found(
        cls, leaves: tuple[LeafNode, ...] | list[LeafNode], threshold: int, group_key: VerifyingKey
    ) -> TreeGenesis:
        """The genesis of a new authority: its id is derived from its founding state."""
        ordered = tuple(sorted(leaves, key=lambda leaf: leaf.leaf_id))
        if type(threshold) is not int or type(group_key) is not VerifyingKey:
            raise InvalidArgument("a genesis has an int threshold and a VerifyingKey group key")
        return cls(authority_id(ordered, threshold, group_key), ordered, threshold, group_key)


@record("tree.state")
@attrs.frozen
class TreeState:
    """One state of the tree: what outsiders see is `epoch` and `commitment`."""

    authority: AuthorityId
    epoch: int
    threshold: int
    group_key: VerifyingKey
    leaves: tuple[LeafNode, ...]
    commitment: Hash32

    @classmethod
    def build(
        cls,
        authority: AuthorityId,
        epoch: int,
        threshold: int,
        group_key: VerifyingKey,
        leaves: tuple[LeafNode, ...],
    ) -> TreeState:
        ordered = tuple(sorted(leaves, key=lambda leaf: leaf.leaf_id))
        commitment = compute_tree(
            ((leaf.leaf_id, leaf.public_key) for leaf in ordered), epoch=epoch, threshold=threshold
        ).root
        return cls(authority, epoch, threshold, group_key, ordered, commitment)

    @property
    def key(self) -> tuple[int, Hash32]:
        """(epoch, commitment): what an operation binds to as its parent."""
        return (self.epoch, self.commitment)

    @property
    def policy(self) -> Policy:
        """The root policy: how many leaves must sign an operation on this state."""
        return branch_policy(len(self.leaves), self.threshold)

    @property
    def required_signers(self) -> int:
        return self.policy.required_signers(len(self.leaves))

    def leaf(self, leaf_id: int) -> LeafNode | None:
        return next((leaf for leaf in self.leaves if leaf.leaf_id == leaf_id), None)


def apply_op(state: TreeState, op: TreeOp) -> TreeState:
    """The state an (already validated) operation produces from its parent."""
    kind = op.kind
    if isinstance(kind, AddLeaf):
        return TreeState.build(
            state.authority,
            state.epoch,
            state.threshold,
            state.group_key,
            (*state.leaves, kind.leaf),
        )
    if isinstance(kind, RemoveLeaf):
        kept = tuple(leaf for leaf in state.leaves if leaf.leaf_id != kind.leaf_id)
        return TreeState.build(
            state.authority, state.epoch + 1, state.threshold, state.group_key, kept
        )
    if isinstance(kind, ChangePolicy):
        return TreeState.build(
            state.authority, state.epoch + 1, kind.threshold, kind.group_key, state.leaves
        )
    return TreeState.build(
        state.authority, state.epoch + 1, state.threshold, kind.group_key, state.leaves
    )


@record("tree.log")
@attrs.frozen
class TreeLog:
    """The canonical content of a tree view: every genesis and operation, sorted by hash."""

    geneses: tuple[TreeGenesis, ...] = ()
    ops: tuple[TreeOp, ...] = ()


_Key = tuple[int, Hash32]


def _hash_order(item: TreeGenesis | TreeOp) -> bytes:
    return content_id(item).digest


@attrs.frozen
class TreeView:
    """Every known state, the operations between them, and the causal winner chain.

    Two views are equal iff they hold the same genesis and operations; everything else is
    derived from `log`.
    """

    log: TreeLog
    genesis: TreeState | None = attrs.field(eq=False)
    states: dict[_Key, TreeState] = attrs.field(eq=False, repr=False)
    """State key → state: the genesis and the result of every op whose parent is known."""
    children: dict[_Key, tuple[tuple[bytes, _Key | None], ...]] = attrs.field(eq=False, repr=False)
    """Parent key → (op hash, resulting state key or None while unknown) per operation."""
    current: TreeState | None = attrs.field(eq=False)
    """The state at the end of the winner chain (None before a genesis)."""

    def chain(self) -> tuple[TreeState, ...]:
        """The winner chain's states, from the genesis to `current` (empty before one)."""
        return tuple(_winners(self.genesis, self.states, self.children))

    @classmethod
    def empty(cls) -> TreeView:
        return cls(TreeLog(), None, {}, {}, None)

    @classmethod
    def from_log(cls, log: TreeLog) -> TreeView:
        """Derive every state from a log (full reduction)."""
        if not log.geneses:
            return cls(log, None, {}, {}, None)
        genesis = _genesis_state(max(log.geneses, key=_hash_order))
        states = {genesis.key: genesis}
        pending: dict[_Key, list[TreeOp]] = {}
        for op in log.ops:
            pending.setdefault(op.parent, []).append(op)
        children: dict[_Key, tuple[tuple[bytes, _Key | None], ...]] = {}
        frontier = [genesis.key]
        while frontier:
            key = frontier.pop()
            results = []
            for op in pending.pop(key, []):
                child = apply_op(states[key], op)
                results.append((_hash_order(op), child.key))
                if child.key not in states:
                    states[child.key] = child
                    frontier.append(child.key)
            if results:
                children[key] = tuple(results)
        for key, ops in pending.items():  # operations whose parent no known state reaches
            children[key] = tuple((_hash_order(op), None) for op in ops)
        return cls(log, genesis, states, children, _walk(genesis, states, children))

    def with_op(self, op: TreeOp) -> TreeView:
        """The view with one more operation (incremental)."""
        if op in self.log.ops:
            return self
        log = TreeLog(self.log.geneses, _insert_sorted(self.log.ops, op))
        parent_state = self.states.get(op.parent)
        if parent_state is None or any(
            result is None for _, result in self.children.get(op.parent, ())
        ):
            return TreeView.from_log(log)
        child = apply_op(parent_state, op)
        states = self.states if child.key in self.states else {**self.states, child.key: child}
        entry = (_hash_order(op), child.key)
        children = {**self.children, op.parent: (*self.children.get(op.parent, ()), entry)}
        if child.key not in self.states and child.key in self.children:
            return TreeView.from_log(log)  # ops already waiting on this state: derive them too
        return TreeView(log, self.genesis, states, children, _walk(self.genesis, states, children))

    def with_genesis(self, genesis: TreeGenesis) -> TreeView:
        return TreeView.from_log(TreeLog(_insert_sorted(self.log.geneses, genesis), self.log.ops))

    def state_at(self, key: _Key) -> TreeState | None:
        """A known state by (epoch, commitment)."""
        return self.states.get(key)

    @property
    def max_epoch(self) -> int:
        """The highest epoch of any known state (-1 before a genesis)."""
        return max((epoch for epoch, _ in self.states), default=-1)


def _insert_sorted(items: tuple[Any, ...], item: Any) -> tuple[Any, ...]:
    """`items` with `item` added, sorted by hash; a set: an item already present adds nothing
    (several replicas record the same agreed operation in facts of their own)."""
    if item in items:
        return items
    keyed = sorted((*items, item), key=_hash_order)
    return tuple(keyed)


def _genesis_state(genesis: TreeGenesis) -> TreeState:
    return TreeState.build(
        genesis.authority, 0, genesis.threshold, genesis.group_key, genesis.leaves
    )


def _winners(
    genesis: TreeState | None,
    states: dict[_Key, TreeState],
    children: dict[_Key, tuple[tuple[bytes, _Key | None], ...]],
) -> Iterator[TreeState]:
    """The winner chain from `genesis`: at each state, the known child of the greatest op."""
    state = genesis
    while state is not None:
        yield state
        options = [option for option in children.get(state.key, ()) if option[1] is not None]
        if not options:
            return
        _, winner = max(options, key=lambda option: option[0])
        assert winner is not None
        state = states[winner]


def _walk(
    genesis: TreeState | None,
    states: dict[_Key, TreeState],
    children: dict[_Key, tuple[tuple[bytes, _Key | None], ...]],
) -> TreeState | None:
    chain = tuple(_winners(genesis, states, children))
    return chain[-1] if chain else None


class CarriesTreeOp(Protocol):
    """A fact payload that carries an agreed tree operation (a consensus commit of it)."""

    @property
    def tree_op(self) -> TreeOp: ...


class TreeReducer:
    """Reduces genesis and operation facts to a `TreeView`."""

    name = "tree"

    def initial(self) -> TreeView:
        return TreeView.empty()

    def apply(self, view: TreeView, fact: Fact, payload: Any) -> TreeView:
        if isinstance(payload, TreeGenesis):
            return view.with_genesis(payload)
        carrier: CarriesTreeOp = payload
        return view.with_op(carrier.tree_op)

    def encode_view(self, view: TreeView) -> bytes:
        return encode(view.log)

    def decode_view(self, data: bytes) -> TreeView:
        return TreeView.from_log(decode(data, TreeLog))


TREE_REDUCER = TreeReducer()


def _signer_count(fact: Fact, group_key: VerifyingKey) -> int:
    """How many signers an attestation claims, after checking it is by `group_key`."""
    attestation = fact.attestation
    if isinstance(attestation, ThresholdAttestation):
        if attestation.group_key != group_key:
            raise InvalidAttestation(f"fact {fact.id} is not signed by the tree's group key")
        return len(attestation.signers)
    if isinstance(attestation, Ed25519Attestation):
        if attestation.signer != group_key:
            raise InvalidAttestation(f"fact {fact.id} is not signed by the tree's group key")
        return 1
    raise InvalidAttestation(f"fact {fact.id}: tree facts must be signed")


def _validate_genesis(state: JournalState, fact: Fact, genesis: TreeGenesis) -> None:
    ids = [leaf.leaf_id for leaf in genesis.leaves]
    devices = [leaf.device_id for leaf in genesis.leaves]
    if not ids or ids != sorted(set(ids)) or len(set(devices)) != len(devices):
        raise FactRejected(
            f"genesis {fact.id} needs leaves in increasing id order with distinct devices"
        )
    if not 1 <= genesis.threshold <= len(ids):
        raise FactRejected(f"genesis {fact.id}: threshold {genesis.threshold} of {len(ids)} leaves")
    derived = authority_id(genesis.leaves, genesis.threshold, genesis.group_key)
    if genesis.authority != derived:
        raise IdentityMismatch(
            f"genesis {fact.id}: {genesis.authority} is not the id its founding state derives"
        )
    if genesis.authority != state.namespace.authority:
        raise IdentityMismatch(f"genesis {fact.id} founds another authority")
    held = state.view(TREE_REDUCER).log.geneses
    if held and held != (genesis,):
        raise IdentityMismatch(f"genesis {fact.id}: {state.namespace} already has a genesis")


@attrs.frozen
class _Founders:
    """A genesis is signed by the group it founds, with at least its threshold of signers."""

    summary = "the founding group (its own group key, at least its threshold of signers)"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        genesis: TreeGenesis = payload
        try:
            count = _signer_count(fact, genesis.group_key)
        except InvalidAttestation as exc:
            raise UnauthorizedWriter(exc.message) from None
        if not 1 <= genesis.threshold <= len(genesis.leaves):
            return  # the validator names the bad threshold
        if count < _genesis_state(genesis).required_signers:
            raise UnauthorizedWriter(f"genesis {fact.id} has fewer signers than its threshold")


@attrs.frozen
class AuthorityDevices:
    """Written by the authority: signed by a device's leaf key or a group key of any state its
    tree has reached. Any reached state, not only the current one, so that acceptance does not
    depend on which operations a replica has seen (a rule must be monotone); what a removed
    device may still record is limited by each fact type's own validation (a tree change, for
    one, needs the threshold signature of its parent state's group)."""

    summary = "a device of the authority (a leaf key or group key of a state its tree reached)"

    def check(self, state: JournalState, fact: Fact, payload: Any, origin: Origin) -> None:
        if state.namespace.kind is not NamespaceKind.AUTHORITY:
            raise UnauthorizedWriter(f"fact {fact.id}: {state.namespace} is not an authority")
        view = state.view(TREE_REDUCER)
        if view.genesis is None:
            raise MissingParent(f"fact {fact.id} arrived before {state.namespace}'s genesis")
        attestation = fact.attestation
        if isinstance(attestation, Ed25519Attestation):
            key = attestation.signer
            if any(key.raw == leaf.public_key for s in view.states.values() for leaf in s.leaves):
                return
        elif isinstance(attestation, ThresholdAttestation):
            key = attestation.group_key
        else:
            raise UnauthorizedWriter(f"fact {fact.id}: {fact.body.type_id} facts must be signed")
        if any(s.group_key == key for s in view.states.values()):
            return
        raise UnauthorizedWriter(
            f"fact {fact.id}: {fact.body.type_id} signed by a key that is not a device or group "
            f"key of {state.namespace}"
        )


AUTHORITY_DEVICES = AuthorityDevices()


def parent_state(state: JournalState, fact: Fact, op: TreeOp) -> TreeState:
    """The known state `op` applies to, as the journal is just before `fact` joins it.

    `MissingParent` (retry after sync) before the genesis or while the parent is unknown;
    `FactRejected` for an op version this code does not know.
    """
    view = state.view(TREE_REDUCER)
    if op.version != OP_VERSION:
        raise FactRejected(f"tree op {fact.id}: unsupported version {op.version}")
    if view.genesis is None:
        raise MissingParent(f"tree op {fact.id} arrived before the authority's genesis")
    parent = view.state_at(op.parent)
    if parent is None:
        if op.parent_epoch > view.max_epoch:
            raise MissingParent(
                f"tree op {fact.id}: parent epoch {op.parent_epoch} is in the future"
            )
        raise MissingParent(f"tree op {fact.id}: no known state has its parent commitment")
    return parent


def check_op(fact: Fact, parent: TreeState, op: TreeOp) -> None:
    """Refuse an op its parent state does not allow (`FactRejected`, `PolicyWidening`): a leaf
    that exists or a device that already has one, a missing leaf, a removal below the
    threshold, a threshold out of range or a widening policy."""
    kind = op.kind
    if isinstance(kind, AddLeaf):
        if parent.leaf(kind.leaf.leaf_id) is not None:
            raise FactRejected(f"tree op {fact.id}: leaf {kind.leaf.leaf_id} already exists")
        if any(leaf.device_id == kind.leaf.device_id for leaf in parent.leaves):
            raise FactRejected(
                f"tree op {fact.id}: device {kind.leaf.device_id} already has a leaf"
            )
    elif isinstance(kind, RemoveLeaf):
        if parent.leaf(kind.leaf_id) is None:
            raise FactRejected(f"tree op {fact.id}: no leaf {kind.leaf_id}")
        if len(parent.leaves) - 1 < max(parent.threshold, 1):
            raise FactRejected(
                f"tree op {fact.id}: removal would leave fewer leaves than the threshold"
            )
    elif isinstance(kind, ChangePolicy):
        count = len(parent.leaves)
        if not 1 <= kind.threshold <= count:
            raise FactRejected(f"tree op {fact.id}: threshold {kind.threshold} of {count} leaves")
        if not branch_policy(count, kind.threshold).tightens(parent.policy):
            raise PolicyWidening(
                f"tree op {fact.id}: {parent.threshold} -> {kind.threshold} widens the policy"
            )


def _validate_tree_genesis(state: JournalState, fact: Fact, payload: Any) -> None:
    _validate_genesis(state, fact, payload)


TREE_GENESIS: FactType[TreeGenesis] = FactType(
    payload_type=TreeGenesis,
    namespace_kind=NamespaceKind.AUTHORITY,
    writer=_Founders(),
    validate=_validate_tree_genesis,
    reducer=TREE_REDUCER,
)
