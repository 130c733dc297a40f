"""The capability frontier of a device, per context, with cached decisions."""

from __future__ import annotations

from aura_core.effects import PhysicalTimeEffects
from aura_core.ids import AuthorityId, ContextId
from aura_journal.capability import (
    CapabilityEvaluator,
    CapabilityFrontier,
    ContextScope,
    Scope,
)

__all__ = ["AuthorizationHandler"]


class AuthorizationHandler:
    """`AuthorizationEffects`: a context with no grant allows nothing (BOTTOM).

    Grants meet into the frontier of their context (`None` holds the local authority's own
    scopes: authority and storage). Changing the epoch or the local policy drops every cached
    decision.
    """

    def __init__(
        self,
        time: PhysicalTimeEffects,
        local_authority: AuthorityId | None,
        *,
        local_policy: frozenset[str] | None = None,
    ) -> None:
        self._time = time
        self._local = local_authority
        self._policy = local_policy
        self._epoch = 0
        self._evaluators: dict[ContextId | None, CapabilityEvaluator] = {}

    def grant(self, context: ContextId | None, frontier: CapabilityFrontier) -> None:
        current = self._evaluators.get(context)
        if current is None:
            self._evaluators[context] = CapabilityEvaluator(
                frontier, self._local, epoch=self._epoch, local_policy=self._policy
            )
        else:
            current.set_frontier(current.frontier.meet(frontier))

    def set_epoch(self, epoch: int) -> None:
        self._epoch = epoch
        for evaluator in self._evaluators.values():
            evaluator.set_epoch(epoch)

    def set_policy(self, local_policy: frozenset[str] | None) -> None:
        self._policy = local_policy
        for evaluator in self._evaluators.values():
            evaluator.set_policy(local_policy)

    async def allows(self, capability: str, scope: Scope) -> bool:
        key = scope.context if isinstance(scope, ContextScope) else None
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            return False
        now = await self._time.now()
        return evaluator.allows(capability, scope, now_ms=now.ts_ms)
