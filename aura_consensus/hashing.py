"""The hashes that name and bind a consensus instance.

All are BLAKE3-256 over an ASCII domain tag followed by fixed-width fields (little-endian
integers), so hashes of different kinds cannot collide by construction:

- `operation_hash(op)       = H("AURA_OPERATION_V1" ‖ op bytes)`
- `consensus_id(p, o, n)    = H("CONSENSUS_ID" ‖ prestate_hash ‖ operation_hash ‖ nonce u64LE)`
- `operation_binding(p, op) = H("AURA_OP_BINDING" ‖ prestate_hash ‖ op bytes)`
- `result_id(p, op)`        = the operation binding: `rid = H(Op, prestate)` names the result
  of applying the operation to the prestate, and two different results for one prestate are
  what makes a witness an equivocator.
- `ceremony_id(p, o, n)     = H("AURA_CEREMONY_ID" ‖ prestate_hash ‖ operation_hash ‖ nonce u64LE)`

The consensus id commits to the prestate and the operation, so one id can never carry two
different operations (`CommitFact.verify` recomputes it from the nonce it carries).
"""

from __future__ import annotations

from aura_core.errors import InvalidArgument
from aura_core.hashing import Hash32, tagged_hash, u64
from aura_core.ids import CeremonyId, ConsensusId

__all__ = [
    "operation_hash",
    "consensus_id",
    "operation_binding",
    "result_id",
    "ceremony_id",
]


def _hash(value: object, name: str) -> Hash32:
    if type(value) is not Hash32:
        raise InvalidArgument(f"{name} must be a Hash32")
    return value


def _bytes(value: object, name: str) -> bytes:
    if type(value) is not bytes:
        raise InvalidArgument(f"{name} must be bytes")
    return value


def operation_hash(operation_bytes: bytes) -> Hash32:
    """`H("AURA_OPERATION_V1" ‖ op bytes)`: the operation's identity."""
    return tagged_hash("AURA_OPERATION_V1", _bytes(operation_bytes, "operation_bytes"))


def consensus_id(prestate_hash: Hash32, operation_hash: Hash32, nonce: int) -> ConsensusId:
    """`H("CONSENSUS_ID" ‖ prestate_hash ‖ operation_hash ‖ nonce u64LE)`.

    The nonce (drawn by the initiator from `RandomEffects`, or a counter) separates two runs of
    the same operation on the same prestate.
    """
    return ConsensusId(
        tagged_hash(
            "CONSENSUS_ID",
            _hash(prestate_hash, "prestate_hash").digest,
            _hash(operation_hash, "operation_hash").digest,
            u64(nonce),
        )
    )


def operation_binding(prestate_hash: Hash32, operation_bytes: bytes) -> Hash32:
    """`H("AURA_OP_BINDING" ‖ prestate_hash ‖ op bytes)`: the operation bound to its prestate."""
    return tagged_hash(
        "AURA_OP_BINDING",
        _hash(prestate_hash, "prestate_hash").digest,
        _bytes(operation_bytes, "operation_bytes"),
    )


def result_id(prestate_hash: Hash32, operation_bytes: bytes) -> Hash32:
    """`rid = H(Op, prestate)`: the result of applying the operation to the prestate (the
    operation binding). Honest witnesses given the same operation and prestate agree on it."""
    return operation_binding(prestate_hash, operation_bytes)


def ceremony_id(prestate_hash: Hash32, operation_hash: Hash32, nonce: int) -> CeremonyId:
    """`H("AURA_CEREMONY_ID" ‖ prestate_hash ‖ operation_hash ‖ nonce u64LE)`."""
    return CeremonyId(
        tagged_hash(
            "AURA_CEREMONY_ID",
            _hash(prestate_hash, "prestate_hash").digest,
            _hash(operation_hash, "operation_hash").digest,
            u64(nonce),
        )
    )
