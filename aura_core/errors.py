"""One error hierarchy for the whole library.

Every error carries a `kind` that tells the caller whether to retry (`TRANSIENT`), report the
problem to the user (`PERMANENT`) or look at the infrastructure (`SYSTEM`), and a coarse `code`
that is safe to show a peer. Messages name identifiers, never secrets.
"""

from __future__ import annotations

import enum
from typing import ClassVar

__all__ = [
    "ErrorKind",
    "AuraError",
    "InvalidArgument",
    "EncodingError",
    "SchemaError",
    "InvalidIdentifier",
    "PolicyError",
    "CryptoError",
    "MalformedKey",
    "InvalidSignature",
    "MalformedCryptoData",
    "InvalidShare",
    "InsufficientSigners",
    "NonceReuse",
    "ChoreographyError",
    "ProtocolViolation",
    "FactRejected",
    "InvalidAttestation",
    "WrongNamespace",
    "UnknownFactType",
    "PayloadTooLarge",
    "MissingParent",
    "PolicyWidening",
    "SnapshotMismatch",
    "NamespaceMismatch",
    "BudgetExceeded",
    "LeakageExceeded",
    "TokenError",
    "CapabilityDenied",
    "GuardDenied",
    "ReceiptRejected",
    "NoEffectContext",
    "StorageError",
    "TransportError",
    "ChoreographyParseError",
    "WellFormednessError",
    "ProjectionError",
]


class ErrorKind(enum.Enum):
    """Whether an operation that failed with this error may succeed if retried."""

    TRANSIENT = "transient"
    """Retry with backoff may succeed (a peer was unreachable, a lock was busy)."""
    PERMANENT = "permanent"
    """The input or the operation is invalid; retrying the same thing fails again."""
    SYSTEM = "system"
    """The infrastructure failed (disk, native library, programming error)."""


class AuraError(Exception):
    """Base of every error the library raises on purpose."""

    kind: ClassVar[ErrorKind] = ErrorKind.PERMANENT
    code: ClassVar[str] = "error"
    """Coarse code that may cross the wire; details stay in the local message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidArgument(AuraError):
    """A caller passed a value outside a function's documented domain."""

    code = "invalid_argument"


class EncodingError(AuraError):
    """Bytes are not the canonical encoding of an allowed value, or a value cannot be encoded.

    Decoding untrusted bytes raises this and nothing else.
    """

    code = "encoding"


class SchemaError(EncodingError):
    """Well-formed canonical bytes that do not match the expected record type or schema version."""

    code = "schema"


class InvalidIdentifier(AuraError):
    """Text or bytes that do not form an identifier of the requested kind."""

    code = "invalid_identifier"


class PolicyError(AuraError):
    """A threshold policy was built or applied outside its domain (e.g. wrong child count)."""

    code = "policy"


class CryptoError(AuraError):
    """Base of every cryptographic failure."""

    code = "crypto"


class MalformedKey(CryptoError):
    """Key material of the wrong length or that is not a valid, non-weak group element."""

    code = "malformed_key"


class InvalidSignature(CryptoError):
    """A signature that is malformed or does not verify under the given key and message."""

    code = "invalid_signature"


class MalformedCryptoData(CryptoError):
    """Bytes that do not parse as the expected cryptographic structure (package, share, ...)."""

    code = "malformed_crypto_data"


