"""Imports every module of the nine packages and checks the native extension works.

`python tools/wheel_imports.py library` imports every module a library user gets without the
extras and fails if any of them pulled in the command-line stack (typer, rich) or the testing
stack (hypothesis, pytest); `all` imports every module (with the `cli` and `testing` extras
installed). `--installed` also requires each package to come from site-packages: `./dev check`
runs it, from outside the source tree, against a wheel built from the sdist;
tests/test_packaging.py runs `library` against the tree.
"""

import importlib
import pkgutil
import sys

from aura_core.crypto import frost
from aura_core.crypto.ed25519 import SigningKey
from aura_protocol import Choreography
from aura_protocol.protocols import threshold_vote

PACKAGES = [
    "aura_core",
    "aura_journal",
    "aura_effects",
    "aura_guards",
    "aura_consensus",
    "aura_protocol",
    "aura_agent",
    "aura_sim",
    "aura_terminal",
]
# Modules that need an extra: the front ends (`cli`) and the testing kit (`testing`).
NEEDS_AN_EXTRA = ("aura_terminal", "aura_sim.cli", "aura_sim.testing")
EXTRA_STACKS = ("typer", "rich", "click", "hypothesis", "pytest", "_pytest")


def modules(scope: str) -> list[str]:
    """Every module of the packages, walked (not listed), so a new module cannot be missed."""
    found = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            found.append(info.name)
    if scope == "library":
        found = [m for m in found if not m.startswith(NEEDS_AN_EXTRA)]
    return sorted(found)


def main(scope: str, installed: bool) -> None:
    imported = modules(scope)
    for name in imported:
        module = importlib.import_module(name)
        if installed:
            assert "site-packages" in (module.__file__ or ""), f"{name} from {module.__file__}"
    if scope == "library":
        pulled = sorted(m for m in EXTRA_STACKS if m in sys.modules)
        assert not pulled, f"the library imports an extra's stack: {pulled}"
    assert len(imported) > 100, imported
    print(f"imports ok: {len(imported)} modules ({scope})")

    key = SigningKey(bytes(range(32)))
    key.verifying_key.verify(b"wheel", key.sign(b"wheel"))

    shares, public = frost.generate_with_dealer(2, 3, bytes(32))
    keys = {i: frost.key_package(s) for i, s in shares.items()}
    round1 = {i: frost.commit(keys[i], bytes([i]) * 32) for i in (1, 3)}
    package = frost.signing_package({i: c for i, (_, c) in round1.items()}, b"wheel")
    sig_shares = {i: frost.sign(package, n, keys[i]) for i, (n, _) in round1.items()}
    public.group_public_key.verify(b"wheel", frost.aggregate(package, sig_shares, public))

    vote = Choreography.compile(threshold_vote.TEXT, threshold_vote.BINDINGS)
    assert vote.families == {"Witness": threshold_vote.BINDINGS["n"]}
    print("native ok: Ed25519 and FROST 2-of-3 sign and verify; a choreography compiles")


if __name__ == "__main__":
    scopes = [a for a in sys.argv[1:] if not a.startswith("--")] or ["all"]
    main(scopes[0], installed="--installed" in sys.argv[1:])
