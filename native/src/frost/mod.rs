//! FROST(Ed25519, SHA-512) threshold signing (RFC 9591) over the Zcash Foundation crates.
//!
//! Plain Rust over `frost_ed25519` types, tested by `cargo test`; `python.rs` only wraps these
//! functions. Three rules hold everywhere:
//!
//! * **No hidden randomness.** Every function that needs randomness takes a 32-byte seed from
//!   the caller (see [`rng::SeededRng`]) or the randomness itself; nothing here reads the
//!   operating system's RNG, so the same inputs always give the same outputs.
//! * **Identifiers are small integers.** Participants are numbered 1..=65535
//!   (`Identifier::try_from(u16)`); decoding rejects anything else, so every identifier this
//!   crate hands out converts back to a `u16`.
//! * **No panics from input.** Inputs are checked before they reach FROST code paths that
//!   assume well-formed values, and every decoder re-encodes and compares, so only canonical
//!   bytes are accepted.

pub mod dkg;
pub mod keys;
pub mod refresh;
pub mod repair;
pub mod rng;
pub mod sign;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

pub use frost_ed25519 as fe;
use frost_ed25519::{Ciphersuite, Ed25519Sha512, Field, Group};

pub use crate::error::guarded;
use crate::error::{Error, ErrorCode, Result};

/// The ciphersuite: FROST(Ed25519, SHA-512).
pub type Suite = Ed25519Sha512;
/// A scalar of the Ed25519 group (a `curve25519_dalek::Scalar`).
pub type Scalar = <<<Suite as Ciphersuite>::Group as Group>::Field as Field>::Scalar;
pub use frost_ed25519::Identifier;

/// Bytes of every seed.
pub const SEED_LEN: usize = 32;
/// Bytes of the explicit nonce randomness (RFC 9591 `nonce_generate`).
pub const NONCE_RANDOMNESS_LEN: usize = 32;
/// Bytes of an aggregated signature (R ‖ z, as in RFC 8032).
pub const SIGNATURE_LEN: usize = 64;

pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidArgument, message)
}

pub(crate) fn insufficient(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InsufficientSigners, message)
}

pub(crate) fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::Malformed, message)
}

/// The FROST identifier of participant `number` (1..=65535).
pub fn identifier(number: u16) -> Result<Identifier> {
    Identifier::try_from(number)
        .map_err(|_| invalid_argument("participant identifiers are integers in 1..=65535"))
}

/// The participant number of `id`, if it is one of 1..=65535.
pub fn number(id: &Identifier) -> Option<u16> {
    let bytes = id.serialize();
    let (low, high) = bytes.split_at(2.min(bytes.len()));
    if high.iter().any(|&b| b != 0) {
        return None;
    }
    match low {
        [a, b] => Some(u16::from_le_bytes([*a, *b])).filter(|&n| n != 0),
        _ => None,
    }
}

/// Like [`number`], for identifiers that came out of decoded bytes.
pub(crate) fn decoded_number(id: &Identifier) -> Result<u16> {
    number(id).ok_or_else(|| malformed("participant identifier outside 1..=65535"))
}

/// Identifiers for `numbers`, which must be distinct.
pub fn identifiers(numbers: &[u16]) -> Result<Vec<Identifier>> {
    let distinct: BTreeSet<u16> = numbers.iter().copied().collect();
    if distinct.len() != numbers.len() {
        return Err(invalid_argument("participant identifiers must be distinct"));
    }
    numbers.iter().map(|&n| identifier(n)).collect()
}

/// Check a (min_signers, max_signers) pair: 2 <= min <= max.
pub fn check_thresholds(min_signers: u16, max_signers: u16) -> Result<()> {
    if min_signers < 2 {
        return Err(invalid_argument(format!(
            "min_signers must be at least 2, got {min_signers} (use single-signer Ed25519 for 1-of-1)"
        )));
    }
    if min_signers > max_signers {
        return Err(invalid_argument(format!(
            "min_signers ({min_signers}) must not exceed max_signers ({max_signers})"
        )));
    }
    Ok(())
}

/// Per-participant entries (`what` names them in errors) as a map. A participant listed twice
/// is an `InvalidArgument`: collecting into a map would silently keep one of its entries, and
/// which one decides what gets signed, aggregated or blamed.
pub fn per_participant<T>(
    what: &str,
    entries: impl IntoIterator<Item = (u16, T)>,
) -> Result<BTreeMap<u16, T>> {
    let mut map = BTreeMap::new();
    for (n, value) in entries {
        if map.insert(n, value).is_some() {
            return Err(invalid_argument(format!(
                "{what}: participant {n} appears more than once"
            )));
        }
    }
    Ok(map)
}

