//! The canonical CBOR encoder for Python values of the data model.
//!
//! The record codec builds maps with their keys already in canonical order, so encoding is one
//! walk that writes shortest heads and copies string bytes; it checks that order (and every
//! type) instead of sorting, so whatever it returns is canonical.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyString};

use crate::cbor::{self, MAX_DEPTH};

use super::NativeError;

fn unencodable(message: impl Into<String>) -> PyErr {
    NativeError::new_err(("malformed", message.into(), Vec::<u16>::new()))
}

fn write_int(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(small) = value.extract::<i64>() {
        if small >= 0 {
            cbor::write_head(out, cbor::MAJOR_UNSIGNED, small as u64);
        } else {
            cbor::write_head(out, cbor::MAJOR_NEGATIVE, (-1 - small) as u64);
        }
        return Ok(());
    }
    let big: i128 = value.extract().map_err(|_| unencodable("integer outside [-2**64, 2**64)"))?;
    if (0..=i128::from(u64::MAX)).contains(&big) {
        cbor::write_head(out, cbor::MAJOR_UNSIGNED, big as u64);
    } else if (-(1i128 << 64)..0).contains(&big) {
        cbor::write_head(out, cbor::MAJOR_NEGATIVE, (-1 - big) as u64);
    } else {
        return Err(unencodable("integer outside [-2**64, 2**64)"));
    }
    Ok(())
}

fn write_text(out: &mut Vec<u8>, text: &Bound<'_, PyString>) -> PyResult<usize> {
    let raw = text.to_str().map_err(|_| unencodable("text is not valid Unicode"))?.as_bytes();
    cbor::write_head(out, cbor::MAJOR_TEXT, raw.len() as u64);
    out.extend_from_slice(raw);
    Ok(raw.len())
}

fn write_value(out: &mut Vec<u8>, value: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    if value.is_none() {
        out.push(cbor::NULL);
    } else if let Ok(flag) = value.cast_exact::<PyBool>() {
        out.push(if flag.is_true() { cbor::TRUE } else { cbor::FALSE });
    } else if value.cast_exact::<PyInt>().is_ok() {
        write_int(out, value)?;
    } else if let Ok(bytes) = value.cast_exact::<PyBytes>() {
        let raw = bytes.as_bytes();
        cbor::write_head(out, cbor::MAJOR_BYTES, raw.len() as u64);
        out.extend_from_slice(raw);
    } else if let Ok(text) = value.cast_exact::<PyString>() {
        write_text(out, text)?;
    } else if let Ok(list) = value.cast_exact::<PyList>() {
        if depth >= MAX_DEPTH {
            return Err(unencodable(format!("value nested deeper than {MAX_DEPTH} levels")));
        }
        cbor::write_head(out, cbor::MAJOR_ARRAY, list.len() as u64);
        for item in list.iter() {
            write_value(out, &item, depth + 1)?;
        }
    } else if let Ok(map) = value.cast_exact::<PyDict>() {
        if depth >= MAX_DEPTH {
            return Err(unencodable(format!("value nested deeper than {MAX_DEPTH} levels")));
        }
        cbor::write_head(out, cbor::MAJOR_MAP, map.len() as u64);
        let mut previous: Option<(usize, usize)> = None; // (start, length) of the last key's bytes
        for (key, item) in map.iter() {
            let text = key
                .cast_exact::<PyString>()
                .map_err(|_| unencodable("map key is not a str; only str keys"))?;
            let length = write_text(out, text)?;
            let key_start = out.len() - length;
            if let Some((prev_start, prev_len)) = previous {
                if !cbor::key_follows(&out[prev_start..prev_start + prev_len], &out[key_start..]) {
                    return Err(unencodable("map keys are not in canonical order"));
                }
            }
            previous = Some((key_start, length));
            write_value(out, &item, depth + 1)?;
        }
    } else {
        let kind = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        return Err(unencodable(format!("values of type {kind} cannot be encoded")));
    }
    Ok(())
}

/// The canonical CBOR bytes of a value whose maps already list their keys in canonical order.
#[pyfunction]
pub(super) fn cbor_encode<'py>(py: Python<'py>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value, 0)?;
    Ok(PyBytes::new(py, &out))
}
