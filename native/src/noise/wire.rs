//! The transport's messages inside Noise transport messages, a whole batch per call.
//!
//! After the handshake every frame on the stream is a u32 big-endian length (1..=limit) and
//! one Noise transport message; its plaintext starts with a kind byte: `MORE` (a fragment,
//! more follow), `LAST` (a message's last fragment, or a whole message alone) or `PACK` (two
//! or more whole messages, each a u32 big-endian length and its bytes). `READY`, the
//! initiator's first frame, is read by the handshake and is not data.
//!
//! [`seal`] turns the messages a writer has queued into the wire bytes of the frames that carry
//! them (packing, fragmenting, encrypting, framing: one buffer out) and [`Opener`] turns the
//! bytes read from the stream back into messages (frame splitting, decryption, unpacking and
//! reassembly, holding at most one incomplete frame and one incomplete message). Both exist so
//! that a batch of small messages costs one call from Python instead of several per message;
//! neither does I/O or draws randomness.

use super::{Channel, MAX_PLAINTEXT_LEN, TAG_LEN};
use crate::error::{Error, ErrorCode, Result};

pub const READY: u8 = 0x01;
pub const MORE: u8 = 0x02;
pub const LAST: u8 = 0x03;
pub const PACK: u8 = 0x04;
/// Bytes of the length before each message in a `PACK`.
pub const PACKED_LEN: usize = 4;
/// Bytes of a frame's length header.
pub const HEADER_LEN: usize = 4;
/// The smallest frame limit: a tag and a kind byte with one byte of data.
pub const MIN_FRAME: usize = TAG_LEN + 2;
/// The largest frame: one Noise message.
pub const MAX_FRAME: usize = super::MAX_MESSAGE_LEN;

fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::MalformedFrame, message)
}

fn check_frame_limit(max_frame: usize) -> Result<()> {
    if !(MIN_FRAME..=MAX_FRAME).contains(&max_frame) {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("the frame limit is {MIN_FRAME}..={MAX_FRAME}, not {max_frame}"),
        ));
    }
    Ok(())
}

/// The most message bytes one frame's plaintext carries after its kind byte.
fn piece_of(max_frame: usize) -> usize {
    max_frame.min(MAX_PLAINTEXT_LEN + TAG_LEN) - TAG_LEN - 1
}

/// Encrypts plaintexts into frames appended to one buffer.
struct Sealer<'a> {
    channel: &'a mut Channel,
    out: Vec<u8>,
    plain: Vec<u8>,
}

impl Sealer<'_> {
    /// Appends one frame (header and Noise message) carrying `self.plain`.
    fn frame(&mut self) -> Result<()> {
        let at = self.out.len();
        self.out.extend_from_slice(&[0u8; HEADER_LEN]);
        if let Err(err) = self.channel.encrypt_into(&self.plain, &mut self.out) {
            self.out.truncate(at);
            return Err(err);
        }
        // At most MAX_MESSAGE_LEN (encrypt_into checks), so it fits the header.
        let length = (self.out.len() - at - HEADER_LEN) as u32;
        self.out[at..at + HEADER_LEN].copy_from_slice(&length.to_be_bytes());
        Ok(())
    }

    /// The frame of whole messages: a lone one as `LAST`, several as a `PACK`.
    fn whole(&mut self, group: &[&[u8]]) -> Result<()> {
        self.plain.clear();
        match group {
            [] => return Ok(()),
            [one] => {
                self.plain.push(LAST);
                self.plain.extend_from_slice(one);
            }
            many => {
                self.plain.push(PACK);
                for each in many {
                    // A pack holds at most `piece` bytes, so each length fits a u32.
                    self.plain
                        .extend_from_slice(&(each.len() as u32).to_be_bytes());
                    self.plain.extend_from_slice(each);
                }
            }
        }
        self.frame()
    }

    fn fragment(&mut self, kind: u8, chunk: &[u8]) -> Result<()> {
        self.plain.clear();
        self.plain.push(kind);
        self.plain.extend_from_slice(chunk);
        self.frame()
    }
}

