//! Tests of the FROST core: the RFC 9591 vector, signing, cheater detection, DKG, refresh,
//! repair, determinism, strict decoding, and the absence of OS randomness.

use std::collections::BTreeMap;

use frost_ed25519::keys::dkg::{round1, round2};
use frost_ed25519::keys::repairable::{Delta, Sigma};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SecretShare};
use frost_ed25519::round1::{SigningCommitments, SigningNonces};
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::SigningPackage;
use serde_json::Value;

use super::refresh::RefreshingShare;
use super::wire::{Tag, Wire};
use super::*;
use crate::error::{ErrorCode, Result};

const VECTOR: &str = include_str!("../../../tests/core/crypto/frost_rfc9591_ed25519.json");

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

type Group = (BTreeMap<u16, KeyPackage>, PublicKeyPackage);

fn dealer_group(min: u16, max: u16, n: u8) -> Group {
    let (shares, public) = keys::generate_with_dealer(min, max, &seed(n), None).unwrap();
    let packages = shares
        .iter()
        .map(|(&id, s)| (id, keys::key_package(s).unwrap()))
        .collect();
    (packages, public)
}

/// Round 1 and round 2 for `signers`; returns the signing package and every share.
fn sign_shares(
    packages: &BTreeMap<u16, KeyPackage>,
    signers: &[u16],
    message: &[u8],
    n: u8,
) -> (SigningPackage, BTreeMap<u16, SignatureShare>) {
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for &id in signers {
        let (nonce, commitment) = sign::commit(
            &packages[&id],
            &[
                n, id as u8, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                7, 7, 7, 7, 7, 7, 7,
            ],
        )
        .unwrap();
        nonces.insert(id, nonce);
        commitments.insert(id, commitment);
    }
    let package = sign::signing_package(&commitments, message).unwrap();
    let shares = signers
        .iter()
        .map(|&id| {
            (
                id,
                sign::sign(&package, &nonces[&id], &packages[&id]).unwrap(),
            )
        })
        .collect();
    (package, shares)
}

fn signature(group: &Group, signers: &[u16], message: &[u8], n: u8) -> Result<[u8; 64]> {
    let (package, shares) = sign_shares(&group.0, signers, message, n);
    sign::aggregate(&package, &shares, &group.1)
}

fn group_key(public: &PublicKeyPackage) -> [u8; 32] {
    element_bytes(public.verifying_key().serialize()).unwrap()
}

fn corrupt(share: &SignatureShare) -> SignatureShare {
    let mut bytes = share.serialize();
    bytes[0] ^= 1;
    SignatureShare::deserialize(&bytes).unwrap()
}

#[test]
fn rfc9591_e1_vector_reproduces_byte_for_byte() {
    let v: Value = serde_json::from_str(VECTOR).unwrap();
    let s = |path: &[&str]| -> Vec<u8> {
        let mut node = &v;
        for key in path {
            node = &node[*key];
        }
        hex(node.as_str().unwrap())
    };
    let secret = s(&["inputs", "group_secret_key"]);
    let coefficient = hex(v["inputs"]["share_polynomial_coefficients"][0]
        .as_str()
        .unwrap());
    let message = s(&["inputs", "message"]);
    let (shares, public) =
        keys::split_with_coefficients(&secret, &[&coefficient], 3, None).unwrap();
    assert_eq!(
        group_key(&public).to_vec(),
        s(&["inputs", "group_public_key"])
    );
    let mut packages = BTreeMap::new();
    for (id, share) in &shares {
        let key = id.to_string();
        assert_eq!(
            share.signing_share().serialize(),
            s(&["inputs", "participant_shares", key.as_str()])
        );
        packages.insert(*id, keys::key_package(share).unwrap());
    }
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for id in [1u16, 3] {
        let key = id.to_string();
        let r = |field: &str| s(&["round_one_outputs", key.as_str(), field]);
        let (nonce, commitment) = sign::commit_with_randomness(
            &packages[&id],
            &r("hiding_nonce_randomness"),
            &r("binding_nonce_randomness"),
        )
        .unwrap();
        assert_eq!(nonce.hiding().serialize(), r("hiding_nonce"));
        assert_eq!(nonce.binding().serialize(), r("binding_nonce"));
        assert_eq!(
            commitment.hiding().serialize().unwrap(),
            r("hiding_nonce_commitment")
        );
        assert_eq!(
            commitment.binding().serialize().unwrap(),
            r("binding_nonce_commitment")
        );
        nonces.insert(id, nonce);
        commitments.insert(id, commitment);
    }
    let package = sign::signing_package(&commitments, &message).unwrap();
    let factors = sign::binding_factors(&package, &public).unwrap();
    let preimages = package
        .binding_factor_preimages(public.verifying_key(), &[])
        .unwrap();
    for (id, preimage) in preimages {
        let key = number(&id).unwrap().to_string();
        assert_eq!(
            preimage,
            s(&["round_one_outputs", key.as_str(), "binding_factor_input"])
        );
    }
    let mut shares_out = BTreeMap::new();
    for id in [1u16, 3] {
        let key = id.to_string();
        assert_eq!(
            factors[&id].to_vec(),
            s(&["round_one_outputs", key.as_str(), "binding_factor"])
        );
        let share = sign::sign(&package, &nonces[&id], &packages[&id]).unwrap();
        assert_eq!(
            share.serialize(),
            s(&["round_two_outputs", key.as_str(), "sig_share"])
        );
        shares_out.insert(id, share);
    }
    let sig = sign::aggregate(&package, &shares_out, &public).unwrap();
    assert_eq!(to_hex(&sig), to_hex(&s(&["final_output", "sig"])));
    sign::verify(&group_key(&public), &message, &sig).unwrap();
}

