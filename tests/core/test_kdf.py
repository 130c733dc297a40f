"""BLAKE3 extract-and-expand key derivation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import Value, canonical_encode
from aura_core.errors import InvalidArgument
from aura_core.ids import ContextId
from aura_core.kdf import MAX_OUTPUT, derive_context_key, derive_key, kdf
from aura_sim.testing.strategies import entropy, values

small = st.binary(max_size=24)


@given(small, small, small, st.integers(1, 200), st.integers(1, 200))
def test_shorter_output_is_prefix_of_longer(
    ikm: bytes, salt: bytes, info: bytes, a: int, b: int
) -> None:
    short, long_ = sorted((a, b))
    out_short = kdf(ikm, salt=salt, info=info, length=short)
    out_long = kdf(ikm, salt=salt, info=info, length=long_)
    assert len(out_short) == short and len(out_long) == long_
    assert out_long.startswith(out_short)


@given(small, small, small, small, small, small)
def test_domain_separated_by_every_input(
    ikm1: bytes, salt1: bytes, info1: bytes, ikm2: bytes, salt2: bytes, info2: bytes
) -> None:
    same = (ikm1, salt1, info1) == (ikm2, salt2, info2)
    a = kdf(ikm1, salt=salt1, info=info1, length=32)
    b = kdf(ikm2, salt=salt2, info=info2, length=32)
    assert (a == b) == same


@given(small, small)
def test_inputs_do_not_slide_between_fields(x: bytes, y: bytes) -> None:
    # Moving bytes from one input to the next changes the output thanks to length prefixes.
    if x:
        assert kdf(x, salt=y, info=b"", length=16) != kdf(
            x[:-1], salt=x[-1:] + y, info=b"", length=16
        )
        assert kdf(b"", salt=x, info=y, length=16) != kdf(
            b"", salt=x[:-1], info=x[-1:] + y, length=16
        )


def test_deterministic() -> None:
    assert kdf(b"k", salt=b"s", info=b"i", length=32) == kdf(b"k", salt=b"s", info=b"i", length=32)


@pytest.mark.parametrize("length", [0, -1, MAX_OUTPUT + 1, True])
def test_length_must_be_positive_and_bounded(length: int) -> None:
    with pytest.raises(InvalidArgument):
        kdf(b"k", salt=b"s", info=b"i", length=length)


def test_inputs_must_be_bytes() -> None:
    with pytest.raises(InvalidArgument):
        kdf("k", salt=b"s", info=b"i", length=1)  # type: ignore[arg-type]


@given(small, values, values)
def test_derive_key_binds_canonical_context(master: bytes, a: Value, b: Value) -> None:
    same = canonical_encode(a) == canonical_encode(b)
    assert (derive_key(master, a) == derive_key(master, b)) == same


@given(entropy, entropy, st.integers(0, 2**64 - 2), st.sampled_from(["chat", "files"]))
def test_context_keys(root: bytes, ctx_seed: bytes, epoch: int, app: str) -> None:
    context = ContextId.from_entropy(ctx_seed)
    key = derive_context_key(root, app=app, context=context, epoch=epoch)
    assert len(key) == 32
    assert key != derive_context_key(root, app=app, context=context, epoch=epoch + 1)
    assert key != derive_context_key(root, app=app + "x", context=context, epoch=epoch)
    other = ContextId(bytes(b ^ 1 for b in context.raw))
    assert key != derive_context_key(root, app=app, context=other, epoch=epoch)
    assert key != derive_context_key(root + b"\x00", app=app, context=context, epoch=epoch)


def test_context_key_argument_checks() -> None:
    context = ContextId(bytes(16))
    with pytest.raises(InvalidArgument):
        derive_context_key(b"r", app="", context=context, epoch=0)
    with pytest.raises(InvalidArgument):
        derive_context_key(b"r", app="a", context=context, epoch=-1)
    with pytest.raises(InvalidArgument):
        derive_context_key(b"r", app="a", context=bytes(16), epoch=0)  # type: ignore[arg-type]
