//! Signing: round 1 (commit), the signing package, round 2 (sign), binding factors,
//! aggregation with cheater detection, and verification.

use std::collections::{BTreeMap, BTreeSet};

use frost_core::round1::Nonce;
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SigningShare};
use frost_ed25519::round1::{SigningCommitments, SigningNonces};
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::{CheaterDetection, Ciphersuite, SigningPackage};
use zeroize::Zeroizing;

use super::rng::SeededRng;
use super::{
    by_identifier, insufficient, invalid_argument, map_error, number, Suite, NONCE_RANDOMNESS_LEN,
    SIGNATURE_LEN,
};
use crate::error::{Error, ErrorCode, Result};

/// Round 1: fresh hiding and binding nonces for one signing operation, and their commitments.
///
/// The nonces are RFC 9591's `nonce_generate(secret)` with the random bytes drawn from `seed`.
/// **Never reuse a seed with the same key package**: the same seed gives the same nonces, and
/// two signatures with the same nonces over different messages reveal the signing share.
pub fn commit(
    key_package: &KeyPackage,
    seed: &[u8],
) -> Result<(SigningNonces, SigningCommitments)> {
    let mut rng = SeededRng::new("commit", seed)?;
    Ok(frost_ed25519::round1::commit(
        key_package.signing_share(),
        &mut rng,
    ))
}

/// RFC 9591 `nonce_generate`: H3(random_bytes ‖ SerializeScalar(secret)).
fn nonce_generate(secret: &SigningShare, random_bytes: &[u8]) -> Result<Nonce<Suite>> {
    if random_bytes.len() != NONCE_RANDOMNESS_LEN {
        return Err(invalid_argument(format!(
            "nonce randomness is exactly {NONCE_RANDOMNESS_LEN} bytes, got {}",
            random_bytes.len()
        )));
    }
    let secret_bytes = Zeroizing::new(secret.serialize());
    let mut input = Zeroizing::new(Vec::with_capacity(random_bytes.len() + secret_bytes.len()));
    input.extend_from_slice(random_bytes);
    input.extend_from_slice(&secret_bytes);
    Ok(Nonce::from_scalar(Suite::H3(&input)))
}

/// Round 1 with the nonce randomness given explicitly (as in the RFC 9591 test vectors).
/// The same reuse warning as for [`commit`] applies.
pub fn commit_with_randomness(
    key_package: &KeyPackage,
    hiding_randomness: &[u8],
    binding_randomness: &[u8],
) -> Result<(SigningNonces, SigningCommitments)> {
    let hiding = nonce_generate(key_package.signing_share(), hiding_randomness)?;
    let binding = nonce_generate(key_package.signing_share(), binding_randomness)?;
    let nonces = SigningNonces::from_nonces(hiding, binding);
    let commitments = *nonces.commitments();
    Ok((nonces, commitments))
}

/// The coordinator's signing package: everyone's round-1 commitments and the message.
pub fn signing_package(
    commitments: &BTreeMap<u16, SigningCommitments>,
    message: &[u8],
) -> Result<SigningPackage> {
    if commitments.is_empty() {
        return Err(insufficient(
            "a signing package needs at least one commitment",
        ));
    }
    Ok(SigningPackage::new(by_identifier(commitments)?, message))
}

/// Round 2: this participant's signature share. Fails (and changes nothing) if the package
/// has fewer commitments than the threshold, lacks this participant, or holds a commitment
/// other than the one `nonces` belong to.
pub fn sign(
    package: &SigningPackage,
    nonces: &SigningNonces,
    key_package: &KeyPackage,
) -> Result<SignatureShare> {
    let signers = package.signing_commitments().len();
    if signers < usize::from(*key_package.min_signers()) {
        return Err(insufficient(format!(
            "the signing package has {signers} commitments; the threshold is {}",
            key_package.min_signers()
        )));
    }
    let me = number(key_package.identifier()).unwrap_or(0);
    match package.signing_commitment(key_package.identifier()) {
        None => {
            return Err(invalid_argument(format!(
                "the signing package has no commitment from participant {me}"
            )))
        }
        Some(commitment) if commitment != *nonces.commitments() => {
            return Err(invalid_argument(format!(
                "participant {me}'s commitment in the signing package is not the one these nonces made"
            )))
        }
        Some(_) => {}
    }
    frost_ed25519::round2::sign(package, nonces, key_package).map_err(map_error)
}

