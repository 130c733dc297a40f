//! PyO3 bindings: thin wrappers over the plain Rust API. Errors become
//! `NativeError(code, message, culprits)` and the Python package `aura_core.crypto` maps codes
//! to typed exceptions.

mod frost;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::{cbor, ed25519, Error};

create_exception!(
    _native,
    NativeError,
    PyException,
    "Raised by the native core with args (code, message, culprits)."
);

pub(crate) fn to_py(err: Error) -> PyErr {
    NativeError::new_err((err.code.as_str(), err.message, err.culprits))
}

#[pyfunction]
fn ed25519_public_key<'py>(py: Python<'py>, seed: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let pk = ed25519::public_key(seed).map_err(to_py)?;
    Ok(PyBytes::new(py, &pk))
}

#[pyfunction]
fn ed25519_sign<'py>(
    py: Python<'py>,
    seed: &[u8],
    message: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let sig = ed25519::sign(seed, message).map_err(to_py)?;
    Ok(PyBytes::new(py, &sig))
}

#[pyfunction]
fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> PyResult<()> {
    ed25519::verify(public_key, message, signature).map_err(to_py)
}

#[pyfunction]
fn cbor_check_canonical(data: &[u8]) -> PyResult<()> {
    cbor::check_canonical(data).map_err(to_py)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_function(wrap_pyfunction!(cbor_check_canonical, m)?)?;
    m.add_function(wrap_pyfunction!(ed25519_public_key, m)?)?;
    m.add_function(wrap_pyfunction!(ed25519_sign, m)?)?;
    m.add_function(wrap_pyfunction!(ed25519_verify, m)?)?;
    frost::register(m)?;
    Ok(())
}
