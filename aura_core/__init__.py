"""Layer 1: identifiers, errors, canonical encoding, hashing, key derivation, time, lattices,
typed crypto wrappers, the effect context and the effect interfaces. Pure: every random or
temporal input is an argument."""
