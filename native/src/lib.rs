//! Native core of Aura for Python.
//!
//! Everything here is plain Rust (over byte slices and the ZF FROST types) so that `cargo test`
//! can check it without Python; the PyO3 bindings in `python` are thin wrappers compiled only
//! with the `python` feature (which maturin turns on).
//!
//! No function in this crate draws randomness from the operating system: callers pass every
//! random input as bytes, so a seeded simulator can replay any run.

pub mod biscuit;
pub mod cbor;
pub mod ed25519;
pub mod error;
pub mod frost;
pub mod noise;
pub mod reconcile;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, ErrorCode};
