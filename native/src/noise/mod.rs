//! Secure channels: `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s` over snow, sans-IO.
//!
//! The initiator knows the responder's static key in advance (IK) and both hold a pre-shared
//! key mixed in at the end of message 2 (psk2):
//!
//! ```text
//! initiator                                   responder
//! Initiator::new(s, rs, psk, prologue, seed)  Responder::new(s, prologue, seed)
//! write_first(payload)   --- 96 B + payload --->  read_first() -> (initiator static, payload)
//!                                               (look the caller up, choose the PSK)
//! read_second() -> (payload, Channel)  <--- 48 B + payload --- write_second(psk, payload)
//! ```
//!
//! Rules, in the same spirit as the FROST core:
//!
//! * **No hidden randomness.** Ephemeral keys come from a ChaCha20 stream of the caller's
//!   32-byte seed ([`SeededRng`], domain `AURA-NOISE-RNG-V1`); the same inputs give the same
//!   bytes, handshake hash included.
//! * **No panics from input.** snow silently zero-pads short keys and panics on long ones, so
//!   every key, PSK and seed is checked to be exactly 32 bytes first, and every message and
//!   payload against Noise's 65535-byte limit.
//! * **Low-order keys are refused.** Our X25519 ([`resolver::X25519`]) fails on an all-zero
//!   shared secret, which is exactly what a low-order public key gives; an initiator also
//!   checks the responder's static key when it is built.
//! * **Single use, fail closed.** A handshake object runs once, in order; a call in the wrong
//!   order is refused and leaves it as it was, but a message that does not authenticate ends
//!   it (the connection it came on is broken). A channel that fails to decrypt is closed.
//! * **Secrets are wiped.** Static and ephemeral private keys, cipher keys and the RNG state
//!   are zeroized on drop. snow 0.10 itself keeps the chaining key, handshake hash and its copy
//!   of the PSK in plain arrays it never wipes; those live only as long as the handshake.

pub mod resolver;
pub mod wire;

#[cfg(test)]
mod tests;

use snow::{Builder, HandshakeState, TransportState};
use zeroize::Zeroize;

use crate::error::{Error, ErrorCode, Result};
use crate::frost::rng::SeededRng;
use rand_core::RngCore;
use resolver::{Resolver, X25519};

/// The one Noise protocol this module speaks.
pub const PATTERN: &str = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// Bytes of an X25519 key (private or public), a PSK and a seed.
pub const KEY_LEN: usize = 32;
pub const PSK_LEN: usize = 32;
pub const SEED_LEN: usize = 32;
/// Bytes of the handshake hash (BLAKE2s).
pub const HASH_LEN: usize = 32;
/// Bytes of the authentication tag on every encrypted payload.
pub const TAG_LEN: usize = 16;
/// The largest Noise message (handshake or transport).
pub const MAX_MESSAGE_LEN: usize = 65535;
/// The largest plaintext of one transport message.
pub const MAX_PLAINTEXT_LEN: usize = MAX_MESSAGE_LEN - TAG_LEN;
/// Message 1 is `e` (32), encrypted `s` (32 + 16), then the encrypted payload (+ 16).
pub const FIRST_OVERHEAD: usize = 96;
/// Message 2 is `e` (32), then the encrypted payload (+ 16).
pub const SECOND_OVERHEAD: usize = 48;
/// The largest payload of message 1 and of message 2.
pub const MAX_FIRST_PAYLOAD: usize = MAX_MESSAGE_LEN - FIRST_OVERHEAD;
pub const MAX_SECOND_PAYLOAD: usize = MAX_MESSAGE_LEN - SECOND_OVERHEAD;

const RNG_DOMAIN: &[u8] = b"AURA-NOISE-RNG-V1";
/// The PSK slot of IKpsk2 (the end of message 2).
const PSK_SLOT: u8 = 2;

fn key_array(what: &str, bytes: &[u8]) -> Result<[u8; KEY_LEN]> {
    bytes.try_into().map_err(|_| {
        Error::new(
            ErrorCode::MalformedKey,
            format!("{what} must be {KEY_LEN} bytes, got {}", bytes.len()),
        )
    })
}

fn state_error(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::NoiseState, message)
}

fn too_large(what: &str, limit: usize, got: usize) -> Error {
    Error::new(
        ErrorCode::InvalidArgument,
        format!("{what} is at most {limit} bytes, got {got}"),
    )
}

fn handshake_failed(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::NoiseHandshake, message)
}