class InvalidShare(CryptoError):
    """One or more participants sent a share that fails verification.

    `culprits` names them (FROST identifiers) where the protocol can tell who cheated.
    """

    code = "invalid_share"

    def __init__(self, message: str, culprits: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.culprits = tuple(sorted(culprits))


class InsufficientSigners(CryptoError):
    """Fewer participants or packages than the threshold (or the protocol) requires."""

    code = "insufficient_signers"


class NonceReuse(CryptoError):
    """A single-use signing nonce was offered a second time; it is refused."""

    code = "nonce_reuse"


class ChoreographyError(AuraError):
    """A protocol text that does not parse, project or pass the well-formedness checks.

    `line` and `column` (1-based) point into the protocol text.
    """

    code = "choreography"

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        where = f"line {line}, column {column}: " if line else ""
        super().__init__(where + message)
        self.line = line
        self.column = column


class ProtocolViolation(AuraError):
    """A role tried an action its projected local type does not allow; nothing was sent."""

    code = "protocol_violation"


class FactRejected(AuraError):
    """A fact failed validation; the journal it was offered to is unchanged."""

    code = "fact_rejected"


class InvalidAttestation(FactRejected):
    """A fact's signature is malformed, does not verify, or is by a key not allowed to sign it."""

    code = "invalid_attestation"


class WrongNamespace(FactRejected):
    """A fact addressed to another journal namespace (or of a type that lives elsewhere)."""

    code = "wrong_namespace"


class UnknownFactType(FactRejected):
    """A fact whose (type id, schema version) is not registered."""

    code = "unknown_fact_type"


class PayloadTooLarge(FactRejected):
    """A fact payload over the 64 KiB limit."""

    code = "payload_too_large"


class MissingParent(FactRejected):
    """A fact that depends on state the journal does not have yet; retry after syncing."""

    kind = ErrorKind.TRANSIENT
    code = "missing_parent"


class PolicyWidening(FactRejected):
    """A policy change that would widen who can sign; policies only tighten."""

    code = "policy_widening"


class SnapshotMismatch(FactRejected):
    """A snapshot whose digest or states do not match the prefix it claims to supersede."""

    code = "snapshot_mismatch"


class NamespaceMismatch(AuraError):
    """Two journals of different namespaces were joined, or a view of the wrong kind asked for."""

    code = "namespace_mismatch"


class BudgetExceeded(AuraError):
    """A flow-budget charge over the remaining headroom; nothing was charged."""

    code = "budget_exceeded"


class LeakageExceeded(AuraError):
    """A metadata-leakage charge over an observer class limit; nothing was recorded."""

    code = "leakage_exceeded"


class TokenError(AuraError):
    """A capability token that is forged, malformed, expired or issued by the wrong authority."""

    code = "token"


class CapabilityDenied(AuraError):
    """The capability frontier does not allow the requested operation in the requested scope."""

    code = "denied"


class GuardDenied(AuraError):
    """The guard chain refused a send; nothing was charged, written or sent.

    `reason` is a coarse code (safe to show a peer): `unguarded`, `oversized`, `unknown_peer`,
    `capability`, `budget` or `leakage`. Details stay in the local trace.
    """

    code = "denied"

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"send denied ({reason})" + (f": {message}" if message else ""))
        self.reason = reason


class ReceiptRejected(AuraError):
    """An incoming envelope whose receipt is forged, replayed, misaddressed or of another epoch."""

    code = "receipt_rejected"


class NoEffectContext(AuraError):
    """Code that needs an `EffectContext` ran outside `use_context`."""

    kind = ErrorKind.SYSTEM
    code = "internal"


class StorageError(AuraError):
    """The storage backend failed; the operation had no effect."""

    kind = ErrorKind.SYSTEM
    code = "storage"


class TransportError(AuraError):
    """A message could not be handed to the network; retrying later may succeed."""

    kind = ErrorKind.TRANSIENT
    code = "transport"


class ChoreographyParseError(ChoreographyError):
    """Protocol text that is not in the choreography grammar (or exceeds its size limits)."""

    code = "choreography_parse"


class WellFormednessError(ChoreographyError):
    """A parsed protocol that breaks a well-formedness rule; nothing built from it may run.

    `rule` names the rule (e.g. `"self-send"`, `"unguarded-recursion"`); the rules are listed
    in `docs/choreography.md`.
    """

    code = "choreography_ill_formed"

    def __init__(self, message: str, line: int = 0, column: int = 0, *, rule: str = "") -> None:
        super().__init__(message, line, column)
        self.rule = rule


class ProjectionError(WellFormednessError):
    """A role's local type cannot be built: it would have to behave differently in branches it
    cannot tell apart (the merge rules fail), or a construct projects inconsistently for it."""

    code = "choreography_projection"