/// The binding factor of every signer in `package` (RFC 9591 `compute_binding_factors`),
/// as 32-byte scalars. Exposed so the RFC test vector can be checked step by step.
pub fn binding_factors(
    package: &SigningPackage,
    public: &PublicKeyPackage,
) -> Result<BTreeMap<u16, [u8; 32]>> {
    let list = frost_core::compute_binding_factor_list(package, public.verifying_key(), &[])
        .map_err(map_error)?;
    let mut out = BTreeMap::new();
    for id in package.signing_commitments().keys() {
        let factor = list
            .get(id)
            .ok_or_else(|| Error::new(ErrorCode::Internal, "missing binding factor"))?
            .serialize();
        let bytes: [u8; 32] = factor
            .as_slice()
            .try_into()
            .map_err(|_| Error::new(ErrorCode::Internal, "binding factor is not 32 bytes"))?;
        let n = number(id).ok_or_else(|| Error::new(ErrorCode::Internal, "identifier"))?;
        out.insert(n, bytes);
    }
    Ok(out)
}

fn list(numbers: impl IntoIterator<Item = u16>) -> String {
    numbers
        .into_iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Aggregate the signature shares into a 64-byte Ed25519 signature (R ‖ z).
///
/// If the result does not verify, every share is checked and the error is `InvalidShare`
/// naming all participants whose share is wrong. With shares from fewer participants than the
/// threshold the error is `InsufficientSigners`.
pub fn aggregate(
    package: &SigningPackage,
    shares: &BTreeMap<u16, SignatureShare>,
    public: &PublicKeyPackage,
) -> Result<[u8; SIGNATURE_LEN]> {
    let committed: BTreeSet<u16> = package
        .signing_commitments()
        .keys()
        .filter_map(number)
        .collect();
    let shared: BTreeSet<u16> = shares.keys().copied().collect();
    let extra: Vec<u16> = shared.difference(&committed).copied().collect();
    if !extra.is_empty() {
        return Err(invalid_argument(format!(
            "signature shares from participants without a commitment in the signing package: {}",
            list(extra)
        )));
    }
    let missing: Vec<u16> = committed.difference(&shared).copied().collect();
    if !missing.is_empty() {
        return Err(insufficient(format!(
            "missing signature shares from {}",
            list(missing)
        )));
    }
    let known: BTreeSet<u16> = public
        .verifying_shares()
        .keys()
        .filter_map(number)
        .collect();
    let unknown: Vec<u16> = committed.difference(&known).copied().collect();
    if !unknown.is_empty() {
        return Err(invalid_argument(format!(
            "participants not in the public key package: {}",
            list(unknown)
        )));
    }
    if let Some(min) = public.min_signers() {
        if shares.len() < usize::from(min) {
            return Err(insufficient(format!(
                "{} signature shares; the threshold is {min}",
                shares.len()
            )));
        }
    }
    let signature = frost_ed25519::aggregate_custom(
        package,
        &by_identifier(shares)?,
        public,
        CheaterDetection::AllCheaters,
    )
    .map_err(|err| match err {
        frost_core::Error::InvalidSignatureShare { .. } => {
            let mut mapped = map_error(err);
            mapped.message = format!(
                "signature shares from {} do not verify",
                list(mapped.culprits.iter().copied())
            );
            mapped
        }
        frost_core::Error::InvalidSignature => Error::new(
            ErrorCode::InvalidSignature,
            "the aggregate signature does not verify, although every share does \
             (inconsistent thresholds or keys?)",
        ),
        other => map_error(other),
    })?;
    let bytes = signature.serialize().map_err(map_error)?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| Error::new(ErrorCode::Internal, "signature is not 64 bytes"))
}

/// Verify an aggregated signature as a plain Ed25519 signature (strict RFC 8032 rules, the same
/// as single-signer keys).
pub fn verify(group_public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    crate::ed25519::verify(group_public_key, message, signature)
}