/// Check that no two of `values` (secrets: compared in constant time) are equal. Honest values
/// of these kinds are independent uniform scalars, so equal ones are the same value passed twice.
pub(crate) fn distinct_values<T: PartialEq>(what: &str, values: &[T]) -> Result<()> {
    for (i, value) in values.iter().enumerate() {
        if values[i + 1..].iter().any(|other| other == value) {
            return Err(invalid_argument(format!(
                "{what}: the same value appears more than once"
            )));
        }
    }
    Ok(())
}

/// Re-key a map by participant number.
pub(crate) fn by_number<T>(map: BTreeMap<Identifier, T>) -> Result<BTreeMap<u16, T>> {
    map.into_iter()
        .map(|(id, value)| {
            number(&id)
                .map(|n| (n, value))
                .ok_or_else(|| Error::new(ErrorCode::Internal, "identifier outside 1..=65535"))
        })
        .collect()
}

/// Re-key a map by FROST identifier.
pub(crate) fn by_identifier<T: Clone>(map: &BTreeMap<u16, T>) -> Result<BTreeMap<Identifier, T>> {
    map.iter()
        .map(|(&n, value)| Ok((identifier(n)?, value.clone())))
        .collect()
}

fn culprit_numbers(ids: impl IntoIterator<Item = Identifier>) -> Vec<u16> {
    ids.into_iter().filter_map(|id| number(&id)).collect()
}

/// Translate a FROST error into this crate's codes. Call sites check the common cases first
/// and say more; this is the fallback, and it keeps the culprits FROST names.
pub(crate) fn map_error(err: fe::Error) -> Error {
    use frost_core::Error as E;
    let message = err.to_string();
    match err {
        E::InvalidSignatureShare { culprits } => {
            Error::invalid_share("invalid signature share", culprit_numbers(culprits))
        }
        E::InvalidSecretShare { culprit } => Error::invalid_share(
            "secret share does not match its commitment",
            culprit_numbers(culprit),
        ),
        E::InvalidProofOfKnowledge { culprit } => {
            Error::invalid_share("invalid proof of knowledge", culprit_numbers([culprit]))
        }
        E::IncorrectNumberOfShares
        | E::IncorrectNumberOfCommitments
        | E::IncorrectNumberOfPackages
        | E::IncorrectNumberOfIdentifiers => Error::new(ErrorCode::InsufficientSigners, message),
        E::InvalidMinSigners
        | E::InvalidMaxSigners
        | E::InvalidCoefficients
        | E::DuplicatedIdentifier
        | E::UnknownIdentifier
        | E::DuplicatedShares
        | E::MissingCommitment
        | E::IncorrectCommitment
        | E::PackageNotFound
        | E::IncorrectPackage => Error::new(ErrorCode::InvalidArgument, message),
        E::MalformedSigningKey => Error::new(ErrorCode::MalformedKey, message),
        E::MalformedVerifyingKey => Error::new(ErrorCode::InvalidPublicKey, message),
        E::MalformedSignature | E::InvalidSignature => {
            Error::new(ErrorCode::InvalidSignature, message)
        }
        E::MalformedIdentifier
        | E::IdentityCommitment
        | E::FieldError(_)
        | E::GroupError(_)
        | E::InvalidCoefficient
        | E::DeserializationError => Error::new(ErrorCode::Malformed, message),
        _ => Error::new(ErrorCode::Internal, message),
    }
}

/// Overwrite `slot` with `zero` in a way the optimiser may not drop, for secrets held in
/// `Copy` types that do not implement `Zeroize` themselves.
pub fn wipe<T: Copy>(slot: &mut T, zero: T) {
    // SAFETY: `slot` is a valid, aligned, exclusive reference; `T: Copy` has no destructor
    // that overwriting could skip.
    unsafe { std::ptr::write_volatile(slot, zero) };
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// The 32-byte encoding of a group element (a verifying key or share, a commitment).
pub fn element_bytes(serialized: std::result::Result<Vec<u8>, fe::Error>) -> Result<[u8; 32]> {
    let bytes = serialized.map_err(map_error)?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| Error::new(ErrorCode::Internal, "group element is not 32 bytes"))
}
