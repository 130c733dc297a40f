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
    "NoiseError",
    "HandshakeFailed",
    "DecryptionFailed",
    "NoiseStateError",
    "ReconcileError",
    "MalformedReconcileMessage",
    "ReconcileStateError",
    "MalformedSyncMessage",
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
    "UnauthorizedWriter",
    "LocalOnlyFact",
    "IdentityMismatch",
    "NamespaceMismatch",
    "BudgetExceeded",
    "LeakageExceeded",
    "TokenError",
    "CapabilityDenied",
    "GuardDenied",
    "ReceiptRejected",
    "NoEffectContext",
    "StorageError",
    "ConsensusError",
    "InvalidPrestate",
    "InvalidWitnessSet",
    "InvalidEvidence",
    "InvalidCommitFact",
    "WrongInstance",
    "InvalidTransition",
    "InstanceNotActive",
    "UnsafeThreshold",
    "UnknownWitness",
    "ForgedStatement",
    "StaleStatement",
    "ForgedEvidence",
    "InvalidCertificate",
    "RoundPassed",
    "KnownEquivocator",
    "ConflictingShare",
    "MissingShare",
    "UnknownSigningPackage",
    "InvalidSigningPackage",
    "WouldEquivocate",
    "ConsensusFailed",
    "PrestateDecided",
    "StaleEpoch",
    "CeremonyError",
    "CeremonyConflict",
    "CeremonyFailed",
    "UnknownCeremony",
    "CeremonyClosed",
    "ProposalError",
    "NotAnApprover",
    "AlreadyDecided",
    "ProposalClosed",
    "ProposalExpired",
    "TransportError",
    "NoRoute",
    "SendQueueFull",
    "ChannelError",
    "MalformedFrame",
    "VersionMismatch",
    "HandshakeRefused",
    "HandshakeTimeout",
    "ChoreographyParseError",
    "WellFormednessError",
    "ProjectionError",
    "AgentError",
    "AccountError",
    "ChangeUnfinished",
    "AlreadyInAccount",
    "AlreadyJoined",
    "JoinInProgress",
    "EnrollmentCodeInvalid",
    "EnrollmentCodeExpired",
    "EnrollmentCodeRedeemed",
    "UnsafePermissions",
    "AgentRunning",
    "NotConfigured",
    "SocketPathTooLong",
    "KeyFileError",
    "KeyFileMissing",
    "KeyFileCorrupt",
    "WrongPassphrase",
    "PassphraseRequired",
    "ApiError",
    "MalformedRequest",
    "RequestTooLarge",
    "UnknownRequest",
    "ApiVersionMismatch",
    "AgentBusy",
    "AgentUnavailable",
    "AgentFault",
    "RemoteError",
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


class NoiseError(CryptoError):
    """Base of the secure-channel (Noise) failures."""

    code = "noise"


class HandshakeFailed(NoiseError):
    """A Noise handshake message that does not authenticate: the peer holds another PSK or not
    the static key expected of it, the bytes were changed, cut or padded, or they carry a
    low-order key. The handshake object is finished; close the connection it came on."""

    code = "noise_handshake"


class DecryptionFailed(NoiseError):
    """A transport message that does not authenticate: changed, cut, reordered, replayed,
    meant for the other direction or sent under another key. The channel is closed for good
    (on an ordered stream, nothing after it can be trusted either)."""

    code = "noise_decrypt"


class NoiseStateError(NoiseError):
    """A handshake step out of order or a second time, or a channel used after it closed or
    from two threads at once. Nothing changed."""

    code = "noise_state"


class ReconcileError(AuraError):
    """Base of the set-reconciliation failures."""

    code = "reconcile"


class MalformedReconcileMessage(ReconcileError):
    """A reconciliation message that is not one an honest peer could send (another protocol
    version, cut short, ranges out of order, an impossible id list). The reconciler is
    unchanged; drop the session with that peer."""

    code = "reconcile_malformed"


class ReconcileStateError(ReconcileError):
    """A reconciler called in the wrong role (`reconcile` after `initiate`, or the reverse),
    after it finished, or from two threads at once. Nothing changed."""

    code = "reconcile_state"


class MalformedSyncMessage(AuraError):
    """A sync message that no honest peer sends (a fact stream cut short or declaring an
    impossible length, a message for another namespace, ids out of order). Nothing is merged
    from it; the session with that peer ends."""

    code = "sync_malformed"


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


class UnauthorizedWriter(InvalidAttestation):
    """A correctly signed fact whose signer may not write facts of its type in that journal
    (every fact type declares who may write it; well-formed is not enough)."""

    code = "unauthorized_writer"


