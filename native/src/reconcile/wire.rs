//! A strict reading of negentropy's protocol-V1 messages, run before the crate sees them.
//!
//! negentropy 0.5.3 bounds every allocation by the message length (an ID list's count is
//! checked against the bytes left) and cannot panic on any input, but it is lenient: its
//! varint decoder stops silently at the end of the message and drops overflowing bits, so a
//! message cut inside a varint reads as a valid range with the rest defaulted to zero (mode 0,
//! "skip"); and ranges out of order are read as empty. Both would let a truncated or bogus
//! message pass as a short answer. This check refuses them, so what reaches the crate is a
//! message an honest peer could have sent:
//!
//! ```text
//! message  = version(0x61) range*
//! range    = bound mode payload
//! bound    = varint(timestamp delta: 0 = infinity, else 1 + delta) varint(id_len <= 32) id_prefix
//! mode     = varint(0 skip | 1 fingerprint | 2 id list)
//! payload  = "" | fingerprint(16 bytes) | varint(count) id(32 bytes)*count
//! ```
//!
//! Varints are big-endian base-128, minimal, at most 10 bytes and within u64. Bounds are
//! strictly increasing (compared as (timestamp, id prefix padded with zeros), as negentropy
//! compares them); the infinity bound has no id prefix and ends the message, with one
//! exception, [`EMPTY_REMAINDER`]. Messages of another 0x6X version are left to the crate (a
//! responder answers them with its own version, an initiator refuses them).
//!
//! **The empty remainder.** A side that fills its frame stops and ends the message with the
//! fingerprint of "the rest", a range up to the infinity bound. A responder's id list is
//! written before the frame is checked (in negentropy 0.5.3 as in the C++ reference), so when
//! the id list that fills the frame is the last range, itself ending at infinity, the rest is
//! empty and the message ends `… infinity id-list, infinity fingerprint(∅)`: the same bound
//! twice. The crate reads that second range as empty, where fingerprints always agree, so it
//! is a no-op; the check accepts exactly those 19 bytes there, and nothing else after the
//! infinity bound.

use crate::error::{Error, ErrorCode, Result};

pub const PROTOCOL_VERSION: u8 = 0x61;
const ID_LEN: usize = 32;
const FINGERPRINT_LEN: usize = 16;
const INFINITY: u64 = u64::MAX;
const MODE_ID_LIST: u64 = 2;

/// The only range allowed after the infinity bound, and only after an id list there (see the
/// module documentation): the infinity bound (timestamp 0, no id prefix), mode 1 (fingerprint)
/// and the fingerprint of the empty range, SHA-256 of the zero sum (32 bytes) and the count 0
/// (one byte) cut to 16 bytes.
pub const EMPTY_REMAINDER: [u8; 3 + FINGERPRINT_LEN] = [
    0x00, 0x00, 0x01, // bound (infinity), mode
    0x7f, 0x9c, 0x9e, 0x31, 0xac, 0x82, 0x56, 0xca, 0x2f, 0x25, 0x85, 0x83, 0xdf, 0x26, 0x2d, 0xbc,
];

fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::ReconcileMalformed, message)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(malformed(format!("message ends inside {what}")));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn varint(&mut self, what: &str) -> Result<u64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.take(1, what)?[0];
            if i == 0 && byte == 0x80 {
                return Err(malformed(format!("{what} is not a minimal varint")));
            }
            if value > (u64::MAX >> 7) {
                return Err(malformed(format!("{what} does not fit in 64 bits")));
            }
            value = (value << 7) | u64::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed(format!("{what} is longer than 10 bytes")))
    }
}

/// A bound as negentropy orders it: timestamp, then the id prefix padded with zeros.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Bound {
    timestamp: u64,
    id: [u8; ID_LEN],
}

/// Check `message` as described in the module documentation.
pub fn check(message: &[u8]) -> Result<()> {
    let mut reader = Reader { rest: message };
    let version = reader
        .take(1, "the version byte")
        .map_err(|_| malformed("empty message"))?[0];
    if !(0x60..=0x6f).contains(&version) {
        return Err(malformed(format!(
            "not a reconciliation message (version byte {version:#04x})"
        )));
    }
    if version != PROTOCOL_VERSION {
        return Ok(());
    }
    let mut last_timestamp: u64 = 0;
    let mut previous: Option<Bound> = None;
    let mut previous_mode: u64 = 0;
    while !reader.rest.is_empty() {
        if previous.is_some_and(|p| p.timestamp == INFINITY) {
            if previous_mode == MODE_ID_LIST && reader.rest == EMPTY_REMAINDER {
                return Ok(());
            }
            return Err(malformed("a range after the infinity bound"));
        }
        let encoded = reader.varint("a bound's timestamp")?;
        let timestamp = if encoded == 0 {
            INFINITY
        } else {
            match last_timestamp.checked_add(encoded - 1) {
                Some(t) if t != INFINITY => t,
                _ => return Err(malformed("a bound's timestamp is out of range")),
            }
        };
        last_timestamp = timestamp;
        let id_len = reader.varint("a bound's id length")?;
        if id_len > ID_LEN as u64 {
            return Err(malformed(format!("a bound's id prefix is {id_len} bytes")));
        }
        let prefix = reader.take(id_len as usize, "a bound's id prefix")?;
        if timestamp == INFINITY && !prefix.is_empty() {
            return Err(malformed("the infinity bound carries an id prefix"));
        }
        let mut bound = Bound {
            timestamp,
            id: [0u8; ID_LEN],
        };
        bound.id[..prefix.len()].copy_from_slice(prefix);
        if previous.is_some_and(|p| bound <= p) {
            return Err(malformed("ranges are not in increasing order"));
        }
        previous = Some(bound);
        previous_mode = reader.varint("a range's mode")?;
        match previous_mode {
            0 => {}
            1 => {
                reader.take(FINGERPRINT_LEN, "a fingerprint")?;
            }
            MODE_ID_LIST => {
                let count = reader.varint("an id list's length")?;
                let room = (reader.rest.len() / ID_LEN) as u64;
                if count > room {
                    return Err(malformed(format!(
                        "an id list of {count} ids in {} bytes",
                        reader.rest.len()
                    )));
                }
                reader.take(count as usize * ID_LEN, "an id list")?;
            }
            mode => return Err(malformed(format!("unknown range mode {mode}"))),
        }
    }
    Ok(())
}
