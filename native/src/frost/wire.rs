//! Byte encodings of every FROST type that crosses a process boundary.
//!
//! Every encoding is one **type tag** byte ([`Tag`]) followed by the body: the ZF crates'
//! postcard format (`serialize`/`deserialize`; see the dependency notes) or, for signature
//! shares and repair values, the raw 32-byte scalar. Several of those bodies cannot be told
//! apart on their own (a dealer's share of zero *is* a `SecretShare`, and three types are bare
//! scalars), so the tag, not the layout, says what the bytes are: a decoder refuses every tag but
//! its own, and bytes of one type never decode as another.
//!
//! Decoding is strict: after parsing, the value is encoded again and must give back exactly the
//! input bytes (no trailing bytes, no non-minimal varints, no legacy layouts), and structural
//! invariants that FROST itself assumes are checked, so that a decoded value can never drive
//! FROST into a panic; secret packages are also checked against their own commitments. Every
//! failure is `ErrorCode::Malformed`.

use frost_core::keys::dkg as core_dkg;
use frost_core::keys::{CoefficientCommitment, VerifiableSecretSharingCommitment};
use frost_ed25519::keys::dkg;
use frost_ed25519::keys::repairable::{Delta, Sigma};
use frost_ed25519::keys::{
    KeyPackage, PublicKeyPackage, SecretShare, SigningShare, VerifyingShare,
};
use frost_ed25519::round1::{SigningCommitments, SigningNonces};
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::{Ed25519Group, Ed25519ScalarField, Field, Group, SigningPackage};
use zeroize::Zeroizing;

use super::refresh::RefreshingShare;
use super::{check_thresholds, decoded_number, malformed, map_error, Suite};
use crate::error::Result;

/// The first byte of every encoding: which FROST type the rest holds. A new layout of a type
/// gets a new tag, so old bytes are refused rather than misread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Tag {
    SecretShare = 0x01,
    RefreshingShare = 0x02,
    KeyPackage = 0x03,
    PublicKeyPackage = 0x04,
    SigningNonces = 0x05,
    SigningCommitments = 0x06,
    SigningPackage = 0x07,
    SignatureShare = 0x08,
    DkgRound1Secret = 0x09,
    DkgRound1Package = 0x0a,
    DkgRound2Secret = 0x0b,
    DkgRound2Package = 0x0c,
    Delta = 0x0d,
    Sigma = 0x0e,
}

impl Tag {
    /// Every tag, in byte order.
    pub const ALL: [Tag; 14] = [
        Tag::SecretShare,
        Tag::RefreshingShare,
        Tag::KeyPackage,
        Tag::PublicKeyPackage,
        Tag::SigningNonces,
        Tag::SigningCommitments,
        Tag::SigningPackage,
        Tag::SignatureShare,
        Tag::DkgRound1Secret,
        Tag::DkgRound1Package,
        Tag::DkgRound2Secret,
        Tag::DkgRound2Package,
        Tag::Delta,
        Tag::Sigma,
    ];

    /// What the bytes are, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Tag::SecretShare => "FROST secret share",
            Tag::RefreshingShare => "FROST refreshing share",
            Tag::KeyPackage => "FROST key package",
            Tag::PublicKeyPackage => "FROST public key package",
            Tag::SigningNonces => "FROST signing nonces",
            Tag::SigningCommitments => "FROST signing commitments",
            Tag::SigningPackage => "FROST signing package",
            Tag::SignatureShare => "FROST signature share",
            Tag::DkgRound1Secret => "FROST DKG round 1 secret",
            Tag::DkgRound1Package => "FROST DKG round 1 package",
            Tag::DkgRound2Secret => "FROST DKG round 2 secret",
            Tag::DkgRound2Package => "FROST DKG round 2 package",
            Tag::Delta => "FROST repair delta",
            Tag::Sigma => "FROST repair sigma",
        }
    }

    /// The tag whose byte is `byte`, if any.
    pub fn of(byte: u8) -> Option<Tag> {
        Tag::ALL.into_iter().find(|tag| *tag as u8 == byte)
    }
}

/// A type with a strict, self-describing byte encoding: its [`Tag`], then its body.
pub trait Wire: Sized {
    /// The type tag that starts every encoding of this type.
    const TAG: Tag;

    /// Parse a body, which must be the canonical encoding of a well-formed value.
    fn decode_body(body: &[u8]) -> Result<Self>;

    /// The canonical body.
    fn encode_body(&self) -> Result<Zeroizing<Vec<u8>>>;

