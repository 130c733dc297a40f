//! The only source of randomness in the FROST core (and in the Noise channels): a ChaCha20
//! stream keyed by the caller's 32-byte seed.
//!
//! The stream key is `SHA-512(domain ‖ len(label) ‖ label ‖ seed)[..32]`, where the domain
//! names the component (`AURA-FROST-RNG-V1` here, `AURA-NOISE-RNG-V1` for Noise) and the label
//! the operation. The label separates the streams of different operations, so a seed that is
//! (wrongly) reused for, say, a DKG and a DKG-style refresh does not produce the same
//! polynomial coefficients in both. The same (domain, label, seed) always gives the same stream.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use super::{invalid_argument, SEED_LEN};
use crate::error::Result;

/// A seeded ChaCha20 RNG whose state is wiped when dropped.
pub struct SeededRng(ChaCha20Rng);

impl SeededRng {
    /// The stream for operation `label` under `seed` (exactly [`SEED_LEN`] bytes).
    pub fn new(label: &str, seed: &[u8]) -> Result<Self> {
        Self::in_domain(b"AURA-FROST-RNG-V1", label, seed)
    }

    /// The stream for operation `label` under `seed` in another component's `domain` (the
    /// Noise channels use `AURA-NOISE-RNG-V1`), so no two components ever share a stream.
    pub fn in_domain(domain: &[u8], label: &str, seed: &[u8]) -> Result<Self> {
        if seed.len() != SEED_LEN {
            return Err(invalid_argument(format!(
                "a seed is exactly {SEED_LEN} bytes, got {}",
                seed.len()
            )));
        }
        let mut hash = Sha512::new();
        hash.update(domain);
        hash.update([u8::try_from(label.len()).unwrap_or(u8::MAX)]);
        hash.update(label.as_bytes());
        hash.update(seed);
        let mut digest = hash.finalize();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest[..32]);
        let rng = ChaCha20Rng::from_seed(key);
        key.zeroize();
        digest.as_mut_slice().zeroize();
        Ok(SeededRng(rng))
    }
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl CryptoRng for SeededRng {}

impl Drop for SeededRng {
    fn drop(&mut self) {
        // The ChaCha20 state (key and buffered output) could regenerate every secret drawn
        // from it; overwrite it in place.
        // SAFETY: `self.0` is a valid, aligned, exclusive place; ChaCha20Rng has no Drop.
        unsafe { std::ptr::write_volatile(&mut self.0, ChaCha20Rng::from_seed([0u8; 32])) };
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_labels_separate() {
        let seed = [9u8; 32];
        let mut a = SeededRng::new("x", &seed).unwrap();
        let mut b = SeededRng::new("x", &seed).unwrap();
        let mut c = SeededRng::new("y", &seed).unwrap();
        let mut d = SeededRng::new("x", &[8u8; 32]).unwrap();
        let (x, y, z, w) = (a.next_u64(), b.next_u64(), c.next_u64(), d.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x, w);
    }

    #[test]
    fn seed_must_be_32_bytes() {
        assert!(SeededRng::new("x", &[0u8; 31]).is_err());
        assert!(SeededRng::new("x", &[0u8; 33]).is_err());
    }
}
