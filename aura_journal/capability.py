"""The capability frontier: Biscuit tokens that only ever attenuate.

An authority issues a root token listing capability names (`[a-z0-9_:-]+`) and one scope: every
context of the issuer, one context, the issuer as an authority, or a storage path prefix.
Attenuation appends a block of checks (fewer capabilities, one context, a path prefix, an
expiry); Biscuit's semantics guarantee an attenuated token never allows what its parent denies.

The frontier is a meet-semilattice with a distinct TOP (no token restriction) and BOTTOM
(nothing allowed). The meet of two token chains from the same root is the longer one when one
is a prefix of the other (by block signatures), and BOTTOM otherwise, which makes it
commutative, unlike the reference. `allows(need, scope)` is the check need ⊓ C == need: it
evaluates the token with biscuit-python, given the time and local authority as facts.

`CapabilityEvaluator` caches decisions; the cache is dropped when the tree epoch or the local
policy changes, and a decision is reused only inside a horizon over which it was checked to be
stable (so an expiry inside the horizon is never missed).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import attrs
import biscuit_auth

from aura_core.crypto.ed25519 import SigningKey, VerifyingKey
from aura_core.crypto.tokens import attenuate_token, mint_token
from aura_core.errors import CapabilityDenied, InvalidArgument, TokenError
from aura_core.ids import AuthorityId, ContextId
from aura_core.memo import memoized_property

__all__ = [
    "CAPABILITY_NAME",
    "check_capability_name",
    "ContextScope",
    "AuthorityScope",
    "StorageScope",
    "Scope",
    "CapabilityToken",
    "issue_token",
    "FrontierKind",
    "CapabilityFrontier",
    "CapabilityEvaluator",
]

CAPABILITY_NAME = re.compile(r"[a-z0-9_:-]+\Z")
_AUTHORIZER_TIME_LIMIT = timedelta(milliseconds=50)
_POLICIES = """
allow if operation($op), capability($op), scope_context($x), context_id($x);
allow if operation($op), capability($op), scope_contexts_of($a), local_authority($a),
    context_id($x);
allow if operation($op), capability($op), scope_authority($a), authority_id($a);
allow if operation($op), capability($op), scope_storage($a, $prefix), authority_id($a),
    storage_path($p), $p.starts_with($prefix);
"""


def check_capability_name(name: object) -> str:
    """`name` if it is a capability name; `InvalidArgument` otherwise."""
    if type(name) is not str or not CAPABILITY_NAME.match(name):
        raise InvalidArgument(f"{name!r} is not a capability name ([a-z0-9_:-]+)")
    return name


@attrs.frozen
class ContextScope:
    """Operations inside one relational context."""

    context: ContextId


@attrs.frozen
class AuthorityScope:
    """Operations on an authority itself (its tree, its settings)."""

    authority: AuthorityId


@attrs.frozen
class StorageScope:
    """Storage of an authority under a path."""

    authority: AuthorityId
    path: str


Scope = ContextScope | AuthorityScope | StorageScope


def _root_key(key: VerifyingKey) -> Any:
    algorithm = biscuit_auth.Algorithm.Ed25519  # type: ignore[attr-defined]  # stale stubs
    return biscuit_auth.PublicKey.from_bytes(key.raw, algorithm)  # type: ignore[call-arg]


@attrs.frozen(slots=False)
class CapabilityToken:
    """A Biscuit token and the root key it must verify under."""

    raw: bytes
    root_key: VerifyingKey

    @memoized_property
    def parsed(self) -> Any:
        """The verified biscuit; `TokenError` if forged or malformed."""
        try:
            return biscuit_auth.Biscuit.from_bytes(self.raw, _root_key(self.root_key))
        except Exception as exc:  # biscuit-python raises several unrelated exception types
            raise TokenError(f"token does not verify: {type(exc).__name__}") from None

    def verify(self) -> None:
        """Raise `TokenError` unless the token's signature chain verifies under `root_key`."""
        self.parsed  # noqa: B018

    @property
    def chain(self) -> tuple[str, ...]:
        """Block signatures from the root block on: the identity of each attenuation step."""
        return tuple(self.parsed.revocation_ids)

    def attenuate(
        self,
        *,
        seed: bytes,
        capabilities: Iterable[str] | None = None,
        context: ContextId | None = None,
        storage_prefix: str | None = None,
        expires_ms: int | None = None,
    ) -> CapabilityToken:
        """A token that allows at most what this one allows, within the given limits."""
        checks: list[str] = []
        params: dict[str, str | int] = {}
        if capabilities is not None:
            names = sorted({check_capability_name(c) for c in capabilities})
            if not names:
                checks.append("check if false;")
            else:
                alternatives = " or ".join(f"operation({{c{i}}})" for i in range(len(names)))
                checks.append(f"check if {alternatives};")
                params.update({f"c{i}": name for i, name in enumerate(names)})
        if context is not None:
            checks.append("check if context_id({ctx});")
            params["ctx"] = str(context)
        if storage_prefix is not None:
            checks.append("check if storage_path($p), $p.starts_with({prefix});")
            params["prefix"] = storage_prefix
        if expires_ms is not None:
            checks.append("check if now_ms($t), $t < {expires};")
            params["expires"] = expires_ms
        if not checks:
            raise InvalidArgument("an attenuation needs at least one restriction")
        self.verify()
        raw = attenuate_token(self.raw, self.root_key.raw, "\n".join(checks), params, seed)
        return CapabilityToken(raw, self.root_key)


