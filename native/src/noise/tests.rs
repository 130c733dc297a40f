//! Tests of the Noise core: the cacophony known-answer vector, interoperation with snow's own
//! primitives (rekey included), determinism, and every refusal.

use serde_json::Value;
use snow::resolvers::{CryptoResolver, DefaultResolver, FallbackResolver};

use super::*;
use crate::error::ErrorCode;

const VECTOR: &str = include_str!("vectors/cacophony_ikpsk2.json");
const PROLOGUE: &[u8] = b"aura/1";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn key(s: &str) -> [u8; 32] {
    hex(s).try_into().unwrap()
}

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

fn keypair(n: u8) -> StaticKeypair {
    StaticKeypair::from_seed(&seed(n)).unwrap()
}

fn code<T>(result: Result<T>) -> ErrorCode {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(err) => err.code,
    }
}

struct Pair {
    initiator: Channel,
    responder: Channel,
    first: Vec<u8>,
    second: Vec<u8>,
}

fn handshake(psk_i: &[u8; 32], psk_r: &[u8; 32], seeds: (u8, u8)) -> Result<Pair> {
    let (alice, bob) = (keypair(1), keypair(2));
    let mut initiator = Initiator::new(&alice, &bob.public(), psk_i, PROLOGUE, &seed(seeds.0))?;
    let mut responder = Responder::new(&bob, PROLOGUE, &seed(seeds.1))?;
    let first = initiator.write_first(b"hello")?;
    let (remote, payload) = responder.read_first(&first)?;
    assert_eq!(remote, alice.public());
    assert_eq!(payload, b"hello");
    let (second, responder_channel) = responder.write_second(psk_r, b"welcome")?;
    let (payload, initiator_channel) = initiator.read_second(&second)?;
    assert_eq!(payload, b"welcome");
    Ok(Pair {
        initiator: initiator_channel,
        responder: responder_channel,
        first,
        second,
    })
}

fn pair() -> Pair {
    handshake(&[7; 32], &[7; 32], (3, 4)).unwrap()
}

#[test]
fn cacophony_vector() {
    let doc: Value = serde_json::from_str(VECTOR).unwrap();
    let v = &doc["vector"];
    assert_eq!(v["protocol_name"], PATTERN);
    let s = |name: &str| v[name].as_str().unwrap();
    let psk = key(v["init_psks"][0].as_str().unwrap());
    let alice = StaticKeypair::from_private(key(s("init_static")));
    let bob = StaticKeypair::from_private(key(s("resp_static")));
    assert_eq!(bob.public(), key(s("init_remote_static")));
    let mut initiator = Initiator::with_fixed_ephemeral(
        &alice,
        &bob.public(),
        &psk,
        &hex(s("init_prologue")),
        &key(s("init_ephemeral")),
    );
    let mut responder =
        Responder::with_fixed_ephemeral(&bob, &hex(s("resp_prologue")), &key(s("resp_ephemeral")));
    let messages = v["messages"].as_array().unwrap();
    let payload = |i: usize| hex(messages[i]["payload"].as_str().unwrap());
    let ciphertext = |i: usize| hex(messages[i]["ciphertext"].as_str().unwrap());

    let first = initiator.write_first(&payload(0)).unwrap();
    assert_eq!(first, ciphertext(0));
    let (remote, read) = responder.read_first(&first).unwrap();
    assert_eq!((remote, read), (alice.public(), payload(0)));
    let (second, mut b) = responder.write_second(&psk, &payload(1)).unwrap();
    assert_eq!(second, ciphertext(1));
    let (read, mut a) = initiator.read_second(&second).unwrap();
    assert_eq!(read, payload(1));
    assert_eq!(a.handshake_hash().to_vec(), hex(s("handshake_hash")));
    assert_eq!(b.handshake_hash(), a.handshake_hash());
    for i in 2..messages.len() {
        let (sender, receiver) = if i % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        let sent = sender.encrypt(&payload(i)).unwrap();
        assert_eq!(sent, ciphertext(i), "transport message {i}");
        assert_eq!(receiver.decrypt(&sent).unwrap(), payload(i));
    }
}

