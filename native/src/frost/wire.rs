//! Byte encodings of every FROST type that crosses a process boundary.
//!
//! The encodings are the ZF crates' postcard formats (`serialize`/`deserialize`; see the
//! dependency notes), plus raw 32-byte scalars for signature shares and repair values.
//! Decoding is strict: after parsing, the value is encoded again and must give back exactly the
//! input bytes (no trailing bytes, no non-minimal varints, no legacy layouts), and structural
//! invariants that FROST itself assumes are checked, so that a decoded value can never drive
//! FROST into a panic. Every failure is `ErrorCode::Malformed`.

use frost_core::keys::dkg as core_dkg;
use frost_ed25519::keys::dkg;
use frost_ed25519::keys::repairable::{Delta, Sigma};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SecretShare, VerifyingShare};
use frost_ed25519::round1::{SigningCommitments, SigningNonces};
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::SigningPackage;
use zeroize::{Zeroize, Zeroizing};

use super::{check_thresholds, decoded_number, malformed, map_error, Suite};
use crate::error::Result;

/// A type with a strict byte encoding.
pub trait Wire: Sized {
    /// What the bytes are, for error messages.
    const NAME: &'static str;

    /// Parse `bytes`, which must be the canonical encoding of a well-formed value.
    fn decode(bytes: &[u8]) -> Result<Self>;

    /// The canonical encoding; wiped when dropped since several types carry secrets.
    fn encode(&self) -> Result<Zeroizing<Vec<u8>>>;
}

macro_rules! postcard_wire {
    ($ty:ty, $name:literal, $check:expr) => {
        impl Wire for $ty {
            const NAME: &'static str = $name;

            fn decode(bytes: &[u8]) -> Result<Self> {
                let value = <$ty>::deserialize(bytes)
                    .map_err(|_| malformed(concat!("bytes are not a valid ", $name)))?;
                let again = value.encode()?;
                if again.as_slice() != bytes {
                    return Err(malformed(concat!(
                        $name,
                        ": non-canonical encoding or trailing bytes"
                    )));
                }
                let check: fn(&$ty) -> Result<()> = $check;
                check(&value)?;
                Ok(value)
            }

            fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
                Ok(Zeroizing::new(self.serialize().map_err(map_error)?))
            }
        }
    };
}

macro_rules! scalar_wire {
    ($ty:ty, $name:literal) => {
        impl Wire for $ty {
            const NAME: &'static str = $name;

            fn decode(bytes: &[u8]) -> Result<Self> {
                // Exactly 32 bytes holding a canonical scalar, or an error.
                <$ty>::deserialize(bytes)
                    .map_err(|_| malformed(concat!("bytes are not a valid ", $name)))
            }

            fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
                Ok(Zeroizing::new(self.serialize()))
            }
        }
    };
}

fn thresholds(min_signers: u16, max_signers: u16) -> Result<()> {
    check_thresholds(min_signers, max_signers).map_err(|e| malformed(e.message))
}

fn check_secret_share(share: &SecretShare) -> Result<()> {
    decoded_number(share.identifier())?;
    let len = share.commitment().coefficients().len();
    if len == 0 || len > usize::from(u16::MAX) {
        return Err(malformed(
            "secret share: commitment must have 1..=65535 coefficients",
        ));
    }
    Ok(())
}

fn check_key_package(package: &KeyPackage) -> Result<()> {
    decoded_number(package.identifier())?;
    if *package.min_signers() < 2 {
        return Err(malformed("key package: min_signers must be at least 2"));
    }
    if VerifyingShare::from(*package.signing_share()) != *package.verifying_share() {
        return Err(malformed(
            "key package: verifying share does not match the signing share",
        ));
    }
    Ok(())
}

fn check_public_key_package(package: &PublicKeyPackage) -> Result<()> {
    for id in package.verifying_shares().keys() {
        decoded_number(id)?;
    }
    let n = package.verifying_shares().len();
    match package.min_signers() {
        Some(m) if m >= 2 && usize::from(m) <= n => Ok(()),
        Some(_) => Err(malformed(
            "public key package: min_signers must be in 2..=participants",
        )),
        None => Err(malformed(
            "public key package: min_signers is missing (pre-3.0 layout)",
        )),
    }
}

fn check_nonces(nonces: &SigningNonces) -> Result<()> {
    let expected = SigningNonces::from_nonces(*nonces.hiding(), *nonces.binding());
    if expected.commitments() != nonces.commitments() {
        return Err(malformed(
            "signing nonces: commitments do not match the nonces",
        ));
    }
    Ok(())
}

fn check_signing_package(package: &SigningPackage) -> Result<()> {
    if package.signing_commitments().is_empty() {
        return Err(malformed("signing package: no commitments"));
    }
    for id in package.signing_commitments().keys() {
        decoded_number(id)?;
    }
    Ok(())
}

fn check_round1_package(package: &dkg::round1::Package) -> Result<()> {
    if package.commitment().coefficients().is_empty() {
        return Err(malformed("DKG round 1 package: empty commitment"));
    }
    Ok(())
}

/// The commitment of a DKG secret has `min_signers` entries; that of a DKG-style refresh secret
/// has one fewer (the constant term, a commitment to zero, is implicit).
fn check_commitment_len(len: usize, min_signers: u16) -> Result<()> {
    let min = usize::from(min_signers);
    if len != min && len + 1 != min {
        return Err(malformed(
            "DKG secret: commitment length does not match min_signers",
        ));
    }
    Ok(())
}

fn check_round1_secret(secret: &core_dkg::round1::SecretPackage<Suite>) -> Result<()> {
    decoded_number(secret.identifier())?;
    thresholds(*secret.min_signers(), *secret.max_signers())?;
    let mut coefficients = secret.coefficients();
    let count = coefficients.len();
    coefficients.zeroize();
    if count != usize::from(*secret.min_signers()) {
        return Err(malformed(
            "DKG round 1 secret: wrong number of coefficients",
        ));
    }
    check_commitment_len(
        secret.commitment().coefficients().len(),
        *secret.min_signers(),
    )
}

fn check_round2_secret(secret: &core_dkg::round2::SecretPackage<Suite>) -> Result<()> {
    decoded_number(secret.identifier())?;
    thresholds(*secret.min_signers(), *secret.max_signers())?;
    check_commitment_len(
        secret.commitment().coefficients().len(),
        *secret.min_signers(),
    )
}

postcard_wire!(SecretShare, "FROST secret share", check_secret_share);
postcard_wire!(KeyPackage, "FROST key package", check_key_package);
postcard_wire!(
    PublicKeyPackage,
    "FROST public key package",
    check_public_key_package
);
postcard_wire!(SigningNonces, "FROST signing nonces", check_nonces);
postcard_wire!(SigningCommitments, "FROST signing commitments", |_| Ok(()));
postcard_wire!(
    SigningPackage,
    "FROST signing package",
    check_signing_package
);
postcard_wire!(
    dkg::round1::Package,
    "FROST DKG round 1 package",
    check_round1_package
);
postcard_wire!(
    dkg::round1::SecretPackage,
    "FROST DKG round 1 secret",
    check_round1_secret
);
postcard_wire!(
    dkg::round2::Package,
    "FROST DKG round 2 package",
    |_| Ok(())
);
postcard_wire!(
    dkg::round2::SecretPackage,
    "FROST DKG round 2 secret",
    check_round2_secret
);
scalar_wire!(SignatureShare, "FROST signature share");
scalar_wire!(Delta, "FROST repair delta");
scalar_wire!(Sigma, "FROST repair sigma");
