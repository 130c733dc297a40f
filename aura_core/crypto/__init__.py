"""Typed wrappers over the native core. Pure: every random input is an argument."""