    /// Parse `bytes`: this type's tag, then a canonical body.
    fn decode(bytes: &[u8]) -> Result<Self> {
        let expected = Self::TAG.name();
        match bytes.split_first() {
            Some((&tag, body)) if tag == Self::TAG as u8 => Self::decode_body(body),
            Some((&tag, _)) => Err(malformed(match Tag::of(tag) {
                Some(other) => format!("bytes are a {}, not a {expected}", other.name()),
                None => format!("bytes are not a {expected} (unknown type tag {tag:#04x})"),
            })),
            None => Err(malformed(format!("bytes are not a {expected} (empty)"))),
        }
    }

    /// The canonical encoding; wiped when dropped since several types carry secrets.
    fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        let body = self.encode_body()?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(1 + body.len()));
        bytes.push(Self::TAG as u8);
        bytes.extend_from_slice(&body);
        Ok(bytes)
    }
}

/// A ZF type with a postcard encoding.
trait Postcard: Sized {
    fn from_postcard(bytes: &[u8]) -> Option<Self>;
    fn to_postcard(&self) -> Result<Zeroizing<Vec<u8>>>;
}

macro_rules! postcard {
    ($($ty:ty),* $(,)?) => {$(
        impl Postcard for $ty {
            fn from_postcard(bytes: &[u8]) -> Option<Self> {
                <$ty>::deserialize(bytes).ok()
            }

            fn to_postcard(&self) -> Result<Zeroizing<Vec<u8>>> {
                Ok(Zeroizing::new(self.serialize().map_err(map_error)?))
            }
        }
    )*};
}

postcard!(
    SecretShare,
    KeyPackage,
    PublicKeyPackage,
    SigningNonces,
    SigningCommitments,
    SigningPackage,
    dkg::round1::Package,
    dkg::round1::SecretPackage,
    dkg::round2::Package,
    dkg::round2::SecretPackage,
);

/// Parse a postcard body strictly: it must re-encode to exactly `body` and pass `check`.
fn strict<T: Postcard>(tag: Tag, body: &[u8], check: fn(&T) -> Result<()>) -> Result<T> {
    let name = tag.name();
    let value =
        T::from_postcard(body).ok_or_else(|| malformed(format!("bytes are not a valid {name}")))?;
    if value.to_postcard()?.as_slice() != body {
        return Err(malformed(format!(
            "{name}: non-canonical encoding or trailing bytes"
        )));
    }
    check(&value)?;
    Ok(value)
}

macro_rules! postcard_wire {
    ($ty:ty, $tag:expr, $check:expr) => {
        impl Wire for $ty {
            const TAG: Tag = $tag;

            fn decode_body(body: &[u8]) -> Result<Self> {
                strict(Self::TAG, body, $check)
            }

            fn encode_body(&self) -> Result<Zeroizing<Vec<u8>>> {
                self.to_postcard()
            }
        }
    };
}

macro_rules! scalar_wire {
    ($ty:ty, $tag:expr) => {
        impl Wire for $ty {
            const TAG: Tag = $tag;

            fn decode_body(body: &[u8]) -> Result<Self> {
                // Exactly 32 bytes holding a canonical scalar, or an error.
                <$ty>::deserialize(body)
                    .map_err(|_| malformed(format!("bytes are not a valid {}", Self::TAG.name())))
            }

            fn encode_body(&self) -> Result<Zeroizing<Vec<u8>>> {
                Ok(Zeroizing::new(self.serialize()))
            }
        }
    };
}

fn thresholds(min_signers: u16, max_signers: u16) -> Result<()> {
    check_thresholds(min_signers, max_signers).map_err(|e| malformed(e.message))
}

/// The structure shared by dealt shares and shares of zero: a small identifier and a commitment
/// of `lengths` coefficients.
fn check_share_structure(
    share: &SecretShare,
    lengths: std::ops::RangeInclusive<usize>,
    what: &str,
) -> Result<()> {
    decoded_number(share.identifier())?;
    if !lengths.contains(&share.commitment().coefficients().len()) {
        return Err(malformed(format!(
            "{what}: commitment must have {}..={} coefficients",
            lengths.start(),
            lengths.end()
        )));
    }
    Ok(())
}

/// A dealt share commits to the whole polynomial: threshold (2..=65535) coefficients.
fn check_secret_share(share: &SecretShare) -> Result<()> {
    check_share_structure(share, 2..=usize::from(u16::MAX), "secret share")
}

