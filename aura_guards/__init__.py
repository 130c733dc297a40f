"""Layer 4: the guard chain (capability, flow budget, journal coupling, leakage) and
`GuardedTransport`, the only sender higher layers receive."""
