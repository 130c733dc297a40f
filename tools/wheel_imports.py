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

from aura_core.crypto import frost  # noqa: E402

shares, public = frost.generate_with_dealer(2, 3, bytes(32))
keys = {i: frost.key_package(s) for i, s in shares.items()}
round1 = {i: frost.commit(keys[i], bytes([i]) * 32) for i in (1, 3)}
package = frost.signing_package({i: c for i, (_, c) in round1.items()}, b"wheel")
sig_shares = {i: frost.sign(package, n, keys[i]) for i, (n, _) in round1.items()}
public.group_public_key.verify(b"wheel", frost.aggregate(package, sig_shares, public))
print("wheel ok: FROST 2-of-3 signs and verifies")

from aura_protocol import Choreography  # noqa: E402
from aura_protocol.protocols import threshold_vote  # noqa: E402

vote = Choreography.compile(threshold_vote.TEXT, threshold_vote.BINDINGS)
assert vote.families == {"Witness": threshold_vote.BINDINGS["n"]}
print("wheel ok: the choreography runtime compiles its protocols")
