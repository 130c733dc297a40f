//! Range-based set reconciliation (negentropy protocol V1) over the `negentropy` crate.
//!
//! Each side holds a set of items `(timestamp, id)`: a u64 below 2^64 − 1 (the top value is
//! negentropy's "infinity" bound, and an item there would fall outside every range) and a
//! 32-byte id. The initiator sends `initiate()`; the responder answers every message with
//! `reconcile`; the initiator feeds each answer to `reconcile_with_ids`, which reports the ids
//! it has that the responder lacks (`have`) and the ids the responder has that it lacks
//! (`need`) first found in that round, and the next message to send, until there is none.
//!
//! **Each id once.** Under a frame size limit the crate reports some differences again in a
//! later round: a message cut at the limit ends with one fingerprint for everything after the
//! last range it wrote, and that lump also covers ranges already settled in this exchange (id
//! lists the initiator has just compared, ranges it has just marked "skip"), so the next round
//! splits them again and compares their id lists again. Those are true differences, found
//! twice (the C++ reference cuts frames the same way). The initiator therefore remembers every
//! id it has reported and reports each once per session: the rounds are disjoint and their
//! union is the symmetric difference, so a caller can act on each round's ids as they come.
//! That memory is one id per difference reported.
//!
//! Every incoming message passes [`wire::check`] before the crate sees it, so a truncated or
//! bogus message is a `ReconcileMalformed` error rather than a short answer; a failed step
//! changes nothing (negentropy keeps no state between messages beyond the role, and reported
//! ids are recorded only when a step succeeds). Work and memory per step are
//! O(n + message length): the crate bounds an id list by the bytes that carry it, and with a
//! frame size limit every message it writes stays under the limit.

pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use negentropy::{Id, Negentropy, NegentropyStorageVector};

use crate::error::{Error, ErrorCode, Result};

/// Bytes of an item id.
pub const ID_LEN: usize = 32;
/// The largest timestamp an item may carry.
pub const MAX_TIMESTAMP: u64 = u64::MAX - 1;
/// The smallest frame size limit other than 0 (no limit).
pub const MIN_FRAME_SIZE_LIMIT: u64 = 4096;

fn state_error(message: &str) -> Error {
    Error::new(ErrorCode::ReconcileState, message)
}

fn map_error(err: negentropy::Error) -> Error {
    use negentropy::Error as E;
    match err {
        E::UnsupportedProtocolVersion => Error::new(
            ErrorCode::ReconcileMalformed,
            "the peer speaks another reconciliation protocol version",
        ),
        E::ParseEndsPrematurely
        | E::UnexpectedMode(_)
        | E::ProtocolVersionNotFound
        | E::InvalidProtocolVersion
        | E::IdTooBig
        | E::TryFromSlice
        | E::BadRange => Error::new(ErrorCode::ReconcileMalformed, err.to_string()),
        E::Initiator | E::NonInitiator | E::AlreadyBuiltInitialMessage => {
            Error::new(ErrorCode::ReconcileState, err.to_string())
        }
        E::FrameSizeLimitTooSmall => Error::new(ErrorCode::InvalidArgument, err.to_string()),
        _ => Error::new(ErrorCode::Internal, format!("negentropy: {err}")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Unstarted,
    Initiator,
    Responder,
    Finished,
}

/// One round of the initiator: the next message (None: reconciliation is complete) and the
/// differences first found in this round (none reported in an earlier round).
pub struct Step {
    pub next: Option<Vec<u8>>,
    pub have: Vec<[u8; ID_LEN]>,
    pub need: Vec<[u8; ID_LEN]>,
}

/// One side of one reconciliation. The role is fixed by the first call: `initiate` makes an
/// initiator, `reconcile` a responder.
pub struct Reconciler {
    inner: Negentropy<'static, NegentropyStorageVector>,
    role: Role,
    len: usize,
    /// Every id the initiator has reported, so none is reported twice. One set for both
    /// sides: a `have` id is in our set and a `need` id is not, whatever the peer sends. A
    /// B-tree rather than a hash set: no per-process random hash keys.
    reported: BTreeSet<[u8; ID_LEN]>,
}

impl Reconciler {
    /// The set of `items` (duplicates collapse) with `frame_size_limit` bytes per message
    /// (0: unlimited, else at least [`MIN_FRAME_SIZE_LIMIT`]).
    pub fn new(items: &[(u64, [u8; ID_LEN])], frame_size_limit: u64) -> Result<Self> {
        if frame_size_limit != 0 && frame_size_limit < MIN_FRAME_SIZE_LIMIT {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "frame_size_limit is 0 (none) or at least {MIN_FRAME_SIZE_LIMIT}, got {frame_size_limit}"
                ),
            ));
        }
        if let Some((timestamp, _)) = items.iter().find(|(t, _)| *t > MAX_TIMESTAMP) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("item timestamps are at most 2^64 - 2, got {timestamp}"),
            ));
        }
        let mut storage = NegentropyStorageVector::with_capacity(items.len());
        for (timestamp, id) in items {
            storage
                .insert(*timestamp, Id::from_byte_array(*id))
                .map_err(map_error)?;
        }
        storage.seal().map_err(map_error)?;
        let len = negentropy::NegentropyStorageBase::size(&storage).map_err(map_error)?;
        let inner = Negentropy::owned(storage, frame_size_limit).map_err(map_error)?;
        Ok(Reconciler {
            inner,
            role: Role::Unstarted,
            len,
            reported: BTreeSet::new(),
        })
    }

    /// The number of distinct items.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The initiator's first message.
    pub fn initiate(&mut self) -> Result<Vec<u8>> {
        if self.role != Role::Unstarted {
            return Err(state_error(
                "initiate() starts a reconciliation once, on a fresh reconciler",
            ));
        }
        let message = self.inner.initiate().map_err(map_error)?;
        self.role = Role::Initiator;
        Ok(message)
    }

    /// The responder's answer to `message`.
    pub fn reconcile(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        if !matches!(self.role, Role::Unstarted | Role::Responder) {
            return Err(state_error(
                "reconcile() is the responder's call; the initiator uses reconcile_with_ids()",
            ));
        }
        wire::check(message)?;
        let answer = self.inner.reconcile(message).map_err(map_error)?;
        self.role = Role::Responder;
        Ok(answer)
    }

    /// The initiator's next step after the responder's `message`.
    pub fn reconcile_with_ids(&mut self, message: &[u8]) -> Result<Step> {
        match self.role {
            Role::Initiator => {}
            Role::Unstarted => return Err(state_error("call initiate() first")),
            Role::Responder => {
                return Err(state_error(
                    "reconcile_with_ids() is the initiator's call; the responder uses reconcile()",
                ))
            }
            Role::Finished => return Err(state_error("the reconciliation is complete")),
        }
        wire::check(message)?;
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let next = self
            .inner
            .reconcile_with_ids(message, &mut have, &mut need)
            .map_err(map_error)?;
        if next.is_none() {
            self.role = Role::Finished;
        }
        let have = fresh(&mut self.reported, have);
        let need = fresh(&mut self.reported, need);
        Ok(Step { next, have, need })
    }
}

/// The ids of `found` not in `reported`, in the crate's order, now added to it.
fn fresh(reported: &mut BTreeSet<[u8; ID_LEN]>, found: Vec<Id>) -> Vec<[u8; ID_LEN]> {
    found
        .into_iter()
        .map(|id| id.to_bytes())
        .filter(|id| reported.insert(*id))
        .collect()
}