/// A snow failure while reading or writing a handshake message. Every reachable one is the
/// peer's fault (or an attacker's); the handshake ends.
fn handshake_error(err: snow::Error) -> Error {
    match err {
        snow::Error::Decrypt => handshake_failed(
            "handshake message does not authenticate (wrong PSK or static key, or tampered)",
        ),
        snow::Error::Dh => handshake_failed("handshake carries a low-order public key"),
        snow::Error::Input => handshake_failed("handshake message has the wrong length"),
        other => Error::new(ErrorCode::Internal, format!("noise handshake: {other}")),
    }
}

/// A device's static X25519 key pair. The private key is derived from a 32-byte seed (the
/// first 32 bytes of the `static-key` stream of that seed), so a seed used by mistake for
/// another kind of key still gives an unrelated X25519 key; the seed is what gets stored.
pub struct StaticKeypair {
    seed: [u8; SEED_LEN],
    private: [u8; KEY_LEN],
    public: [u8; KEY_LEN],
}

impl StaticKeypair {
    pub fn from_seed(seed: &[u8]) -> Result<Self> {
        let mut rng = SeededRng::in_domain(RNG_DOMAIN, "static-key", seed)?;
        let mut private = [0u8; KEY_LEN];
        rng.fill_bytes(&mut private);
        let public = X25519::public_of(&private);
        let mut stored = [0u8; SEED_LEN];
        stored.copy_from_slice(seed);
        Ok(StaticKeypair {
            seed: stored,
            private,
            public,
        })
    }

    /// A key pair with this exact private key (for known-answer tests).
    #[cfg(test)]
    pub(crate) fn from_private(private: [u8; KEY_LEN]) -> Self {
        StaticKeypair {
            seed: [0u8; SEED_LEN],
            private,
            public: X25519::public_of(&private),
        }
    }

    pub fn public(&self) -> [u8; KEY_LEN] {
        self.public
    }

    pub fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }
}

impl Drop for StaticKeypair {
    fn drop(&mut self) {
        self.seed.zeroize();
        self.private.zeroize();
    }
}

struct Settings<'a> {
    local: &'a StaticKeypair,
    remote_static: Option<&'a [u8; KEY_LEN]>,
    psk: Option<&'a [u8; PSK_LEN]>,
    prologue: &'a [u8],
    rng: SeededRng,
    #[cfg(test)]
    fixed_ephemeral: Option<&'a [u8; KEY_LEN]>,
}

fn build(settings: Settings<'_>, initiator: bool) -> Result<Box<HandshakeState>> {
    let internal =
        |err: snow::Error| Error::new(ErrorCode::Internal, format!("noise setup: {err}"));
    let params = PATTERN.parse().map_err(internal)?;
    let mut builder = Builder::with_resolver(params, Box::new(Resolver::new(settings.rng)))
        .local_private_key(&settings.local.private)
        .and_then(|b| b.prologue(settings.prologue))
        .map_err(internal)?;
    if let Some(remote) = settings.remote_static {
        builder = builder.remote_public_key(remote).map_err(internal)?;
    }
    if let Some(psk) = settings.psk {
        builder = builder.psk(PSK_SLOT, psk).map_err(internal)?;
    }
    #[cfg(test)]
    if let Some(e) = settings.fixed_ephemeral {
        builder = builder.fixed_ephemeral_key_for_testing_only(e);
    }
    let state = if initiator {
        builder.build_initiator()
    } else {
        builder.build_responder()
    };
    state.map(Box::new).map_err(internal)
}

/// Finish a handshake whose last message was just read or written.
fn into_channel(state: Box<HandshakeState>, remote_static: [u8; KEY_LEN]) -> Result<Channel> {
    let internal = |what: &str| Error::new(ErrorCode::Internal, format!("noise: {what}"));
    if !state.is_handshake_finished() {
        return Err(internal("handshake not finished after message 2"));
    }
    let handshake_hash: [u8; HASH_LEN] = state
        .get_handshake_hash()
        .try_into()
        .map_err(|_| internal("handshake hash is not 32 bytes"))?;
    let transport = state
        .into_transport_mode()
        .map_err(|_| internal("cannot enter transport mode"))?;
    Ok(Channel {
        transport: Some(Box::new(transport)),
        handshake_hash,
        remote_static,
    })
}

fn check_seed(seed: &[u8]) -> Result<()> {
    if seed.len() != SEED_LEN {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("a seed is exactly {SEED_LEN} bytes, got {}", seed.len()),
        ));
    }
    Ok(())
}

enum InitiatorStage {
    WriteFirst(Box<HandshakeState>, [u8; KEY_LEN]),
    ReadSecond(Box<HandshakeState>, [u8; KEY_LEN]),
    Finished,
    Failed,
}