/// The wire bytes of the frames (each at most `max_frame` bytes after its header) that carry
/// `messages` in order: runs of messages that fit together go in one `PACK` (a lone one as
/// `LAST`), a message too large for a pack is fragmented into `MORE`s and a `LAST`.
/// `InvalidArgument` for a frame limit outside `MIN_FRAME..=MAX_FRAME` or a message over
/// `max_message`, and `NoiseState` for a closed channel, all checked before anything is
/// encrypted (the channel is unchanged).
pub fn seal(
    channel: &mut Channel,
    messages: &[&[u8]],
    max_frame: usize,
    max_message: usize,
) -> Result<Vec<u8>> {
    check_frame_limit(max_frame)?;
    if let Some(long) = messages.iter().find(|m| m.len() > max_message) {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "a message is at most {max_message} bytes, got {}",
                long.len()
            ),
        ));
    }
    if !channel.is_open() {
        return Err(super::closed());
    }
    let piece = piece_of(max_frame);
    let total: usize = messages.iter().map(|m| m.len() + PACKED_LEN).sum();
    let frames = total / piece + 1 + messages.len().min(2);
    let mut sealer = Sealer {
        channel,
        out: Vec::with_capacity(total + frames * (HEADER_LEN + TAG_LEN + 1)),
        plain: Vec::with_capacity(piece + 1),
    };
    let mut group: Vec<&[u8]> = Vec::new();
    let mut size = 0; // the group's bytes in a pack: each message and its length
    for &message in messages {
        let packed = PACKED_LEN + message.len();
        if size + packed <= piece {
            group.push(message);
            size += packed;
            continue;
        }
        sealer.whole(&group)?;
        group.clear();
        if packed <= piece {
            group.push(message);
            size = packed;
            continue;
        }
        size = 0;
        let mut chunks = message.chunks(piece).peekable();
        while let Some(chunk) = chunks.next() {
            let kind = if chunks.peek().is_some() { MORE } else { LAST };
            sealer.fragment(kind, chunk)?;
        }
    }
    sealer.whole(&group)?;
    Ok(sealer.out)
}

/// Messages read by one [`Opener::open`] call: `plain[a..b]` for each `(a, b)` of `spans`, in
/// order (one buffer, so the caller copies each message once).
#[derive(Default, Debug)]
pub struct Opened {
    pub plain: Vec<u8>,
    pub spans: Vec<(usize, usize)>,
}

impl Opened {
    pub fn messages(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|&(a, b)| &self.plain[a..b])
    }
}

/// The reading side of one direction of a connection after its handshake (sans-IO): fed
/// whatever the socket returned, it gives back the messages completed. It holds at most one
/// incomplete frame (under `HEADER_LEN + limit` bytes) and one incomplete message (at most
/// `max_message`). A frame length outside `1..=limit`, an unknown kind, a `PACK` while a
/// message is half received, a pack of fewer than two messages or cut short, and a message
/// over `max_message` are `MalformedFrame`; a frame that does not decrypt is `NoiseDecrypt`.
/// After any error the opener is dead and the channel closed: the stream is no longer one
/// the peer wrote.
pub struct Opener {
    limit: usize,
    max_message: usize,
    /// An incomplete frame, its header included (the stream always resumes at a boundary).
    pending: Vec<u8>,
    /// The fragments of a message not yet complete.
    partial: Vec<u8>,
    fragmented: bool,
    failed: bool,
}

impl Opener {
    pub fn new(limit: usize, max_message: usize) -> Result<Self> {
        check_frame_limit(limit)?;
        Ok(Opener {
            limit,
            max_message,
            pending: Vec::new(),
            partial: Vec::new(),
            fragmented: false,
            failed: false,
        })
    }

    /// Bytes held of an incomplete frame and of an incomplete message.
    pub fn buffered(&self) -> usize {
        self.pending.len() + self.partial.len()
    }