def issue_token(
    root_seed: bytes,
    issuer: AuthorityId,
    capabilities: Iterable[str],
    *,
    seed: bytes,
    scope: Scope | None = None,
    expires_ms: int | None = None,
) -> CapabilityToken:
    """A root token of `issuer` granting `capabilities` in `scope`.

    Without a scope the token covers every context of the issuer (and only when the issuer
    itself evaluates it). `root_seed` is the issuer's capability root key; `seed` feeds the
    block key pairs (draw both from `RandomEffects`).
    """
    names = sorted({check_capability_name(c) for c in capabilities})
    lines = ['issuer({issuer}); role("member");']
    params: dict[str, str | int] = {"issuer": str(issuer)}
    for i, name in enumerate(names):
        lines.append(f"capability({{c{i}}});")
        params[f"c{i}"] = name
    if scope is None:
        lines.append("scope_contexts_of({issuer});")
    elif isinstance(scope, ContextScope):
        lines.append("scope_context({ctx});")
        params["ctx"] = str(scope.context)
    elif isinstance(scope, AuthorityScope):
        lines.append("scope_authority({scope_authority});")
        params["scope_authority"] = str(scope.authority)
    else:
        lines.append("scope_storage({scope_authority}, {prefix});")
        params["scope_authority"] = str(scope.authority)
        params["prefix"] = scope.path
    if expires_ms is not None:
        lines.append("check if now_ms($t), $t < {expires};")
        params["expires"] = expires_ms
    root = SigningKey(root_seed).verifying_key
    return CapabilityToken(mint_token(root_seed, "\n".join(lines), params, seed), root)


class FrontierKind(enum.Enum):
    TOP = "top"
    BOTTOM = "bottom"
    TOKEN = "token"


@attrs.frozen
class CapabilityFrontier:
    """What a party may do: TOP (unrestricted), BOTTOM (nothing) or a verified token chain."""

    kind: FrontierKind
    token: CapabilityToken | None = None

    @classmethod
    def top(cls) -> CapabilityFrontier:
        return cls(FrontierKind.TOP)

    @classmethod
    def bottom(cls) -> CapabilityFrontier:
        return cls(FrontierKind.BOTTOM)

    @classmethod
    def of(cls, token: CapabilityToken) -> CapabilityFrontier:
        """The frontier of a token; `TokenError` if it does not verify."""
        token.verify()
        return cls(FrontierKind.TOKEN, token)

    def meet(self, other: CapabilityFrontier) -> CapabilityFrontier:
        """The greatest frontier below both."""
        if self.kind is FrontierKind.BOTTOM or other.kind is FrontierKind.TOP:
            return self
        if other.kind is FrontierKind.BOTTOM or self.kind is FrontierKind.TOP:
            return other
        assert self.token is not None and other.token is not None
        if self.token.root_key != other.token.root_key:
            return CapabilityFrontier.bottom()
        mine, theirs = self.token.chain, other.token.chain
        if theirs[: len(mine)] == mine:
            return other
        if mine[: len(theirs)] == theirs:
            return self
        return CapabilityFrontier.bottom()

    def allows(
        self, need: str, scope: Scope, *, now_ms: int, local_authority: AuthorityId | None
    ) -> bool:
        """need ⊓ C == need: whether this frontier permits `need` in `scope` at `now_ms`."""
        check_capability_name(need)
        if self.kind is FrontierKind.TOP:
            return True
        if self.kind is FrontierKind.BOTTOM:
            return False
        assert self.token is not None
        return _authorize(self.token, need, scope, now_ms, local_authority)

    def require(
        self, need: str, scope: Scope, *, now_ms: int, local_authority: AuthorityId | None
    ) -> None:
        """Raise `CapabilityDenied` unless `allows`."""
        if not self.allows(need, scope, now_ms=now_ms, local_authority=local_authority):
            raise CapabilityDenied(f"{need} is not allowed in {scope}")