/// The initiator's side of one handshake: `write_first`, then `read_second`, once each.
pub struct Initiator {
    stage: InitiatorStage,
}

impl Initiator {
    /// `remote_static` is the responder's static public key; `psk` the key the two share;
    /// `prologue` bytes both sides must agree on (a version string); `seed` feeds the
    /// ephemeral key. A low-order `remote_static` is refused here (`MalformedKey`).
    pub fn new(
        local: &StaticKeypair,
        remote_static: &[u8],
        psk: &[u8],
        prologue: &[u8],
        seed: &[u8],
    ) -> Result<Self> {
        let remote = key_array("the remote static key", remote_static)?;
        let mut psk = key_array("a PSK", psk)?;
        check_seed(seed)?;
        if X25519::shared(&local.private, &remote).is_none() {
            psk.zeroize();
            return Err(Error::new(
                ErrorCode::MalformedKey,
                "the remote static key is a low-order point",
            ));
        }
        let built = build(
            Settings {
                local,
                remote_static: Some(&remote),
                psk: Some(&psk),
                prologue,
                rng: SeededRng::in_domain(RNG_DOMAIN, "initiator-ephemeral", seed)?,
                #[cfg(test)]
                fixed_ephemeral: None,
            },
            true,
        );
        psk.zeroize();
        Ok(Initiator {
            stage: InitiatorStage::WriteFirst(built?, remote),
        })
    }

    #[cfg(test)]
    pub(crate) fn with_fixed_ephemeral(
        local: &StaticKeypair,
        remote: &[u8; KEY_LEN],
        psk: &[u8; PSK_LEN],
        prologue: &[u8],
        ephemeral: &[u8; KEY_LEN],
    ) -> Self {
        let state = build(
            Settings {
                local,
                remote_static: Some(remote),
                psk: Some(psk),
                prologue,
                rng: SeededRng::in_domain(RNG_DOMAIN, "test", &[0u8; 32]).unwrap(),
                fixed_ephemeral: Some(ephemeral),
            },
            true,
        )
        .unwrap();
        Initiator {
            stage: InitiatorStage::WriteFirst(state, *remote),
        }
    }

    /// Message 1, carrying `payload` (encrypted to the responder's static key, but replayable
    /// and without forward secrecy: put nothing in it that may not be seen twice).
    pub fn write_first(&mut self, payload: &[u8]) -> Result<Vec<u8>> {
        if !matches!(self.stage, InitiatorStage::WriteFirst(..)) {
            return Err(state_error("message 1 was already written"));
        }
        if payload.len() > MAX_FIRST_PAYLOAD {
            return Err(too_large(
                "the payload of message 1",
                MAX_FIRST_PAYLOAD,
                payload.len(),
            ));
        }
        let InitiatorStage::WriteFirst(mut state, remote) =
            std::mem::replace(&mut self.stage, InitiatorStage::Failed)
        else {
            return Err(state_error("message 1 was already written"));
        };
        let mut message = vec![0u8; FIRST_OVERHEAD + payload.len()];
        let written = state
            .write_message(payload, &mut message)
            .map_err(handshake_error)?;
        message.truncate(written);
        self.stage = InitiatorStage::ReadSecond(state, remote);
        Ok(message)
    }

    /// Read message 2: its payload and the channel. A message that does not authenticate (the
    /// responder used another PSK, is not the holder of the static key, or the bytes were
    /// changed) raises `NoiseHandshake` and ends this handshake.
    pub fn read_second(&mut self, message: &[u8]) -> Result<(Vec<u8>, Channel)> {
        match self.stage {
            InitiatorStage::ReadSecond(..) => {}
            InitiatorStage::WriteFirst(..) => {
                return Err(state_error(
                    "message 1 must be written before message 2 is read",
                ))
            }
            InitiatorStage::Finished => return Err(state_error("the handshake is finished")),
            InitiatorStage::Failed => return Err(state_error("the handshake failed")),
        }
        let InitiatorStage::ReadSecond(mut state, remote) =
            std::mem::replace(&mut self.stage, InitiatorStage::Failed)
        else {
            return Err(state_error("the handshake failed"));
        };
        if message.len() < SECOND_OVERHEAD || message.len() > MAX_MESSAGE_LEN {
            return Err(handshake_failed(format!(
                "message 2 is {} bytes, outside {SECOND_OVERHEAD}..={MAX_MESSAGE_LEN}",
                message.len()
            )));
        }
        let mut payload = vec![0u8; message.len() - SECOND_OVERHEAD];
        let read = state
            .read_message(message, &mut payload)
            .map_err(handshake_error)?;
        payload.truncate(read);
        let channel = into_channel(state, remote)?;
        self.stage = InitiatorStage::Finished;
        Ok((payload, channel))
    }
}