/// A share of zero omits the constant term (a commitment to zero): threshold - 1 coefficients.
fn check_refreshing_share(share: &SecretShare) -> Result<()> {
    check_share_structure(share, 1..=usize::from(u16::MAX) - 1, "refreshing share")
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

/// Whether a DKG secret's commitment of `len` coefficients belongs to a DKG (`min_signers`
/// entries) or to a DKG-style refresh (one fewer: the constant term, a commitment to zero, is
/// implicit); anything else is malformed.
fn is_refresh_commitment(len: usize, min_signers: u16) -> Result<bool> {
    let min = usize::from(min_signers);
    if len == min {
        Ok(false)
    } else if len + 1 == min {
        Ok(true)
    } else {
        Err(malformed(
            "DKG secret: commitment length does not match min_signers",
        ))
    }
}

/// A round-1 secret holds the polynomial and its commitment; they must agree, or the shares it
/// deals in part 2 would not match the commitment its owner broadcast.
fn check_round1_secret(secret: &core_dkg::round1::SecretPackage<Suite>) -> Result<()> {
    decoded_number(secret.identifier())?;
    thresholds(*secret.min_signers(), *secret.max_signers())?;
    let coefficients = Zeroizing::new(secret.coefficients());
    if coefficients.len() != usize::from(*secret.min_signers()) {
        return Err(malformed(
            "DKG round 1 secret: wrong number of coefficients",
        ));
    }
    let commitment = secret.commitment().coefficients();
    let committed = if is_refresh_commitment(commitment.len(), *secret.min_signers())? {
        // A refresh deals shares of zero: the constant term is zero and not committed to.
        match coefficients.split_first() {
            Some((constant, rest)) if *constant == Ed25519ScalarField::zero() => rest,
            _ => {
                return Err(malformed(
                    "DKG round 1 secret: a refresh polynomial must have a zero constant term",
                ))
            }
        }
    } else {
        &coefficients[..]
    };
    let generator = Ed25519Group::generator();
    let agrees = committed.len() == commitment.len()
        && committed
            .iter()
            .zip(commitment)
            .all(|(coefficient, committed)| generator * coefficient == committed.value());
    if !agrees {
        return Err(malformed(
            "DKG round 1 secret: commitment does not match the secret coefficients",
        ));
    }
    Ok(())
}

/// A round-2 secret holds its owner's own share f(i) and commitment; the share must lie on the
/// committed polynomial.
fn check_round2_secret(secret: &core_dkg::round2::SecretPackage<Suite>) -> Result<()> {
    decoded_number(secret.identifier())?;
    thresholds(*secret.min_signers(), *secret.max_signers())?;
    let commitment = secret.commitment().coefficients();
    let mut coefficients = Vec::with_capacity(commitment.len() + 1);
    if is_refresh_commitment(commitment.len(), *secret.min_signers())? {
        coefficients.push(CoefficientCommitment::new(Ed25519Group::identity()));
    }
    coefficients.extend_from_slice(commitment);
    let own = SecretShare::new(
        *secret.identifier(),
        SigningShare::new(secret.secret_share()),
        VerifiableSecretSharingCommitment::new(coefficients),
    );
    own.verify().map_err(|_| {
        malformed("DKG round 2 secret: the own share does not match the commitment")
    })?;
    Ok(())
}

postcard_wire!(SecretShare, Tag::SecretShare, check_secret_share);
postcard_wire!(KeyPackage, Tag::KeyPackage, check_key_package);
postcard_wire!(
    PublicKeyPackage,
    Tag::PublicKeyPackage,
    check_public_key_package
);
postcard_wire!(SigningNonces, Tag::SigningNonces, check_nonces);
postcard_wire!(SigningCommitments, Tag::SigningCommitments, |_| Ok(()));
postcard_wire!(SigningPackage, Tag::SigningPackage, check_signing_package);
postcard_wire!(
    dkg::round1::Package,
    Tag::DkgRound1Package,
    check_round1_package
);
postcard_wire!(
    dkg::round1::SecretPackage,
    Tag::DkgRound1Secret,
    check_round1_secret
);
postcard_wire!(dkg::round2::Package, Tag::DkgRound2Package, |_| Ok(()));
postcard_wire!(
    dkg::round2::SecretPackage,
    Tag::DkgRound2Secret,
    check_round2_secret
);
scalar_wire!(SignatureShare, Tag::SignatureShare);
scalar_wire!(Delta, Tag::Delta);
scalar_wire!(Sigma, Tag::Sigma);

/// A share of zero has a dealt share's body; only the tag tells them apart.
impl Wire for RefreshingShare {
    const TAG: Tag = Tag::RefreshingShare;

    fn decode_body(body: &[u8]) -> Result<Self> {
        strict(Self::TAG, body, check_refreshing_share).map(RefreshingShare)
    }

    fn encode_body(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.share().to_postcard()
    }
}