class LocalOnlyFact(UnauthorizedWriter):
    """A fact of a device's own accounting (local-only, unsigned) offered by a peer or signed:
    such facts are only ever written by the device that holds the journal."""

    code = "local_only_fact"


class IdentityMismatch(FactRejected):
    """A fact that creates something (an authority, a context) names an id that is not the one
    derived from its own content."""

    code = "identity_mismatch"


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
    `capability`, `unconfigured_flow`, `budget` or `leakage`. Details stay in the local trace.
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


class NoRoute(TransportError):
    """Nowhere to send: no address is known for the peer in that context, or this device is
    not a member of the context (it holds no secret to connect with)."""

    code = "no_route"


class SendQueueFull(TransportError):
    """The peer's bounded send queue is full (the peer is slow or unreachable); the message
    was not queued. Retry later or drop it: the transport never grows the queue."""

    code = "transport_busy"


class ChannelError(TransportError):
    """A connection broke the channel protocol; it was closed, other connections are untouched.

    Raised and traced where a connection ends, never handed to a peer."""

    code = "channel"


class MalformedFrame(ChannelError):
    """Bytes on a connection that are not a frame of the protocol: a length of zero or over the
    frame limit, a connection closed inside a frame or a message, a message over the size limit,
    an unknown frame kind. The decoder refuses before buffering anything over the limit."""

    kind = ErrorKind.PERMANENT
    code = "malformed_frame"


class VersionMismatch(ChannelError):
    """The peer's version prologue is not ours (another protocol version, or not this protocol
    at all); nothing else was read from it."""

    kind = ErrorKind.PERMANENT
    code = "version_mismatch"


class HandshakeRefused(ChannelError):
    """An inbound handshake this device would not answer or finish: an unknown static key, a
    context it is not a member of, a claimed authority that does not match the key, an epoch
    older than its own, a replayed first message, or a caller whose PSK did not match.

    `reason` is a coarse code for traces and tests (`unknown_key`, `not_member`, `identity`,
    `stale_epoch`, `replay`, `unconfirmed`, `malformed`)."""

    code = "handshake_refused"

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"handshake refused ({reason})" + (f": {message}" if message else ""))
        self.reason = reason


class HandshakeTimeout(ChannelError):
    """A connection did not complete its handshake within the handshake timeout."""

    code = "handshake_timeout"


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


# Consensus, ceremonies and proposals (aura_consensus): every function there that refuses
# an input raises one of these and returns no new state.


class ConsensusError(AuraError):
    """Base of every error of this package."""

    code = "consensus"


class InvalidPrestate(ConsensusError):
    """A prestate with no authorities, more than 256, duplicates or out of order."""

    code = "invalid_prestate"


class InvalidWitnessSet(ConsensusError):
    """A witness set that is empty, repeats an authority or a FROST identifier, or has a
    threshold outside 1 ≤ t ≤ |W| (or does not fit the group's key package)."""

    code = "invalid_witness_set"


class UnsafeThreshold(InvalidWitnessSet):
    """A threshold t that n witnesses with f byzantine ones cannot use: safety needs
    t > (n + f) / 2 (two commits on one prestate would share more than f signers) and liveness
    needs t ≤ n - f (the honest witnesses alone can sign)."""

    code = "unsafe_threshold"


class InvalidEvidence(ConsensusError):
    """An equivocation proof that is not one: its two votes are by different witnesses, on
    different prestates, groups or rounds, or for the same result."""

    code = "invalid_evidence"


class ForgedEvidence(InvalidEvidence):
    """An equivocation proof whose votes do not carry the accused witness's signatures. Whoever
    forwarded it is at fault, never the accused."""

    code = "forged_evidence"


class InvalidCommitFact(ConsensusError):
    """A `CommitFact` that does not verify: its bindings, participants, threshold, key or
    signature are wrong."""

    code = "invalid_commit"


class WrongInstance(ConsensusError):
    """An input that belongs to another consensus instance (id, prestate or operation)."""

    code = "wrong_instance"


class InvalidTransition(ConsensusError):
    """An event the instance's phase does not allow (fallback outside the fast path, a second
    start, a timer for a finished instance, ...)."""

    code = "invalid_transition"


class InstanceNotActive(InvalidTransition):
    """A share, nonce commitment or signing package for an instance that is not running
    (pending, committed or failed)."""

    code = "instance_not_active"


class UnknownWitness(ConsensusError):
    """A vote, share or commitment from an authority outside the witness set."""

    code = "unknown_witness"


class ForgedStatement(ConsensusError):
    """A signed vote or round change that does not verify under the key of the witness it
    names (or whose signed share digest does not match the share it carries). Whoever sent
    or relayed it is at fault, never the witness it names."""

    code = "forged_statement"