enum ResponderStage {
    ReadFirst(Box<HandshakeState>),
    WriteSecond(Box<HandshakeState>, [u8; KEY_LEN]),
    Finished,
    Failed,
}

/// The responder's side of one handshake: `read_first`, then `write_second`, once each.
pub struct Responder {
    stage: ResponderStage,
}

impl Responder {
    pub fn new(local: &StaticKeypair, prologue: &[u8], seed: &[u8]) -> Result<Self> {
        check_seed(seed)?;
        let state = build(
            Settings {
                local,
                remote_static: None,
                psk: None,
                prologue,
                rng: SeededRng::in_domain(RNG_DOMAIN, "responder-ephemeral", seed)?,
                #[cfg(test)]
                fixed_ephemeral: None,
            },
            false,
        )?;
        Ok(Responder {
            stage: ResponderStage::ReadFirst(state),
        })
    }

    #[cfg(test)]
    pub(crate) fn with_fixed_ephemeral(
        local: &StaticKeypair,
        prologue: &[u8],
        ephemeral: &[u8; KEY_LEN],
    ) -> Self {
        let state = build(
            Settings {
                local,
                remote_static: None,
                psk: None,
                prologue,
                rng: SeededRng::in_domain(RNG_DOMAIN, "test", &[0u8; 32]).unwrap(),
                fixed_ephemeral: Some(ephemeral),
            },
            false,
        )
        .unwrap();
        Responder {
            stage: ResponderStage::ReadFirst(state),
        }
    }

    /// Read message 1: the initiator's static public key and its payload. Nothing is proven
    /// about the initiator yet beyond holding that static key (and message 1 may be a replay):
    /// look the key up, choose the PSK, and only then answer with `write_second`.
    pub fn read_first(&mut self, message: &[u8]) -> Result<([u8; KEY_LEN], Vec<u8>)> {
        if !matches!(self.stage, ResponderStage::ReadFirst(..)) {
            return Err(state_error(match self.stage {
                ResponderStage::Failed => "the handshake failed",
                _ => "message 1 was already read",
            }));
        }
        let ResponderStage::ReadFirst(mut state) =
            std::mem::replace(&mut self.stage, ResponderStage::Failed)
        else {
            return Err(state_error("message 1 was already read"));
        };
        if message.len() < FIRST_OVERHEAD || message.len() > MAX_MESSAGE_LEN {
            return Err(handshake_failed(format!(
                "message 1 is {} bytes, outside {FIRST_OVERHEAD}..={MAX_MESSAGE_LEN}",
                message.len()
            )));
        }
        let mut payload = vec![0u8; message.len() - FIRST_OVERHEAD];
        let read = state
            .read_message(message, &mut payload)
            .map_err(handshake_error)?;
        payload.truncate(read);
        let remote = state
            .get_remote_static()
            .and_then(|k| <[u8; KEY_LEN]>::try_from(k).ok())
            .ok_or_else(|| {
                Error::new(ErrorCode::Internal, "no remote static key after message 1")
            })?;
        self.stage = ResponderStage::WriteSecond(state, remote);
        Ok((remote, payload))
    }

    /// Message 2 under `psk`, and the channel. The responder learns whether the initiator
    /// holds the same PSK only when the first transport message from it decrypts; until then
    /// it must not act on anything (which it cannot: nothing else decrypts).
    pub fn write_second(&mut self, psk: &[u8], payload: &[u8]) -> Result<(Vec<u8>, Channel)> {
        match self.stage {
            ResponderStage::WriteSecond(..) => {}
            ResponderStage::ReadFirst(..) => {
                return Err(state_error(
                    "message 1 must be read before message 2 is written",
                ))
            }
            ResponderStage::Finished => return Err(state_error("the handshake is finished")),
            ResponderStage::Failed => return Err(state_error("the handshake failed")),
        }
        let mut psk = key_array("a PSK", psk)?;
        if payload.len() > MAX_SECOND_PAYLOAD {
            psk.zeroize();
            return Err(too_large(
                "the payload of message 2",
                MAX_SECOND_PAYLOAD,
                payload.len(),
            ));
        }
        let ResponderStage::WriteSecond(mut state, remote) =
            std::mem::replace(&mut self.stage, ResponderStage::Failed)
        else {
            return Err(state_error("the handshake failed"));
        };
        let set = state.set_psk(usize::from(PSK_SLOT), &psk);
        psk.zeroize();
        set.map_err(|e| Error::new(ErrorCode::Internal, format!("noise psk: {e}")))?;
        let mut message = vec![0u8; SECOND_OVERHEAD + payload.len()];
        let written = state
            .write_message(payload, &mut message)
            .map_err(handshake_error)?;
        message.truncate(written);
        let channel = into_channel(state, remote)?;
        self.stage = ResponderStage::Finished;
        Ok((message, channel))
    }
}

