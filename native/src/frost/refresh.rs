//! Share refresh: new shares of the same group key, so that old shares stop combining with
//! new ones. Trusted-dealer style (the dealer hands out shares of zero) and DKG style (every
//! participant deals shares of zero to the others).

use std::collections::BTreeMap;

use frost_core::keys::{CoefficientCommitment, VerifiableSecretSharingCommitment};
use frost_ed25519::keys::dkg::{round1, round2};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SecretShare, VerifyingShare};
use frost_ed25519::{Ed25519Group, Group};

use super::dkg::{check_round1_packages, check_round2_senders, own_number, Round1, Round2};
use super::rng::SeededRng;
use super::{
    by_identifier, by_number, check_thresholds, identifier, identifiers, insufficient,
    invalid_argument, map_error, number,
};
use crate::error::{Error, ErrorCode, Result};

/// A dealer's share of zero for one participant (dealer-style refresh). FROST gives it the type
/// of a dealt share; it is wrapped so that the two can never be mistaken for each other, here
/// or on the wire (its encoding has its own tag, see [`super::wire::Tag`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshingShare(pub(crate) SecretShare);

impl RefreshingShare {
    /// The share of zero, as FROST types it.
    pub fn share(&self) -> &SecretShare {
        &self.0
    }
}

/// Shares of zero by participant number, and the group's new public key package.
pub type Refreshing = (BTreeMap<u16, RefreshingShare>, PublicKeyPackage);

fn threshold(public: &PublicKeyPackage) -> Result<u16> {
    public
        .min_signers()
        .ok_or_else(|| invalid_argument("the public key package does not record its threshold"))
}

/// A key package with its verifying share recomputed from its signing share.
fn consistent(package: &KeyPackage) -> KeyPackage {
    KeyPackage::new(
        *package.identifier(),
        *package.signing_share(),
        VerifyingShare::from(*package.signing_share()),
        *package.verifying_key(),
        *package.min_signers(),
    )
}

/// Dealer side: shares of zero for `participants` (all of them must be in `public`, at least
/// the threshold of them) and the group's new public key package. Randomness from `seed`.
pub fn compute_refreshing_shares(
    public: &PublicKeyPackage,
    participants: &[u16],
    seed: &[u8],
) -> Result<Refreshing> {
    let min = threshold(public)?;
    let ids = identifiers(participants)?;
    if participants.len() < usize::from(min) {
        return Err(insufficient(format!(
            "a refresh needs at least the threshold ({min}) of participants, got {}",
            participants.len()
        )));
    }
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !public.verifying_shares().contains_key(id))
        .filter_map(number)
        .map(|n| n.to_string())
        .collect();
    if !unknown.is_empty() {
        return Err(invalid_argument(format!(
            "participants not in the public key package: {}",
            unknown.join(", ")
        )));
    }
    let mut rng = SeededRng::new("refresh-dealer", seed)?;
    let (shares, new_public) =
        frost_ed25519::keys::refresh::compute_refreshing_shares(public.clone(), &ids, &mut rng)
            .map_err(map_error)?;
    let shares = shares
        .into_iter()
        .map(|share| (*share.identifier(), RefreshingShare(share)))
        .collect();
    Ok((by_number(shares)?, new_public))
}

/// Participant side: add the dealer's share of zero to the current key package.
pub fn refresh_share(zero_share: &RefreshingShare, current: &KeyPackage) -> Result<KeyPackage> {
    let zero_share = zero_share.share();
    if zero_share.identifier() != current.identifier() {
        return Err(invalid_argument(
            "the refreshing share is for another participant",
        ));
    }
    if zero_share.commitment().coefficients().len() + 1 != usize::from(*current.min_signers()) {
        return Err(invalid_argument(
            "not a refreshing share for this key (its threshold differs)",
        ));
    }
    let refreshed = frost_ed25519::keys::refresh::refresh_share(zero_share.clone(), current)
        .map_err(|err| match err {
            frost_core::Error::InvalidSecretShare { .. } => Error::invalid_share(
                "refreshing share does not match the dealer's commitment",
                Vec::new(),
            ),
            other => map_error(other),
        })?;
    // frost-core 3.0.0 keeps the old verifying share in the refreshed package; recompute it.
    Ok(consistent(&refreshed))
}

