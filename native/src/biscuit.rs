//! Deterministic minting and attenuation of Biscuit capability tokens.
//!
//! Biscuit signs each block with a fresh key pair. biscuit-python always draws those from the
//! operating system, so tokens made in a seeded simulation would differ from run to run. Here
//! every key pair comes from a ChaCha20 RNG seeded by the caller; parsing, signature checks and
//! authorization stay in biscuit-python (the same biscuit-auth 6.0.0 underneath).

use std::collections::HashMap;

use biscuit_auth::builder::Term;
use biscuit_auth::{Algorithm, Biscuit, BiscuitBuilder, BlockBuilder, KeyPair, PrivateKey, PublicKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::error::{Error, ErrorCode, Result};

/// A Datalog parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    Str(String),
    Int(i64),
}

fn params(values: Vec<(String, Param)>) -> HashMap<String, Term> {
    values
        .into_iter()
        .map(|(name, value)| {
            let term = match value {
                Param::Str(s) => Term::Str(s),
                Param::Int(i) => Term::Integer(i),
            };
            (name, term)
        })
        .collect()
}

fn rng(seed: &[u8]) -> Result<ChaCha20Rng> {
    let seed: [u8; 32] = seed.try_into().map_err(|_| Error::length("rng seed", 32, seed.len()))?;
    Ok(ChaCha20Rng::from_seed(seed))
}

fn token_error(err: biscuit_auth::error::Token) -> Error {
    Error::new(ErrorCode::InvalidToken, format!("{err}"))
}

/// Mint a token whose authority block is `code` (with `values` bound to its parameters),
/// signed by the Ed25519 key derived from `root_seed`.
pub fn mint(root_seed: &[u8], code: &str, values: Vec<(String, Param)>, rng_seed: &[u8]) -> Result<Vec<u8>> {
    let root_seed: [u8; 32] =
        root_seed.try_into().map_err(|_| Error::length("root seed", 32, root_seed.len()))?;
    let private = PrivateKey::from_bytes(&root_seed, Algorithm::Ed25519).map_err(|e| {
        Error::new(ErrorCode::Malformed, format!("root key: {e}"))
    })?;
    let root = KeyPair::from(&private);
    let builder = BiscuitBuilder::new()
        .code_with_params(code, params(values), HashMap::new())
        .map_err(token_error)?;
    let token = builder
        .build_with_rng(&root, biscuit_auth::datalog::SymbolTable::new(), &mut rng(rng_seed)?)
        .map_err(token_error)?;
    token.to_vec().map_err(token_error)
}

/// Verify `token` against `root_public_key` and append a block made of `code`.
pub fn attenuate(
    token: &[u8],
    root_public_key: &[u8],
    code: &str,
    values: Vec<(String, Param)>,
    rng_seed: &[u8],
) -> Result<Vec<u8>> {
    let root = PublicKey::from_bytes(root_public_key, Algorithm::Ed25519)
        .map_err(|e| Error::new(ErrorCode::InvalidPublicKey, format!("root key: {e}")))?;
    let parsed = Biscuit::from(token, root).map_err(token_error)?;
    let block = BlockBuilder::new()
        .code_with_params(code, params(values), HashMap::new())
        .map_err(token_error)?;
    let next = KeyPair::new_with_rng(Algorithm::Ed25519, &mut rng(rng_seed)?);
    let extended = parsed.append_with_keypair(&next, block).map_err(token_error)?;
    extended.to_vec().map_err(token_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "authority({a}); capability(\"chat:send\");";

    fn values() -> Vec<(String, Param)> {
        vec![("a".to_string(), Param::Str("alice".to_string()))]
    }

    #[test]
    fn same_seeds_same_bytes() {
        let a = mint(&[1; 32], CODE, values(), &[2; 32]).unwrap();
        let b = mint(&[1; 32], CODE, values(), &[2; 32]).unwrap();
        let c = mint(&[1; 32], CODE, values(), &[3; 32]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let root = PublicKey::from_bytes(
            &crate::ed25519::public_key(&[1; 32]).unwrap(),
            Algorithm::Ed25519,
        )
        .unwrap();
        let t1 = attenuate(&a, &root.to_bytes(), "check if operation(\"chat:send\");", vec![], &[4; 32]).unwrap();
        let t2 = attenuate(&a, &root.to_bytes(), "check if operation(\"chat:send\");", vec![], &[4; 32]).unwrap();
        assert_eq!(t1, t2);
        assert_eq!(Biscuit::from(&t1[..], root).unwrap().block_count(), 2);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(mint(&[1; 31], CODE, values(), &[2; 32]).unwrap_err().code, ErrorCode::Malformed);
        assert_eq!(mint(&[1; 32], "not datalog(", vec![], &[2; 32]).unwrap_err().code, ErrorCode::InvalidToken);
        assert_eq!(mint(&[1; 32], CODE, vec![], &[2; 32]).unwrap_err().code, ErrorCode::InvalidToken);
        let token = mint(&[1; 32], CODE, values(), &[2; 32]).unwrap();
        let wrong_root = crate::ed25519::public_key(&[9; 32]).unwrap();
        assert_eq!(attenuate(&token, &wrong_root, "check if true;", vec![], &[4; 32]).unwrap_err().code, ErrorCode::InvalidToken);
        assert_eq!(attenuate(&token[1..], &wrong_root, "check if true;", vec![], &[4; 32]).unwrap_err().code, ErrorCode::InvalidToken);
    }
}
