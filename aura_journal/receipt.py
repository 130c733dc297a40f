"""Flow receipts: signed proof that a send was charged, chained per (context, source, epoch).

Every envelope that leaves through the guard chain carries a receipt. Within one chain the nonce
increases by one per send and `prev` is the digest of the previous receipt, so the sender's
history is a hash chain; the receiver checks the signature, that the receipt is addressed to it
in the envelope's context and current epoch, that it binds the message (operation and body) it
came with, and that its nonce is above every nonce it has seen from that chain (no replays).
"""

from __future__ import annotations

import attrs

from aura_core.crypto.ed25519 import SIGNATURE_LEN, SigningKey, VerifyingKey
from aura_core.encoding import encode, record
from aura_core.errors import InvalidArgument, InvalidSignature
from aura_core.hashing import Hash32, tagged_hash, u32
from aura_core.ids import AuthorityId, ContextId
from aura_core.memo import memoized_property

__all__ = ["ReceiptBody", "Receipt", "ReceiptHead", "sign_receipt", "message_digest"]

_TAG = "AURA_FLOW_RECEIPT_V1"
_DIGEST_TAG = "AURA_FLOW_RECEIPT_DIGEST_V1"
_MESSAGE_TAG = "AURA_FLOW_MESSAGE_V1"


def message_digest(operation: str, body: bytes) -> Hash32:
    """What a receipt binds: `H("AURA_FLOW_MESSAGE_V1" ‖ len(op) u32LE ‖ op ‖ body)`, so
    neither the operation name the receiver dispatches on nor the body can be changed on the
    way without the receipt failing."""
    name = operation.encode("utf-8")
    return tagged_hash(_MESSAGE_TAG, u32(len(name)), name, body)


def _u64(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidArgument(f"{attribute.name} must be an unsigned 64-bit integer")


@record("flow.receipt_body")
@attrs.frozen(slots=False)
class ReceiptBody:
    """What a receipt attests: who paid what to reach whom, where and when in the chain."""

    context: ContextId
    source: AuthorityId
    destination: AuthorityId
    epoch: int = attrs.field(validator=_u64)
    cost: int = attrs.field(validator=_u64)
    nonce: int = attrs.field(validator=_u64)
    prev: Hash32
    payload: Hash32
    """`message_digest` of the operation and body this receipt travels with."""

    @memoized_property
    def encoded(self) -> bytes:
        return encode(self)


def _signature(_: object, __: object, value: bytes) -> None:
    if type(value) is not bytes or len(value) != SIGNATURE_LEN:
        raise InvalidArgument(f"a receipt signature is {SIGNATURE_LEN} bytes")


@record("flow.receipt")
@attrs.frozen(slots=False)
class Receipt:
    """A receipt body signed by the source."""

    body: ReceiptBody
    signer: VerifyingKey
    signature: bytes = attrs.field(validator=_signature)

    @memoized_property
    def digest(self) -> Hash32:
        """What the next receipt of the chain names as `prev`: a hash of everything signed
        and the signature."""
        return tagged_hash(_DIGEST_TAG, self.body.encoded, self.signer.raw, self.signature)

    def verify(self, key: VerifyingKey) -> None:
        """Raise `InvalidSignature` unless `key` signed this receipt."""
        if self.signer != key:
            raise InvalidSignature("receipt signed by an unexpected key")
        key.verify(_message(self.body), self.signature)


@record("flow.receipt_head")
@attrs.frozen
class ReceiptHead:
    """The end of a receipt chain: the last nonce used and the digest of that receipt."""

    nonce: int = 0
    digest: Hash32 = attrs.field(factory=Hash32.zero)


def _message(body: ReceiptBody) -> bytes:
    return tagged_hash(_TAG, body.encoded).digest


def sign_receipt(body: ReceiptBody, key: SigningKey) -> Receipt:
    """Sign a receipt body."""
    return Receipt(body, key.verifying_key, key.sign(_message(body)))
