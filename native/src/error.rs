//! One error type for the crate, with a stable machine-readable code that the
//! Python layer maps onto its `CryptoError` hierarchy.

use std::fmt;

/// Stable error codes; the Python wrapper dispatches on [`ErrorCode::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// Bytes of the wrong length or that do not parse as the expected type.
    Malformed,
    /// A public key that is not a valid (or is a weak) curve point.
    InvalidPublicKey,
    /// Secret key material that is not a valid key (e.g. the zero scalar).
    MalformedKey,
    /// A signature that does not verify.
    InvalidSignature,
    /// A capability token that does not parse, verify or build.
    InvalidToken,
    /// Participants whose shares, proofs or packages fail verification; see `culprits`.
    InvalidShare,
    /// Fewer signers, shares, commitments or packages than the threshold or protocol needs.
    InsufficientSigners,
    /// A value outside a function's domain (threshold larger than the group, duplicated or
    /// unknown identifiers, a seed of the wrong length, ...).
    InvalidArgument,
    /// A single-use signing nonce offered a second time.
    NonceReuse,
    /// A Noise handshake message that does not authenticate or decrypt (wrong PSK, wrong or
    /// unknown static key, tampered, truncated or replayed bytes, a low-order key).
    NoiseHandshake,
    /// A Noise transport message that does not authenticate (tampered, truncated, reordered,
    /// replayed or under another key); the channel that read it is closed.
    NoiseDecrypt,
    /// A Noise handshake or channel used out of order, twice, or after it failed or closed.
    NoiseState,
    /// Bytes of a connection that break the transport's frame or message format (a frame
    /// length of zero or over the limit, an unknown frame kind, a pack cut short, a message
    /// over its limit); the reader that saw them is dead and its channel closed.
    MalformedFrame,
    /// A set-reconciliation message that is not well formed (bad version, truncated, ranges
    /// out of order, ...).
    ReconcileMalformed,
    /// A reconciler used in the wrong role or after it finished.
    ReconcileState,
    /// An invariant of this crate or of FROST failed; a bug, never expected from any input.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::InvalidPublicKey => "invalid_public_key",
            ErrorCode::MalformedKey => "malformed_key",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidShare => "invalid_share",
            ErrorCode::InsufficientSigners => "insufficient_signers",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::NonceReuse => "nonce_reuse",
            ErrorCode::NoiseHandshake => "noise_handshake",
            ErrorCode::NoiseDecrypt => "noise_decrypt",
            ErrorCode::NoiseState => "noise_state",
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::ReconcileMalformed => "reconcile_malformed",
            ErrorCode::ReconcileState => "reconcile_state",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error with a code and a human-readable message that never contains
/// secret material. `culprits` names the FROST participants (identifiers
/// 1..=65535) that the failure can be blamed on, sorted, where that is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub culprits: Vec<u16>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            culprits: Vec::new(),
        }
    }

    /// An `InvalidShare` error blaming `culprits` (sorted and deduplicated).
    pub fn invalid_share(message: impl Into<String>, mut culprits: Vec<u16>) -> Self {
        culprits.sort_unstable();
        culprits.dedup();
        Error {
            code: ErrorCode::InvalidShare,
            message: message.into(),
            culprits,
        }
    }

    /// Error for an input of the wrong length.
    pub fn length(what: &str, expected: usize, got: usize) -> Self {
        Error::new(
            ErrorCode::Malformed,
            format!("{what} must be {expected} bytes, got {got}"),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if !self.culprits.is_empty() {
            write!(f, " (culprits: {:?})", self.culprits)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Run `f`, turning a panic (a bug: inputs are checked so that none is reachable) into an
/// `Internal` error instead of unwinding into the caller.
pub fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::new(
            ErrorCode::Internal,
            "internal error in the native core",
        ))
    })
}
