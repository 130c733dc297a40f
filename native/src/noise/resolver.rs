//! The primitives snow runs our one pattern with: a seeded RNG, X25519 that refuses low-order
//! results, ChaCha20-Poly1305 (ring's) whose keys are wiped, and snow's own BLAKE2s.
//!
//! snow's default resolver would draw ephemeral keys from the operating system (through a
//! cargo feature of snow we do not enable), keeps private and cipher keys in plain arrays that
//! are never wiped, and does not check X25519 outputs. The DH and cipher here are the same
//! computations as snow's (`Dh25519`, `CipherChaChaPoly` in `resolvers/default.rs`, the test
//! `our_primitives_match_snows` compares transcripts), with those three things changed. The
//! cipher runs on ring's ChaCha20-Poly1305 (BoringSSL's assembly), which seals a 1 KiB
//! message several times faster than the RustCrypto crate snow wraps (docs/decisions.md).

use std::cell::Cell;

use curve25519_dalek::montgomery::MontgomeryPoint;
use rand_core::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use zeroize::Zeroize;

use crate::frost::rng::SeededRng;

const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// Resolves the primitives of `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s` and nothing else. It
/// hands out its RNG once: snow asks for it once per handshake.
pub(crate) struct Resolver {
    rng: Cell<Option<SeededRng>>,
}

impl Resolver {
    pub(crate) fn new(rng: SeededRng) -> Self {
        Resolver {
            rng: Cell::new(Some(rng)),
        }
    }
}

impl CryptoResolver for Resolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        self.rng
            .take()
            .map(|rng| Box::new(NoiseRng(rng)) as Box<dyn Random>)
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        match choice {
            DHChoice::Curve25519 => Some(Box::new(X25519::default())),
            _ => None,
        }
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        match choice {
            // Hash state holds only transient values (snow's HMAC keeps its own copies of the
            // chaining key on the stack), so snow's BLAKE2s is used as is.
            HashChoice::Blake2s => DefaultResolver.resolve_hash(choice),
            _ => None,
        }
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        match choice {
            CipherChoice::ChaChaPoly => Some(Box::new(ChaChaPoly::default())),
            _ => None,
        }
    }
}

/// snow's `Random` over the seeded ChaCha20 stream (wiped when dropped, see [`SeededRng`]).
struct NoiseRng(SeededRng);

impl Random for NoiseRng {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// X25519 (RFC 7748). A private key is any 32 bytes (clamped when used); a DH whose result is
/// all zero, which is what every low-order public key gives, fails with `Error::Dh`, so snow
/// aborts the handshake instead of mixing a key an attacker can predict.
#[derive(Default)]
pub(crate) struct X25519 {
    private: [u8; KEY_LEN],
    public: [u8; KEY_LEN],
}

impl X25519 {
    /// The all-zero check is on a value that is about to become public either way (the
    /// handshake fails or goes on), so a plain comparison leaks nothing.
    pub(crate) fn shared(private: &[u8; KEY_LEN], public: &[u8; KEY_LEN]) -> Option<[u8; KEY_LEN]> {
        let shared = MontgomeryPoint(*public).mul_clamped(*private).to_bytes();
        if shared == [0u8; KEY_LEN] {
            None
        } else {
            Some(shared)
        }
    }

    pub(crate) fn public_of(private: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
        MontgomeryPoint::mul_base_clamped(*private).to_bytes()
    }
}

impl Dh for X25519 {
    fn name(&self) -> &'static str {
        "25519"
    }

    fn pub_len(&self) -> usize {
        KEY_LEN
    }

    fn priv_len(&self) -> usize {
        KEY_LEN
    }

