"""Example workloads for scenarios (stand-ins until the real protocols exist)."""
