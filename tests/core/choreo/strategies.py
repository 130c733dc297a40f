"""Hypothesis strategies for random WELL-FORMED choreographies, as protocol text plus bindings.

`protocols()` draws a `GeneratedProtocol`: the text of a protocol that parses, passes `check`
and projects for every role, and the `bindings` for every symbol it uses (family sizes,
thresholds, timeout durations). Reuse it to run all projected endpoints together::

    from tests.core.choreo.strategies import protocols

    @given(protocols())
    def test_endpoints_reach_end(generated: GeneratedProtocol) -> None:
        local_types = compile(generated.text, generated.bindings)
        ...

What is drawn: 2 to 4 single roles and 0 to 2 role families of 1 to 5 members (sizes written
as literals or as symbols); messages with random payload types and annotations (capabilities, costs,
journal facts, leakage classes, or none); fan-out (`A -> Fam[*]`) and fan-in (`Fam[*] -> A`),
with or without a threshold (`within k`, literal or symbolic); choices of 1 to 3 branches; loops;
`par` blocks; timeouts with an `on timeout` branch (literal or symbolic durations).

Well-formedness holds by construction:

- a choice's decider first sends a message with a branch-specific label to every role the
  branch uses (the *informed* roles), and the branch uses only those roles, so everyone else
  behaves identically in every branch;
- a loop is `rec L { ...; choice D { again: ...; continue L; stop: ... } }` where the exit choice
  informs every role of the loop, so every loop can be left (a runtime that picks choices at
  random reaches `End` with probability 1) and never re-entered by a role that cannot tell;
- a timeout waits for messages from a non-empty set of roles to its owner, then the owner
  informs the roles the rest of the body and the handler use, with different labels;
- `par` branches use disjoint sets of roles, so no role talks to one peer in two branches.

Every label is unique within a protocol (`M0`, `M1`, ...), so a message's label identifies it.
Sizes are kept small (a few dozen statements at most) so examples stay quick to run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import strategies as st

__all__ = ["GeneratedProtocol", "protocols", "SINGLE_NAMES", "FAMILY_NAMES"]

SINGLE_NAMES = ("Alice", "Bob", "Carol", "Dave")
FAMILY_NAMES = ("Witness", "Guardian")
CAPABILITIES = ("tree:rotate", "consensus:witness_sign", "amp:send", "chat:send-message", "x_1:y")
PUBLIC_REASONS = ("presence beacon", "discovery: no payload", 'says \\"hi\\"')
"""Reasons for `public` as written in the text (the last one with escaped quotes)."""
PAYLOADS = ("bytes", "bool", "Hash32", "list[Hash32]", "tree.Op", "dict[str, int]")
DURATIONS = ("50ms", "250ms", "1s", "30s")


@attrs.frozen
class GeneratedProtocol:
    """A well-formed protocol's text and the bindings of all its symbols.

    `singles` and `families` name the declared roles; `families` maps each family to its bound
    size. `statements` counts the statements written (a size measure for shrinking reports).
    """

    text: str
    bindings: dict[str, int]
    singles: tuple[str, ...]
    families: dict[str, int]
    statements: int

    @property
    def roles(self) -> tuple[str, ...]:
        return self.singles + tuple(self.families)


class _Writer:
    """Draws statements for one protocol, keeping the labels unique and a statement budget."""

    def __init__(
        self,
        draw: Callable[[st.SearchStrategy[Any]], Any],
        families: dict[str, int],
        max_depth: int,
        budget: int,
        constructs: frozenset[str],
    ) -> None:
        self.draw = draw
        self.families = families
        self.max_depth = max_depth
        self.budget = budget
        self.constructs = constructs
        self.bindings: dict[str, int] = {}
        self.labels = 0
        self.loops = 0
        self.written = 0

    # -- helpers -------------------------------------------------------------------------------

    def label(self) -> str:
        self.labels += 1
        return f"M{self.labels - 1}"

    def ref(self, role: str) -> str:
        return f"{role}[*]" if role in self.families else role

    def singles_of(self, roles: list[str]) -> list[str]:
        return [r for r in roles if r not in self.families]

    def subset(self, roles: list[str], *, min_size: int = 1) -> list[str]:
        chosen = self.draw(st.lists(st.sampled_from(roles), min_size=min_size, unique=True))
        return sorted(chosen, key=roles.index)

    def annotations(self) -> str:
        parts = []
        guard = self.draw(st.sampled_from(["capability", "public", "none"]))
        if guard == "capability":
            parts.append(f'guard_capability = "{self.draw(st.sampled_from(CAPABILITIES))}"')
        elif guard == "public":
            parts.append(f'public = "{self.draw(st.sampled_from(PUBLIC_REASONS))}"')
        if self.draw(st.booleans()):
            parts.append(f"flow_cost = {self.draw(st.integers(0, 200))}")
        if self.draw(st.integers(0, 3)) == 0:
            parts.append(f'journal_facts = "fact_{self.draw(st.integers(0, 9))}"')
        if self.draw(st.integers(0, 3)) == 0:
            classes = self.draw(
                st.lists(
                    st.sampled_from(("external", "neighbor", "group")), min_size=1, unique=True
                )
            )
            value = (
                f'"{classes[0]}"'
                if len(classes) == 1
                else ("(" + ", ".join(f'"{c}"' for c in classes) + ")")
            )
            parts.append(f"leak = {value}")
        order = self.draw(st.permutations(parts))
        return f" [{', '.join(order)}]" if order else ""

    def message(self, sender: str, receiver: str, *, threshold: bool = True) -> str:
        self.written += 1
        payload = ""
        if self.draw(st.booleans()):
            payload = f"({self.draw(st.sampled_from(PAYLOADS))})"
        within = ""
        if threshold and sender in self.families and self.draw(st.booleans()):
            size = self.families[sender]
            k = self.draw(st.integers(1, size))
            if self.draw(st.booleans()):
                within = f" within {k}"
            else:
                symbol = f"t_{sender.lower()}_{self.labels}"
                self.bindings[symbol] = k
                within = f" within {symbol}"
        return (
            f"{self.ref(sender)}{self.annotations()} -> {self.ref(receiver)} : "
            f"{self.label()}{payload}{within};"
        )

    def inform(self, decider: str, roles: list[str]) -> list[str]:
        """The decider's opening messages of a branch: one distinct label per informed role."""
        return [self.message(decider, role) for role in roles]

    def duration(self) -> str:
        if self.draw(st.booleans()):
            return str(self.draw(st.sampled_from(DURATIONS)))
        symbol = f"d{len(self.bindings)}"
        self.bindings[symbol] = self.draw(st.integers(1, 60_000))
        return symbol

    # -- blocks --------------------------------------------------------------------------------

    def block(self, scope: list[str], depth: int, *, min_size: int = 1) -> list[str]:
        count = self.draw(st.integers(min_size, 3 if depth == 0 else 2))
        lines: list[str] = []
        for _ in range(count):
            lines.extend(self.statement(scope, depth))
        return lines

    def statement(self, scope: list[str], depth: int) -> list[str]:
        kinds = ["message"]
        nested = depth < self.max_depth and self.written < self.budget
        singles = self.singles_of(scope)
        if nested and singles:
            kinds += [k for k in ("choice", "rec", "timeout") if k in self.constructs]
            if "par" in self.constructs and self._can_split(scope):
                kinds.append("par")
        kind = self.draw(st.sampled_from(kinds))
        if kind == "choice":
            return self.choice(scope, depth)
        if kind == "rec":
            return self.rec(scope, depth)
        if kind == "timeout":
            return self.timeout(scope, depth)
        if kind == "par":
            return self.par(scope, depth)
        sender = self.draw(st.sampled_from(scope))
        others = [r for r in scope if r != sender]
        if sender in self.families:
            others = self.singles_of(others)
        if not others:  # a family alone with no single role to talk to cannot happen: see scopes
            sender = singles[0]
            others = [r for r in scope if r != sender]
        receiver = self.draw(st.sampled_from(others))
        return [self.message(sender, receiver)]

    def _can_split(self, scope: list[str]) -> bool:
        return len(self.singles_of(scope)) >= 2 and len(scope) >= 4

    def sub_scope(self, decider: str, scope: list[str]) -> list[str]:
        informed = self.subset([r for r in scope if r != decider])
        return [decider, *informed]

    def choice(self, scope: list[str], depth: int) -> list[str]:
        decider = self.draw(st.sampled_from(self.singles_of(scope)))
        used = self.sub_scope(decider, scope)
        lines = [f"choice {decider} {{"]
        for index in range(self.draw(st.integers(1, 3))):
            lines.append(f"  b{index}:")
            body = self.inform(decider, used[1:])
            if self.draw(st.booleans()):
                body += self.block(used, depth + 1)
            lines += ["    " + line for line in body]
        lines.append("}")
        return lines

    def rec(self, scope: list[str], depth: int) -> list[str]:
        decider = self.draw(st.sampled_from(self.singles_of(scope)))
        loop = self.sub_scope(decider, scope)
        var = f"L{self.loops}"
        self.loops += 1
        body: list[str] = []
        if self.draw(st.booleans()):
            body += self.block(loop, depth + 1)
        again = self.inform(decider, loop[1:])
        if self.draw(st.booleans()):
            again += self.block(loop, depth + 1)
        again.append(f"continue {var};")
        stop = self.inform(decider, loop[1:])
        if self.draw(st.booleans()):
            stop += self.block(loop, depth + 1)
        body += [f"choice {decider} {{", "  again:"]
        body += ["    " + line for line in again]
        body += ["  stop:"] + ["    " + line for line in stop] + ["}"]
        return [f"rec {var} {{", *("  " + line for line in body), "}"]

    def timeout(self, scope: list[str], depth: int) -> list[str]:
        owner = self.draw(st.sampled_from(self.singles_of(scope)))
        others = [r for r in scope if r != owner]
        waiters = self.subset(others)
        used = [owner, *self.subset(others)]
        wait = [self.message(role, owner) for role in waiters]
        normal = self.inform(owner, used[1:])
        if self.draw(st.booleans()):
            normal += self.block(used, depth + 1)
        fired = self.inform(owner, used[1:])
        if self.draw(st.booleans()):
            fired += self.block(used, depth + 1)
        lines = [f"timeout {self.duration()} at {owner} {{"]
        lines += ["  " + line for line in wait + normal]
        lines += ["} on timeout {"] + ["  " + line for line in fired] + ["}"]
        return lines

    def par(self, scope: list[str], depth: int) -> list[str]:
        singles = self.singles_of(scope)
        shuffled = self.draw(st.permutations(singles))
        left = [shuffled[0]]
        right = [shuffled[1]]
        for role in scope:
            if role in (shuffled[0], shuffled[1]):
                continue
            (left if self.draw(st.booleans()) else right).append(role)
        if len(left) < 2 or len(right) < 2:
            return [self.message(shuffled[0], shuffled[1])]
        lines = ["par {"]
        lines += ["  " + line for line in self.block(left, depth + 1)]
        lines.append("} and {")
        lines += ["  " + line for line in self.block(right, depth + 1)]
        lines.append("}")
        return lines


