"""The commitment tree of an authority: leaf types, the root commitment and Merkle proofs.

Outsiders see one threshold key and one 32-byte root commitment; the commitment binds the epoch,
the threshold, every active leaf (id and public key) and the policy of every branch. The
formula (below) matches the reference implementation's fixtures byte for byte:

    leaf        = H("LEAF" ‖ u16 1 ‖ u32 leaf_id ‖ u64 epoch ‖ H(public_key))
    policy_hash = H(00) for Any, H(01 ‖ u16 m ‖ u16 n) for Threshold, H(02) for All
    branch      = H("BRANCH" ‖ u16 1 ‖ u32 node ‖ u64 epoch ‖ policy_hash ‖ left ‖ right)
    root        = H("TREE_COMMITMENT_V2" ‖ u64 epoch ‖ u16 threshold ‖ u32 leaf_count ‖ top)

Leaves are sorted by id and paired level by level (an odd one out pairs with itself; a single
leaf is both children of the root); branches are numbered breadth-first from the root (node 0),
left before right. A branch over n distinct leaves has policy All if n = 1 or m = n, Any if
m = 1, Threshold{m, n} otherwise, with m = clamp(threshold, 1, n). `top` is the root branch, or
32 zero bytes for a tree without leaves.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence

import attrs

from aura_core.encoding import record
from aura_core.errors import InvalidArgument
from aura_core.hashing import Hash32, tagged_hash, u16, u32, u64
from aura_core.ids import DeviceId
from aura_core.lattice import Policy, PolicyKind

__all__ = [
    "COMMITMENT_VERSION",
    "MAX_PUBLIC_KEY",
    "MAX_META",
    "LeafRole",
    "LeafNode",
    "ProofStep",
    "MerkleProof",
    "TreeCommitment",
    "branch_policy",
    "policy_hash",
    "leaf_commitment",
    "compute_tree",
]

COMMITMENT_VERSION = 1
MAX_PUBLIC_KEY = 64
MAX_META = 256
MAX_LEAF_ID = 2**32 - 1


class LeafRole(enum.Enum):
    DEVICE = "device"
    GUARDIAN = "guardian"


def _u32(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value <= MAX_LEAF_ID:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 32-bit integer")


def _max_bytes(limit: int) -> Callable[[object, attrs.Attribute[bytes], bytes], None]:
    def check(_: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if type(value) is not bytes or len(value) > limit:
            raise InvalidArgument(f"{attribute.name} is at most {limit} bytes")

    return check


@record("tree.leaf")
@attrs.frozen(order=True)
class LeafNode:
    """A device or guardian of an authority, identified within the tree by `leaf_id`."""

    leaf_id: int = attrs.field(validator=_u32)
    device_id: DeviceId
    role: LeafRole
    public_key: bytes = attrs.field(validator=_max_bytes(MAX_PUBLIC_KEY))
    meta: bytes = attrs.field(default=b"", validator=_max_bytes(MAX_META))


def policy_hash(policy: Policy) -> bytes:
    """The 32-byte hash that commits to a branch policy."""
    if policy.kind is PolicyKind.ANY:
        return Hash32.of(b"\x00").digest
    if policy.kind is PolicyKind.ALL:
        return Hash32.of(b"\x02").digest
    return Hash32.of(b"\x01" + u16(policy.m) + u16(policy.n)).digest


def branch_policy(leaf_count: int, threshold: int) -> Policy:
    """The policy of a branch over `leaf_count` distinct leaves for a tree threshold."""
    if leaf_count < 1:
        raise InvalidArgument("a branch covers at least one leaf")
    m = min(max(threshold, 1), leaf_count)
    if leaf_count in (1, m):
        return Policy.all()
    if m == 1:
        return Policy.any()
    return Policy.threshold(m, leaf_count)


def leaf_commitment(leaf_id: int, epoch: int, public_key: bytes) -> bytes:
    """The commitment to one leaf at one epoch."""
    return tagged_hash(
        "LEAF",
        u16(COMMITMENT_VERSION),
        u32(leaf_id),
        u64(epoch),
        Hash32.of(public_key).digest,
    ).digest


def _branch_commitment(node: int, epoch: int, policy: Policy, left: bytes, right: bytes) -> bytes:
    return tagged_hash(
        "BRANCH",
        u16(COMMITMENT_VERSION),
        u32(node),
        u64(epoch),
        policy_hash(policy),
        left,
        right,
    ).digest


@record("tree.proof_step")
@attrs.frozen
class ProofStep:
    """One level of a Merkle proof: the branch above, its policy, and the sibling."""

    node: int
    policy: Policy
    sibling: bytes
    sibling_on_left: bool


@record("tree.proof")
@attrs.frozen
class MerkleProof:
    """Proof that a leaf (id, public key) is committed by a root at (epoch, threshold, count)."""

    leaf_id: int
    epoch: int
    threshold: int
    leaf_count: int
    steps: tuple[ProofStep, ...]

    def root_for(self, public_key: bytes) -> Hash32:
        """The root this proof reaches for `public_key` (compare it with the trusted root)."""
        current = leaf_commitment(self.leaf_id, self.epoch, public_key)
        for step in self.steps:
            left, right = (
                (step.sibling, current) if step.sibling_on_left else (current, step.sibling)
            )
            current = _branch_commitment(step.node, self.epoch, step.policy, left, right)
        return _root(self.epoch, self.threshold, self.leaf_count, current)

    def verify(self, public_key: bytes, root: Hash32) -> bool:
        """Whether the leaf with `public_key` is committed by `root`."""
        return self.root_for(public_key) == root


def _root(epoch: int, threshold: int, leaf_count: int, top: bytes) -> Hash32:
    return tagged_hash("TREE_COMMITMENT_V2", u64(epoch), u16(threshold), u32(leaf_count), top)


@attrs.frozen
class _Node:
    commitment: bytes
    leaves: tuple[int, ...]  # distinct leaf ids below (positions in the sorted leaf list)
    children: tuple[_Node, _Node] | None  # None for a leaf
    policy: Policy | None = None
    index: int = -1


@attrs.frozen
class TreeCommitment:
    """The computed commitment of a leaf set at an epoch and threshold, with proof support."""

    epoch: int
    threshold: int
    leaf_ids: tuple[int, ...]
    root: Hash32
    _paths: dict[int, tuple[ProofStep, ...]] = attrs.field(eq=False, repr=False, hash=False)

    def proof(self, leaf_id: int) -> MerkleProof:
        """A Merkle proof for an active leaf; raises `InvalidArgument` for an unknown id."""
        steps = self._paths.get(leaf_id)
        if steps is None:
            raise InvalidArgument(f"leaf {leaf_id} is not in the tree")
        return MerkleProof(leaf_id, self.epoch, self.threshold, len(self.leaf_ids), steps)


def compute_tree(
    leaves: Iterable[tuple[int, bytes]], *, epoch: int, threshold: int
) -> TreeCommitment:
    """Compute the root commitment of `(leaf_id, public_key)` pairs (ids must be unique)."""
    ordered = sorted(leaves)
    ids = tuple(leaf_id for leaf_id, _ in ordered)
    if len(set(ids)) != len(ids):
        raise InvalidArgument("leaf ids must be unique")
    if type(threshold) is not int or not 0 <= threshold < 2**16:
        raise InvalidArgument("the threshold is an unsigned 16-bit integer")
    if not ordered:
        return TreeCommitment(epoch, threshold, (), _root(epoch, threshold, 0, bytes(32)), {})

    level: list[_Node] = [
        _Node(leaf_commitment(leaf_id, epoch, key), (i,), None)
        for i, (leaf_id, key) in enumerate(ordered)
    ]
    # Build the shape bottom-up; commitments need breadth-first node numbers, assigned after.
    shape: list[list[tuple[_Node, _Node]]] = []
    while True:
        pairs = [
            (level[i], level[i + 1] if i + 1 < len(level) else level[i])
            for i in range(0, len(level), 2)
        ]
        shape.append(pairs)
        level = [
            _Node(b"", tuple(sorted(set(left.leaves) | set(right.leaves))), (left, right))
            for left, right in pairs
        ]
        if len(level) == 1:
            break

    top = _number_and_commit(level[0], epoch, threshold)
    paths: dict[int, tuple[ProofStep, ...]] = {}
    _collect_paths(top, [], paths, ids)
    return TreeCommitment(
        epoch, threshold, ids, _root(epoch, threshold, len(ids), top.commitment), paths
    )


def _number_and_commit(root: _Node, epoch: int, threshold: int) -> _Node:
    """Assign breadth-first indices to branches, then commit deepest first."""
    index_of: dict[int, int] = {}
    queue: list[_Node] = [root]
    counter = 0
    while queue:
        next_queue: list[_Node] = []
        for node in queue:
            if node.children is None or id(node) in index_of:
                continue
            index_of[id(node)] = counter
            counter += 1
            next_queue.extend(node.children)
        queue = next_queue

    def commit(node: _Node) -> _Node:
        if node.children is None:
            return node
        left, right = (commit(child) for child in node.children)
        policy = branch_policy(len(node.leaves), threshold)
        index = index_of[id(node)]
        commitment = _branch_commitment(index, epoch, policy, left.commitment, right.commitment)
        return _Node(commitment, node.leaves, (left, right), policy, index)

    return commit(root)


def _collect_paths(
    node: _Node,
    above: list[ProofStep],
    out: dict[int, tuple[ProofStep, ...]],
    ids: Sequence[int],
) -> None:
    if node.children is None:
        leaf_id = ids[node.leaves[0]]
        out.setdefault(leaf_id, tuple(reversed(above)))
        return
    assert node.policy is not None
    left, right = node.children
    _collect_paths(
        left, [*above, ProofStep(node.index, node.policy, right.commitment, False)], out, ids
    )
    if right is not left:
        _collect_paths(
            right, [*above, ProofStep(node.index, node.policy, left.commitment, True)], out, ids
        )
