//! PyO3 bindings: thin wrappers over the plain Rust API. Errors become
//! `NativeError(code, message, culprits)` and the Python package `aura_core.crypto` maps codes
//! to typed exceptions.

mod encode;
mod frost;
mod noise;
mod reconcile;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::{biscuit, cbor, ed25519, Error};

create_exception!(
    _native,
    NativeError,
    PyException,
    "Raised by the native core with args (code, message, culprits)."
);

pub(crate) fn to_py(err: Error) -> PyErr {
    NativeError::new_err((err.code.as_str(), err.message, err.culprits))
}

/// An Ed25519 signing key kept in Rust memory (zeroized when dropped); signing does not
/// re-derive the key from its seed.
#[pyclass(frozen, name = "Ed25519Key")]
struct Ed25519Key {
    key: ed25519_dalek::SigningKey,
}

#[pymethods]
impl Ed25519Key {
    #[new]
    fn new(seed: &[u8]) -> PyResult<Self> {
        let raw: [u8; ed25519::SEED_LEN] = seed
            .try_into()
            .map_err(|_| to_py(Error::length("seed", ed25519::SEED_LEN, seed.len())))?;
        Ok(Ed25519Key { key: ed25519_dalek::SigningKey::from_bytes(&raw) })
    }

    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.key.verifying_key().to_bytes())
    }

    fn sign<'py>(&self, py: Python<'py>, message: &[u8]) -> Bound<'py, PyBytes> {
        use ed25519_dalek::Signer;
        PyBytes::new(py, &self.key.sign(message).to_bytes())
    }

    fn seed<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.key.as_bytes())
    }

    fn __repr__(&self) -> String {
        "Ed25519Key(<secret>)".to_string()
    }
}

/// A parsed (decompressed, checked) Ed25519 public key, so repeated verifications under one key
/// skip the point decompression.
#[pyclass(frozen, name = "Ed25519Verifier")]
struct Ed25519Verifier {
    key: ed25519_dalek::VerifyingKey,
}

#[pymethods]
impl Ed25519Verifier {
    #[new]
    fn new(public_key: &[u8]) -> PyResult<Self> {
        Ok(Ed25519Verifier { key: ed25519::parse_public_key(public_key).map_err(to_py)? })
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> PyResult<()> {
        let raw: [u8; ed25519::SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| to_py(Error::length("signature", ed25519::SIGNATURE_LEN, signature.len())))?;
        self.key
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(&raw))
            .map_err(|_| to_py(Error::new(crate::ErrorCode::InvalidSignature, "signature does not verify")))
    }
}

#[pyfunction]
fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> PyResult<()> {
    ed25519::verify(public_key, message, signature).map_err(to_py)
}

type VerifyItems = Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>;

fn verify_owned(items: &VerifyItems) -> Vec<bool> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let borrowed: Vec<(&[u8], &[u8], &[u8])> =
        items.iter().map(|(pk, msg, sig)| (&pk[..], &msg[..], &sig[..])).collect();
    ed25519::verify_many(&borrowed, threads)
}

/// Verify each (public key, message, signature) triple; releases the GIL and uses all cores.
#[pyfunction]
fn ed25519_verify_many(py: Python<'_>, items: VerifyItems) -> Vec<bool> {
    py.detach(|| verify_owned(&items))
}

/// Signature checks running on native threads while Python goes on with other work.
#[pyclass(frozen)]
struct VerifyJob {
    handle: std::sync::Mutex<Option<std::thread::JoinHandle<Vec<bool>>>>,
}

#[pymethods]
impl VerifyJob {
    /// Wait for the results (one bool per item, in order). Can be called once.
    fn wait(&self, py: Python<'_>) -> PyResult<Vec<bool>> {
        let handle = self
            .handle
            .lock()
            .map_err(|_| NativeError::new_err(("internal", "verify job lock poisoned")))?
            .take()
            .ok_or_else(|| NativeError::new_err(("internal", "verify job already waited on")))?;
        py.detach(|| handle.join())
            .map_err(|_| NativeError::new_err(("internal", "verify thread panicked")))
    }
}

/// Start verifying triples on native threads and return at once.
#[pyfunction]
fn ed25519_verify_start(items: VerifyItems) -> VerifyJob {
    let handle = std::thread::spawn(move || verify_owned(&items));
    VerifyJob { handle: std::sync::Mutex::new(Some(handle)) }
}

#[pyfunction]
fn cbor_check_canonical(data: &[u8]) -> PyResult<()> {
    cbor::check_canonical(data).map_err(to_py)
}

fn biscuit_params(values: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<Vec<(String, biscuit::Param)>> {
    values
        .into_iter()
        .map(|(name, value)| {
            if let Ok(text) = value.extract::<String>() {
                Ok((name, biscuit::Param::Str(text)))
            } else if let Ok(number) = value.extract::<i64>() {
                Ok((name, biscuit::Param::Int(number)))
            } else {
                Err(NativeError::new_err(("malformed", format!("parameter {name} is not str or int"))))
            }
        })
        .collect()
}

/// Mint a Biscuit token deterministically (see native/src/biscuit.rs).
#[pyfunction]
fn biscuit_mint<'py>(
    py: Python<'py>,
    root_seed: &[u8],
    code: &str,
    params: Vec<(String, Bound<'py, PyAny>)>,
    rng_seed: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let token = biscuit::mint(root_seed, code, biscuit_params(params)?, rng_seed).map_err(to_py)?;
    Ok(PyBytes::new(py, &token))
}

/// Verify a Biscuit token and append a block deterministically.
#[pyfunction]
fn biscuit_attenuate<'py>(
    py: Python<'py>,
    token: &[u8],
    root_public_key: &[u8],
    code: &str,
    params: Vec<(String, Bound<'py, PyAny>)>,
    rng_seed: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let extended = biscuit::attenuate(token, root_public_key, code, biscuit_params(params)?, rng_seed)
        .map_err(to_py)?;
    Ok(PyBytes::new(py, &extended))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_function(wrap_pyfunction!(biscuit_mint, m)?)?;
    m.add_function(wrap_pyfunction!(biscuit_attenuate, m)?)?;
    m.add_function(wrap_pyfunction!(cbor_check_canonical, m)?)?;
    m.add_function(wrap_pyfunction!(encode::cbor_encode, m)?)?;
    m.add_class::<Ed25519Key>()?;
    m.add_class::<Ed25519Verifier>()?;
    m.add_function(wrap_pyfunction!(ed25519_verify, m)?)?;
    m.add_function(wrap_pyfunction!(ed25519_verify_many, m)?)?;
    m.add_function(wrap_pyfunction!(ed25519_verify_start, m)?)?;
    m.add_class::<VerifyJob>()?;
    frost::register(m)?;
    noise::register(m)?;
    reconcile::register(m)?;
    Ok(())
}
