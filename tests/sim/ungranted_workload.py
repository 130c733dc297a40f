"""Naive push whose nodes are granted nothing: every push is a guard denial (`-v` shows them)."""

from __future__ import annotations

from typing import Any

from aura_sim.examples.naive_push import NaivePush


class Ungranted(NaivePush):
    capabilities = ()


def workload(options: dict[str, Any]) -> Ungranted:
    return Ungranted(options)
