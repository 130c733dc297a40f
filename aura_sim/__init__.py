"""Layer 8: the deterministic simulator: seeded handlers, virtual time, a faulty network,
scenarios, property monitors, replay and shrinking."""
