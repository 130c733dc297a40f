"""Run from outside the source tree by `./dev check`: the installed wheel must import every
package and the native extension, and the extension must work."""

import importlib

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

for name in PACKAGES:
    module = importlib.import_module(name)
    assert "site-packages" in (module.__file__ or ""), f"{name} imported from {module.__file__}"

from aura_core.crypto.ed25519 import SigningKey  # noqa: E402

key = SigningKey(bytes(range(32)))
key.verifying_key.verify(b"wheel", key.sign(b"wheel"))
print(f"wheel ok: {len(PACKAGES)} packages and aura_core._native import and sign")