class StaleStatement(ConsensusError):
    """A genuinely signed vote or round change of another witness group (another group key,
    e.g. an earlier epoch), replayed into this one."""

    code = "stale_statement"


class InvalidCertificate(ConsensusError):
    """A lock certificate (t signed votes for one result in one round) or a round proposal's
    justification (n - f signed round changes) that does not prove what it claims."""

    code = "invalid_certificate"


class RoundPassed(ConsensusError):
    """A request to act in a round of a prestate that this witness has already left (it
    promised, by moving on, never to vote or sign in that round again)."""

    code = "round_passed"


class KnownEquivocator(ConsensusError):
    """Input from a witness already proven to equivocate; it is never counted again."""

    code = "equivocator"


class ConflictingShare(ConsensusError):
    """A second, different signature share from one witness for one signing package."""

    code = "conflicting_share"


class MissingShare(ConsensusError):
    """A vote for the instance's own result without the FROST share (or package) it needs."""

    code = "missing_share"


class UnknownSigningPackage(ConsensusError):
    """A share for a signing package this node has not seen yet; retry once it arrives."""

    kind = ErrorKind.TRANSIENT
    code = "unknown_signing_package"


class InvalidSigningPackage(ConsensusError):
    """A signing package whose message is not this instance's transcript, whose signers are not
    witnesses, which has fewer than t signers, or which names a signer it should not."""

    code = "invalid_signing_package"


class WouldEquivocate(ConsensusError):
    """A witness was asked to sign a second, different result in a round of a prestate in
    which it already voted; it refuses (this is what keeps honest witnesses out of the
    evidence)."""

    code = "would_equivocate"


class ConsensusFailed(ConsensusError):
    """An instance ended without a commit: its deadline passed or it was cancelled. Nothing was
    decided; a new instance (a new nonce) may try again."""

    kind = ErrorKind.TRANSIENT
    code = "consensus_failed"


class PrestateDecided(ConsensusError):
    """The prestate an operation was proposed on was decided with another operation (a
    contending proposal won); this operation can never commit on it."""

    code = "prestate_decided"


class StaleEpoch(ConsensusError):
    """Nonce material of an epoch other than the registry's current one."""

    code = "stale_epoch"


class CeremonyError(ConsensusError):
    """Base of the ceremony errors."""

    code = "ceremony"


class CeremonyConflict(CeremonyError):
    """A second ceremony on a prestate that already has a live one."""

    code = "ceremony_conflict"


class CeremonyFailed(CeremonyError):
    """A networked ceremony ended without a result: a participant refused or disagreed, or a
    timer fired. Its pending key material is never used; a new ceremony may try again."""

    kind = ErrorKind.TRANSIENT
    code = "ceremony_failed"


class UnknownCeremony(CeremonyError):
    """A command for a ceremony this registry has no start fact for."""

    code = "unknown_ceremony"


class CeremonyClosed(CeremonyError):
    """A command for a ceremony that is committed, aborted or superseded, or in a state that
    does not allow it (a response before the pending epoch, a commit before every response)."""

    code = "ceremony_closed"


class ProposalError(ConsensusError):
    """Base of the category-B proposal errors."""

    code = "proposal"


class NotAnApprover(ProposalError):
    """A vote from an authority the proposal does not ask."""

    code = "not_an_approver"


class AlreadyDecided(ProposalError):
    """A second vote by one approver; the first one stands."""

    code = "already_decided"


class ProposalClosed(ProposalError):
    """A vote on a proposal that was already applied or reverted."""

    code = "proposal_closed"


class ProposalExpired(ProposalError):
    """A vote at or after the proposal's deadline; call `expire` to revert it."""

    code = "proposal_expired"


# The agent (aura_agent): its data directory, its key file and its local API. Each message
# says what is wrong and what to do about it; none names a secret.


class AgentError(AuraError):
    """Base of the agent's errors."""

    code = "agent"


class UnsafePermissions(AgentError):
    """The data directory, the key file or the socket's directory can be read or written by
    another user (wider than 0700 / 0600) or belongs to another uid. The agent refuses to
    start rather than trust (or fix) it; the message names the path and the command that
    fixes it."""

    code = "unsafe_permissions"


class AgentRunning(AgentError):
    """Another agent already holds this data directory or answers on this socket; nothing was
    changed. Stop it first, or give this one another directory or socket."""

    code = "agent_running"


class NotConfigured(AgentError):
    """A piece of configuration the operation needs is missing (no account yet, no address to
    advertise, a genesis not in the journal); the message names it. Raised at once, never
    left to a timeout."""

    code = "not_configured"


