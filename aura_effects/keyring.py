"""The context secrets this device holds: the key material members of a context share.

A context's members share one 32-byte secret, handed to each member when it joins (by the
context's creator, or by an invitation protocol); it is never written to a journal. Every
key a context uses is derived from it with the library's KDF at the context's current epoch
(`aura_core.kdf.derive_context_key`): the Noise PSK that only members can connect with, the
key rendezvous descriptors are sealed to. Keeping the secrets at rest (sealed, 0600) is the
agent's job; this handler holds them in memory.
"""

from __future__ import annotations

from aura_core.errors import InvalidArgument
from aura_core.ids import ContextId

__all__ = ["SECRET_LEN", "ContextKeyring"]

SECRET_LEN = 32


class ContextKeyring:
    """`ContextKeyEffects`: context → shared secret, for the contexts this device is in."""

    def __init__(self) -> None:
        self._secrets: dict[ContextId, bytes] = {}

    def add(self, context: ContextId, secret: bytes) -> None:
        """Hold `context`'s shared secret (replacing none: a context has one secret)."""
        if type(context) is not ContextId:
            raise InvalidArgument("a context secret belongs to a ContextId")
        if type(secret) is not bytes or len(secret) != SECRET_LEN:
            raise InvalidArgument(f"a context secret is {SECRET_LEN} bytes")
        held = self._secrets.get(context)
        if held is not None and held != secret:
            raise InvalidArgument(f"{context} already has another secret")
        self._secrets[context] = secret

    def remove(self, context: ContextId) -> None:
        self._secrets.pop(context, None)

    async def secret(self, context: ContextId) -> bytes | None:
        """The shared secret of `context`, or None if this device is not a member."""
        return self._secrets.get(context)

    def contexts(self) -> list[ContextId]:
        """The contexts this device holds a secret for, sorted."""
        return sorted(self._secrets)

    def __repr__(self) -> str:
        return f"ContextKeyring({len(self._secrets)} contexts, <secrets>)"
