"""What strictness costs: the canonical record codec against plain cbor2.

Each row encodes, decodes and hashes (BLAKE3) the same ~200-byte record: through the typed
record codec (canonical encode + strict decode + hash), through the value-level canonical
functions, and through plain `cbor2.dumps`/`cbor2.loads` (the baseline).

Run: ./dev bench   (or .venv/bin/python benchmarks/encoding.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import attrs
import blake3
import cbor2

from aura_core.encoding import canonical_encode, decode, encode, record, strict_decode, to_value
from aura_core.hashing import Hash32
from aura_core.ids import AuthorityId, ContextId
from benchmarks._harness import measure, table


@record("bench.invitation")
@attrs.frozen
class Invitation:
    sender: AuthorityId
    receiver: AuthorityId
    context: ContextId
    nonce: bytes
    issued_ms: int
    expires_ms: int
    capabilities: tuple[str, ...]
    accepted: bool


def main() -> None:
    value = Invitation(
        sender=AuthorityId(bytes(range(16))),
        receiver=AuthorityId(bytes(range(16, 32))),
        context=ContextId(bytes(range(32, 48))),
        nonce=bytes(range(100, 116)),
        issued_ms=1_763_700_000_000,
        expires_ms=1_763_786_400_000,
        capabilities=("chat:send", "invitation:accept"),
        accepted=False,
    )
    data = encode(value)
    plain = to_value(value)
    assert decode(data, Invitation) == value
    assert cbor2.dumps(plain) == data  # same bytes, so the comparison is like for like

    def codec_round_trip() -> object:
        raw = encode(value)
        return decode(raw, Invitation), Hash32.of(raw)

    def value_round_trip() -> object:
        raw = canonical_encode(plain)
        return strict_decode(raw), Hash32.of(raw)

    def cbor2_plain() -> object:
        raw = cbor2.dumps(plain)
        return cbor2.loads(raw), blake3.blake3(raw).digest()

    def cbor2_canonical() -> object:
        raw = cbor2.dumps(plain, canonical=True)
        return cbor2.loads(raw), blake3.blake3(raw).digest()

    baseline = measure("cbor2 dumps + loads + hash (baseline)", cbor2_plain)
    rows = [
        measure("record codec: encode + strict decode + hash", codec_round_trip),
        measure("values: canonical_encode + strict_decode + hash", value_round_trip),
        measure("cbor2 dumps(canonical=True) + loads + hash", cbor2_canonical),
        baseline,
    ]
    print(table(f"Encode + decode + hash of a {len(data)}-byte record", rows, baseline))


if __name__ == "__main__":
    main()