/// An established channel: two independent directions, each a ChaCha20-Poly1305 key and a
/// message counter. Messages must be decrypted in the order they were encrypted (the
/// counter is the nonce and is not sent); a message that fails closes the channel for good.
pub struct Channel {
    transport: Option<Box<TransportState>>,
    handshake_hash: [u8; HASH_LEN],
    remote_static: [u8; KEY_LEN],
}

fn closed() -> Error {
    state_error("the channel is closed (a message failed to decrypt)")
}

impl Channel {
    pub fn handshake_hash(&self) -> [u8; HASH_LEN] {
        self.handshake_hash
    }

    pub fn remote_static(&self) -> [u8; KEY_LEN] {
        self.remote_static
    }

    pub fn is_open(&self) -> bool {
        self.transport.is_some()
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut message = Vec::with_capacity(plaintext.len() + TAG_LEN);
        self.encrypt_into(plaintext, &mut message)?;
        Ok(message)
    }

    /// Append the next message to the peer (`plaintext` plus the tag) to `out`; on failure
    /// `out` is left as it was.
    pub(crate) fn encrypt_into(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let transport = self.transport.as_mut().ok_or_else(closed)?;
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(too_large("a plaintext", MAX_PLAINTEXT_LEN, plaintext.len()));
        }
        let at = out.len();
        out.resize(at + plaintext.len() + TAG_LEN, 0);
        match transport.write_message(plaintext, &mut out[at..]) {
            Ok(written) => {
                out.truncate(at + written);
                Ok(())
            }
            Err(err) => {
                out.truncate(at);
                self.transport = None;
                Err(match err {
                    snow::Error::State(snow::error::StateProblem::Exhausted) => {
                        state_error("the sending nonce is exhausted; the channel is closed")
                    }
                    other => Error::new(ErrorCode::Internal, format!("noise encrypt: {other}")),
                })
            }
        }
    }

    /// The plaintext of the next message from the peer. Anything else (tampered, truncated,
    /// reordered, replayed, too long, under another key) raises `NoiseDecrypt` and closes the
    /// channel: on an ordered stream a failure means the stream is no longer the peer's.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        let mut plaintext = Vec::with_capacity(message.len().saturating_sub(TAG_LEN));
        self.decrypt_into(message, &mut plaintext)?;
        Ok(plaintext)
    }

    /// Append the plaintext of the peer's next message to `out`; on failure `out` is left as
    /// it was and the channel is closed (as `decrypt`).
    pub(crate) fn decrypt_into(&mut self, message: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let transport = self.transport.as_mut().ok_or_else(closed)?;
        let at = out.len();
        let result = if message.len() < TAG_LEN || message.len() > MAX_MESSAGE_LEN {
            Err(snow::Error::Input)
        } else {
            out.resize(at + message.len() - TAG_LEN, 0);
            transport
                .read_message(message, &mut out[at..])
                .map(|read| out.truncate(at + read))
        };
        result.map_err(|err| {
            out.truncate(at);
            self.transport = None;
            match err {
                snow::Error::State(snow::error::StateProblem::Exhausted) => {
                    state_error("the receiving nonce is exhausted; the channel is closed")
                }
                _ => Error::new(
                    ErrorCode::NoiseDecrypt,
                    "transport message does not authenticate; the channel is closed",
                ),
            }
        })
    }

    /// Close the channel for good (its stream broke the format above Noise).
    pub(crate) fn close(&mut self) {
        self.transport = None;
    }

    /// Replace the sending key by REKEY(k) (Noise §4.2). The peer must call `rekey_incoming`
    /// after reading the last message sent under the old key; see the Python docs for the
    /// in-band signal that marks that message.
    pub fn rekey_outgoing(&mut self) -> Result<()> {
        self.transport.as_mut().ok_or_else(closed)?.rekey_outgoing();
        Ok(())
    }

    /// Replace the receiving key by REKEY(k), matching the peer's `rekey_outgoing`.
    pub fn rekey_incoming(&mut self) -> Result<()> {
        self.transport.as_mut().ok_or_else(closed)?.rekey_incoming();
        Ok(())
    }
}
