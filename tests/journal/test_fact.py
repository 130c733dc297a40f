"""Facts and namespaces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_core.encoding import decode, encode
from aura_core.errors import EncodingError, InvalidArgument, NamespaceMismatch
from aura_journal.fact import Fact, JournalNamespace, NamespaceKind, ThresholdAttestation
from tests.journal.helpers import ALICE, BOB, CONTEXT, CONTEXT_NS, DEVICE_KEY, signed, spent_payload


def test_namespace_kinds() -> None:
    assert JournalNamespace.of(ALICE).authority == ALICE
    assert JournalNamespace.of(CONTEXT).context == CONTEXT
    assert JournalNamespace.of(ALICE).kind is NamespaceKind.AUTHORITY
    with pytest.raises(NamespaceMismatch):
        _ = JournalNamespace.of(ALICE).context
    with pytest.raises(NamespaceMismatch):
        _ = JournalNamespace.of(CONTEXT).authority
    with pytest.raises(InvalidArgument):
        JournalNamespace.of(b"x" * 16)  # type: ignore[arg-type]
    # An authority and a context with the same 16 bytes are different namespaces.
    assert JournalNamespace(NamespaceKind.AUTHORITY, ALICE.raw) != JournalNamespace(
        NamespaceKind.CONTEXT, ALICE.raw
    )


@given(st.integers(0, 2**64 - 1), st.binary(max_size=40), st.booleans())
def test_from_bytes_keeps_exact_encodings(spent: int, label: bytes, threshold: bool) -> None:
    fact = signed(CONTEXT_NS, spent_payload(ALICE, BOB, 0, spent), label)
    if threshold:
        fact = Fact(fact.body, ThresholdAttestation(DEVICE_KEY.verifying_key, bytes(64), (1, 7)))
    received = Fact.from_bytes(fact.encoded)
    assert received == fact
    assert received.encoded == encode(received)
    assert received.body.encoded == encode(received.body)
    assert received.id == fact.id


def test_from_bytes_rejects_junk() -> None:
    with pytest.raises(EncodingError):
        Fact.from_bytes(b"\xa0")


def test_fact_identity_and_round_trip() -> None:
    fact = signed(CONTEXT_NS, spent_payload(ALICE, BOB, 0, 5), "a")
    again = decode(fact.encoded, Fact)
    assert again == fact and again.id == fact.id
    other = signed(CONTEXT_NS, spent_payload(ALICE, BOB, 0, 6), "a")
    assert other.id != fact.id
