"""Set reconciliation and Noise channels through the Python API (medians).

Reconciliation: two replicas of n items (random 32-byte ids, timestamps spread over 2^40)
that differ in d items scattered through the set, half held only by the initiator and half
only by the responder, reconciled with the default frame limit (60000 bytes, one Noise
message). For each (n, d): round trips (responder answers), bytes each way and in total, the
wall time of the exchange itself (both sides in this process, no network), and the time to
build one side's reconciler; beside the naive exchange of every id (32 * n bytes one way)
and the time Python takes to diff two such id sets, measured in the same run. Targets from
issue 16 at n = 10^6, d = 1: <= 3 round trips, <= 4 KiB in total, reconciliation <= 1 s.

Noise: a whole IKpsk2 handshake (both sides) and encrypt + decrypt of 1 KiB and of the
largest plaintext (65519 bytes, the 64 KiB frame) through `aura_core.noise`, beside PyNaCl's
ChaCha20-Poly1305 (the same AEAD, libsodium) on the same sizes.

Run: .venv/bin/python benchmarks/reconcile.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nacl.bindings

from aura_core.noise import MAX_PLAINTEXT_LEN, NoiseInitiator, NoiseResponder, StaticKeypair
from aura_core.reconcile import FRAME_SIZE_LIMIT, Reconciler
from benchmarks._harness import format_ns, measure, table

SIZES = [10**4, 10**5, 10**6]
DIFFERENCES = [1, 10, 100, 1000]
REPEATS = {10**4: 7, 10**5: 5, 10**6: 3}
Item = tuple[int, bytes]


def dataset(n: int, rng: random.Random) -> list[Item]:
    blob = rng.randbytes(32 * n)
    return [(rng.getrandbits(40), blob[32 * i : 32 * i + 32]) for i in range(n)]


def variant(base: list[Item], d: int, rng: random.Random) -> tuple[list[Item], int, int]:
    """The initiator's set: `base` without d - d // 2 scattered items, plus d // 2 new ones.
    Returns it with the expected numbers of `have` and `need` ids."""
    dropped = set(rng.sample(range(len(base)), d - d // 2))
    kept = [item for i, item in enumerate(base) if i not in dropped]
    return kept + dataset(d // 2, rng), d // 2, len(dropped)


def session(initiator: Reconciler, responder: Reconciler) -> tuple[int, int, int, int, int, int]:
    """(rounds, bytes initiator->responder, bytes back, have, need, nanoseconds)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        message: bytes | None = initiator.initiate()
        rounds = sent = received = have = need = 0
        while message is not None:
            sent += len(message)
            answer = responder.reconcile(message)
            received += len(answer)
            rounds += 1
            message, h, n = initiator.reconcile_with_ids(answer)
            have += len(h)
            need += len(n)
        elapsed = time.perf_counter_ns() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return rounds, sent, received, have, need, elapsed


def spread(samples: list[float]) -> str:
    return (
        f"{format_ns(statistics.median(samples))} "
        f"({format_ns(min(samples))}..{format_ns(max(samples))})"
    )


def reconcile_table(sizes: list[int]) -> str:
    rng = random.Random(16)
    title = (
        f"Set reconciliation, frame limit {FRAME_SIZE_LIMIT}: n items a side, d scattered "
        "differences (medians, min..max)"
    )
    header = (
        f"{'n':>9}{'d':>6}{'rounds':>8}{'i->r B':>10}{'r->i B':>10}{'total B':>10}"
        f"{'naive B':>12}{'naive/total':>12}   {'reconcile':<36}{'build one side':<16}"
    )
    lines = [title, "-" * len(title), header]
    naive_lines = []
    for n in sizes:
        base = dataset(n, rng)
        start = time.perf_counter_ns()
        responder = Reconciler(base)
        responder_build = time.perf_counter_ns() - start
        naive_times = []
        for _ in range(REPEATS[n]):
            ours, theirs = [i for _, i in base], [i for _, i in reversed(base)]
            start = time.perf_counter_ns()
            set(ours).symmetric_difference(theirs)
            naive_times.append(time.perf_counter_ns() - start)
        naive_lines.append(
            f"  n = {n:>9,}: diff two received id sets in Python {spread(naive_times)}; "
            f"build the responder {format_ns(responder_build)}"
        )
        for d in DIFFERENCES:
            items, want_have, want_need = variant(base, d, rng)
            builds, times = [], []
            for _ in range(REPEATS[n]):
                start = time.perf_counter_ns()
                initiator = Reconciler(items)
                builds.append(time.perf_counter_ns() - start)
                rounds, sent, received, have, need, elapsed = session(initiator, responder)
                assert (have, need) == (want_have, want_need), (n, d, have, need)
                times.append(elapsed)
            total = sent + received
            lines.append(
                f"{n:>9,}{d:>6}{rounds:>8}{sent:>10,}{received:>10,}{total:>10,}"
                f"{32 * n:>12,}{32 * n / total:>11.0f}x   {spread(times):<36}"
                f"{format_ns(statistics.median(builds)):<16}"
            )
    lines.append(
        "(rounds = responder answers; bytes are identical on every repeat; reconcile = the whole"
    )
    lines.append(
        " exchange in one process, both sides' CPU; build = Reconciler(items) from a Python list)"
    )
    lines.append("naive baseline, same run:")
    lines.extend(naive_lines)
    return "\n".join(lines)


def noise_table() -> str:
    alice = StaticKeypair.from_seed(b"\x01" * 32)
    bob = StaticKeypair.from_seed(b"\x02" * 32)
    psk, prologue = b"\x07" * 32, b"aura/1"

    def handshake() -> tuple[object, object]:
        initiator = NoiseInitiator(alice, bob.public, psk, prologue, b"\x03" * 32)
        responder = NoiseResponder(bob, prologue, b"\x04" * 32)
        responder.read_first(initiator.write_first(b"hello"))
        second, b = responder.write_second(psk, b"welcome")
        _, a = initiator.read_second(second)
        return a, b

    rows = [measure("handshake (both sides)", handshake)]
    initiator = NoiseInitiator(alice, bob.public, psk, prologue, b"\x05" * 32)
    responder = NoiseResponder(bob, prologue, b"\x06" * 32)
    responder.read_first(initiator.write_first(b""))
    second, b = responder.write_second(psk, b"")
    _, a = initiator.read_second(second)
    key, nonce = b"\x08" * 32, bytes(12)
    baselines, ratios = [], []
    for label, size in (("1 KiB", 1024), ("64 KiB", MAX_PLAINTEXT_LEN)):
        message = b"\x09" * size

        def noise(message: bytes = message) -> bytes:
            return b.decrypt(a.encrypt(message))

        def libsodium(message: bytes = message) -> bytes:
            sealed = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
                message, None, nonce, key
            )
            return nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(sealed, None, nonce, key)

        rows.append(measure(f"noise encrypt+decrypt {label}", noise))
        baselines.append(measure(f"pynacl chacha20poly1305 {label}", libsodium))
        ratios.append(f"{label} {rows[-1].median / baselines[-1].median:.2f}x")
    printed = table(
        "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s through aura_core.noise (medians per call)",
        [*rows, *baselines],
        baselines[0],
    )
    return printed + "\nnoise / pynacl at the same size: " + ", ".join(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="comma-separated set sizes (each of 10000, 100000, 1000000)",
    )
    sizes = [int(n) for n in parser.parse_args().sizes.split(",")]
    if any(n not in REPEATS for n in sizes):
        parser.error(f"sizes are among {sorted(REPEATS)}")
    print(noise_table())
    print()
    print(reconcile_table(sizes))


if __name__ == "__main__":
    main()
