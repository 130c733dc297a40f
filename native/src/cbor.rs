//! Strict check that bytes are exactly the canonical CBOR encoding of a value in Aura's data
//! model (the DAG-CBOR subset): str-keyed maps, arrays, text and byte strings, bool, null and
//! integers in [-2^64, 2^64). Heads must use their shortest form, lengths must be definite, map
//! keys must be text strings in strictly increasing length-first then bytewise order (which also
//! excludes duplicates), nesting must stay below [`MAX_DEPTH`], and nothing may follow the item.
//! Floats, tags, simple values and `undefined` are rejected.
//!
//! Parsing is done by `minicbor`'s non-allocating decoder; this module only checks the
//! canonical-form rules on top of it by comparing consumed bytes with the shortest encoding.
//! The Python side then decodes the accepted bytes with cbor2.
//!
//! [`write_head`] is the other direction: the shortest head for a major type and argument,
//! which is all a canonical encoder needs beyond copying string bytes (the Python binding
//! walks values with it).

use minicbor::data::Type;
use minicbor::Decoder;

use crate::error::{Error, ErrorCode, Result};

/// Deepest nesting of arrays and maps accepted (containers at depth 0..MAX_DEPTH-1).
pub const MAX_DEPTH: usize = 64;

fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::Malformed, message)
}

fn decode_error(err: minicbor::decode::Error) -> Error {
    if err.is_end_of_input() {
        malformed("truncated CBOR")
    } else {
        malformed(format!("malformed CBOR: {err}"))
    }
}

