//! Release-mode timings of the FROST core without Python, for `benchmarks/frost.py`.
//!
//! Run: `cargo run --release --locked --bin frost_timing [-- T N ...]` (from `native/`).
//! Prints one JSON object: for each configuration (by default "2-of-3", "7-of-10" and
//! "67-of-100"; or the T-of-N pairs given) the median nanoseconds per call of dealer keygen,
//! round 1 (one signer), round 2 (one signer), aggregate (t shares) and verify. The method matches `benchmarks/_harness.py`: 3 warm-up calls, then 31 samples, each
//! a batch of calls sized to take about 20 ms; the median of the per-call sample times.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use _native::frost::{keys, sign};

const SAMPLES: usize = 31;
const TARGET_NS: f64 = 20_000_000.0;

fn median_ns<T>(mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..3 {
        black_box(f());
    }
    let start = Instant::now();
    black_box(f());
    let once = start.elapsed().as_nanos().max(1) as f64;
    let batch = ((TARGET_NS / once) as usize).max(1);
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                black_box(f());
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[SAMPLES / 2]
}

fn seed(tag: u8, index: u16) -> [u8; 32] {
    let mut seed = [tag; 32];
    seed[..2].copy_from_slice(&index.to_le_bytes());
    seed
}

fn configuration(t: u16, n: u16) -> Vec<(&'static str, f64)> {
    let keygen = median_ns(|| keys::generate_with_dealer(t, n, &seed(1, 0), None).unwrap());
    let (shares, public) = keys::generate_with_dealer(t, n, &seed(1, 0), None).unwrap();
    let packages: BTreeMap<u16, _> = shares
        .iter()
        .map(|(&i, s)| (i, keys::key_package(s).unwrap()))
        .collect();
    let signers: Vec<u16> = (1..=t).collect();
    let round1 = median_ns(|| sign::commit(&packages[&1], &seed(2, 1)).unwrap());
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for &i in &signers {
        let (nonce, commitment) = sign::commit(&packages[&i], &seed(3, i)).unwrap();
        nonces.insert(i, nonce);
        commitments.insert(i, commitment);
    }
    let message = b"benchmark message: a 32-byte id.";
    let package = sign::signing_package(&commitments, message).unwrap();
    let round2 = median_ns(|| sign::sign(&package, &nonces[&1], &packages[&1]).unwrap());
    let shares: BTreeMap<u16, _> = signers
        .iter()
        .map(|&i| (i, sign::sign(&package, &nonces[&i], &packages[&i]).unwrap()))
        .collect();
    let aggregate = median_ns(|| sign::aggregate(&package, &shares, &public).unwrap());
    let signature = sign::aggregate(&package, &shares, &public).unwrap();
    let key = packages[&1].verifying_key().serialize().unwrap();
    let verify = median_ns(|| sign::verify(&key, message, &signature).unwrap());
    vec![
        ("keygen", keygen),
        ("round1", round1),
        ("round2", round2),
        ("aggregate", aggregate),
        ("verify", verify),
    ]
}

fn main() {
    let args: Vec<u16> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are T N pairs of integers"))
        .collect();
    let configurations: Vec<(u16, u16)> = if args.is_empty() {
        vec![(2, 3), (7, 10), (67, 100)]
    } else {
        assert!(args.len() % 2 == 0, "arguments are T N pairs");
        args.chunks(2).map(|pair| (pair[0], pair[1])).collect()
    };
    let mut parts = Vec::new();
    for (t, n) in configurations {
        let fields: Vec<String> = configuration(t, n)
            .into_iter()
            .map(|(name, ns)| format!("\"{name}\": {ns:.1}"))
            .collect();
        parts.push(format!("\"{t}-of-{n}\": {{{}}}", fields.join(", ")));
    }
    println!("{{{}}}", parts.join(", "));
}
