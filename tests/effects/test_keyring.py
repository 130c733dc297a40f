"""The context keyring: one secret per context, checked on the way in."""

from __future__ import annotations

import anyio
import pytest

from aura_core.errors import InvalidArgument
from aura_core.ids import ContextId
from aura_effects.keyring import ContextKeyring

A, B = ContextId(b"\x01" * 16), ContextId(b"\x02" * 16)


def test_a_context_has_one_secret_and_bad_input_changes_nothing() -> None:
    async def main() -> None:
        ring = ContextKeyring()
        ring.add(A, b"\x11" * 32)
        ring.add(A, b"\x11" * 32)  # the same secret again is fine
        for context, secret in ((A, b"\x22" * 32), (B, b"short"), ("ctx", b"\x11" * 32)):
            with pytest.raises(InvalidArgument):
                ring.add(context, secret)  # type: ignore[arg-type]
        assert await ring.secret(A) == b"\x11" * 32 and await ring.secret(B) is None
        assert ring.contexts() == [A] and "\\x11" not in repr(ring)
        ring.remove(A)
        assert await ring.secret(A) is None

    anyio.run(main)
