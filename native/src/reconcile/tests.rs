//! Tests of the reconciliation core: exact differences, frame limits, the strict message check
//! (and the leniency of the crate that makes it necessary), roles, and random input.

use std::collections::BTreeSet;

use rand_core::RngCore;

use super::*;
use crate::frost::rng::SeededRng;

type Item = (u64, [u8; ID_LEN]);

fn rng(n: u8) -> SeededRng {
    SeededRng::in_domain(b"test", "reconcile", &[n; 32]).unwrap()
}

fn random_items(rng: &mut SeededRng, count: usize, timestamps: u64) -> Vec<Item> {
    (0..count)
        .map(|_| {
            let mut id = [0u8; ID_LEN];
            rng.fill_bytes(&mut id);
            (rng.next_u64() % timestamps, id)
        })
        .collect()
}

fn code<T>(result: Result<T>) -> ErrorCode {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(err) => err.code,
    }
}

struct Outcome {
    have: Vec<[u8; ID_LEN]>,
    need: Vec<[u8; ID_LEN]>,
    rounds: usize,
    largest: usize,
}

fn run(ours: &[Item], theirs: &[Item], limit: u64) -> Outcome {
    let mut initiator = Reconciler::new(ours, limit).unwrap();
    let mut responder = Reconciler::new(theirs, limit).unwrap();
    let mut message = initiator.initiate().unwrap();
    let (mut have, mut need, mut rounds, mut largest) = (vec![], vec![], 0, message.len());
    loop {
        let answer = responder.reconcile(&message).unwrap();
        largest = largest.max(answer.len());
        rounds += 1;
        let step = initiator.reconcile_with_ids(&answer).unwrap();
        have.extend(step.have);
        need.extend(step.need);
        match step.next {
            Some(next) => {
                largest = largest.max(next.len());
                message = next;
            }
            None => break,
        }
        assert!(rounds < 1000, "no end in sight");
    }
    Outcome {
        have,
        need,
        rounds,
        largest,
    }
}

fn ids(items: &[Item]) -> BTreeSet<[u8; ID_LEN]> {
    items.iter().map(|(_, id)| *id).collect()
}

#[test]
fn reconciles_to_the_symmetric_difference() {
    for (seed, shared, only_ours, only_theirs, limit) in [
        (1, 0, 0, 0, 0),
        (2, 0, 5, 0, 0),
        (3, 10, 0, 7, 4096),
        (4, 1000, 1, 1, 4096),
        (5, 5000, 300, 200, 4096),
        (6, 5000, 3000, 2000, 4096),
        (7, 20000, 50, 50, 60000),
        (8, 3000, 100, 100, 0),
    ] {
        let mut r = rng(seed);
        let common = random_items(&mut r, shared, 1000);
        let mine = random_items(&mut r, only_ours, 1000);
        let yours = random_items(&mut r, only_theirs, 1000);
        let ours: Vec<Item> = common.iter().chain(&mine).copied().collect();
        let theirs: Vec<Item> = common.iter().chain(&yours).copied().collect();
        let out = run(&ours, &theirs, limit);
        assert_eq!(
            out.have.len(),
            mine.len(),
            "case {seed}: each id reported once"
        );
        assert_eq!(
            out.need.len(),
            yours.len(),
            "case {seed}: each id reported once"
        );
        assert_eq!(
            out.have.iter().copied().collect::<BTreeSet<_>>(),
            ids(&mine)
        );
        assert_eq!(
            out.need.iter().copied().collect::<BTreeSet<_>>(),
            ids(&yours)
        );
        if limit != 0 {
            assert!(
                out.largest as u64 <= limit,
                "case {seed}: {} > {limit}",
                out.largest
            );
        }
        assert!(out.rounds >= 1);
    }
}

#[test]
fn the_frame_limit_holds_with_many_differences() {
    let mut r = rng(9);
    let ours = random_items(&mut r, 20000, 1 << 40);
    let theirs = random_items(&mut r, 20000, 1 << 40);
    let out = run(&ours, &theirs, 4096);
    assert!(out.largest <= 4096);
    assert!(out.rounds > 10);
    assert_eq!(out.have.len() + out.need.len(), 40000);
}

#[test]
fn duplicates_collapse_and_len_counts_distinct_items() {
    let items = vec![
        (1, [1u8; 32]),
        (1, [1u8; 32]),
        (2, [1u8; 32]),
        (0, [2u8; 32]),
    ];
    let r = Reconciler::new(&items, 0).unwrap();
    assert_eq!(r.len(), 3);
    assert!(!r.is_empty());
    assert!(Reconciler::new(&[], 0).unwrap().is_empty());
}