/// snow's own primitives, with a seeded RNG since we build snow without OS randomness.
struct RngOnly(std::cell::Cell<Option<SeededRng>>);

struct Plain(SeededRng);

impl snow::types::Random for Plain {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoResolver for RngOnly {
    fn resolve_rng(&self) -> Option<Box<dyn snow::types::Random>> {
        self.0
            .take()
            .map(|r| Box::new(Plain(r)) as Box<dyn snow::types::Random>)
    }
    fn resolve_dh(&self, _: &snow::params::DHChoice) -> Option<Box<dyn snow::types::Dh>> {
        None
    }
    fn resolve_hash(&self, _: &snow::params::HashChoice) -> Option<Box<dyn snow::types::Hash>> {
        None
    }
    fn resolve_cipher(
        &self,
        _: &snow::params::CipherChoice,
    ) -> Option<Box<dyn snow::types::Cipher>> {
        None
    }
}

#[test]
fn our_primitives_match_snows() {
    // The responder runs on snow's default primitives, the initiator on ours; they must agree
    // on every byte, including after each side rekeys (the one path the vector does not cover).
    let (alice, bob) = (keypair(1), keypair(2));
    let psk = [9u8; 32];
    let mut initiator = Initiator::new(&alice, &bob.public(), &psk, PROLOGUE, &seed(5)).unwrap();
    let rng = SeededRng::in_domain(b"test", "snow", &seed(6)).unwrap();
    let resolver = FallbackResolver::new(
        Box::new(RngOnly(std::cell::Cell::new(Some(rng)))),
        Box::new(DefaultResolver),
    );
    let mut responder = snow::Builder::with_resolver(PATTERN.parse().unwrap(), Box::new(resolver))
        .local_private_key(&bob.private)
        .unwrap()
        .prologue(PROLOGUE)
        .unwrap()
        .build_responder()
        .unwrap();
    let first = initiator.write_first(b"one").unwrap();
    let mut buf = vec![0u8; 65535];
    let n = responder.read_message(&first, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"one");
    responder.set_psk(2, &psk).unwrap();
    let n = responder.write_message(b"two", &mut buf).unwrap();
    let (payload, mut ours) = initiator.read_second(&buf[..n]).unwrap();
    assert_eq!(payload, b"two");
    assert_eq!(ours.handshake_hash(), responder.get_handshake_hash());
    let mut theirs = responder.into_transport_mode().unwrap();
    for round in 0..3u8 {
        let sent = ours.encrypt(&[round; 100]).unwrap();
        let n = theirs.read_message(&sent, &mut buf).unwrap();
        assert_eq!(&buf[..n], &[round; 100]);
        let n = theirs.write_message(&[round + 10; 50], &mut buf).unwrap();
        assert_eq!(ours.decrypt(&buf[..n]).unwrap(), vec![round + 10; 50]);
        ours.rekey_outgoing().unwrap();
        ours.rekey_incoming().unwrap();
        theirs.rekey_incoming();
        theirs.rekey_outgoing();
    }
}

#[test]
fn handshake_and_transport_both_ways() {
    let mut p = pair();
    assert_eq!(p.first.len(), FIRST_OVERHEAD + 5);
    assert_eq!(p.second.len(), SECOND_OVERHEAD + 7);
    assert_eq!(p.initiator.handshake_hash(), p.responder.handshake_hash());
    assert_eq!(p.initiator.remote_static(), keypair(2).public());
    assert_eq!(p.responder.remote_static(), keypair(1).public());
    for i in 0..20u8 {
        let message = vec![i; usize::from(i) * 7];
        let sent = p.initiator.encrypt(&message).unwrap();
        assert_eq!(sent.len(), message.len() + TAG_LEN);
        assert_eq!(p.responder.decrypt(&sent).unwrap(), message);
        let back = p.responder.encrypt(&message).unwrap();
        assert_eq!(p.initiator.decrypt(&back).unwrap(), message);
    }
}

#[test]
fn same_seeds_same_bytes() {
    let mut a = pair();
    let mut b = pair();
    assert_eq!(
        (a.first.clone(), a.second.clone()),
        (b.first.clone(), b.second.clone())
    );
    assert_eq!(a.initiator.handshake_hash(), b.initiator.handshake_hash());
    assert_eq!(
        a.initiator.encrypt(b"x").unwrap(),
        b.initiator.encrypt(b"x").unwrap()
    );
    let c = handshake(&[7; 32], &[7; 32], (3, 5)).unwrap();
    assert_eq!(a.first, c.first);
    assert_ne!(a.second, c.second);
    assert_ne!(a.initiator.handshake_hash(), c.initiator.handshake_hash());
}

#[test]
fn static_keys_come_from_a_labelled_stream() {
    let k = keypair(1);
    assert_eq!(k.public(), keypair(1).public());
    assert_ne!(k.public(), keypair(2).public());
    // Not the seed used directly as the X25519 scalar.
    assert_ne!(k.public(), X25519::public_of(&seed(1)));
    assert_eq!(k.seed(), &seed(1));
    assert_eq!(
        code(StaticKeypair::from_seed(&[1; 31])),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn wrong_psk_fails_on_the_initiator() {
    let (alice, bob) = (keypair(1), keypair(2));
    let mut initiator =
        Initiator::new(&alice, &bob.public(), &[1; 32], PROLOGUE, &seed(3)).unwrap();
    let mut responder = Responder::new(&bob, PROLOGUE, &seed(4)).unwrap();
    let first = initiator.write_first(b"").unwrap();
    responder.read_first(&first).unwrap();
    let (second, mut responder_channel) = responder.write_second(&[2; 32], b"secret").unwrap();
    assert_eq!(
        code(initiator.read_second(&second)),
        ErrorCode::NoiseHandshake
    );
    // The handshake is over; the responder's channel never decrypts anything.
    assert_eq!(code(initiator.read_second(&second)), ErrorCode::NoiseState);
    assert_eq!(
        code(responder_channel.decrypt(&[0u8; 40])),
        ErrorCode::NoiseDecrypt
    );
}

#[test]
fn wrong_remote_static_fails_on_the_responder() {
    let (alice, bob, carol) = (keypair(1), keypair(2), keypair(3));
    let mut initiator =
        Initiator::new(&alice, &carol.public(), &[1; 32], PROLOGUE, &seed(3)).unwrap();
    let mut responder = Responder::new(&bob, PROLOGUE, &seed(4)).unwrap();
    let first = initiator.write_first(b"").unwrap();
    assert_eq!(
        code(responder.read_first(&first)),
        ErrorCode::NoiseHandshake
    );
    assert_eq!(code(responder.read_first(&first)), ErrorCode::NoiseState);
}

#[test]
fn a_different_prologue_fails() {
    let (alice, bob) = (keypair(1), keypair(2));
    let mut initiator =
        Initiator::new(&alice, &bob.public(), &[1; 32], b"aura/1", &seed(3)).unwrap();
    let mut responder = Responder::new(&bob, b"aura/2", &seed(4)).unwrap();
    let first = initiator.write_first(b"").unwrap();
    assert_eq!(
        code(responder.read_first(&first)),
        ErrorCode::NoiseHandshake
    );
}

#[test]
fn tampered_and_truncated_handshake_messages_fail() {
    let (alice, bob) = (keypair(1), keypair(2));
    let p = pair();
    let responder = || Responder::new(&bob, PROLOGUE, &seed(4)).unwrap();
    for i in 0..p.first.len() {
        let mut bad = p.first.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            code(responder().read_first(&bad)),
            ErrorCode::NoiseHandshake,
            "byte {i}"
        );
    }
    for len in [0, 1, FIRST_OVERHEAD - 1, p.first.len() - 1] {
        assert_eq!(
            code(responder().read_first(&p.first[..len])),
            ErrorCode::NoiseHandshake
        );
    }
    let mut long = p.first.clone();
    long.push(0);
    assert_eq!(
        code(responder().read_first(&long)),
        ErrorCode::NoiseHandshake
    );
    assert_eq!(
        code(responder().read_first(&vec![0u8; 65536])),
        ErrorCode::NoiseHandshake
    );

    let initiator = || {
        let mut i = Initiator::new(&alice, &bob.public(), &[7; 32], PROLOGUE, &seed(3)).unwrap();
        i.write_first(b"hello").unwrap();
        i
    };
    for i in 0..p.second.len() {
        let mut bad = p.second.clone();
        bad[i] ^= 0x80;
        assert_eq!(
            code(initiator().read_second(&bad)),
            ErrorCode::NoiseHandshake,
            "byte {i}"
        );
    }
    for len in [0, SECOND_OVERHEAD - 1, p.second.len() - 1] {
        assert_eq!(
            code(initiator().read_second(&p.second[..len])),
            ErrorCode::NoiseHandshake
        );
    }
    // The untouched message still completes (the loop above really was about the changes).
    initiator().read_second(&p.second).unwrap();
}

#[test]
fn a_replayed_first_message_cannot_be_completed_by_the_replayer() {
    // IK's message 1 can be replayed to the responder (Noise §7.7); what the replayer gets back
    // is message 2, which only the real initiator can read.
    let (alice, bob) = (keypair(1), keypair(2));
    let p = pair();
    let mut again = Responder::new(&bob, PROLOGUE, &seed(9)).unwrap();
    let (remote, payload) = again.read_first(&p.first).unwrap();
    assert_eq!(
        (remote, payload.as_slice()),
        (alice.public(), &b"hello"[..])
    );
    let (second, mut channel) = again.write_second(&[7; 32], b"").unwrap();
    assert_ne!(second, p.second);
    // A replay of the original initiator's transport messages does not decrypt here.
    let mut original = pair();
    let sent = original.initiator.encrypt(b"do it").unwrap();
    assert_eq!(code(channel.decrypt(&sent)), ErrorCode::NoiseDecrypt);
}

#[test]
fn low_order_keys_are_refused() {
    let (alice, bob) = (keypair(1), keypair(2));
    let low_order = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    for point in low_order {
        let point = key(point);
        let refused = Initiator::new(&alice, &point, &[1; 32], PROLOGUE, &seed(3));
        assert_eq!(code(refused), ErrorCode::MalformedKey);

        // A responder reading an ephemeral key of low order.
        let mut initiator =
            Initiator::new(&alice, &bob.public(), &[1; 32], PROLOGUE, &seed(3)).unwrap();
        let mut first = initiator.write_first(b"").unwrap();
        first[..32].copy_from_slice(&point);
        let err = Responder::new(&bob, PROLOGUE, &seed(4))
            .unwrap()
            .read_first(&first);
        let err = err.err().unwrap();
        assert_eq!(err.code, ErrorCode::NoiseHandshake);
        assert!(err.message.contains("low-order"), "{}", err.message);

        // An initiator reading a responder ephemeral key of low order.
        let mut responder = Responder::new(&bob, PROLOGUE, &seed(4)).unwrap();
        responder
            .read_first(&initiator_first(&alice, &bob))
            .unwrap();
        let (mut second, _) = responder.write_second(&[1; 32], b"").unwrap();
        second[..32].copy_from_slice(&point);
        let mut initiator =
            Initiator::new(&alice, &bob.public(), &[1; 32], PROLOGUE, &seed(3)).unwrap();
        initiator.write_first(b"").unwrap();
        let err = initiator.read_second(&second).err().unwrap();
        assert_eq!(err.code, ErrorCode::NoiseHandshake);
        assert!(err.message.contains("low-order"), "{}", err.message);
    }
}

fn initiator_first(alice: &StaticKeypair, bob: &StaticKeypair) -> Vec<u8> {
    Initiator::new(alice, &bob.public(), &[1; 32], PROLOGUE, &seed(3))
        .unwrap()
        .write_first(b"")
        .unwrap()
}

#[test]
fn bad_lengths_are_typed_errors_not_panics() {
    let (alice, bob) = (keypair(1), keypair(2));
    for len in [0usize, 1, 31, 33, 56, 57, 100] {
        let bytes = vec![5u8; len];
        let i = Initiator::new(&alice, &bytes, &[1; 32], PROLOGUE, &seed(3));
        assert_eq!(code(i), ErrorCode::MalformedKey, "remote static of {len}");
        let i = Initiator::new(&alice, &bob.public(), &bytes, PROLOGUE, &seed(3));
        assert_eq!(code(i), ErrorCode::MalformedKey, "psk of {len}");
        let i = Initiator::new(&alice, &bob.public(), &[1; 32], PROLOGUE, &bytes);
        assert_eq!(code(i), ErrorCode::InvalidArgument, "seed of {len}");
        assert_eq!(
            code(Responder::new(&bob, PROLOGUE, &bytes)),
            ErrorCode::InvalidArgument
        );
        let mut r = Responder::new(&bob, PROLOGUE, &seed(4)).unwrap();
        r.read_first(&initiator_first(&alice, &bob)).unwrap();
        assert_eq!(code(r.write_second(&bytes, b"")), ErrorCode::MalformedKey);
        // Unchanged: the right PSK still completes it.
        r.write_second(&[1; 32], b"").unwrap();
    }
}

#[test]
fn calls_out_of_order_are_refused_and_change_nothing() {
    let (alice, bob) = (keypair(1), keypair(2));
    let mut initiator =
        Initiator::new(&alice, &bob.public(), &[1; 32], PROLOGUE, &seed(3)).unwrap();
    let mut responder = Responder::new(&bob, PROLOGUE, &seed(4)).unwrap();
    assert_eq!(
        code(initiator.read_second(&[0u8; 48])),
        ErrorCode::NoiseState
    );
    assert_eq!(
        code(responder.write_second(&[1; 32], b"")),
        ErrorCode::NoiseState
    );
    let first = initiator.write_first(b"a").unwrap();
    assert_eq!(code(initiator.write_first(b"a")), ErrorCode::NoiseState);
    responder.read_first(&first).unwrap();
    assert_eq!(code(responder.read_first(&first)), ErrorCode::NoiseState);
    let (second, _) = responder.write_second(&[1; 32], b"b").unwrap();
    assert_eq!(
        code(responder.write_second(&[1; 32], b"b")),
        ErrorCode::NoiseState
    );
    initiator.read_second(&second).unwrap();
    assert_eq!(code(initiator.read_second(&second)), ErrorCode::NoiseState);
}

#[test]
fn oversize_payloads_are_refused_and_change_nothing() {
    let (alice, bob) = (keypair(1), keypair(2));
    let mut initiator =
        Initiator::new(&alice, &bob.public(), &[1; 32], PROLOGUE, &seed(3)).unwrap();
    let too_big = vec![0u8; MAX_FIRST_PAYLOAD + 1];
    assert_eq!(
        code(initiator.write_first(&too_big)),
        ErrorCode::InvalidArgument
    );
    let first = initiator.write_first(&too_big[1..]).unwrap();
    assert_eq!(first.len(), MAX_MESSAGE_LEN);
    let mut responder = Responder::new(&bob, PROLOGUE, &seed(4)).unwrap();
    let (_, payload) = responder.read_first(&first).unwrap();
    assert_eq!(payload.len(), MAX_FIRST_PAYLOAD);
    let too_big = vec![0u8; MAX_SECOND_PAYLOAD + 1];
    assert_eq!(
        code(responder.write_second(&[1; 32], &too_big)),
        ErrorCode::InvalidArgument
    );
    let (second, mut b) = responder.write_second(&[1; 32], &too_big[1..]).unwrap();
    assert_eq!(second.len(), MAX_MESSAGE_LEN);
    let (_, mut a) = initiator.read_second(&second).unwrap();

    let too_big = vec![1u8; MAX_PLAINTEXT_LEN + 1];
    assert_eq!(code(a.encrypt(&too_big)), ErrorCode::InvalidArgument);
    let sent = a.encrypt(&too_big[1..]).unwrap();
    assert_eq!(sent.len(), MAX_MESSAGE_LEN);
    assert_eq!(b.decrypt(&sent).unwrap(), &too_big[1..]);
}

#[test]
fn transport_messages_must_arrive_in_order_once() {
    // Reordered.
    let mut p = pair();
    let one = p.initiator.encrypt(b"one").unwrap();
    let two = p.initiator.encrypt(b"two").unwrap();
    assert_eq!(code(p.responder.decrypt(&two)), ErrorCode::NoiseDecrypt);
    assert!(!p.responder.is_open());
    // Closed for good, even for the message that was next.
    assert_eq!(code(p.responder.decrypt(&one)), ErrorCode::NoiseState);
    assert_eq!(code(p.responder.encrypt(b"x")), ErrorCode::NoiseState);
    assert_eq!(code(p.responder.rekey_outgoing()), ErrorCode::NoiseState);
    // The sender is unaffected.
    assert!(p.initiator.is_open());

    // Replayed.
    let mut p = pair();
    let one = p.initiator.encrypt(b"one").unwrap();
    p.responder.decrypt(&one).unwrap();
    assert_eq!(code(p.responder.decrypt(&one)), ErrorCode::NoiseDecrypt);

    // Tampered, truncated, too short, too long, or sent back to its sender.
    let changes: [fn(&mut Vec<u8>); 4] = [
        |m: &mut Vec<u8>| m[0] ^= 1,
        |m: &mut Vec<u8>| {
            m.pop();
        },
        |m: &mut Vec<u8>| m.truncate(TAG_LEN - 1),
        |m: &mut Vec<u8>| m.resize(MAX_MESSAGE_LEN + 1, 0),
    ];
    for bad in changes {
        let mut p = pair();
        let mut m = p.initiator.encrypt(b"payload").unwrap();
        bad(&mut m);
        assert_eq!(code(p.responder.decrypt(&m)), ErrorCode::NoiseDecrypt);
    }
    let mut p = pair();
    let m = p.initiator.encrypt(b"payload").unwrap();
    assert_eq!(code(p.initiator.decrypt(&m)), ErrorCode::NoiseDecrypt);
}

#[test]
fn rekey_changes_keys_in_step() {
    let mut p = pair();
    let before = p.initiator.encrypt(b"same").unwrap();
    p.responder.decrypt(&before).unwrap();
    p.initiator.rekey_outgoing().unwrap();
    p.responder.rekey_incoming().unwrap();
    let after = p.initiator.encrypt(b"same").unwrap();
    assert_eq!(p.responder.decrypt(&after).unwrap(), b"same");
    // The other direction is untouched until it rekeys too.
    let back = p.responder.encrypt(b"back").unwrap();
    assert_eq!(p.initiator.decrypt(&back).unwrap(), b"back");

    // A side that did not rekey cannot read the new key's messages.
    let mut p = pair();
    p.initiator.rekey_outgoing().unwrap();
    let m = p.initiator.encrypt(b"new key").unwrap();
    assert_eq!(code(p.responder.decrypt(&m)), ErrorCode::NoiseDecrypt);
}

// ---------------------------------------------------------------- batches of messages (wire)

use super::wire::{self, Opener, LAST, MORE, PACK};

/// Frames of 40 bytes of message each, so that small batches pack and fragment.
const FRAME: usize = 40 + 1 + TAG_LEN;
const MAX: usize = 150;

fn frames_of(wire: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let length = u32::from_be_bytes(wire[at..at + 4].try_into().unwrap()) as usize;
        frames.push(&wire[at + 4..at + 4 + length]);
        at += 4 + length;
    }
    assert_eq!(at, wire.len());
    frames
}

fn open_all(opener: &mut Opener, channel: &mut Channel, chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(opener.open(channel, chunk)?.messages().map(<[u8]>::to_vec));
    }
    Ok(out)
}