class SocketPathTooLong(AgentError):
    """A Unix socket path longer than `AF_UNIX` allows (107 bytes, plus the NUL, in 108);
    refused before binding or connecting. Choose a shorter `--socket` path."""

    code = "socket_path_too_long"


class AccountError(AgentError):
    """An account workflow refused a request (the message says what to do instead); nothing
    changed."""

    code = "account"


class ChangeUnfinished(AgentError):
    """An account change reached its point of no return (its first tree change, which may
    have committed) but could not finish now (a device it needs is unreachable), or a joiner
    cannot tell yet whether its enrollment committed. It is not undone: the coordinator
    finishes it by itself once the devices are back, also after a restart, and the joiner asks
    again until it learns the outcome."""

    kind = ErrorKind.TRANSIENT
    code = "change_unfinished"


class AlreadyInAccount(AccountError):
    """The device belongs to an account already: leave it before creating or joining one."""

    code = "already_in_account"


class AlreadyJoined(AlreadyInAccount):
    """The device is in the account an enrollment code invites to already (it joined with the
    code, or is in that account otherwise): nothing to do, nothing changed."""

    code = "already_joined"


class JoinInProgress(AccountError):
    """This device's join with that enrollment code is under way, or its outcome is not known
    yet (the device asks its inviting device until it learns it, by itself): nothing changed.
    The account status shows when it ends."""

    kind = ErrorKind.TRANSIENT
    code = "join_in_progress"


class EnrollmentCodeInvalid(AccountError):
    """An enrollment code that does not parse, was altered, is not signed by the device it
    names, or is for another account or a ceremony that was abandoned."""

    code = "enrollment_code_invalid"


class EnrollmentCodeExpired(AccountError):
    """An enrollment code past its expiry: ask the inviting device for a new one."""

    code = "enrollment_code_expired"


class EnrollmentCodeRedeemed(AccountError):
    """An enrollment code that was used already (each admits one device, once)."""

    code = "enrollment_code_redeemed"


class KeyFileError(AgentError):
    """Base of the key file's errors. The file is never written when one is raised."""

    code = "key_file"


class KeyFileMissing(KeyFileError):
    """The data directory holds a device's storage but no key file: a new identity would
    orphan its journals, so the agent refuses. Restore the key file from a backup."""

    code = "key_file_missing"


class KeyFileCorrupt(KeyFileError):
    """The key file is not one the agent wrote: truncated, changed, of an unknown format, or
    of another device than the storage beside it. Restore it from a backup."""

    code = "key_file_corrupt"


class WrongPassphrase(KeyFileError):
    """The passphrase does not open the sealed key file (or one was given for a key file that
    is not sealed)."""

    code = "wrong_passphrase"


class PassphraseRequired(WrongPassphrase):
    """The key file is sealed and no passphrase was given."""

    code = "passphrase_required"


class ApiError(AgentError):
    """Base of the local API's errors (what an `api.failure` frame reports)."""

    code = "api"


class MalformedRequest(ApiError):
    """A frame that is not a request of the local API (not canonical CBOR, not a known frame
    record, a body that is not the named request's record). Nothing was done."""

    code = "malformed_request"


class RequestTooLarge(ApiError):
    """A frame longer than the API's frame limit (or of length zero); the connection is closed
    without reading it."""

    code = "request_too_large"


class UnknownRequest(ApiError):
    """A request name (or signal name) this agent does not serve."""

    code = "unknown_request"


class ApiVersionMismatch(ApiError):
    """The first frame of a connection is not the API's hello of a version this agent speaks;
    the connection is closed."""

    code = "api_version"


class AgentBusy(ApiError):
    """Too many connections, or too many requests in flight on one connection; retry."""

    kind = ErrorKind.TRANSIENT
    code = "agent_busy"


class AgentUnavailable(ApiError):
    """No agent answers at the socket path, or it closed the connection; start one (`aura agent
    run`) or retry."""

    kind = ErrorKind.TRANSIENT
    code = "agent_unavailable"


class AgentFault(ApiError):
    """The agent failed on a request through no fault of the request (a bug, or an answer over
    the frame limit); its trace says which. Other requests and clients are not affected."""

    kind = ErrorKind.SYSTEM
    code = "agent_fault"


class RemoteError(ApiError):
    """An error the agent reported whose code this client has no class for; `remote_code` and
    `remote_kind` are the agent's."""

    code = "remote"

    def __init__(self, message: str, remote_code: str, remote_kind: ErrorKind) -> None:
        super().__init__(f"{message} ({remote_code})")
        self.remote_code = remote_code
        self.remote_kind = remote_kind