#[test]
fn arguments_out_of_range_are_refused() {
    for limit in [1, 100, 4095] {
        assert_eq!(
            code(Reconciler::new(&[], limit)),
            ErrorCode::InvalidArgument
        );
    }
    Reconciler::new(&[], 4096).unwrap();
    let items = [(u64::MAX, [0u8; 32])];
    assert_eq!(code(Reconciler::new(&items, 0)), ErrorCode::InvalidArgument);
    Reconciler::new(&[(MAX_TIMESTAMP, [0u8; 32])], 0).unwrap();
}

#[test]
fn roles_are_fixed_by_the_first_call() {
    let items = [(1, [1u8; 32])];
    let mut a = Reconciler::new(&items, 0).unwrap();
    let mut b = Reconciler::new(&items, 0).unwrap();
    assert_eq!(
        code(a.reconcile_with_ids(&[0x61])),
        ErrorCode::ReconcileState
    );
    let first = a.initiate().unwrap();
    assert_eq!(code(a.initiate()), ErrorCode::ReconcileState);
    assert_eq!(code(a.reconcile(&first)), ErrorCode::ReconcileState);
    let answer = b.reconcile(&first).unwrap();
    assert_eq!(code(b.initiate()), ErrorCode::ReconcileState);
    assert_eq!(
        code(b.reconcile_with_ids(&answer)),
        ErrorCode::ReconcileState
    );
    let step = a.reconcile_with_ids(&answer).unwrap();
    assert!(step.next.is_none() && step.have.is_empty() && step.need.is_empty());
    assert_eq!(
        code(a.reconcile_with_ids(&answer)),
        ErrorCode::ReconcileState
    );
    // A responder answers any number of messages.
    b.reconcile(&first).unwrap();
}

/// A valid message with several ranges of every mode, from a real exchange.
fn sample_messages() -> Vec<Vec<u8>> {
    let mut r = rng(10);
    let common = random_items(&mut r, 500, 50);
    let ours: Vec<Item> = common
        .iter()
        .chain(&random_items(&mut r, 20, 50))
        .copied()
        .collect();
    let theirs: Vec<Item> = common
        .iter()
        .chain(&random_items(&mut r, 20, 50))
        .copied()
        .collect();
    let mut initiator = Reconciler::new(&ours, 0).unwrap();
    let mut responder = Reconciler::new(&theirs, 0).unwrap();
    let mut out = vec![];
    let mut message = initiator.initiate().unwrap();
    loop {
        out.push(message.clone());
        let answer = responder.reconcile(&message).unwrap();
        out.push(answer.clone());
        match initiator.reconcile_with_ids(&answer).unwrap().next {
            Some(next) => message = next,
            None => break,
        }
    }
    out
}

#[test]
fn the_crate_alone_accepts_a_message_cut_inside_a_varint() {
    // Why `wire::check` exists: a bound's timestamp varint with its continuation bit set at the
    // very end of the message reads, in negentropy 0.5.3, as a whole range in "skip" mode.
    let mut bare = Negentropy::owned(storage_of(&[(5, [1u8; 32])]), 0).unwrap();
    let cut = [0x61, 0x85];
    assert!(bare.reconcile(&cut).is_ok());
    let mut checked = Reconciler::new(&[(5, [1u8; 32])], 0).unwrap();
    assert_eq!(code(checked.reconcile(&cut)), ErrorCode::ReconcileMalformed);
}

fn storage_of(items: &[Item]) -> NegentropyStorageVector {
    let mut storage = NegentropyStorageVector::new();
    for (t, id) in items {
        storage.insert(*t, Id::from_byte_array(*id)).unwrap();
    }
    storage.seal().unwrap();
    storage
}

#[test]
fn every_honest_message_passes_the_check_and_its_cuts_are_refused_or_whole_ranges() {
    let mut checked = 0;
    for message in sample_messages() {
        wire::check(&message).unwrap();
        if message.len() > 1 {
            // Honest messages never end in a skip, so the last byte always belongs to a range
            // whose payload it completes.
            let cut = wire::check(&message[..message.len() - 1]).err().unwrap();
            assert_eq!(cut.code, ErrorCode::ReconcileMalformed);
            checked += 1;
        }
        for len in 1..message.len() {
            // A shorter prefix is either refused or ends exactly at a range boundary, in which
            // case the crate reads it without error.
            if wire::check(&message[..len]).is_ok() {
                let mut responder = Reconciler::new(&[(5, [1u8; 32])], 0).unwrap();
                responder.reconcile(&message[..len]).unwrap();
            }
        }
    }
    assert!(checked >= 2);
}