fn sample() -> Vec<Vec<u8>> {
    vec![
        b"a".to_vec(),
        vec![1; 6],
        Vec::new(),
        (0..100).collect(),
        vec![2; 36],
        vec![3; 40],
        vec![4; 80],
        vec![5; 7],
        vec![6; 7],
    ]
}

#[test]
fn sealed_batches_come_back_whole_whatever_the_cuts() {
    let sent = sample();
    let slices: Vec<&[u8]> = sent.iter().map(Vec::as_slice).collect();
    for step in [1, 3, 7, 57, 61, 1000] {
        let mut p = pair();
        let wire = wire::seal(&mut p.initiator, &slices, FRAME, MAX).unwrap();
        let chunks: Vec<&[u8]> = wire.chunks(step).collect();
        let mut opener = Opener::new(FRAME, MAX).unwrap();
        let got = open_all(&mut opener, &mut p.responder, &chunks).unwrap();
        assert_eq!(got, sent, "cut every {step} bytes");
        assert!(opener.at_boundary());
        assert_eq!(opener.buffered(), 0);
    }
}

#[test]
fn sealed_frames_pack_and_fragment_as_specified() {
    let mut p = pair();
    let small: Vec<Vec<u8>> = (0..4).map(|i| vec![i; 6]).collect();
    let large: Vec<u8> = (0..100).collect();
    let batch: Vec<&[u8]> = vec![&small[0], &large, &small[1], &small[2]];
    let wire = wire::seal(&mut p.initiator, &batch, FRAME, MAX).unwrap();
    let plain: Vec<Vec<u8>> = frames_of(&wire)
        .into_iter()
        .map(|f| p.responder.decrypt(f).unwrap())
        .collect();
    let with = |kind: u8, body: &[u8]| [&[kind][..], body].concat();
    assert_eq!(
        plain,
        vec![
            with(LAST, &small[0]),
            with(MORE, &large[..40]),
            with(MORE, &large[40..80]),
            with(LAST, &large[80..]),
            pack(&[&small[1], &small[2]]),
        ]
    );
    // 64 messages of 1 KiB at the protocol's frame size: two frames.
    let kib = vec![0u8; 1024];
    let many: Vec<&[u8]> = vec![&kib; 64];
    let wire = wire::seal(&mut p.initiator, &many, wire::MAX_FRAME, 1 << 17).unwrap();
    assert_eq!(frames_of(&wire).len(), 2);
}

