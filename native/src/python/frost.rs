//! FROST handles and functions for Python.
//!
//! Every FROST value lives in Rust memory inside a frozen handle class; secrets are zeroized
//! when the handle is dropped and leave Rust only through an explicit `to_bytes()`. Functions
//! copy what they need out of the handles, release the GIL (`py.detach`) for the curve
//! arithmetic and run under [`guarded`], so a bug surfaces as an `internal` error rather than
//! a `PanicException`.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use frost_ed25519::keys::dkg::{round1, round2};
use frost_ed25519::keys::repairable::{Delta, Sigma};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SecretShare};
use frost_ed25519::round1::{SigningCommitments, SigningNonces};
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::{Ed25519ScalarField, Field, SigningPackage};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::to_py;
use crate::error::{Error, ErrorCode, Result};
use crate::frost::refresh::RefreshingShare;
use crate::frost::wire::Wire;
use crate::frost::{
    dkg, element_bytes, guarded, keys, number, per_participant, refresh, repair, sign, wipe,
};

/// Run `f` without the GIL, turning errors and panics into `NativeError`.
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T> + Send) -> PyResult<T> {
    py.detach(|| guarded(f)).map_err(to_py)
}

fn id_of(id: &frost_ed25519::Identifier) -> u16 {
    // Every identifier in a handle was created from, or checked to be, a u16.
    number(id).unwrap_or(0)
}

fn element<'py>(
    py: Python<'py>,
    serialized: std::result::Result<Vec<u8>, frost_ed25519::Error>,
) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &element_bytes(serialized).map_err(to_py)?))
}

macro_rules! handle {
    ($py_ty:ident, $name:literal, $inner:ty, { $($extra:tt)* }) => {
        #[pyclass(frozen, module = "aura_core._native", name = $name)]
        pub struct $py_ty(pub $inner);

        #[pymethods]
        impl $py_ty {
            /// Parse the canonical encoding (this type's tag, then its body); raises
            /// `NativeError("malformed", ...)` otherwise, also for another type's bytes.
            #[staticmethod]
            fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
                run(py, || <$inner as Wire>::decode(data)).map(Self)
            }

            /// The canonical encoding.
            fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                let bytes = guarded(|| self.0.encode()).map_err(to_py)?;
                Ok(PyBytes::new(py, &bytes))
            }

            /// Value equality (constant-time on secret scalars).
            fn equals(&self, other: &Self) -> bool {
                self.0 == other.0
            }

            $($extra)*
        }
    };
}

handle!(FrostSecretShare, "FrostSecretShare", SecretShare, {
    #[getter]
    fn identifier(&self) -> u16 {
        id_of(self.0.identifier())
    }

    #[getter]
    fn commitment<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        self.0
            .commitment()
            .coefficients()
            .iter()
            .map(|c| element(py, c.serialize()))
            .collect()
    }
});

handle!(
    FrostRefreshingShare,
    "FrostRefreshingShare",
    RefreshingShare,
    {
        #[getter]
        fn identifier(&self) -> u16 {
            id_of(self.0.share().identifier())
        }
    }
);

handle!(FrostKeyPackage, "FrostKeyPackage", KeyPackage, {
    #[getter]
    fn identifier(&self) -> u16 {
        id_of(self.0.identifier())
    }

    #[getter]
    fn min_signers(&self) -> u16 {
        *self.0.min_signers()
    }

    #[getter]
    fn verifying_share<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        element(py, self.0.verifying_share().serialize())
    }

    #[getter]
    fn group_public_key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        element(py, self.0.verifying_key().serialize())
    }
});

handle!(
    FrostPublicKeyPackage,
    "FrostPublicKeyPackage",
    PublicKeyPackage,
    {
        #[getter]
        fn group_public_key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
            element(py, self.0.verifying_key().serialize())
        }

        #[getter]
        fn min_signers(&self) -> u16 {
            self.0.min_signers().unwrap_or(0)
        }

        #[getter]
        fn verifying_shares<'py>(
            &self,
            py: Python<'py>,
        ) -> PyResult<Vec<(u16, Bound<'py, PyBytes>)>> {
            self.0
                .verifying_shares()
                .iter()
                .map(|(id, share)| Ok((id_of(id), element(py, share.serialize())?)))
                .collect()
        }
    }
);

