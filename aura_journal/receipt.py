"""Flow receipts: signed proof that a send was charged, chained per flow and epoch.

Every envelope that leaves through the guard chain carries a receipt. A chain is one flow's
receipts in one epoch: (context, source, destination, epoch). Its nonces count 1, 2, 3, ... and
each receipt's `prev` is the digest of the one before (`Hash32.zero()` for nonce 1), so every
receiver sees the whole of each chain addressed to it, and can check it.

The receiver checks that the receipt is authentic (its signature, or that of a later receipt of
its signer naming it: `authenticate_receipts`), that it is addressed to it in the envelope's
context and current epoch, that it binds the message (operation and body) it came with, and runs
the chain's `ReplayWindow`: a sliding anti-replay window as in IPsec and DTLS, so receipts the
network reorders are accepted exactly once, and the chain's links are checked as gaps fill.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aura_core.crypto.ed25519 import SIGNATURE_LEN, SigningKey, VerifyingKey, verify_many
from aura_core.encoding import encode, record
from aura_core.errors import InvalidArgument, InvalidSignature, ReceiptRejected
from aura_core.hashing import Hash32, tagged_hash, u32
from aura_core.ids import AuthorityId, ContextId
from aura_core.memo import memoized_property

__all__ = [
    "REPLAY_WINDOW",
    "ReceiptBody",
    "Receipt",
    "ReceiptHead",
    "ReplayWindow",
    "sign_receipt",
    "authenticate_receipts",
    "message_digest",
]

REPLAY_WINDOW = 64
"""How many nonces, counting back from the highest one accepted, a receiver still accepts (once
each): a receipt the network delays past 63 newer ones of its chain is refused as too old."""
_WINDOW_MASK = (1 << REPLAY_WINDOW) - 1

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


@attrs.frozen
class ReceiptHead:
    """The end of a sender's receipt chain: the last nonce used and the digest of that receipt
    (nonce 0 and the zero digest for a chain with no receipt yet)."""

    nonce: int = 0
    digest: Hash32 = attrs.field(factory=Hash32.zero)


def _hashes(_: object, attribute: attrs.Attribute[dict[int, Hash32]], value: object) -> None:
    if type(value) is not dict or len(value) > REPLAY_WINDOW + 1:
        raise InvalidArgument(f"{attribute.name} holds at most {REPLAY_WINDOW + 1} entries")


@record("flow.replay_window")
@attrs.frozen
class ReplayWindow:
    """What a receiver keeps of one chain addressed to it: which recent nonces it accepted, and
    the chain links it has yet to check. O(`REPLAY_WINDOW`) in size whatever the traffic.

    A receipt is accepted iff its nonce is within `REPLAY_WINDOW` of the highest accepted one
    (or above it) and not accepted before, and it links with its accepted neighbours: its
    `prev` is the digest of receipt n-1 if that was accepted, and receipt n+1, if accepted,
    named its digest as `prev`. Whichever of two neighbours arrives second makes the check, so
    a fork is refused whether it comes in order or fills a gap. `accept` is pure: it returns the
    next window or raises `ReceiptRejected`, leaving this one as it was.
    """

    epoch: int = attrs.field(default=0, validator=_u64)
    top: int = attrs.field(default=0, validator=_u64)
    """The highest nonce accepted (0: none yet)."""
    seen: int = attrs.field(default=0, validator=_u64)
    """Bit i set: nonce `top - i` was accepted (bit 0 is `top` itself)."""
    ends: dict[int, Hash32] = attrs.field(factory=dict, validator=_hashes, hash=False)
    """Accepted nonce n whose successor n+1 has not been accepted → the digest of receipt n."""
    starts: dict[int, Hash32] = attrs.field(factory=dict, validator=_hashes, hash=False)
    """Accepted nonce n whose predecessor may still come → the `prev` receipt n named."""

    @property
    def bottom(self) -> int:
        """The lowest nonce that can still be accepted."""
        return max(self.top - REPLAY_WINDOW + 1, 1)

    def accept(self, body: ReceiptBody, digest: Hash32) -> ReplayWindow:
        """The window after accepting the receipt with this body and digest (the caller has
        checked its signature and epoch). Raises `ReceiptRejected` for a replay, a receipt
        older than the window, or a broken link (a fork)."""
        nonce, prev = body.nonce, body.prev
        if body.epoch != self.epoch:
            raise ReceiptRejected(f"receipt of epoch {body.epoch} for a window of {self.epoch}")
        if nonce == 0:
            raise ReceiptRejected("receipt nonce 0 (chains start at 1)")
        if nonce <= self.top:
            if nonce < self.bottom:
                raise ReceiptRejected(
                    f"receipt too old (nonce {nonce}, the window starts at {self.bottom})"
                )
            if self.seen >> (self.top - nonce) & 1:
                raise ReceiptRejected(f"replayed receipt (nonce {nonce} already accepted)")
        if nonce == 1 and prev != Hash32.zero():
            raise ReceiptRejected("receipt chain fork: nonce 1 must not name a predecessor")
        before = self.ends.get(nonce - 1)
        if before is not None and before != prev:
            raise ReceiptRejected(f"receipt chain fork: nonce {nonce} does not follow {nonce - 1}")
        after = self.starts.get(nonce + 1)
        if after is not None and after != digest:
            raise ReceiptRejected(f"receipt chain fork: nonce {nonce + 1} does not follow {nonce}")
        if nonce > self.top:
            shift = nonce - self.top
            top = nonce
            seen = ((self.seen << shift) | 1) & _WINDOW_MASK if shift < REPLAY_WINDOW else 1
        else:
            top, seen = self.top, self.seen | 1 << (self.top - nonce)
        bottom = max(top - REPLAY_WINDOW + 1, 1)
        ends = {n: h for n, h in self.ends.items() if n >= bottom - 1 and n != nonce - 1}
        starts = {n: h for n, h in self.starts.items() if n > bottom and n != nonce + 1}
        if after is None:
            ends[nonce] = digest
        if before is None and nonce - 1 >= bottom:
            starts[nonce] = prev
        return ReplayWindow(self.epoch, top, seen, ends, starts)


def _message(body: ReceiptBody) -> bytes:
    return tagged_hash(_TAG, body.encoded).digest


def sign_receipt(body: ReceiptBody, key: SigningKey) -> Receipt:
    """Sign a receipt body."""
    return Receipt(body, key.verifying_key, key.sign(_message(body)))


def _signatures_verify(receipts: Sequence[tuple[Receipt, VerifyingKey]]) -> list[bool]:
    """For each (receipt, key): whether `receipt.verify(key)` would pass (`verify_many`: one
    native call, on every core, without the GIL)."""
    return verify_many(
        [(key, _message(receipt.body), receipt.signature) for receipt, key in receipts]
    )


def authenticate_receipts(receipts: Sequence[tuple[Receipt, VerifyingKey]]) -> list[bool]:
    """For each (receipt, key): whether the receipt is authentic, its signer being `key`:

    * its own signature by `key` verifies (`Receipt.verify`), or
    * an authentic receipt of the same `key` among `receipts` names it as `prev`: that
      receipt's signature covers `prev`, the digest of this one's body, signer and signature,
      so `key` vouched for this one too.

    A chain's receipts are authenticated together by the signature of the last one: only the
    receipts no other receipt names are checked (one per chain and batch in a stream), and
    the others follow from them. If any of those checks fails, every other receipt's own
    signature is checked too, and each is authentic if it verifies or an authentic receipt
    names it. A receipt whose own signature does not verify is authentic only if its signer
    named it in a later receipt it did sign: its signer's own doing, never a third party's,
    who can name a receipt but not sign for `key`. Receipts whose `signer` is not `key`
    are never authentic and vouch for nothing.
    """
    count = len(receipts)
    eligible = [receipt.signer == key for receipt, key in receipts]
    by_digest: dict[tuple[Hash32, VerifyingKey], list[int]] = {}
    for i, (receipt, key) in enumerate(receipts):
        if eligible[i]:
            by_digest.setdefault((receipt.digest, key), []).append(i)
    names = [  # j → the receipts j names as prev
        by_digest.get((receipt.body.prev, key), []) if eligible[j] else []
        for j, (receipt, key) in enumerate(receipts)
    ]
    named = {i for named_by_j in names for i in named_by_j}
    checked = [i for i in range(count) if eligible[i] and i not in named]
    verified = dict(zip(checked, _signatures_verify([receipts[i] for i in checked]), strict=True))
    if not all(verified.values()):
        rest = [i for i in range(count) if eligible[i] and i not in verified]
        verified.update(zip(rest, _signatures_verify([receipts[i] for i in rest]), strict=True))
    reached = [i for i, ok in verified.items() if ok]
    authentic = [i in verified and verified[i] for i in range(count)]
    while reached:  # what an authentic receipt names is authentic
        for i in names[reached.pop()]:
            if not authentic[i]:
                authentic[i] = True
                reached.append(i)
    return authentic