#[test]
fn bad_seal_arguments_change_nothing() {
    let mut p = pair();
    let long = vec![0u8; MAX + 1];
    assert_eq!(
        code(wire::seal(&mut p.initiator, &[b"ok", &long], FRAME, MAX)),
        ErrorCode::InvalidArgument
    );
    for frame in [wire::MIN_FRAME - 1, wire::MAX_FRAME + 1] {
        assert_eq!(
            code(wire::seal(&mut p.initiator, &[b"ok"], frame, MAX)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(code(Opener::new(frame, MAX)), ErrorCode::InvalidArgument);
    }
    // The counter did not move: the next frame is the responder's first.
    let wire = wire::seal(&mut p.initiator, &[b"next"], FRAME, MAX).unwrap();
    let mut opener = Opener::new(FRAME, MAX).unwrap();
    assert_eq!(
        open_all(&mut opener, &mut p.responder, &[&wire]).unwrap(),
        vec![b"next".to_vec()]
    );
}

/// The plaintext of a `PACK` frame carrying `items`.
fn pack(items: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![PACK];
    for item in items {
        out.extend((item.len() as u32).to_be_bytes());
        out.extend_from_slice(item);
    }
    out
}

/// Wire bytes of frames carrying `plaintexts` as they are.
fn framed(channel: &mut Channel, plaintexts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for plain in plaintexts {
        let sealed = channel.encrypt(plain).unwrap();
        out.extend((sealed.len() as u32).to_be_bytes());
        out.extend(sealed);
    }
    out
}

fn assert_dead(opener: &mut Opener, channel: &mut Channel) {
    assert!(opener.is_failed());
    assert_eq!(opener.buffered(), 0);
    assert!(!channel.is_open());
    let again = opener.open(channel, b"");
    assert_eq!(code(again), ErrorCode::MalformedFrame);
}

#[test]
fn malformed_streams_are_refused_and_kill_the_opener_and_the_channel() {
    let cases: Vec<(Vec<Vec<u8>>, &str)> = vec![
        (vec![Vec::new()], "an empty frame"),
        (vec![vec![0x01]], "unexpected frame kind 1"),
        (vec![vec![0x09, 1]], "unexpected frame kind 9"),
        (vec![pack(&[b"one"])], "a pack of fewer than two messages"),
        (vec![vec![PACK]], "a pack of fewer than two messages"),
        (
            vec![{
                let mut p = pack(&[b"a", b"b"]);
                p.pop();
                p
            }],
            "a pack cut inside a message",
        ),
        (
            vec![[pack(&[b"a", b"b"]), vec![0, 0]].concat()],
            "a pack cut inside a length",
        ),
        (
            vec![pack(&[b"a", &[0; MAX + 1]])],
            "a message over 150 bytes",
        ),
        (
            vec![vec![MORE, 1], pack(&[b"a", b"b"])],
            "a pack inside a fragmented message",
        ),
        (
            vec![[&[MORE][..], &[0; MAX]].concat(), vec![LAST, 1]],
            "a message over 150 bytes",
        ),
    ];
    for (plaintexts, reason) in cases {
        let mut p = pair();
        let wire = framed(&mut p.initiator, &plaintexts);
        let mut opener = Opener::new(4096, MAX).unwrap();
        let err = opener.open(&mut p.responder, &wire).unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedFrame, "{reason}");
        assert!(
            err.message.starts_with(reason),
            "{} for {reason}",
            err.message
        );
        assert_dead(&mut opener, &mut p.responder);
    }
}

#[test]
fn bad_frame_lengths_are_refused_at_the_header() {
    for header in [0u32, FRAME as u32 + 1, u32::MAX] {
        let mut p = pair();
        let mut opener = Opener::new(FRAME, MAX).unwrap();
        let bytes = header.to_be_bytes();
        assert!(opener
            .open(&mut p.responder, &bytes[..2])
            .unwrap()
            .spans
            .is_empty());
        let err = opener.open(&mut p.responder, &bytes[2..]).unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedFrame);
        assert_dead(&mut opener, &mut p.responder);
    }
}