handle!(
    FrostSigningCommitments,
    "FrostSigningCommitments",
    SigningCommitments,
    {
        #[getter]
        fn hiding<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
            element(py, self.0.hiding().serialize())
        }

        #[getter]
        fn binding<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
            element(py, self.0.binding().serialize())
        }
    }
);

handle!(
    FrostSigningPackage,
    "FrostSigningPackage",
    SigningPackage,
    {
        #[getter]
        fn message<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
            PyBytes::new(py, self.0.message())
        }

        #[getter]
        fn commitments(&self) -> Vec<(u16, FrostSigningCommitments)> {
            self.0
                .signing_commitments()
                .iter()
                .map(|(id, c)| (id_of(id), FrostSigningCommitments(*c)))
                .collect()
        }
    }
);

handle!(
    FrostSignatureShare,
    "FrostSignatureShare",
    SignatureShare,
    {}
);

handle!(
    FrostDkgRound1Secret,
    "FrostDkgRound1Secret",
    round1::SecretPackage,
    {
        #[getter]
        fn identifier(&self) -> u16 {
            id_of(self.0.identifier())
        }

        #[getter]
        fn min_signers(&self) -> u16 {
            *self.0.min_signers()
        }

        #[getter]
        fn max_signers(&self) -> u16 {
            *self.0.max_signers()
        }
    }
);

handle!(
    FrostDkgRound1Package,
    "FrostDkgRound1Package",
    round1::Package,
    {
        #[getter]
        fn commitment<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
            self.0
                .commitment()
                .coefficients()
                .iter()
                .map(|c| element(py, c.serialize()))
                .collect()
        }
    }
);

handle!(
    FrostDkgRound2Secret,
    "FrostDkgRound2Secret",
    round2::SecretPackage,
    {
        #[getter]
        fn identifier(&self) -> u16 {
            id_of(self.0.identifier())
        }

        #[getter]
        fn min_signers(&self) -> u16 {
            *self.0.min_signers()
        }

        #[getter]
        fn max_signers(&self) -> u16 {
            *self.0.max_signers()
        }
    }
);

handle!(
    FrostDkgRound2Package,
    "FrostDkgRound2Package",
    round2::Package,
    {}
);
handle!(FrostDelta, "FrostDelta", Delta, {});
handle!(FrostSigma, "FrostSigma", Sigma, {});

// Delta and Sigma are `Copy` scalars without `ZeroizeOnDrop`; wipe them by hand.
impl Drop for FrostDelta {
    fn drop(&mut self) {
        wipe(&mut self.0, Delta::new(Ed25519ScalarField::zero()));
    }
}

impl Drop for FrostSigma {
    fn drop(&mut self) {
        wipe(&mut self.0, Sigma::new(Ed25519ScalarField::zero()));
    }
}

/// Round-1 nonces: secret and single-use. `frost_sign` takes them out, so a second signature
/// with the same nonces is refused; a failed `frost_sign` leaves them in place.
#[pyclass(frozen, module = "aura_core._native", name = "FrostSigningNonces")]
pub struct FrostSigningNonces {
    nonces: Mutex<Option<SigningNonces>>,
    commitments: SigningCommitments,
}

impl FrostSigningNonces {
    fn new(nonces: SigningNonces) -> Self {
        let commitments = *nonces.commitments();
        FrostSigningNonces {
            nonces: Mutex::new(Some(nonces)),
            commitments,
        }
    }
}

fn nonce_reuse() -> Error {
    Error::new(
        ErrorCode::NonceReuse,
        "these signing nonces were already used to sign",
    )
}

#[pymethods]
impl FrostSigningNonces {
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        run(py, || SigningNonces::decode(data)).map(Self::new)
    }

    /// The canonical encoding, while the nonces are unused.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| {
            let slot = self.nonces.lock().unwrap_or_else(PoisonError::into_inner);
            slot.as_ref()
                .ok_or_else(nonce_reuse)
                .and_then(|n| n.encode())
        });
        Ok(PyBytes::new(py, &bytes.map_err(to_py)?))
    }

    #[getter]
    fn commitments(&self) -> FrostSigningCommitments {
        FrostSigningCommitments(self.commitments)
    }

    #[getter]
    fn used(&self, py: Python<'_>) -> bool {
        py.detach(|| {
            self.nonces
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
        })
    }
}