#[test]
fn every_threshold_subset_signs() {
    let group = dealer_group(3, 5, 1);
    for signers in [[1u16, 2, 3], [1, 3, 5], [2, 4, 5], [3, 4, 5]] {
        let sig = signature(&group, &signers, b"hello", 2).unwrap();
        sign::verify(&group_key(&group.1), b"hello", &sig).unwrap();
        assert_eq!(
            sign::verify(&group_key(&group.1), b"hellO", &sig)
                .unwrap_err()
                .code,
            ErrorCode::InvalidSignature
        );
    }
    // More than the threshold also signs.
    let sig = signature(&group, &[1, 2, 3, 4, 5], b"all", 3).unwrap();
    sign::verify(&group_key(&group.1), b"all", &sig).unwrap();
}

#[test]
fn split_keeps_the_given_secret() {
    let secret = hex("7b1c33d3f5291d85de664833beb1ad469f7fb6025a0ec78b3a790c6e13a98304");
    let (shares, public) = keys::split(&secret, 2, 4, &seed(5), Some(&[10, 20, 30, 40])).unwrap();
    assert_eq!(
        to_hex(&group_key(&public)),
        "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673"
    );
    assert_eq!(
        shares.keys().copied().collect::<Vec<_>>(),
        vec![10, 20, 30, 40]
    );
    let packages = shares
        .iter()
        .map(|(&id, s)| (id, keys::key_package(s).unwrap()))
        .collect();
    let group = (packages, public);
    let sig = signature(&group, &[20, 40], b"m", 1).unwrap();
    sign::verify(&group_key(&group.1), b"m", &sig).unwrap();
    assert_eq!(
        keys::split(&[0u8; 32], 2, 3, &seed(1), None)
            .unwrap_err()
            .code,
        ErrorCode::MalformedKey
    );
    assert_eq!(
        keys::split(&[1u8; 31], 2, 3, &seed(1), None)
            .unwrap_err()
            .code,
        ErrorCode::MalformedKey
    );
}

