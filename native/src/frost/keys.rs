//! Trusted-dealer key generation, splitting an existing key, and turning a dealt share into a
//! key package.

use std::collections::{BTreeMap, BTreeSet};

use frost_core::keys::{CoefficientCommitment, VerifiableSecretSharingCommitment};
use frost_ed25519::keys::{
    IdentifierList, KeyPackage, PublicKeyPackage, SecretShare, SigningShare,
};
use frost_ed25519::{Ed25519ScalarField, Field, Group, SigningKey};
use zeroize::Zeroize;

use super::rng::SeededRng;
use super::{
    by_number, check_thresholds, identifier, identifiers, invalid_argument, map_error, Identifier,
    Scalar,
};
use crate::error::{Error, ErrorCode, Result};

/// Dealt shares by participant number, and the group's public key package.
pub type Dealt = (BTreeMap<u16, SecretShare>, PublicKeyPackage);

/// The identifiers of a `max_signers`-participant group: `numbers` if given (exactly
/// `max_signers` distinct numbers), else 1..=max_signers.
fn participant_list(max_signers: u16, numbers: Option<&[u16]>) -> Result<Vec<Identifier>> {
    match numbers {
        None => (1..=max_signers).map(identifier).collect(),
        Some(numbers) => {
            if numbers.len() != usize::from(max_signers) {
                return Err(invalid_argument(format!(
                    "expected {max_signers} participant identifiers, got {}",
                    numbers.len()
                )));
            }
            identifiers(numbers)
        }
    }
}

fn signing_key(secret: &[u8]) -> Result<SigningKey> {
    SigningKey::deserialize(secret).map_err(|_| {
        Error::new(
            ErrorCode::MalformedKey,
            "a group secret is a canonical, non-zero 32-byte scalar",
        )
    })
}

/// Deal a fresh `min_signers`-of-`max_signers` key; randomness comes from `seed` only.
pub fn generate_with_dealer(
    min_signers: u16,
    max_signers: u16,
    seed: &[u8],
    numbers: Option<&[u16]>,
) -> Result<Dealt> {
    check_thresholds(min_signers, max_signers)?;
    let list = participant_list(max_signers, numbers)?;
    let mut rng = SeededRng::new("dealer", seed)?;
    let (shares, public) = frost_ed25519::keys::generate_with_dealer(
        max_signers,
        min_signers,
        IdentifierList::Custom(&list),
        &mut rng,
    )
    .map_err(map_error)?;
    Ok((by_number(shares)?, public))
}

/// Split an existing group secret (a 32-byte little-endian scalar) into shares; the polynomial's
/// other coefficients come from `seed`.
pub fn split(
    secret: &[u8],
    min_signers: u16,
    max_signers: u16,
    seed: &[u8],
    numbers: Option<&[u16]>,
) -> Result<Dealt> {
    check_thresholds(min_signers, max_signers)?;
    let list = participant_list(max_signers, numbers)?;
    let key = signing_key(secret)?;
    let mut rng = SeededRng::new("split", seed)?;
    let (shares, public) = frost_ed25519::keys::split(
        &key,
        max_signers,
        min_signers,
        IdentifierList::Custom(&list),
        &mut rng,
    )
    .map_err(map_error)?;
    Ok((by_number(shares)?, public))
}

/// Split `secret` with the given polynomial coefficients (constant term excluded), as RFC 9591
/// Appendix C `trusted_dealer_keygen` does with its random coefficients. The threshold is
/// `coefficients.len() + 1`. For test vectors and interoperability: the coefficients must be
/// uniformly random and secret, and then [`split`] is the function to call.
pub fn split_with_coefficients(
    secret: &[u8],
    coefficients: &[&[u8]],
    max_signers: u16,
    numbers: Option<&[u16]>,
) -> Result<Dealt> {
    let min_signers = u16::try_from(coefficients.len() + 1)
        .map_err(|_| invalid_argument("too many coefficients"))?;
    check_thresholds(min_signers, max_signers)?;
    let list = participant_list(max_signers, numbers)?;
    let mut polynomial: Vec<Scalar> = Vec::with_capacity(coefficients.len() + 1);
    polynomial.push(signing_key(secret)?.to_scalar());
    for coefficient in coefficients {
        let parsed = <[u8; 32]>::try_from(*coefficient)
            .ok()
            .and_then(|bytes| Ed25519ScalarField::deserialize(&bytes).ok());
        match parsed {
            Some(scalar) => polynomial.push(scalar),
            None => {
                polynomial.zeroize();
                return Err(Error::new(
                    ErrorCode::MalformedKey,
                    "a polynomial coefficient is a canonical 32-byte scalar",
                ));
            }
        }
    }
    let generator = frost_ed25519::Ed25519Group::generator();
    let commitment = VerifiableSecretSharingCommitment::new(
        polynomial
            .iter()
            .map(|c| CoefficientCommitment::new(generator * c))
            .collect(),
    );
    let shares: BTreeMap<Identifier, SecretShare> = list
        .iter()
        .map(|id| {
            let share = SigningShare::from_coefficients(&polynomial, *id);
            (*id, SecretShare::new(*id, share, commitment.clone()))
        })
        .collect();
    polynomial.zeroize();
    let ids: BTreeSet<Identifier> = list.into_iter().collect();
    let public = PublicKeyPackage::from_commitment(&ids, &commitment).map_err(map_error)?;
    Ok((by_number(shares)?, public))
}

/// Verify a dealt share against its VSS commitment and derive the participant's key package.
///
/// A share that does not match the commitment fails with `InvalidShare` (no culprit: the
/// dealer or the channel is at fault, not another participant).
pub fn key_package(share: &SecretShare) -> Result<KeyPackage> {
    if share.commitment().coefficients().len() < 2 {
        return Err(invalid_argument(
            "not a dealt share: its commitment gives a threshold below 2",
        ));
    }
    KeyPackage::try_from(share.clone()).map_err(|err| match err {
        frost_core::Error::InvalidSecretShare { .. } => Error::invalid_share(
            "secret share does not match the dealer's commitment",
            Vec::new(),
        ),
        other => map_error(other),
    })
}
