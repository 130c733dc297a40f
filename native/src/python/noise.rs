//! Noise handshakes and channels for Python: frozen handles over the plain Rust state machines
//! in `crate::noise`, each behind a mutex (one call at a time; a second, concurrent call is a
//! `noise_state` error, never a wait). Noise steps take microseconds, so the GIL is kept; so
//! does `seal` / `open` of a batch (about 0.7 µs per KiB: 0.2 ms for a 256 KiB read), whose
//! inputs and outputs are Python objects and which the event loop's thread waits for anyway.

use std::sync::{Mutex, PoisonError, TryLockError};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use super::to_py;
use crate::error::{guarded, Error, ErrorCode, Result};
use crate::noise::wire::{self, Opener};
use crate::noise::{Channel, Initiator, Responder, StaticKeypair};

/// Run `f` on the state behind `slot`, turning errors, panics and contention into
/// `NativeError`.
fn with<S, T>(slot: &Mutex<S>, f: impl FnOnce(&mut S) -> Result<T>) -> PyResult<T> {
    let mut guard = match slot.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => {
            return Err(to_py(Error::new(
                ErrorCode::NoiseState,
                "another thread is using this handshake or channel",
            )))
        }
    };
    guarded(|| f(&mut guard)).map_err(to_py)
}

/// A static X25519 key pair; the private key never leaves Rust, the seed only by `seed()`.
#[pyclass(frozen, module = "aura_core._native", name = "NoiseStaticKeypair")]
pub struct PyStaticKeypair(StaticKeypair);

#[pymethods]
impl PyStaticKeypair {
    #[staticmethod]
    fn from_seed(seed: &[u8]) -> PyResult<Self> {
        guarded(|| StaticKeypair::from_seed(seed))
            .map(Self)
            .map_err(to_py)
    }

    #[getter]
    fn public<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.public())
    }

    fn seed<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.seed())
    }

    fn __repr__(&self) -> String {
        "NoiseStaticKeypair(<secret>)".to_string()
    }
}

#[pyclass(frozen, module = "aura_core._native", name = "NoiseChannel")]
pub struct PyChannel(Mutex<Channel>);

impl PyChannel {
    fn new(channel: Channel) -> Self {
        PyChannel(Mutex::new(channel))
    }
}

#[pymethods]
impl PyChannel {
    fn encrypt<'py>(&self, py: Python<'py>, plaintext: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let message = with(&self.0, |c| c.encrypt(plaintext))?;
        Ok(PyBytes::new(py, &message))
    }

    fn decrypt<'py>(&self, py: Python<'py>, message: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let plaintext = with(&self.0, |c| c.decrypt(message))?;
        Ok(PyBytes::new(py, &plaintext))
    }

    /// The wire bytes of the frames carrying `messages` (a list of bytes), packed, fragmented
    /// and encrypted as `wire::seal` does.
    fn seal<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyList>,
        max_frame: usize,
        max_message: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let items: Vec<Bound<'py, PyBytes>> = messages
            .iter()
            .map(|item| item.cast_into::<PyBytes>().map_err(PyErr::from))
            .collect::<PyResult<_>>()?;
        let slices: Vec<&[u8]> = items.iter().map(|b| b.as_bytes()).collect();
        let wire = with(&self.0, |c| wire::seal(c, &slices, max_frame, max_message))?;
        Ok(PyBytes::new(py, &wire))
    }

    fn rekey_outgoing(&self) -> PyResult<()> {
        with(&self.0, Channel::rekey_outgoing)
    }

    fn rekey_incoming(&self) -> PyResult<()> {
        with(&self.0, Channel::rekey_incoming)
    }

    #[getter]
    fn handshake_hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let hash = with(&self.0, |c| Ok(c.handshake_hash()))?;
        Ok(PyBytes::new(py, &hash))
    }

    #[getter]
    fn remote_static<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let key = with(&self.0, |c| Ok(c.remote_static()))?;
        Ok(PyBytes::new(py, &key))
    }

    #[getter]
    fn is_open(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_open()
    }
}

/// The reading side of a channel's stream after the handshake (`wire::Opener`).
#[pyclass(frozen, module = "aura_core._native", name = "NoiseOpener")]
pub struct PyOpener(Mutex<Opener>);

#[pymethods]
impl PyOpener {
    #[new]
    fn new(max_frame: usize, max_message: usize) -> PyResult<Self> {
        guarded(|| Opener::new(max_frame, max_message))
            .map(|o| PyOpener(Mutex::new(o)))
            .map_err(to_py)
    }

    /// The messages that `data` completes, decrypted with `channel`.
    fn open<'py>(
        &self,
        py: Python<'py>,
        channel: &Bound<'py, PyChannel>,
        data: &[u8],
    ) -> PyResult<Bound<'py, PyList>> {
        let channel = &channel.get().0;
        let opened = with(&self.0, |o| {
            let mut guard = match channel.try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::new(
                        ErrorCode::NoiseState,
                        "another thread is using this channel",
                    ))
                }
            };
            o.open(&mut guard, data)
        })?;
        PyList::new(py, opened.messages().map(|m| PyBytes::new(py, m)))
    }

    #[getter]
    fn buffered(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buffered()
    }

    #[getter]
    fn at_boundary(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .at_boundary()
    }
}

#[pyclass(frozen, module = "aura_core._native", name = "NoiseInitiator")]
pub struct PyInitiator(Mutex<Initiator>);

#[pymethods]
impl PyInitiator {
    #[new]
    fn new(
        local: &Bound<'_, PyStaticKeypair>,
        remote_static: &[u8],
        psk: &[u8],
        prologue: &[u8],
        seed: &[u8],
    ) -> PyResult<Self> {
        let local = &local.get().0;
        guarded(|| Initiator::new(local, remote_static, psk, prologue, seed))
            .map(|i| PyInitiator(Mutex::new(i)))
            .map_err(to_py)
    }

    fn write_first<'py>(&self, py: Python<'py>, payload: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let message = with(&self.0, |i| i.write_first(payload))?;
        Ok(PyBytes::new(py, &message))
    }

    fn read_second<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
    ) -> PyResult<(Bound<'py, PyBytes>, PyChannel)> {
        let (payload, channel) = with(&self.0, |i| i.read_second(message))?;
        Ok((PyBytes::new(py, &payload), PyChannel::new(channel)))
    }
}

#[pyclass(frozen, module = "aura_core._native", name = "NoiseResponder")]
pub struct PyResponder(Mutex<Responder>);

#[pymethods]
impl PyResponder {
    #[new]
    fn new(local: &Bound<'_, PyStaticKeypair>, prologue: &[u8], seed: &[u8]) -> PyResult<Self> {
        let local = &local.get().0;
        guarded(|| Responder::new(local, prologue, seed))
            .map(|r| PyResponder(Mutex::new(r)))
            .map_err(to_py)
    }

    fn read_first<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let (remote, payload) = with(&self.0, |r| r.read_first(message))?;
        Ok((PyBytes::new(py, &remote), PyBytes::new(py, &payload)))
    }

    fn write_second<'py>(
        &self,
        py: Python<'py>,
        psk: &[u8],
        payload: &[u8],
    ) -> PyResult<(Bound<'py, PyBytes>, PyChannel)> {
        let (message, channel) = with(&self.0, |r| r.write_second(psk, payload))?;
        Ok((PyBytes::new(py, &message), PyChannel::new(channel)))
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStaticKeypair>()?;
    m.add_class::<PyInitiator>()?;
    m.add_class::<PyResponder>()?;
    m.add_class::<PyChannel>()?;
    m.add_class::<PyOpener>()?;
    Ok(())
}