    fn set(&mut self, privkey: &[u8]) {
        // Callers pass exactly 32 bytes (checked before snow sees them); copy no more.
        let n = privkey.len().min(KEY_LEN);
        self.private = [0u8; KEY_LEN];
        self.private[..n].copy_from_slice(&privkey[..n]);
        self.public = Self::public_of(&self.private);
    }

    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        rng.try_fill_bytes(&mut self.private)?;
        self.public = Self::public_of(&self.private);
        Ok(())
    }

    fn pubkey(&self) -> &[u8] {
        &self.public
    }

    fn privkey(&self) -> &[u8] {
        &self.private
    }

    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        let public: [u8; KEY_LEN] = pubkey
            .get(..KEY_LEN)
            .and_then(|p| p.try_into().ok())
            .ok_or(snow::Error::Dh)?;
        let mut shared = Self::shared(&self.private, &public).ok_or(snow::Error::Dh)?;
        let target = out.get_mut(..KEY_LEN).ok_or(snow::Error::Dh)?;
        target.copy_from_slice(&shared);
        shared.zeroize();
        Ok(())
    }
}

impl Drop for X25519 {
    fn drop(&mut self) {
        self.private.zeroize();
    }
}

/// ChaCha20-Poly1305 (RFC 8439) with Noise's nonce layout: 32 zero bits, then the 64-bit
/// counter little-endian.
#[derive(Default)]
struct ChaChaPoly {
    key: [u8; KEY_LEN],
}

impl ChaChaPoly {
    fn nonce(n: u64) -> Nonce {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&n.to_le_bytes());
        // Unique per key: snow's counter never repeats under one key (it refuses to wrap).
        Nonce::assume_unique_for_key(nonce)
    }

    /// ring's key object for one call. It is built from our wiped array each time rather than
    /// kept, because ring does not wipe its keys: the only long-lived copy stays ours. Building
    /// one is a 32-byte copy for ChaCha20.
    fn aead(&self) -> LessSafeKey {
        // `new` fails only for a key of the wrong length, which the array type rules out.
        LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &self.key)
                .expect("a 32-byte ChaCha20-Poly1305 key"),
        )
    }
}

impl Cipher for ChaChaPoly {
    fn name(&self) -> &'static str {
        "ChaChaPoly"
    }

    fn set(&mut self, key: &[u8; KEY_LEN]) {
        self.key.copy_from_slice(key);
    }

    fn encrypt(&self, nonce: u64, authtext: &[u8], plaintext: &[u8], out: &mut [u8]) -> usize {
        // snow sizes `out` to hold plaintext and tag before calling.
        let len = plaintext.len();
        out[..len].copy_from_slice(plaintext);
        match self.aead().seal_in_place_separate_tag(
            Self::nonce(nonce),
            Aad::from(authtext),
            &mut out[..len],
        ) {
            Ok(tag) => {
                out[len..len + TAG_LEN].copy_from_slice(tag.as_ref());
                len + TAG_LEN
            }
            // Only a message over 256 GiB fails; snow never passes one. Write nothing usable.
            Err(_) => {
                out[..len].zeroize();
                0
            }
        }
    }

    fn decrypt(
        &self,
        nonce: u64,
        authtext: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, snow::Error> {
        let len = ciphertext
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(snow::Error::Decrypt)?;
        let (body, tag) = ciphertext.split_at(len);
        let tag = Tag::try_from(tag).map_err(|_| snow::Error::Decrypt)?;
        let target = out.get_mut(..len).ok_or(snow::Error::Decrypt)?;
        target.copy_from_slice(body);
        let opened = self
            .aead()
            .open_in_place_separate_tag(Self::nonce(nonce), Aad::from(authtext), tag, target, 0..)
            .is_ok();
        if !opened {
            // ring leaves the buffer in an unspecified state on failure; hand back no plaintext.
            target.zeroize();
            return Err(snow::Error::Decrypt);
        }
        Ok(len)
    }

    /// Noise's REKEY (§4.2): the first 32 bytes of ENCRYPT(k, 2^64 − 1, "", zeros), with the
    /// intermediate buffers wiped.
    fn rekey(&mut self) {
        let mut block = [0u8; KEY_LEN + TAG_LEN];
        let zeros = [0u8; KEY_LEN];
        let written = self.encrypt(u64::MAX, &[], &zeros, &mut block);
        if written == KEY_LEN + TAG_LEN {
            self.key.copy_from_slice(&block[..KEY_LEN]);
        }
        block.zeroize();
    }
}

impl Drop for ChaChaPoly {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}