    /// Whether the bytes so far end exactly after a frame (a clean place for the peer to stop).
    pub fn at_boundary(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// The messages that `data`, the next bytes of the stream, completes.
    pub fn open(&mut self, channel: &mut Channel, data: &[u8]) -> Result<Opened> {
        if self.failed {
            return Err(malformed("the channel already broke the frame format"));
        }
        let mut opened = Opened::default();
        match self.read(channel, data, &mut opened) {
            Ok(()) => Ok(opened),
            Err(err) => {
                self.failed = true;
                self.pending = Vec::new();
                self.partial = Vec::new();
                self.fragmented = false;
                channel.close();
                Err(err)
            }
        }
    }

    fn length(&self, header: &[u8]) -> Result<usize> {
        let mut raw = [0u8; HEADER_LEN];
        raw.copy_from_slice(&header[..HEADER_LEN]);
        let length = u32::from_be_bytes(raw) as usize;
        if length == 0 || length > self.limit {
            return Err(malformed(format!(
                "frame length {length} outside 1..{}",
                self.limit
            )));
        }
        Ok(length)
    }

    fn read(&mut self, channel: &mut Channel, data: &[u8], opened: &mut Opened) -> Result<()> {
        let mut at = 0;
        if !self.pending.is_empty() {
            let mut pending = std::mem::take(&mut self.pending);
            if pending.len() < HEADER_LEN {
                at = (HEADER_LEN - pending.len()).min(data.len());
                pending.extend_from_slice(&data[..at]);
                if pending.len() < HEADER_LEN {
                    self.pending = pending;
                    return Ok(());
                }
            }
            let end = HEADER_LEN + self.length(&pending)?;
            let take = (end - pending.len()).min(data.len() - at);
            pending.extend_from_slice(&data[at..at + take]);
            at += take;
            if pending.len() < end {
                self.pending = pending;
                return Ok(());
            }
            self.frame(channel, &pending[HEADER_LEN..], opened)?;
        }
        while data.len() - at >= HEADER_LEN {
            let length = self.length(&data[at..])?;
            let start = at + HEADER_LEN;
            if data.len() - start < length {
                break;
            }
            self.frame(channel, &data[start..start + length], opened)?;
            at = start + length;
        }
        self.pending.extend_from_slice(&data[at..]);
        Ok(())
    }

    /// Decrypts one frame and takes the messages it completes.
    fn frame(&mut self, channel: &mut Channel, frame: &[u8], opened: &mut Opened) -> Result<()> {
        let start = opened.plain.len();
        channel.decrypt_into(frame, &mut opened.plain)?;
        let end = opened.plain.len();
        let kind = match opened.plain.get(start) {
            Some(&kind) => kind,
            None => return Err(malformed("an empty frame (no kind)")),
        };
        if kind == PACK {
            if self.fragmented {
                return Err(malformed("a pack inside a fragmented message"));
            }
            return self.unpack(start + 1, opened);
        }
        if kind != MORE && kind != LAST {
            return Err(malformed(format!("unexpected frame kind {kind}")));
        }
        let size = self.partial.len() + (end - start - 1);
        if size > self.max_message {
            return Err(malformed(format!(
                "a message over {} bytes",
                self.max_message
            )));
        }
        if kind == LAST && !self.fragmented {
            opened.spans.push((start + 1, end));
            return Ok(());
        }
        self.partial
            .extend_from_slice(&opened.plain[start + 1..end]);
        opened.plain.truncate(start);
        if kind == MORE {
            self.fragmented = true;
            return Ok(());
        }
        opened.plain.extend_from_slice(&self.partial);
        opened.spans.push((start, opened.plain.len()));
        self.partial.clear();
        self.fragmented = false;
        Ok(())
    }

    /// The messages of a `PACK` whose contents are `opened.plain[from..]`.
    fn unpack(&self, from: usize, opened: &mut Opened) -> Result<()> {
        let end = opened.plain.len();
        let first = opened.spans.len();
        let mut at = from;
        while at < end {
            if end - at < PACKED_LEN {
                return Err(malformed("a pack cut inside a length"));
            }
            let mut raw = [0u8; PACKED_LEN];
            raw.copy_from_slice(&opened.plain[at..at + PACKED_LEN]);
            let length = u32::from_be_bytes(raw) as usize;
            at += PACKED_LEN;
            if length > self.max_message {
                return Err(malformed(format!(
                    "a message over {} bytes",
                    self.max_message
                )));
            }
            if end - at < length {
                return Err(malformed("a pack cut inside a message"));
            }
            opened.spans.push((at, at + length));
            at += length;
        }
        if opened.spans.len() - first < 2 {
            return Err(malformed("a pack of fewer than two messages"));
        }
        Ok(())
    }
}