fn check_refresh_secret_commitment(len: usize, min_signers: u16) -> Result<()> {
    if len + 1 != usize::from(min_signers) {
        return Err(invalid_argument(
            "this secret belongs to a DKG, not to a DKG-style refresh",
        ));
    }
    Ok(())
}

/// DKG-style refresh, part 1: like DKG part 1 with a zero constant term.
pub fn refresh_dkg_part1(
    me: u16,
    min_signers: u16,
    max_signers: u16,
    seed: &[u8],
) -> Result<Round1> {
    check_thresholds(min_signers, max_signers)?;
    let id = identifier(me)?;
    let mut rng = SeededRng::new("refresh-dkg-part1", seed)?;
    frost_ed25519::keys::refresh::refresh_dkg_part1(id, max_signers, min_signers, &mut rng)
        .map_err(map_error)
}

/// DKG-style refresh, part 2: the shares of zero for every other participant.
pub fn refresh_dkg_part2(
    secret: &round1::SecretPackage,
    round1_packages: &BTreeMap<u16, round1::Package>,
) -> Result<Round2> {
    let me = own_number(secret.identifier())?;
    let min = *secret.min_signers();
    check_refresh_secret_commitment(secret.commitment().coefficients().len(), min)?;
    check_round1_packages(
        me,
        *secret.max_signers(),
        usize::from(min) - 1,
        round1_packages,
    )?;
    let (secret, packages) = frost_ed25519::keys::refresh::refresh_dkg_part2(
        secret.clone(),
        &by_identifier(round1_packages)?,
    )
    .map_err(map_error)?;
    Ok((secret, by_number(packages)?))
}

/// DKG-style refresh, part 3: verify the received shares of zero (a bad one is blamed on its
/// sender), add them to the current key package and compute the new public key package.
pub fn refresh_dkg_shares(
    secret: &round2::SecretPackage,
    round1_packages: &BTreeMap<u16, round1::Package>,
    round2_packages: &BTreeMap<u16, round2::Package>,
    old_public: &PublicKeyPackage,
    old_key_package: &KeyPackage,
) -> Result<(KeyPackage, PublicKeyPackage)> {
    let me = own_number(secret.identifier())?;
    let min = *secret.min_signers();
    check_refresh_secret_commitment(secret.commitment().coefficients().len(), min)?;
    if old_key_package.identifier() != secret.identifier() {
        return Err(invalid_argument(
            "the key package belongs to another participant",
        ));
    }
    if *old_key_package.min_signers() != min || old_public.min_signers() != Some(min) {
        return Err(invalid_argument("a refresh cannot change the threshold"));
    }
    check_round1_packages(
        me,
        *secret.max_signers(),
        usize::from(min) - 1,
        round1_packages,
    )?;
    check_round2_senders(me, round1_packages, round2_packages)?;
    let outsiders: Vec<String> = round1_packages
        .keys()
        .chain(std::iter::once(&me))
        .filter(|&&n| {
            identifier(n)
                .map(|id| !old_public.verifying_shares().contains_key(&id))
                .unwrap_or(true)
        })
        .map(|n| n.to_string())
        .collect();
    if !outsiders.is_empty() {
        return Err(invalid_argument(format!(
            "participants not in the public key package: {}",
            outsiders.join(", ")
        )));
    }
    // frost-core reports a bad share of zero without naming its sender; check each one here.
    let mut culprits = Vec::new();
    for (&sender, package) in round2_packages {
        let commitment = &round1_packages
            .get(&sender)
            .ok_or_else(|| Error::new(ErrorCode::Internal, "round 1 package vanished"))?
            .commitment();
        let coefficients = std::iter::once(CoefficientCommitment::new(Ed25519Group::identity()))
            .chain(commitment.coefficients().iter().copied())
            .collect();
        let share = SecretShare::new(
            *secret.identifier(),
            *package.signing_share(),
            VerifiableSecretSharingCommitment::new(coefficients),
        );
        if share.verify().is_err() {
            culprits.push(sender);
        }
    }
    if !culprits.is_empty() {
        return Err(Error::invalid_share(
            "refreshing shares do not match their senders' commitments",
            culprits,
        ));
    }
    let (key_package, public) = frost_ed25519::keys::refresh::refresh_dkg_shares(
        secret,
        &by_identifier(round1_packages)?,
        &by_identifier(round2_packages)?,
        old_public.clone(),
        old_key_package.clone(),
    )
    .map_err(map_error)?;
    Ok((consistent(&key_package), public))
}