#[test]
fn bogus_messages_are_refused() {
    let mut responder = Reconciler::new(&[(5, [1u8; 32]), (9, [2u8; 32])], 0).unwrap();
    let fingerprint = [0u8; 16];
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "empty"),
        (vec![0x00], "not a reconciliation message"),
        (vec![0x71, 0x00], "not a reconciliation message"),
        // bound (ts 5, no id) skip, then a bound that goes backwards (delta 0 is "equal").
        (
            vec![0x61, 0x06, 0x00, 0x00, 0x01, 0x00, 0x00],
            "increasing order",
        ),
        // infinity bound with an id prefix.
        (vec![0x61, 0x00, 0x01, 0xaa, 0x00], "infinity bound"),
        // a range after infinity.
        (
            vec![0x61, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00],
            "after the infinity",
        ),
        // id prefix longer than 32.
        (vec![0x61, 0x02, 0x21], "id prefix"),
        // unknown mode.
        (vec![0x61, 0x00, 0x00, 0x03], "mode"),
        // id list claiming 2^32 ids with none present.
        (
            vec![0x61, 0x00, 0x00, 0x02, 0x90, 0x80, 0x80, 0x80, 0x00],
            "id list",
        ),
        // varint longer than 10 bytes, and one over 64 bits.
        (
            [vec![0x61, 0x81], vec![0x80; 9], vec![0x00]].concat(),
            "10 bytes",
        ),
        (
            [vec![0x61, 0x82], vec![0xff; 8], vec![0x7f]].concat(),
            "64 bits",
        ),
        // non-minimal varint.
        (vec![0x61, 0x80, 0x01, 0x00, 0x00], "minimal"),
        // a timestamp that overflows (delta from 2^64 - 3 by 5).
        (
            [
                vec![0x61, 0x81],
                vec![0xff; 8],
                vec![0x7e, 0x00, 0x00, 0x06, 0x00, 0x00],
            ]
            .concat(),
            "out of range",
        ),
        // fingerprint cut short.
        (
            [vec![0x61, 0x00, 0x00, 0x01], fingerprint[..15].to_vec()].concat(),
            "fingerprint",
        ),
    ];
    for (message, expected) in cases {
        let err = responder.reconcile(&message).err().unwrap();
        assert_eq!(err.code, ErrorCode::ReconcileMalformed, "{message:02x?}");
        assert!(
            err.message.contains(expected),
            "{message:02x?}: {}",
            err.message
        );
    }
    // Nothing changed: an honest exchange still works.
    let mut initiator = Reconciler::new(&[(5, [1u8; 32])], 0).unwrap();
    let answer = responder.reconcile(&initiator.initiate().unwrap()).unwrap();
    let step = initiator.reconcile_with_ids(&answer).unwrap();
    assert_eq!(step.need, vec![[2u8; 32]]);
}

#[test]
fn other_versions() {
    // A responder answers a future 0x6X version with its own, which the initiator refuses.
    let mut responder = Reconciler::new(&[(5, [1u8; 32])], 0).unwrap();
    assert_eq!(
        responder.reconcile(&[0x62, 0xff, 0xff]).unwrap(),
        vec![0x61]
    );
    let mut initiator = Reconciler::new(&[(5, [1u8; 32])], 0).unwrap();
    initiator.initiate().unwrap();
    assert_eq!(
        code(initiator.reconcile_with_ids(&[0x62])),
        ErrorCode::ReconcileMalformed
    );
    // ... and is still waiting for a real answer.
    let step = initiator.reconcile_with_ids(&[0x61]).unwrap();
    assert!(step.next.is_none());
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut r = rng(11);
    let samples = sample_messages();
    let items = random_items(&mut r, 300, 50);
    let mut responder = Reconciler::new(&items, 4096).unwrap();
    let mut initiator = Reconciler::new(&items, 4096).unwrap();
    initiator.initiate().unwrap();
    for i in 0..20000u32 {
        let message: Vec<u8> = if i % 2 == 0 {
            let mut m = samples[(i as usize / 2) % samples.len()].clone();
            for _ in 0..1 + r.next_u32() % 3 {
                let at = r.next_u32() as usize % m.len();
                match r.next_u32() % 3 {
                    0 => m[at] ^= 1 << (r.next_u32() % 8),
                    1 => m.truncate(at.max(1)),
                    _ => m.insert(at, r.next_u32() as u8),
                }
            }
            m
        } else {
            let mut m = vec![0x61u8; 1 + (r.next_u32() % 200) as usize];
            r.fill_bytes(&mut m[1..]);
            m
        };
        for result in [
            responder.reconcile(&message).map(|_| ()),
            initiator.reconcile_with_ids(&message).map(|_| ()),
        ] {
            if let Err(err) = result {
                assert!(
                    matches!(
                        err.code,
                        ErrorCode::ReconcileMalformed | ErrorCode::ReconcileState
                    ),
                    "{err}"
                );
            }
        }
        if initiator.role == Role::Finished {
            initiator = Reconciler::new(&items, 4096).unwrap();
            initiator.initiate().unwrap();
        }
    }
}