def _authorize(
    token: CapabilityToken,
    need: str,
    scope: Scope,
    now_ms: int,
    local_authority: AuthorityId | None,
) -> bool:
    facts = ["operation({op});", "now_ms({now});"]
    params: dict[str, str | int] = {"op": need, "now": now_ms}
    if local_authority is not None:
        facts.append("local_authority({local});")
        params["local"] = str(local_authority)
    if isinstance(scope, ContextScope):
        facts.append("context_id({ctx});")
        params["ctx"] = str(scope.context)
    else:
        facts.append("authority_id({authority});")
        params["authority"] = str(scope.authority)
        if isinstance(scope, StorageScope):
            facts.append("storage_path({path});")
            params["path"] = scope.path
    try:
        builder = biscuit_auth.AuthorizerBuilder("\n".join(facts) + _POLICIES, params)
        limits = builder.limits()  # type: ignore[attr-defined]
        limits.max_time = _AUTHORIZER_TIME_LIMIT
        builder.set_limits(limits)  # type: ignore[attr-defined]
        builder.build(token.parsed).authorize()
    except TokenError:
        raise
    except Exception:  # a failed check, no matching policy or a run limit: all deny
        return False
    return True


@attrs.define
class CapabilityEvaluator:
    """A frontier under a local policy, with cached decisions.

    `local_policy` (None: no restriction) names the capabilities local policy permits at all;
    the effective frontier is token ⊓ policy. Changing the epoch, the policy or the frontier
    drops every cached decision. A decision made at time t is reused during [t, t + horizon]
    only if the token gives the same answer at both ends of that interval (token time checks
    are expiries, so the answer cannot change in between).
    """

    frontier: CapabilityFrontier
    local_authority: AuthorityId | None
    epoch: int = 0
    local_policy: frozenset[str] | None = None
    horizon_ms: int = 60_000
    _cache: dict[tuple[str, Scope], tuple[bool, int, int]] = attrs.field(factory=dict, init=False)
    hits: int = attrs.field(default=0, init=False)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch = epoch
            self._cache.clear()

    def set_policy(self, local_policy: frozenset[str] | None) -> None:
        if local_policy != self.local_policy:
            self.local_policy = local_policy
            self._cache.clear()

    def set_frontier(self, frontier: CapabilityFrontier) -> None:
        if frontier != self.frontier:
            self.frontier = frontier
            self._cache.clear()

    def allows(self, need: str, scope: Scope, *, now_ms: int) -> bool:
        """Whether `need` is allowed in `scope` now (cached where provably stable)."""
        check_capability_name(need)
        if self.local_policy is not None and need not in self.local_policy:
            return False
        key = (need, scope)
        cached = self._cache.get(key)
        if cached is not None and cached[1] <= now_ms <= cached[2]:
            self.hits += 1
            return cached[0]
        local = self.local_authority
        decision = self.frontier.allows(need, scope, now_ms=now_ms, local_authority=local)
        until = now_ms + self.horizon_ms
        if self.frontier.allows(need, scope, now_ms=until, local_authority=local) == decision:
            self._cache[key] = (decision, now_ms, until)
        else:
            self._cache.pop(key, None)
        return decision