#[test]
fn domain_errors() {
    let code = |r: Result<Dealt>| r.unwrap_err().code;
    use keys::Dealt;
    assert_eq!(
        code(keys::generate_with_dealer(1, 3, &seed(1), None)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(keys::generate_with_dealer(4, 3, &seed(1), None)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(keys::generate_with_dealer(2, 3, &[0u8; 31], None)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(keys::generate_with_dealer(2, 3, &seed(1), Some(&[1, 2]))),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(keys::generate_with_dealer(2, 3, &seed(1), Some(&[1, 2, 2]))),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(keys::generate_with_dealer(2, 3, &seed(1), Some(&[0, 1, 2]))),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn cheater_detection_names_exactly_the_cheaters() {
    let group = dealer_group(3, 5, 4);
    let (package, mut shares) = sign_shares(&group.0, &[1, 2, 4, 5], b"msg", 1);
    let honest = shares.clone();
    shares.insert(4, corrupt(&shares[&4]));
    let err = sign::aggregate(&package, &shares, &group.1).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidShare);
    assert_eq!(err.culprits, vec![4]);
    shares.insert(1, corrupt(&shares[&1]));
    let err = sign::aggregate(&package, &shares, &group.1).unwrap_err();
    assert_eq!(err.culprits, vec![1, 4]);
    // A share swapped in from another participant is just as wrong.
    let mut swapped = honest.clone();
    swapped.insert(2, honest[&5]);
    assert_eq!(
        sign::aggregate(&package, &swapped, &group.1)
            .unwrap_err()
            .culprits,
        vec![2]
    );
    sign::aggregate(&package, &honest, &group.1).unwrap();
}

#[test]
fn fewer_than_threshold_cannot_sign() {
    let group = dealer_group(3, 5, 6);
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for id in [1u16, 2] {
        let (n, c) = sign::commit(&group.0[&id], &seed(id as u8)).unwrap();
        nonces.insert(id, n);
        commitments.insert(id, c);
    }
    let package = sign::signing_package(&commitments, b"m").unwrap();
    let err = sign::sign(&package, &nonces[&1], &group.0[&1]).unwrap_err();
    assert_eq!(err.code, ErrorCode::InsufficientSigners);
    // Missing shares at aggregation.
    let (package, mut shares) = sign_shares(&group.0, &[1, 2, 3], b"m", 9);
    shares.remove(&3);
    let err = sign::aggregate(&package, &shares, &group.1).unwrap_err();
    assert_eq!(err.code, ErrorCode::InsufficientSigners);
}

#[test]
fn lowered_thresholds_still_cannot_forge() {
    // Even with key packages and a public key package whose recorded threshold was lowered,
    // t - 1 shares interpolate the wrong secret: aggregation fails as an invalid signature.
    let (mut packages, public) = dealer_group(3, 4, 8);
    for package in packages.values_mut() {
        *package = KeyPackage::new(
            *package.identifier(),
            *package.signing_share(),
            *package.verifying_share(),
            *package.verifying_key(),
            2,
        );
    }
    let lowered = PublicKeyPackage::new(
        public.verifying_shares().clone(),
        *public.verifying_key(),
        Some(2),
    );
    let group = (packages, lowered);
    let err = signature(&group, &[1, 2], b"m", 1).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSignature);
}

#[test]
fn sign_refuses_foreign_commitments() {
    let group = dealer_group(2, 3, 3);
    let (n1, c1) = sign::commit(&group.0[&1], &seed(1)).unwrap();
    let (_n2, c2) = sign::commit(&group.0[&2], &seed(2)).unwrap();
    let (_n3, c3) = sign::commit(&group.0[&3], &seed(3)).unwrap();
    let without_me = sign::signing_package(&BTreeMap::from([(2, c2), (3, c3)]), b"m").unwrap();
    assert_eq!(
        sign::sign(&without_me, &n1, &group.0[&1]).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    let other = sign::signing_package(&BTreeMap::from([(1, c3), (2, c2)]), b"m").unwrap();
    assert_eq!(
        sign::sign(&other, &n1, &group.0[&1]).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    let fine = sign::signing_package(&BTreeMap::from([(1, c1), (2, c2)]), b"m").unwrap();
    sign::sign(&fine, &n1, &group.0[&1]).unwrap();
}

fn run_dkg(
    min: u16,
    max: u16,
    n: u8,
) -> (BTreeMap<u16, KeyPackage>, BTreeMap<u16, PublicKeyPackage>) {
    let ids: Vec<u16> = (1..=max).collect();
    let round1: BTreeMap<u16, (round1::SecretPackage, round1::Package)> = ids
        .iter()
        .map(|&id| {
            (
                id,
                dkg::part1(
                    id,
                    min,
                    max,
                    &[
                        n, id as u8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                        1, 1, 1, 1, 1, 1, 1, 1, 1,
                    ],
                )
                .unwrap(),
            )
        })
        .collect();
    let received1 = |me: u16| -> BTreeMap<u16, round1::Package> {
        round1
            .iter()
            .filter(|(&id, _)| id != me)
            .map(|(&id, (_, p))| (id, p.clone()))
            .collect()
    };
    let round2: BTreeMap<u16, (round2::SecretPackage, BTreeMap<u16, round2::Package>)> = ids
        .iter()
        .map(|&id| (id, dkg::part2(&round1[&id].0, &received1(id)).unwrap()))
        .collect();
    let received2 = |me: u16| -> BTreeMap<u16, round2::Package> {
        round2
            .iter()
            .filter(|(&id, _)| id != me)
            .map(|(&id, (_, out))| (id, out[&me].clone()))
            .collect()
    };
    let mut keys = BTreeMap::new();
    let mut publics = BTreeMap::new();
    for &id in &ids {
        let (k, p) = dkg::part3(&round2[&id].0, &received1(id), &received2(id)).unwrap();
        keys.insert(id, k);
        publics.insert(id, p);
    }
    (keys, publics)
}

#[test]
fn dkg_agrees_and_signs() {
    let (keys, publics) = run_dkg(3, 5, 1);
    let first = publics[&1].clone();
    assert!(publics.values().all(|p| *p == first));
    let group = (keys, first);
    let sig = signature(&group, &[2, 3, 5], b"dkg", 4).unwrap();
    sign::verify(&group_key(&group.1), b"dkg", &sig).unwrap();
}

#[test]
fn dkg_blames_bad_proofs_and_bad_shares() {
    let (min, max) = (2u16, 3u16);
    let r1: BTreeMap<u16, _> = (1..=max)
        .map(|id| (id, dkg::part1(id, min, max, &seed(id as u8)).unwrap()))
        .collect();
    // Participant 2 broadcasts participant 3's package as its own: its proof fails.
    let mut to_1: BTreeMap<u16, round1::Package> =
        [(2, r1[&2].1.clone()), (3, r1[&3].1.clone())].into();
    to_1.insert(2, r1[&3].1.clone());
    let err = dkg::part2(&r1[&1].0, &to_1).unwrap_err();
    assert_eq!((err.code, err.culprits), (ErrorCode::InvalidShare, vec![2]));
    // Wrong number of packages.
    let err = dkg::part2(&r1[&1].0, &[(2, r1[&2].1.clone())].into()).unwrap_err();
    assert_eq!(err.code, ErrorCode::InsufficientSigners);
    // Participant 3 sends participant 1 the share meant for participant 2.
    let received = |me: u16| -> BTreeMap<u16, round1::Package> {
        r1.iter()
            .filter(|(&id, _)| id != me)
            .map(|(&id, (_, p))| (id, p.clone()))
            .collect()
    };
    let r2: BTreeMap<u16, _> = (1..=max)
        .map(|id| (id, dkg::part2(&r1[&id].0, &received(id)).unwrap()))
        .collect();
    let mut to_1: BTreeMap<u16, round2::Package> =
        [(2, r2[&2].1[&1].clone()), (3, r2[&3].1[&2].clone())].into();
    let err = dkg::part3(&r2[&1].0, &received(1), &to_1).unwrap_err();
    assert_eq!((err.code, err.culprits), (ErrorCode::InvalidShare, vec![3]));
    to_1.insert(3, r2[&3].1[&1].clone());
    dkg::part3(&r2[&1].0, &received(1), &to_1).unwrap();
}

#[test]
fn dealer_refresh_keeps_the_key_and_retires_old_shares() {
    let (old, public) = dealer_group(2, 3, 11);
    let (zero, new_public) =
        refresh::compute_refreshing_shares(&public, &[1, 2, 3], &seed(12)).unwrap();
    assert_eq!(group_key(&new_public), group_key(&public));
    let new: BTreeMap<u16, KeyPackage> = zero
        .iter()
        .map(|(&id, z)| (id, refresh::refresh_share(z, &old[&id]).unwrap()))
        .collect();
    for (id, package) in &new {
        assert_ne!(package.signing_share(), old[id].signing_share());
        let bytes = package.encode().unwrap();
        assert_eq!(KeyPackage::decode(&bytes).unwrap(), *package);
    }
    let group = (new.clone(), new_public.clone());
    let sig = signature(&group, &[1, 3], b"r", 1).unwrap();
    sign::verify(&group_key(&new_public), b"r", &sig).unwrap();
    // One old and one new share do not combine.
    let mixed = (
        [(1, old[&1].clone()), (3, new[&3].clone())].into(),
        new_public,
    );
    let err = signature(&mixed, &[1, 3], b"r", 2).unwrap_err();
    assert_eq!((err.code, err.culprits), (ErrorCode::InvalidShare, vec![1]));
}

#[test]
fn dkg_refresh_keeps_the_key_and_retires_old_shares() {
    let (old, publics) = run_dkg(2, 3, 21);
    let public = publics[&1].clone();
    let ids = [1u16, 2, 3];
    let r1: BTreeMap<u16, _> = ids
        .iter()
        .map(|&id| {
            (
                id,
                refresh::refresh_dkg_part1(id, 2, 3, &seed(30 + id as u8)).unwrap(),
            )
        })
        .collect();
    let received1 = |me: u16| -> BTreeMap<u16, round1::Package> {
        r1.iter()
            .filter(|(&id, _)| id != me)
            .map(|(&id, (_, p))| (id, p.clone()))
            .collect()
    };
    let r2: BTreeMap<u16, _> = ids
        .iter()
        .map(|&id| {
            (
                id,
                refresh::refresh_dkg_part2(&r1[&id].0, &received1(id)).unwrap(),
            )
        })
        .collect();
    let received2 = |me: u16| -> BTreeMap<u16, round2::Package> {
        r2.iter()
            .filter(|(&id, _)| id != me)
            .map(|(&id, (_, out))| (id, out[&me].clone()))
            .collect()
    };
    let mut new = BTreeMap::new();
    let mut new_publics = Vec::new();
    for &id in &ids {
        let (k, p) = refresh::refresh_dkg_shares(
            &r2[&id].0,
            &received1(id),
            &received2(id),
            &public,
            &old[&id],
        )
        .unwrap();
        assert_eq!(group_key(&p), group_key(&public));
        new.insert(id, k);
        new_publics.push(p);
    }
    assert!(new_publics.iter().all(|p| *p == new_publics[0]));
    let new_public = new_publics[0].clone();
    let group = (new.clone(), new_public.clone());
    sign::verify(
        &group_key(&public),
        b"x",
        &signature(&group, &[2, 3], b"x", 5).unwrap(),
    )
    .unwrap();
    let mixed = (
        [(2, new[&2].clone()), (3, old[&3].clone())].into(),
        new_public,
    );
    assert_eq!(
        signature(&mixed, &[2, 3], b"x", 6).unwrap_err().culprits,
        vec![3]
    );
    // A bad share of zero is blamed on its sender.
    let mut bad = received2(1);
    bad.insert(2, r2[&2].1[&3].clone());
    let err =
        refresh::refresh_dkg_shares(&r2[&1].0, &received1(1), &bad, &public, &old[&1]).unwrap_err();
    assert_eq!((err.code, err.culprits), (ErrorCode::InvalidShare, vec![2]));
}

#[test]
fn repair_restores_a_lost_share() {
    let (packages, public) = dealer_group(3, 5, 40);
    let helpers = [1u16, 3, 4];
    let deltas: BTreeMap<u16, BTreeMap<u16, Delta>> = helpers
        .iter()
        .map(|&h| {
            (
                h,
                repair::repair_share_part1(&helpers, &packages[&h], &seed(h as u8), 2).unwrap(),
            )
        })
        .collect();
    let sigmas: Vec<Sigma> = helpers
        .iter()
        .map(|&h| {
            let received: Vec<Delta> = helpers.iter().map(|&from| deltas[&from][&h]).collect();
            repair::repair_share_part2(&received).unwrap()
        })
        .collect();
    let restored = repair::repair_share_part3(&sigmas, 2, &public).unwrap();
    assert_eq!(restored, packages[&2]);
    let mut group = (packages, public.clone());
    group.0.insert(2, restored);
    sign::verify(
        &group_key(&public),
        b"y",
        &signature(&group, &[2, 4, 5], b"y", 3).unwrap(),
    )
    .unwrap();
    // Missing a sigma, or a wrong one, does not restore the share.
    assert_eq!(
        repair::repair_share_part3(&sigmas[..2], 2, &public)
            .unwrap_err()
            .code,
        ErrorCode::InsufficientSigners
    );
    let partial: Vec<Delta> = helpers[..2].iter().map(|&from| deltas[&from][&1]).collect();
    let wrong = [
        sigmas[0],
        sigmas[1],
        repair::repair_share_part2(&partial).unwrap(),
    ];
    assert_eq!(
        repair::repair_share_part3(&wrong, 2, &public)
            .unwrap_err()
            .code,
        ErrorCode::InvalidShare
    );
    // The same sigma or delta twice would be counted twice: refused as such.
    let twice = [sigmas[0], sigmas[1], sigmas[1]];
    assert_eq!(
        repair::repair_share_part3(&twice, 2, &public)
            .unwrap_err()
            .code,
        ErrorCode::InvalidArgument
    );
    let twice = [deltas[&1][&1], deltas[&3][&1], deltas[&1][&1]];
    assert_eq!(
        repair::repair_share_part2(&twice).err().unwrap().code,
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        repair::repair_share_part1(&[1, 2, 3], &group.0[&1], &seed(1), 2)
            .err()
            .unwrap()
            .code,
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        repair::repair_share_part1(&[1, 3], &group.0[&1], &seed(1), 2)
            .err()
            .unwrap()
            .code,
        ErrorCode::InsufficientSigners
    );
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let encode_all = |n: u8| -> Vec<Vec<u8>> {
        let (shares, public) = keys::generate_with_dealer(2, 3, &seed(n), None).unwrap();
        let mut out: Vec<Vec<u8>> = shares
            .values()
            .map(|s| s.encode().unwrap().to_vec())
            .collect();
        out.push(public.encode().unwrap().to_vec());
        let (packages, public) = dealer_group(2, 3, n);
        let (package, shares) = sign_shares(&packages, &[1, 2], b"det", n);
        out.push(package.encode().unwrap().to_vec());
        out.extend(shares.values().map(|s| s.serialize()));
        out.push(
            sign::aggregate(&package, &shares, &public)
                .unwrap()
                .to_vec(),
        );
        let (keys, publics) = run_dkg(2, 3, n);
        out.extend(keys.values().map(|k| k.encode().unwrap().to_vec()));
        out.push(publics[&1].encode().unwrap().to_vec());
        out
    };
    let a = encode_all(1);
    assert_eq!(a, encode_all(1));
    let b = encode_all(2);
    for (x, y) in a.iter().zip(&b) {
        assert_ne!(x, y);
    }
}

fn check_malformed<T: Wire>(valid: &[u8]) {
    T::decode(valid).unwrap();
    let mut longer = valid.to_vec();
    longer.push(0);
    assert_eq!(
        T::decode(&longer).err().unwrap().code,
        ErrorCode::Malformed,
        "{}",
        T::TAG.name()
    );
    for cut in [0, 1, valid.len() / 2, valid.len() - 1] {
        assert_eq!(
            T::decode(&valid[..cut]).err().unwrap().code,
            ErrorCode::Malformed,
            "{}",
            T::TAG.name()
        );
    }
    // Deterministic pseudo-random garbage of many lengths never panics.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..200usize {
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        if let Err(err) = T::decode(&garbage) {
            assert_eq!(err.code, ErrorCode::Malformed, "{}", T::TAG.name());
        }
        // Every single-byte change of a valid encoding is either rejected or still canonical.
        let mut flipped = valid.to_vec();
        let at = len % flipped.len();
        flipped[at] ^= garbage.first().copied().unwrap_or(1) | 1;
        if let Err(err) = T::decode(&flipped) {
            assert_eq!(err.code, ErrorCode::Malformed, "{}", T::TAG.name());
        }
    }
}

#[test]
fn every_decoder_rejects_malformed_bytes() {
    let (shares, public) = keys::generate_with_dealer(2, 3, &seed(1), None).unwrap();
    let package = keys::key_package(&shares[&1]).unwrap();
    let (nonces, commitments) = sign::commit(&package, &seed(2)).unwrap();
    let signing = sign::signing_package(&[(1, commitments)].into(), b"m").unwrap();
    let share = sign::sign(&signing, &nonces, &package);
    assert!(share.is_err()); // one commitment < threshold
    let (_, shares2) = sign_shares(&dealer_group(2, 3, 1).0, &[1, 2], b"m", 1);
    let (s1, p1) = dkg::part1(1, 2, 3, &seed(3)).unwrap();
    let (s2, p2) = dkg::part1(2, 2, 3, &seed(4)).unwrap();
    let (_, p3) = dkg::part1(3, 2, 3, &seed(5)).unwrap();
    let (r2secret, r2packages) =
        dkg::part2(&s1, &[(2, p2.clone()), (3, p3.clone())].into()).unwrap();
    let (packages, public2) = dealer_group(3, 4, 2);
    let deltas = repair::repair_share_part1(&[1, 2, 3], &packages[&1], &seed(6), 4).unwrap();
    let sigma = repair::repair_share_part2(&deltas.values().copied().collect::<Vec<_>>()).unwrap();
    let (zero, _) = refresh::compute_refreshing_shares(&public2, &[1, 2, 3], &seed(7)).unwrap();
    let _ = s2;

    check_malformed::<SecretShare>(&shares[&1].encode().unwrap());
    check_malformed::<RefreshingShare>(&zero[&1].encode().unwrap());
    check_malformed::<KeyPackage>(&package.encode().unwrap());
    check_malformed::<PublicKeyPackage>(&public.encode().unwrap());
    check_malformed::<SigningNonces>(&nonces.encode().unwrap());
    check_malformed::<SigningCommitments>(&commitments.encode().unwrap());
    check_malformed::<SigningPackage>(&signing.encode().unwrap());
    check_malformed::<SignatureShare>(&shares2[&1].encode().unwrap());
    check_malformed::<round1::SecretPackage>(&s1.encode().unwrap());
    check_malformed::<round1::Package>(&p1.encode().unwrap());
    check_malformed::<round2::SecretPackage>(&r2secret.encode().unwrap());
    check_malformed::<round2::Package>(&r2packages[&2].encode().unwrap());
    check_malformed::<Delta>(&deltas[&2].encode().unwrap());
    check_malformed::<Sigma>(&sigma.encode().unwrap());
}

#[test]
fn decoders_reject_values_that_would_make_frost_panic() {
    let (s1, _) = dkg::part1(1, 2, 3, &seed(3)).unwrap();
    let bytes = s1.encode().unwrap().to_vec();
    assert_eq!(bytes[0], Tag::DkgRound1Secret as u8);
    // The encoding ends with min_signers and max_signers (one varint byte each here).
    let n = bytes.len();
    assert_eq!(&bytes[n - 2..], &[2, 3]);
    for (min, max) in [(2u8, 0u8), (2, 1), (0, 3), (1, 3), (3, 3), (3, 2)] {
        let mut bad = bytes.clone();
        bad[n - 2] = min;
        bad[n - 1] = max;
        assert_eq!(
            round1::SecretPackage::decode(&bad).unwrap_err().code,
            ErrorCode::Malformed,
            "min {min} max {max}"
        );
    }
    // A key package whose verifying share does not match its signing share (after the tag and
    // the 5-byte ZF header: identifier, signing share, verifying share, ...).
    let (group, _) = dealer_group(2, 3, 7);
    let mut bad = group[&1].encode().unwrap().to_vec();
    let other = group[&2].verifying_share().serialize().unwrap();
    bad[6 + 64..6 + 96].copy_from_slice(&other);
    assert_eq!(
        KeyPackage::decode(&bad).unwrap_err().code,
        ErrorCode::Malformed
    );
    // An identifier that is not a small integer.
    let mut bad = group[&1].encode().unwrap().to_vec();
    bad[6 + 20] = 1;
    assert_eq!(
        KeyPackage::decode(&bad).unwrap_err().code,
        ErrorCode::Malformed
    );
}

/// One encoding of every wire type, from a 3-of-4 group: with a threshold of 3 a share of zero
/// has two coefficients, like a dealt share of a 2-of-n key, and its body is a valid one.
fn every_type_encoded() -> Vec<(Tag, Vec<u8>)> {
    let (shares, public) = keys::generate_with_dealer(3, 4, &seed(50), None).unwrap();
    let package = keys::key_package(&shares[&1]).unwrap();
    let (nonces, commitments) = sign::commit(&package, &seed(51)).unwrap();
    let (group, _) = dealer_group(3, 4, 50);
    let (signing, signature_shares) = sign_shares(&group, &[1, 2, 3], b"tags", 52);
    let (s1, p1) = dkg::part1(1, 3, 4, &seed(53)).unwrap();
    let others: BTreeMap<u16, round1::Package> = (2..=4u16)
        .map(|id| (id, dkg::part1(id, 3, 4, &seed(53 + id as u8)).unwrap().1))
        .collect();
    let (s2, p2) = dkg::part2(&s1, &others).unwrap();
    let (zero, _) = refresh::compute_refreshing_shares(&public, &[1, 2, 3, 4], &seed(58)).unwrap();
    let deltas = repair::repair_share_part1(&[1, 2, 3], &package, &seed(59), 4).unwrap();
    let sigma = repair::repair_share_part2(&deltas.values().copied().collect::<Vec<_>>()).unwrap();
    let bytes = |encoded: Result<zeroize::Zeroizing<Vec<u8>>>| encoded.unwrap().to_vec();
    vec![
        (Tag::SecretShare, bytes(shares[&1].encode())),
        (Tag::RefreshingShare, bytes(zero[&1].encode())),
        (Tag::KeyPackage, bytes(package.encode())),
        (Tag::PublicKeyPackage, bytes(public.encode())),
        (Tag::SigningNonces, bytes(nonces.encode())),
        (Tag::SigningCommitments, bytes(commitments.encode())),
        (Tag::SigningPackage, bytes(signing.encode())),
        (Tag::SignatureShare, bytes(signature_shares[&1].encode())),
        (Tag::DkgRound1Secret, bytes(s1.encode())),
        (Tag::DkgRound1Package, bytes(p1.encode())),
        (Tag::DkgRound2Secret, bytes(s2.encode())),
        (Tag::DkgRound2Package, bytes(p2[&2].encode())),
        (Tag::Delta, bytes(deltas[&2].encode())),
        (Tag::Sigma, bytes(sigma.encode())),
    ]
}

/// Decode `bytes` as the type `tag` stands for.
fn decode_as(tag: Tag, bytes: &[u8]) -> Result<()> {
    match tag {
        Tag::SecretShare => SecretShare::decode(bytes).map(drop),
        Tag::RefreshingShare => RefreshingShare::decode(bytes).map(drop),
        Tag::KeyPackage => KeyPackage::decode(bytes).map(drop),
        Tag::PublicKeyPackage => PublicKeyPackage::decode(bytes).map(drop),
        Tag::SigningNonces => SigningNonces::decode(bytes).map(drop),
        Tag::SigningCommitments => SigningCommitments::decode(bytes).map(drop),
        Tag::SigningPackage => SigningPackage::decode(bytes).map(drop),
        Tag::SignatureShare => SignatureShare::decode(bytes).map(drop),
        Tag::DkgRound1Secret => round1::SecretPackage::decode(bytes).map(drop),
        Tag::DkgRound1Package => round1::Package::decode(bytes).map(drop),
        Tag::DkgRound2Secret => round2::SecretPackage::decode(bytes).map(drop),
        Tag::DkgRound2Package => round2::Package::decode(bytes).map(drop),
        Tag::Delta => Delta::decode(bytes).map(drop),
        Tag::Sigma => Sigma::decode(bytes).map(drop),
    }
}

#[test]
fn bytes_of_one_type_never_decode_as_another() {
    let samples = every_type_encoded();
    let tags: Vec<Tag> = samples.iter().map(|(tag, _)| *tag).collect();
    assert_eq!(tags, Tag::ALL.to_vec());
    for (i, tag) in Tag::ALL.iter().enumerate() {
        assert_eq!(Tag::of(*tag as u8), Some(*tag));
        assert!(Tag::ALL[i + 1..]
            .iter()
            .all(|other| *other as u8 > *tag as u8));
    }
    assert_eq!(Tag::of(0), None);
    for (source, bytes) in &samples {
        assert_eq!(bytes[0], *source as u8);
        for target in Tag::ALL {
            match decode_as(target, bytes) {
                Ok(()) => assert_eq!(target, *source),
                Err(err) => {
                    assert_ne!(target, *source, "{}", err.message);
                    assert_eq!(err.code, ErrorCode::Malformed);
                    assert!(err.message.contains(source.name()), "{}", err.message);
                }
            }
            // The untagged body is refused by every decoder, its own included.
            assert_eq!(
                decode_as(target, &bytes[1..]).unwrap_err().code,
                ErrorCode::Malformed
            );
        }
        let mut unknown = bytes.clone();
        unknown[0] = 0xff;
        assert_eq!(
            decode_as(*source, &unknown).unwrap_err().code,
            ErrorCode::Malformed
        );
    }
}

#[test]
fn a_share_of_zero_is_not_a_dealt_share() {
    // The reported case: with t >= 3, participant 1's share of zero used to decode as a dealt
    // share that `key_package` accepted (at x = 1 the shifted commitment still verifies).
    for (min, max) in [(3u16, 3u16), (3, 5), (4, 4)] {
        let (_, public) = keys::generate_with_dealer(min, max, &seed(60), None).unwrap();
        let ids: Vec<u16> = (1..=max).collect();
        let (zero, _) = refresh::compute_refreshing_shares(&public, &ids, &seed(61)).unwrap();
        let bytes = zero[&1].encode().unwrap();
        let err = SecretShare::decode(&bytes).unwrap_err();
        assert_eq!(err.code, ErrorCode::Malformed);
        assert_eq!(RefreshingShare::decode(&bytes).unwrap(), zero[&1]);
    }
    let (shares, _) = keys::generate_with_dealer(3, 3, &seed(62), None).unwrap();
    let bytes = shares[&1].encode().unwrap();
    assert_eq!(
        RefreshingShare::decode(&bytes).unwrap_err().code,
        ErrorCode::Malformed
    );
}

#[test]
fn per_participant_refuses_a_participant_listed_twice() {
    let map = per_participant("x", [(2u16, 'a'), (1, 'b')]).unwrap();
    assert_eq!(map, [(1, 'b'), (2, 'a')].into());
    for entries in [
        vec![(1u16, 'a'), (2, 'b'), (1, 'c')],
        vec![(3, 'a'), (3, 'a')],
    ] {
        let err = per_participant("shares", entries.clone()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        let n = entries[0].0;
        assert!(err.message.contains(&format!("shares: participant {n} ")));
    }
}

type Part1 = fn(u16, u16, u16, &[u8]) -> Result<dkg::Round1>;

fn rejected(secret: &round1::SecretPackage) -> ErrorCode {
    round1::SecretPackage::decode(&secret.encode().unwrap())
        .unwrap_err()
        .code
}

#[test]
fn round1_secrets_must_agree_with_their_commitments() {
    let (dkg_secret, _) = dkg::part1(1, 3, 4, &seed(70)).unwrap();
    for part1 in [dkg::part1 as Part1, refresh::refresh_dkg_part1] {
        let (a, _) = part1(2, 3, 4, &seed(71)).unwrap();
        let (b, _) = part1(2, 3, 4, &seed(72)).unwrap();
        assert_eq!(
            round1::SecretPackage::decode(&a.encode().unwrap()).unwrap(),
            a
        );
        let rebuilt = |coefficients: Vec<Scalar>, commitment| {
            round1::SecretPackage::new(*a.identifier(), coefficients, commitment, 3, 4)
        };
        // Another polynomial's commitment.
        let spliced = rebuilt(a.coefficients(), b.commitment().clone());
        assert_eq!(rejected(&spliced), ErrorCode::Malformed);
        // One coefficient changed (the last one, committed to in both kinds of secret).
        let mut coefficients = a.coefficients();
        coefficients[2] = b.coefficients()[2];
        let changed = rebuilt(coefficients, a.commitment().clone());
        assert_eq!(rejected(&changed), ErrorCode::Malformed);
        // The untouched secret still decodes: nothing was changed by the refusals.
        assert_eq!(rebuilt(a.coefficients(), a.commitment().clone()), a);
    }
    // A refresh polynomial deals shares of zero: a non-zero constant term is refused although
    // the commitment (which omits the constant term) matches.
    let (refreshing, _) = refresh::refresh_dkg_part1(2, 3, 4, &seed(73)).unwrap();
    let mut coefficients = refreshing.coefficients();
    coefficients[0] = dkg_secret.coefficients()[0];
    let nonzero = round1::SecretPackage::new(
        *refreshing.identifier(),
        coefficients,
        refreshing.commitment().clone(),
        3,
        4,
    );
    assert_eq!(rejected(&nonzero), ErrorCode::Malformed);
}

#[test]
fn round2_secrets_must_agree_with_their_commitments() {
    let others = |part1: Part1| -> BTreeMap<u16, round1::Package> {
        (2..=3u16)
            .map(|id| (id, part1(id, 2, 3, &seed(80 + id as u8)).unwrap().1))
            .collect()
    };
    for (part1, part2) in [
        (
            dkg::part1 as Part1,
            dkg::part2 as fn(&_, &_) -> Result<dkg::Round2>,
        ),
        (refresh::refresh_dkg_part1, refresh::refresh_dkg_part2),
    ] {
        let (s1, _) = part1(1, 2, 3, &seed(84)).unwrap();
        let (secret, _) = part2(&s1, &others(part1)).unwrap();
        let (other, _) = part2(&part1(1, 2, 3, &seed(85)).unwrap().0, &others(part1)).unwrap();
        let decode =
            |s: &round2::SecretPackage| round2::SecretPackage::decode(&s.encode().unwrap());
        assert_eq!(decode(&secret).unwrap(), secret);
        let rebuilt = |commitment, share| {
            round2::SecretPackage::new(*secret.identifier(), commitment, share, 2, 3)
        };
        let shifted = rebuilt(
            secret.commitment().clone(),
            secret.secret_share()
                + <frost_ed25519::Ed25519ScalarField as frost_ed25519::Field>::one(),
        );
        assert_eq!(decode(&shifted).unwrap_err().code, ErrorCode::Malformed);
        let spliced = rebuilt(other.commitment().clone(), secret.secret_share());
        assert_eq!(decode(&spliced).unwrap_err().code, ErrorCode::Malformed);
    }
}

#[test]
fn guarded_turns_panics_into_internal_errors() {
    let err = guarded::<()>(|| panic!("boom")).unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(!err.message.contains("boom"));
}

/// No source file of this crate may name an OS randomness API.
#[test]
fn no_os_randomness_in_sources() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 5);
    let banned = [
        "OsRng",
        "thread_rng",
        "getrandom",
        "from_entropy",
        "rand::random",
        "ThreadRng",
        // ring's OS randomness (`ring::rand::SystemRandom`), the one path to its getrandom:
        "SystemRandom",
        "ring::rand",
        // biscuit-auth entry points that draw their key pairs from the OS:
        "KeyPair::new(",
        ".append(",
        ".build(",
        "append_third_party(",
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in banned {
            // This test names the words itself, in the list above.
            if file.ends_with("frost/tests.rs") {
                continue;
            }
            assert!(!text.contains(word), "{} mentions {word}", file.display());
        }
    }
}

/// `getrandom` is linked only because biscuit-auth depends on it (and turns on rand_core's
/// `getrandom` feature, which features unify across the graph) and because ring depends on it
/// unconditionally for `ring::rand::SystemRandom` (we use only ring's AEAD). No other crate may
/// start using it; `no_os_randomness_in_sources` keeps every entry point that would read it out
/// of our code, and the determinism tests show the paths we call draw only from the caller's
/// seeds.
#[test]
fn getrandom_comes_only_through_biscuit_auth() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree", "--locked", "--features", "python", "--target", "all", "-e", "normal",
            "--invert", "getrandom", "--prefix", "depth", "-f", "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8(output.stdout).unwrap();
    let mut direct: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.strip_prefix('1'))
        .filter_map(|line| line.split(' ').next())
        .collect();
    direct.sort_unstable();
    direct.dedup();
    assert_eq!(direct, ["biscuit-auth", "rand_core", "ring"], "{tree}");
}