#[test]
fn tampered_truncated_or_replayed_frames_fail_to_decrypt() {
    let mut p = pair();
    let mut wire = wire::seal(&mut p.initiator, &[b"one", b"two"], FRAME, MAX).unwrap();
    let last = wire.len() - 1;
    wire[last] ^= 1;
    let mut opener = Opener::new(FRAME, MAX).unwrap();
    assert_eq!(
        code(opener.open(&mut p.responder, &wire)),
        ErrorCode::NoiseDecrypt
    );
    assert_dead(&mut opener, &mut p.responder);

    let mut p = pair();
    let mut opener = Opener::new(FRAME, MAX).unwrap();
    assert_eq!(
        code(opener.open(&mut p.responder, b"\0\0\0\x03abc")),
        ErrorCode::NoiseDecrypt
    );
    assert_dead(&mut opener, &mut p.responder);

    let mut p = pair();
    let wire = wire::seal(&mut p.initiator, &[b"one"], FRAME, MAX).unwrap();
    let mut opener = Opener::new(FRAME, MAX).unwrap();
    assert_eq!(
        open_all(&mut opener, &mut p.responder, &[&wire]).unwrap(),
        vec![b"one".to_vec()]
    );
    assert_eq!(
        code(opener.open(&mut p.responder, &wire)),
        ErrorCode::NoiseDecrypt
    );
    assert_dead(&mut opener, &mut p.responder);
}

#[test]
fn a_cut_frame_is_held_until_it_completes() {
    let mut p = pair();
    let wire = wire::seal(&mut p.initiator, &[b"one", b"two"], FRAME, MAX).unwrap();
    let mut opener = Opener::new(FRAME, MAX).unwrap();
    let (head, tail) = wire.split_at(wire.len() - 1);
    assert!(opener
        .open(&mut p.responder, head)
        .unwrap()
        .spans
        .is_empty());
    assert!(!opener.at_boundary());
    assert_eq!(opener.buffered(), head.len());
    let got: Vec<Vec<u8>> = opener
        .open(&mut p.responder, tail)
        .unwrap()
        .messages()
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
    assert!(opener.at_boundary());
}
