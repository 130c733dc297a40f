//! Distributed key generation (Pedersen DKG with proofs of knowledge, RFC 9591 companion
//! construction as implemented by the ZF crates), parts 1 to 3.
//!
//! Round-1 packages go to every other participant over a broadcast channel; each round-2
//! package goes to its one recipient over an authenticated, confidential channel.

use std::collections::{BTreeMap, BTreeSet};

use frost_ed25519::keys::dkg::{round1, round2};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage};

use super::rng::SeededRng;
use super::{
    by_identifier, by_number, check_thresholds, identifier, insufficient, invalid_argument,
    map_error, number, Identifier,
};
use crate::error::{Error, ErrorCode, Result};

/// A participant's round-1 secret and the package it broadcasts.
pub type Round1 = (round1::SecretPackage, round1::Package);
/// A participant's round-2 secret and one package per other participant.
pub type Round2 = (round2::SecretPackage, BTreeMap<u16, round2::Package>);

pub(crate) fn own_number(id: &Identifier) -> Result<u16> {
    number(id).ok_or_else(|| Error::new(ErrorCode::Internal, "identifier outside 1..=65535"))
}

fn list(numbers: impl IntoIterator<Item = u16>) -> String {
    numbers
        .into_iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check the round-1 packages a participant received: one from every other participant, each
/// with a commitment of `commitment_len` coefficients (a sender whose commitment has another
/// length is blamed).
pub(crate) fn check_round1_packages(
    me: u16,
    max_signers: u16,
    commitment_len: usize,
    packages: &BTreeMap<u16, round1::Package>,
) -> Result<()> {
    if packages.contains_key(&me) {
        return Err(invalid_argument(format!(
            "the round 1 packages must come from the other participants, not from {me} itself"
        )));
    }
    let others = usize::from(max_signers).saturating_sub(1);
    if packages.len() < others {
        return Err(insufficient(format!(
            "expected {others} round 1 packages (one from every other participant), got {}",
            packages.len()
        )));
    }
    if packages.len() > others {
        return Err(invalid_argument(format!(
            "expected {others} round 1 packages (one from every other participant), got {}",
            packages.len()
        )));
    }
    let bad: Vec<u16> = packages
        .iter()
        .filter(|(_, package)| package.commitment().coefficients().len() != commitment_len)
        .map(|(&n, _)| n)
        .collect();
    if !bad.is_empty() {
        return Err(Error::invalid_share(
            format!(
                "round 1 packages from {} commit to a polynomial of the wrong degree",
                list(bad.iter().copied())
            ),
            bad,
        ));
    }
    Ok(())
}

/// Check that round-2 packages came from exactly the senders of the round-1 packages.
pub(crate) fn check_round2_senders<A, B>(
    me: u16,
    round1_packages: &BTreeMap<u16, A>,
    round2_packages: &BTreeMap<u16, B>,
) -> Result<()> {
    if round2_packages.contains_key(&me) {
        return Err(invalid_argument(format!(
            "the round 2 packages must come from the other participants, not from {me} itself"
        )));
    }
    let expected: BTreeSet<u16> = round1_packages.keys().copied().collect();
    let got: BTreeSet<u16> = round2_packages.keys().copied().collect();
    let missing: Vec<u16> = expected.difference(&got).copied().collect();
    if !missing.is_empty() {
        return Err(insufficient(format!(
            "missing round 2 packages from {}",
            list(missing)
        )));
    }
    let extra: Vec<u16> = got.difference(&expected).copied().collect();
    if !extra.is_empty() {
        return Err(invalid_argument(format!(
            "round 2 packages from participants without a round 1 package: {}",
            list(extra)
        )));
    }
    Ok(())
}

/// Part 1: participant `me` of a `min_signers`-of-`max_signers` group draws its polynomial from
/// `seed` and commits to it, with a proof of knowledge of the constant term.
pub fn part1(me: u16, min_signers: u16, max_signers: u16, seed: &[u8]) -> Result<Round1> {
    check_thresholds(min_signers, max_signers)?;
    let id = identifier(me)?;
    let mut rng = SeededRng::new("dkg-part1", seed)?;
    frost_ed25519::keys::dkg::part1(id, max_signers, min_signers, &mut rng).map_err(map_error)
}

/// Part 2: check every other participant's proof of knowledge (a bad one is blamed on its
/// sender) and compute the secret share for each of them.
pub fn part2(
    secret: &round1::SecretPackage,
    round1_packages: &BTreeMap<u16, round1::Package>,
) -> Result<Round2> {
    let me = own_number(secret.identifier())?;
    let min = usize::from(*secret.min_signers());
    if secret.commitment().coefficients().len() != min {
        return Err(invalid_argument(
            "this round 1 secret belongs to a DKG-style refresh",
        ));
    }
    check_round1_packages(me, *secret.max_signers(), min, round1_packages)?;
    let (secret, packages) =
        frost_ed25519::keys::dkg::part2(secret.clone(), &by_identifier(round1_packages)?)
            .map_err(map_error)?;
    Ok((secret, by_number(packages)?))
}

/// Part 3: verify the received shares against their senders' commitments (a bad one is blamed
/// on its sender) and derive this participant's key package and the group's public key package.
pub fn part3(
    secret: &round2::SecretPackage,
    round1_packages: &BTreeMap<u16, round1::Package>,
    round2_packages: &BTreeMap<u16, round2::Package>,
) -> Result<(KeyPackage, PublicKeyPackage)> {
    let me = own_number(secret.identifier())?;
    let min = usize::from(*secret.min_signers());
    if secret.commitment().coefficients().len() != min {
        return Err(invalid_argument(
            "this round 2 secret belongs to a DKG-style refresh",
        ));
    }
    check_round1_packages(me, *secret.max_signers(), min, round1_packages)?;
    check_round2_senders(me, round1_packages, round2_packages)?;
    frost_ed25519::keys::dkg::part3(
        secret,
        &by_identifier(round1_packages)?,
        &by_identifier(round2_packages)?,
    )
    .map_err(|err| {
        let mut mapped = map_error(err);
        if mapped.code == ErrorCode::InvalidShare {
            mapped.message = format!(
                "round 2 shares from {} do not match their senders' commitments",
                list(mapped.culprits.iter().copied())
            );
        }
        mapped
    })
}