@st.composite
def protocols(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    *,
    max_depth: int = 2,
    max_families: int = 2,
    constructs: frozenset[str] = frozenset({"choice", "rec", "timeout", "par"}),
) -> GeneratedProtocol:
    """Draw a well-formed protocol (see the module docstring for what and how).

    `max_depth` bounds the nesting of choice/rec/timeout/par blocks; `constructs` limits which
    of them appear (e.g. `frozenset({"choice"})` for protocols without loops or timers).
    """
    single_count = draw(st.integers(2, len(SINGLE_NAMES)))
    singles = list(SINGLE_NAMES[:single_count])
    family_count = draw(st.integers(0, max_families))
    families: dict[str, int] = {}
    declared: list[str] = list(singles)
    writer_bindings: dict[str, int] = {}
    for name in FAMILY_NAMES[:family_count]:
        size = draw(st.integers(1, 5))
        families[name] = size
        if draw(st.booleans()):
            symbol = f"n_{name.lower()}"
            writer_bindings[symbol] = size
            declared.append(f"{name}[{symbol}]")
        else:
            declared.append(f"{name}[{size}]")
    writer = _Writer(draw, families, max_depth, budget=24, constructs=constructs)
    writer.bindings.update(writer_bindings)
    scope = singles + list(families)
    body = writer.block(scope, 0)
    text = "\n".join(
        [
            f"protocol Generated{draw(st.integers(0, 99))} {{",
            f"  roles {', '.join(declared)};",
            *("  " + line for line in body),
            "}",
            "",
        ]
    )
    return GeneratedProtocol(
        text=text,
        bindings=dict(writer.bindings),
        singles=tuple(singles),
        families=families,
        statements=writer.written,
    )