fn dealt((shares, public): keys::Dealt) -> (Vec<(u16, FrostSecretShare)>, FrostPublicKeyPackage) {
    (
        shares
            .into_iter()
            .map(|(id, share)| (id, FrostSecretShare(share)))
            .collect(),
        FrostPublicKeyPackage(public),
    )
}

type Dealt = (Vec<(u16, FrostSecretShare)>, FrostPublicKeyPackage);

#[pyfunction]
#[pyo3(signature = (min_signers, max_signers, seed, identifiers=None))]
fn frost_generate_with_dealer(
    py: Python<'_>,
    min_signers: u16,
    max_signers: u16,
    seed: &[u8],
    identifiers: Option<Vec<u16>>,
) -> PyResult<Dealt> {
    run(py, || {
        keys::generate_with_dealer(min_signers, max_signers, seed, identifiers.as_deref())
    })
    .map(dealt)
}

#[pyfunction]
#[pyo3(signature = (secret, min_signers, max_signers, seed, identifiers=None))]
fn frost_split(
    py: Python<'_>,
    secret: &[u8],
    min_signers: u16,
    max_signers: u16,
    seed: &[u8],
    identifiers: Option<Vec<u16>>,
) -> PyResult<Dealt> {
    run(py, || {
        keys::split(
            secret,
            min_signers,
            max_signers,
            seed,
            identifiers.as_deref(),
        )
    })
    .map(dealt)
}

#[pyfunction]
#[pyo3(signature = (secret, coefficients, max_signers, identifiers=None))]
fn frost_split_with_coefficients(
    py: Python<'_>,
    secret: &[u8],
    coefficients: Vec<Vec<u8>>,
    max_signers: u16,
    identifiers: Option<Vec<u16>>,
) -> PyResult<Dealt> {
    let coefficients: Vec<&[u8]> = coefficients.iter().map(Vec::as_slice).collect();
    run(py, || {
        keys::split_with_coefficients(secret, &coefficients, max_signers, identifiers.as_deref())
    })
    .map(dealt)
}

#[pyfunction]
fn frost_key_package(
    py: Python<'_>,
    share: &Bound<'_, FrostSecretShare>,
) -> PyResult<FrostKeyPackage> {
    let share = &share.get().0;
    run(py, || keys::key_package(share)).map(FrostKeyPackage)
}

type DkgRound1 = (FrostDkgRound1Secret, FrostDkgRound1Package);
type DkgRound2 = (FrostDkgRound2Secret, Vec<(u16, FrostDkgRound2Package)>);

