//! Single-signer Ed25519 (RFC 8032) for 1-of-1 authorities, device keys and
//! receipts.
//!
//! Verification uses `verify_strict`: it rejects non-canonical `S`, weak
//! (small-order) public keys and small-order `R`, which matches libsodium's
//! `crypto_sign_verify_detached` on every input a test has found.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::error::{Error, ErrorCode, Result};

pub const SEED_LEN: usize = 32;
pub const PUBLIC_KEY_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;

fn fixed<const N: usize>(what: &str, bytes: &[u8]) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| Error::length(what, N, bytes.len()))
}

fn signing_key(seed: &[u8]) -> Result<SigningKey> {
    // `SigningKey` zeroizes its secret scalar and seed when dropped.
    let mut raw: [u8; SEED_LEN] = fixed("seed", seed)?;
    let key = SigningKey::from_bytes(&raw);
    zeroize::Zeroize::zeroize(&mut raw);
    Ok(key)
}

/// The public key of the signing key derived from a 32-byte seed.
pub fn public_key(seed: &[u8]) -> Result<[u8; PUBLIC_KEY_LEN]> {
    Ok(signing_key(seed)?.verifying_key().to_bytes())
}

/// Sign `message` with the key derived from `seed` (deterministic, RFC 8032).
pub fn sign(seed: &[u8], message: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
    Ok(signing_key(seed)?.sign(message).to_bytes())
}

/// Parse and check a public key: it must be a canonical, non-weak point.
pub fn parse_public_key(public_key: &[u8]) -> Result<VerifyingKey> {
    let raw: [u8; PUBLIC_KEY_LEN] = fixed("public key", public_key)?;
    let key = VerifyingKey::from_bytes(&raw)
        .map_err(|_| Error::new(ErrorCode::InvalidPublicKey, "public key is not a curve point"))?;
    if key.is_weak() {
        return Err(Error::new(ErrorCode::InvalidPublicKey, "public key has small order"));
    }
    Ok(key)
}

/// Verify `signature` over `message` under `public_key`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    let key = parse_public_key(public_key)?;
    let raw: [u8; SIGNATURE_LEN] = fixed("signature", signature)?;
    let sig = Signature::from_bytes(&raw);
    key.verify_strict(message, &sig)
        .map_err(|_| Error::new(ErrorCode::InvalidSignature, "signature does not verify"))
}

/// The fewest items worth a thread of their own (a verification takes tens of microseconds,
/// starting a thread a few).
const MIN_CHUNK: usize = 8;

/// Verify many (public key, message, signature) triples, each on its own, spread over up to
/// `threads` OS threads (the calling thread takes the first share). Returns one result per
/// item, in order; a malformed item is `false`.
///
/// Each distinct public key is parsed (decompressed and checked) once per call, since ingest
/// batches are signed by few keys and decompression is a good part of a verification.
pub fn verify_many(items: &[(&[u8], &[u8], &[u8])], threads: usize) -> Vec<bool> {
    let mut parsed: HashMap<&[u8], Option<VerifyingKey>> = HashMap::new();
    for (pk, _, _) in items {
        parsed.entry(pk).or_insert_with(|| parse_public_key(pk).ok());
    }
    let check = |(pk, msg, sig): &(&[u8], &[u8], &[u8])| -> bool {
        let Some(Some(key)) = parsed.get(pk) else { return false };
        let Ok(raw) = <[u8; SIGNATURE_LEN]>::try_from(*sig) else { return false };
        key.verify_strict(msg, &Signature::from_bytes(&raw)).is_ok()
    };
    let threads = threads.clamp(1, 16);
    let chunk = items.len().div_ceil(threads).max(MIN_CHUNK);
    if items.len() <= chunk {
        return items.iter().map(check).collect();
    }
    let mut results = vec![false; items.len()];
    std::thread::scope(|scope| {
        let mut shares = items.chunks(chunk).zip(results.chunks_mut(chunk));
        let here = shares.next();
        for (inputs, outputs) in shares {
            let check = &check;
            scope.spawn(move || {
                for (item, out) in inputs.iter().zip(outputs.iter_mut()) {
                    *out = check(item);
                }
            });
        }
        if let Some((inputs, outputs)) = here {
            for (item, out) in inputs.iter().zip(outputs.iter_mut()) {
                *out = check(item);
            }
        }
    });
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte).
    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc8032_test_1() {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let pk = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let sig = hex(concat!(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155",
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ));
        assert_eq!(public_key(&seed).unwrap().to_vec(), pk);
        assert_eq!(sign(&seed, b"").unwrap().to_vec(), sig);
        verify(&pk, b"", &sig).unwrap();
    }

    #[test]
    fn rfc8032_test_2() {
        let seed = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
        let pk = hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
        let sig = hex(concat!(
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da",
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ));
        assert_eq!(public_key(&seed).unwrap().to_vec(), pk);
        assert_eq!(sign(&seed, &[0x72]).unwrap().to_vec(), sig);
        verify(&pk, &[0x72], &sig).unwrap();
    }

    #[test]
    fn tampered_inputs_fail() {
        let seed = [7u8; 32];
        let pk = public_key(&seed).unwrap();
        let sig = sign(&seed, b"msg").unwrap();
        assert_eq!(verify(&pk, b"msh", &sig).unwrap_err().code, ErrorCode::InvalidSignature);
        let mut bad = sig;
        bad[0] ^= 1;
        assert_eq!(verify(&pk, b"msg", &bad).unwrap_err().code, ErrorCode::InvalidSignature);
        assert_eq!(verify(&pk[..31], b"msg", &sig).unwrap_err().code, ErrorCode::Malformed);
        assert_eq!(verify(&pk, b"msg", &sig[..63]).unwrap_err().code, ErrorCode::Malformed);
        assert_eq!(sign(&seed[..5], b"m").unwrap_err().code, ErrorCode::Malformed);
    }

    #[test]
    fn verify_many_matches_single_verification() {
        let keys: Vec<[u8; 32]> = (0..300u32).map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            seed
        }).collect();
        let pks: Vec<[u8; 32]> = keys.iter().map(|k| public_key(k).unwrap()).collect();
        let mut sigs: Vec<[u8; 64]> = keys.iter().map(|k| sign(k, b"m").unwrap()).collect();
        sigs[7][3] ^= 1;
        sigs[250][40] ^= 1;
        let items: Vec<(&[u8], &[u8], &[u8])> = pks
            .iter()
            .zip(&sigs)
            .map(|(pk, sig)| (&pk[..], &b"m"[..], &sig[..]))
            .collect();
        let mut with_malformed = items.clone();
        with_malformed[9].0 = &b"short"[..];
        for threads in [1, 2, 4] {
            let got = verify_many(&with_malformed, threads);
            let expected: Vec<bool> = (0..300).map(|i| i != 7 && i != 250 && i != 9).collect();
            assert_eq!(got, expected);
            // Small batches too: one share, two shares, a short last share.
            for len in [1, 8, 9, 17] {
                let got = verify_many(&with_malformed[..len], threads);
                assert_eq!(got, expected[..len].to_vec());
            }
        }
    }

    #[test]
    fn weak_public_key_is_rejected() {
        // The identity point (0, 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(parse_public_key(&identity).unwrap_err().code, ErrorCode::InvalidPublicKey);
    }
}
