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
    /// A signature that does not verify.
    InvalidSignature,
    /// A capability token that does not parse, verify or build.
    InvalidToken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::InvalidPublicKey => "invalid_public_key",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::InvalidToken => "invalid_token",
        }
    }
}

/// An error with a code and a human-readable message that never contains
/// secret material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
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
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