/// Length of the shortest head carrying `argument`.
fn head_len(argument: u64) -> usize {
    match argument {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

fn expect_consumed(start: usize, end: usize, argument: u64, what: &str) -> Result<()> {
    if end - start != head_len(argument) {
        return Err(malformed(format!("non-minimal {what} head at byte {start}")));
    }
    Ok(())
}

fn check_item(d: &mut Decoder<'_>, depth: usize) -> Result<()> {
    let start = d.position();
    match d.datatype().map_err(decode_error)? {
        Type::Bool | Type::Null => d.skip().map_err(decode_error),
        Type::U8 | Type::U16 | Type::U32 | Type::U64 | Type::I8 | Type::I16 | Type::I32
        | Type::I64 | Type::Int => {
            let value = i128::from(d.int().map_err(decode_error)?);
            let argument = if value < 0 { -1 - value } else { value } as u64;
            expect_consumed(start, d.position(), argument, "integer")
        }
        Type::Bytes => {
            let bytes = d.bytes().map_err(decode_error)?;
            expect_consumed(start, d.position() - bytes.len(), bytes.len() as u64, "byte string")
        }
        Type::String => {
            let text = d.str().map_err(decode_error)?;
            expect_consumed(start, d.position() - text.len(), text.len() as u64, "text string")
        }
        Type::Array => {
            if depth >= MAX_DEPTH {
                return Err(malformed(format!("nested deeper than {MAX_DEPTH} levels")));
            }
            let len = d.array().map_err(decode_error)?.ok_or_else(|| malformed("indefinite array"))?;
            expect_consumed(start, d.position(), len, "array")?;
            for _ in 0..len {
                check_item(d, depth + 1)?;
            }
            Ok(())
        }
        Type::Map => {
            if depth >= MAX_DEPTH {
                return Err(malformed(format!("nested deeper than {MAX_DEPTH} levels")));
            }
            let len = d.map().map_err(decode_error)?.ok_or_else(|| malformed("indefinite map"))?;
            expect_consumed(start, d.position(), len, "map")?;
            let mut previous: Option<&[u8]> = None;
            for _ in 0..len {
                let key_start = d.position();
                if d.datatype().map_err(decode_error)? != Type::String {
                    return Err(malformed(format!("map key at byte {key_start} is not a text string")));
                }
                let key = d.str().map_err(decode_error)?.as_bytes();
                expect_consumed(key_start, d.position() - key.len(), key.len() as u64, "map key")?;
                if let Some(prev) = previous {
                    if !key_follows(prev, key) {
                        return Err(malformed(format!(
                            "map key at byte {key_start} is out of canonical order or repeated"
                        )));
                    }
                }
                previous = Some(key);
                check_item(d, depth + 1)?;
            }
            Ok(())
        }
        Type::F16 | Type::F32 | Type::F64 => Err(malformed(format!("float at byte {start}"))),
        Type::Tag => Err(malformed(format!("tag at byte {start}"))),
        Type::Undefined | Type::Simple => Err(malformed(format!("simple value at byte {start}"))),
        Type::BytesIndef | Type::StringIndef | Type::ArrayIndef | Type::MapIndef => {
            Err(malformed(format!("indefinite-length item at byte {start}")))
        }
        Type::Break | Type::Unknown(_) => Err(malformed(format!("invalid initial byte at {start}"))),
    }
}

/// CBOR major types used by the data model.
pub const MAJOR_UNSIGNED: u8 = 0;
pub const MAJOR_NEGATIVE: u8 = 1;
pub const MAJOR_BYTES: u8 = 2;
pub const MAJOR_TEXT: u8 = 3;
pub const MAJOR_ARRAY: u8 = 4;
pub const MAJOR_MAP: u8 = 5;
/// `false`, `true` and `null`.
pub const FALSE: u8 = 0xf4;
pub const TRUE: u8 = 0xf5;
pub const NULL: u8 = 0xf6;

/// Append the shortest head of `major` with `argument` (an integer's value, a length).
pub fn write_head(out: &mut Vec<u8>, major: u8, argument: u64) {
    let initial = major << 5;
    match argument {
        0..=23 => out.push(initial | argument as u8),
        24..=0xff => out.extend_from_slice(&[initial | 24, argument as u8]),
        0x100..=0xffff => {
            out.push(initial | 25);
            out.extend_from_slice(&(argument as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(initial | 26);
            out.extend_from_slice(&(argument as u32).to_be_bytes());
        }
        _ => {
            out.push(initial | 27);
            out.extend_from_slice(&argument.to_be_bytes());
        }
    }
}

/// Whether `key` sorts strictly after `previous` in canonical map-key order (length first,
/// then bytewise).
pub fn key_follows(previous: &[u8], key: &[u8]) -> bool {
    (key.len(), key) > (previous.len(), previous)
}

/// Succeed iff `data` is exactly the canonical encoding of one value of the data model.
pub fn check_canonical(data: &[u8]) -> Result<()> {
    let mut d = Decoder::new(data);
    check_item(&mut d, 0)?;
    if d.position() != data.len() {
        return Err(malformed(format!("{} trailing bytes", data.len() - d.position())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn accepts_canonical_values() {
        for ok in [
            "00", "17", "1818", "19ffff", "1bffffffffffffffff", "20", "3bffffffffffffffff",
            "40", "4161", "60", "6161", "80", "820102", "a0", "a2616101626262f6",
            "a2616101626161f5", "f4", "f5", "f6",
        ] {
            check_canonical(&hex(ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn rejects_non_canonical_and_forbidden() {
        for bad in [
            "", "1801", "190017", "1a00000017", "1b0000000000000017", "3817", "5801aa", "7801",
            "9800", "b800", "5f4101ff", "9fff", "bfff", "7f6161ff", "f7", "e0", "f814", "f93e00",
            "fa3fc00000", "fb3ff8000000000000", "c249010000000000000000", "d82a4100",
            "a2616201616101", "a2616101616102", "a10102", "a14161", "0000", "ff", "1c",
            "62c328", "81", "a16161",
        ] {
            let data = hex(bad);
            assert!(check_canonical(&data).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn heads_are_shortest_and_check_as_canonical() {
        for argument in [0u64, 23, 24, 255, 256, 65535, 65536, 0xffff_ffff, 0x1_0000_0000, u64::MAX] {
            for major in [MAJOR_UNSIGNED, MAJOR_NEGATIVE] {
                let mut out = Vec::new();
                write_head(&mut out, major, argument);
                assert_eq!(out.len(), head_len(argument));
                check_canonical(&out).unwrap_or_else(|e| panic!("{major} {argument}: {e}"));
            }
        }
        let mut text = Vec::new();
        write_head(&mut text, MAJOR_TEXT, 300);
        text.extend(std::iter::repeat(b'a').take(300));
        check_canonical(&text).unwrap();
        assert!(key_follows(b"b", b"aa") && key_follows(b"a", b"b") && !key_follows(b"a", b"a"));
    }

    #[test]
    fn depth_limit() {
        let mut ok = vec![0x81u8; MAX_DEPTH - 1];
        ok.push(0x80);
        check_canonical(&ok).unwrap();
        let mut deep = vec![0x81u8; MAX_DEPTH];
        deep.push(0x80);
        assert!(check_canonical(&deep).is_err());
    }
}
