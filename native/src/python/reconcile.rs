//! Set reconciliation for Python: one frozen handle over `crate::reconcile::Reconciler`.
//! Building (the sort) and every step run without the GIL; a second, concurrent call on the
//! same reconciler is a `reconcile_state` error, never a wait.

use std::sync::{Mutex, TryLockError};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use super::to_py;
use crate::error::{guarded, Error, ErrorCode, Result};
use crate::reconcile::{Reconciler, ID_LEN};

fn invalid(message: String) -> PyErr {
    to_py(Error::new(ErrorCode::InvalidArgument, message))
}

/// `(timestamp, id)` pairs out of any iterable of 2-tuples of an int and 32 bytes.
fn items_of(items: &Bound<'_, PyAny>) -> PyResult<Vec<(u64, [u8; ID_LEN])>> {
    let mut out = Vec::with_capacity(items.len().unwrap_or(0));
    for (index, item) in items.try_iter()?.enumerate() {
        let item = item?;
        let pair = item
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| invalid(format!("item {index} is not a (timestamp, id) tuple")))?;
        let timestamp: u64 = pair.get_borrowed_item(0)?.extract().map_err(|_| {
            invalid(format!(
                "item {index}: the timestamp is not an int in 0..2^64 - 2"
            ))
        })?;
        let id_object = pair.get_borrowed_item(1)?;
        let id: [u8; ID_LEN] = id_object
            .cast::<PyBytes>()
            .ok()
            .and_then(|b| b.as_bytes().try_into().ok())
            .ok_or_else(|| invalid(format!("item {index}: the id is not {ID_LEN} bytes")))?;
        out.push((timestamp, id));
    }
    Ok(out)
}

#[pyclass(frozen, module = "aura_core._native", name = "Reconciler")]
pub struct PyReconciler {
    inner: Mutex<Reconciler>,
    len: usize,
}

impl PyReconciler {
    fn step<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Reconciler) -> Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut guard = match self.inner.try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::new(
                        ErrorCode::ReconcileState,
                        "another thread is using this reconciler",
                    ))
                }
            };
            guarded(|| f(&mut guard))
        })
        .map_err(to_py)
    }
}

type Step<'py> = (
    Option<Bound<'py, PyBytes>>,
    Vec<Bound<'py, PyBytes>>,
    Vec<Bound<'py, PyBytes>>,
);

#[pymethods]
impl PyReconciler {
    #[new]
    fn new(py: Python<'_>, items: &Bound<'_, PyAny>, frame_size_limit: u64) -> PyResult<Self> {
        let items = items_of(items)?;
        let reconciler = py
            .detach(|| guarded(|| Reconciler::new(&items, frame_size_limit)))
            .map_err(to_py)?;
        let len = reconciler.len();
        Ok(PyReconciler {
            inner: Mutex::new(reconciler),
            len,
        })
    }

    fn __len__(&self) -> usize {
        self.len
    }

    fn initiate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let message = self.step(py, Reconciler::initiate)?;
        Ok(PyBytes::new(py, &message))
    }

    fn reconcile<'py>(&self, py: Python<'py>, message: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let answer = self.step(py, |r| r.reconcile(message))?;
        Ok(PyBytes::new(py, &answer))
    }

    fn reconcile_with_ids<'py>(&self, py: Python<'py>, message: &[u8]) -> PyResult<Step<'py>> {
        let step = self.step(py, |r| r.reconcile_with_ids(message))?;
        let ids = |v: Vec<[u8; ID_LEN]>| v.iter().map(|id| PyBytes::new(py, id)).collect();
        Ok((
            step.next.map(|m| PyBytes::new(py, &m)),
            ids(step.have),
            ids(step.need),
        ))
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyReconciler>()
}
