"""Layer 6: the choreography runtime and every multi-party protocol, run through effects."""