/// Per-participant values out of their handles; a participant listed twice is refused (see
/// [`per_participant`]) before anything else runs.
fn entries<H, T>(
    what: &str,
    items: &[(u16, Bound<'_, H>)],
    value: impl Fn(&H) -> T,
) -> PyResult<BTreeMap<u16, T>>
where
    H: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync,
{
    per_participant(what, items.iter().map(|(id, h)| (*id, value(h.get())))).map_err(to_py)
}

fn round1_map(
    items: &[(u16, Bound<'_, FrostDkgRound1Package>)],
) -> PyResult<BTreeMap<u16, round1::Package>> {
    entries("round1_packages", items, |h: &FrostDkgRound1Package| {
        h.0.clone()
    })
}

fn round2_map(
    items: &[(u16, Bound<'_, FrostDkgRound2Package>)],
) -> PyResult<BTreeMap<u16, round2::Package>> {
    entries("round2_packages", items, |h: &FrostDkgRound2Package| {
        h.0.clone()
    })
}

fn round2_out((secret, packages): dkg::Round2) -> DkgRound2 {
    (
        FrostDkgRound2Secret(secret),
        packages
            .into_iter()
            .map(|(id, p)| (id, FrostDkgRound2Package(p)))
            .collect(),
    )
}

#[pyfunction]
fn frost_dkg_part1(
    py: Python<'_>,
    identifier: u16,
    min_signers: u16,
    max_signers: u16,
    seed: &[u8],
) -> PyResult<DkgRound1> {
    let (secret, package) = run(py, || {
        dkg::part1(identifier, min_signers, max_signers, seed)
    })?;
    Ok((FrostDkgRound1Secret(secret), FrostDkgRound1Package(package)))
}

#[pyfunction]
fn frost_dkg_part2(
    py: Python<'_>,
    secret: &Bound<'_, FrostDkgRound1Secret>,
    round1_packages: Vec<(u16, Bound<'_, FrostDkgRound1Package>)>,
) -> PyResult<DkgRound2> {
    let secret = &secret.get().0;
    let received = round1_map(&round1_packages)?;
    run(py, || dkg::part2(secret, &received)).map(round2_out)
}

#[pyfunction]
fn frost_dkg_part3(
    py: Python<'_>,
    secret: &Bound<'_, FrostDkgRound2Secret>,
    round1_packages: Vec<(u16, Bound<'_, FrostDkgRound1Package>)>,
    round2_packages: Vec<(u16, Bound<'_, FrostDkgRound2Package>)>,
) -> PyResult<(FrostKeyPackage, FrostPublicKeyPackage)> {
    let secret = &secret.get().0;
    let (r1, r2) = (round1_map(&round1_packages)?, round2_map(&round2_packages)?);
    let (key, public) = run(py, || dkg::part3(secret, &r1, &r2))?;
    Ok((FrostKeyPackage(key), FrostPublicKeyPackage(public)))
}

#[pyfunction]
fn frost_commit(
    py: Python<'_>,
    key_package: &Bound<'_, FrostKeyPackage>,
    seed: &[u8],
) -> PyResult<(FrostSigningNonces, FrostSigningCommitments)> {
    let key = &key_package.get().0;
    let (nonces, commitments) = run(py, || sign::commit(key, seed))?;
    Ok((
        FrostSigningNonces::new(nonces),
        FrostSigningCommitments(commitments),
    ))
}

#[pyfunction]
fn frost_commit_with_randomness(
    py: Python<'_>,
    key_package: &Bound<'_, FrostKeyPackage>,
    hiding_randomness: &[u8],
    binding_randomness: &[u8],
) -> PyResult<(FrostSigningNonces, FrostSigningCommitments)> {
    let key = &key_package.get().0;
    let (nonces, commitments) = run(py, || {
        sign::commit_with_randomness(key, hiding_randomness, binding_randomness)
    })?;
    Ok((
        FrostSigningNonces::new(nonces),
        FrostSigningCommitments(commitments),
    ))
}

#[pyfunction]
fn frost_signing_package(
    commitments: Vec<(u16, Bound<'_, FrostSigningCommitments>)>,
    message: &[u8],
) -> PyResult<FrostSigningPackage> {
    let commitments: BTreeMap<u16, SigningCommitments> = entries(
        "commitments",
        &commitments,
        |h: &FrostSigningCommitments| h.0,
    )?;
    guarded(|| sign::signing_package(&commitments, message))
        .map(FrostSigningPackage)
        .map_err(to_py)
}

#[pyfunction]
fn frost_sign(
    py: Python<'_>,
    signing_package: &Bound<'_, FrostSigningPackage>,
    nonces: &Bound<'_, FrostSigningNonces>,
    key_package: &Bound<'_, FrostKeyPackage>,
) -> PyResult<FrostSignatureShare> {
    let (package, slot, key) = (
        &signing_package.get().0,
        &nonces.get().nonces,
        &key_package.get().0,
    );
    // The lock is taken and released without the GIL, so no thread can hold one while waiting
    // for the other.
    run(py, || {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let share = sign::sign(package, slot.as_ref().ok_or_else(nonce_reuse)?, key)?;
        *slot = None; // dropping the nonces zeroizes them
        Ok(share)
    })
    .map(FrostSignatureShare)
}

#[pyfunction]
fn frost_binding_factors<'py>(
    py: Python<'py>,
    signing_package: &Bound<'_, FrostSigningPackage>,
    public_key_package: &Bound<'_, FrostPublicKeyPackage>,
) -> PyResult<Vec<(u16, Bound<'py, PyBytes>)>> {
    let (package, public) = (&signing_package.get().0, &public_key_package.get().0);
    let factors = run(py, || sign::binding_factors(package, public))?;
    Ok(factors
        .iter()
        .map(|(id, f)| (*id, PyBytes::new(py, f)))
        .collect())
}

#[pyfunction]
fn frost_aggregate<'py>(
    py: Python<'py>,
    signing_package: &Bound<'_, FrostSigningPackage>,
    shares: Vec<(u16, Bound<'_, FrostSignatureShare>)>,
    public_key_package: &Bound<'_, FrostPublicKeyPackage>,
) -> PyResult<Bound<'py, PyBytes>> {
    let (package, public) = (&signing_package.get().0, &public_key_package.get().0);
    let shares: BTreeMap<u16, SignatureShare> =
        entries("shares", &shares, |h: &FrostSignatureShare| h.0)?;
    let signature = run(py, || sign::aggregate(package, &shares, public))?;
    Ok(PyBytes::new(py, &signature))
}

#[pyfunction]
fn frost_verify(
    py: Python<'_>,
    group_public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> PyResult<()> {
    run(py, || sign::verify(group_public_key, message, signature))
}

#[pyfunction]
fn frost_compute_refreshing_shares(
    py: Python<'_>,
    public_key_package: &Bound<'_, FrostPublicKeyPackage>,
    identifiers: Vec<u16>,
    seed: &[u8],
) -> PyResult<(Vec<(u16, FrostRefreshingShare)>, FrostPublicKeyPackage)> {
    let public = &public_key_package.get().0;
    let (shares, public) = run(py, || {
        refresh::compute_refreshing_shares(public, &identifiers, seed)
    })?;
    Ok((
        shares
            .into_iter()
            .map(|(id, share)| (id, FrostRefreshingShare(share)))
            .collect(),
        FrostPublicKeyPackage(public),
    ))
}

#[pyfunction]
fn frost_refresh_share(
    py: Python<'_>,
    zero_share: &Bound<'_, FrostRefreshingShare>,
    key_package: &Bound<'_, FrostKeyPackage>,
) -> PyResult<FrostKeyPackage> {
    let (zero, key) = (&zero_share.get().0, &key_package.get().0);
    run(py, || refresh::refresh_share(zero, key)).map(FrostKeyPackage)
}

#[pyfunction]
fn frost_refresh_dkg_part1(
    py: Python<'_>,
    identifier: u16,
    min_signers: u16,
    max_signers: u16,
    seed: &[u8],
) -> PyResult<DkgRound1> {
    let (secret, package) = run(py, || {
        refresh::refresh_dkg_part1(identifier, min_signers, max_signers, seed)
    })?;
    Ok((FrostDkgRound1Secret(secret), FrostDkgRound1Package(package)))
}

#[pyfunction]
fn frost_refresh_dkg_part2(
    py: Python<'_>,
    secret: &Bound<'_, FrostDkgRound1Secret>,
    round1_packages: Vec<(u16, Bound<'_, FrostDkgRound1Package>)>,
) -> PyResult<DkgRound2> {
    let secret = &secret.get().0;
    let received = round1_map(&round1_packages)?;
    run(py, || refresh::refresh_dkg_part2(secret, &received)).map(round2_out)
}

#[pyfunction]
fn frost_refresh_dkg_shares(
    py: Python<'_>,
    secret: &Bound<'_, FrostDkgRound2Secret>,
    round1_packages: Vec<(u16, Bound<'_, FrostDkgRound1Package>)>,
    round2_packages: Vec<(u16, Bound<'_, FrostDkgRound2Package>)>,
    public_key_package: &Bound<'_, FrostPublicKeyPackage>,
    key_package: &Bound<'_, FrostKeyPackage>,
) -> PyResult<(FrostKeyPackage, FrostPublicKeyPackage)> {
    let (secret, public, key) = (
        &secret.get().0,
        &public_key_package.get().0,
        &key_package.get().0,
    );
    let (r1, r2) = (round1_map(&round1_packages)?, round2_map(&round2_packages)?);
    let (key, public) = run(py, || {
        refresh::refresh_dkg_shares(secret, &r1, &r2, public, key)
    })?;
    Ok((FrostKeyPackage(key), FrostPublicKeyPackage(public)))
}

#[pyfunction]
fn frost_repair_share_part1(
    py: Python<'_>,
    helpers: Vec<u16>,
    key_package: &Bound<'_, FrostKeyPackage>,
    seed: &[u8],
    participant: u16,
) -> PyResult<Vec<(u16, FrostDelta)>> {
    let key = &key_package.get().0;
    let mut deltas = run(py, || {
        repair::repair_share_part1(&helpers, key, seed, participant)
    })?;
    let out = deltas.iter().map(|(id, d)| (*id, FrostDelta(*d))).collect();
    for delta in deltas.values_mut() {
        wipe(delta, Delta::new(Ed25519ScalarField::zero()));
    }
    Ok(out)
}

#[pyfunction]
fn frost_repair_share_part2(
    py: Python<'_>,
    deltas: Vec<Bound<'_, FrostDelta>>,
) -> PyResult<FrostSigma> {
    let mut deltas: Vec<Delta> = deltas.iter().map(|h| h.get().0).collect();
    let sigma = run(py, || repair::repair_share_part2(&deltas));
    for delta in deltas.iter_mut() {
        wipe(delta, Delta::new(Ed25519ScalarField::zero()));
    }
    sigma.map(FrostSigma)
}

#[pyfunction]
fn frost_repair_share_part3(
    py: Python<'_>,
    sigmas: Vec<Bound<'_, FrostSigma>>,
    identifier: u16,
    public_key_package: &Bound<'_, FrostPublicKeyPackage>,
) -> PyResult<FrostKeyPackage> {
    let mut sigmas: Vec<Sigma> = sigmas.iter().map(|h| h.get().0).collect();
    let public = &public_key_package.get().0;
    let key = run(py, || {
        repair::repair_share_part3(&sigmas, identifier, public)
    });
    for sigma in sigmas.iter_mut() {
        wipe(sigma, Sigma::new(Ed25519ScalarField::zero()));
    }
    key.map(FrostKeyPackage)
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FrostSecretShare>()?;
    m.add_class::<FrostRefreshingShare>()?;
    m.add_class::<FrostKeyPackage>()?;
    m.add_class::<FrostPublicKeyPackage>()?;
    m.add_class::<FrostSigningNonces>()?;
    m.add_class::<FrostSigningCommitments>()?;
    m.add_class::<FrostSigningPackage>()?;
    m.add_class::<FrostSignatureShare>()?;
    m.add_class::<FrostDkgRound1Secret>()?;
    m.add_class::<FrostDkgRound1Package>()?;
    m.add_class::<FrostDkgRound2Secret>()?;
    m.add_class::<FrostDkgRound2Package>()?;
    m.add_class::<FrostDelta>()?;
    m.add_class::<FrostSigma>()?;
    m.add_function(wrap_pyfunction!(frost_generate_with_dealer, m)?)?;
    m.add_function(wrap_pyfunction!(frost_split, m)?)?;
    m.add_function(wrap_pyfunction!(frost_split_with_coefficients, m)?)?;
    m.add_function(wrap_pyfunction!(frost_key_package, m)?)?;
    m.add_function(wrap_pyfunction!(frost_dkg_part1, m)?)?;
    m.add_function(wrap_pyfunction!(frost_dkg_part2, m)?)?;
    m.add_function(wrap_pyfunction!(frost_dkg_part3, m)?)?;
    m.add_function(wrap_pyfunction!(frost_commit, m)?)?;
    m.add_function(wrap_pyfunction!(frost_commit_with_randomness, m)?)?;
    m.add_function(wrap_pyfunction!(frost_signing_package, m)?)?;
    m.add_function(wrap_pyfunction!(frost_sign, m)?)?;
    m.add_function(wrap_pyfunction!(frost_binding_factors, m)?)?;
    m.add_function(wrap_pyfunction!(frost_aggregate, m)?)?;
    m.add_function(wrap_pyfunction!(frost_verify, m)?)?;
    m.add_function(wrap_pyfunction!(frost_compute_refreshing_shares, m)?)?;
    m.add_function(wrap_pyfunction!(frost_refresh_share, m)?)?;
    m.add_function(wrap_pyfunction!(frost_refresh_dkg_part1, m)?)?;
    m.add_function(wrap_pyfunction!(frost_refresh_dkg_part2, m)?)?;
    m.add_function(wrap_pyfunction!(frost_refresh_dkg_shares, m)?)?;
    m.add_function(wrap_pyfunction!(frost_repair_share_part1, m)?)?;
    m.add_function(wrap_pyfunction!(frost_repair_share_part2, m)?)?;
    m.add_function(wrap_pyfunction!(frost_repair_share_part3, m)?)?;
    Ok(())
}
