"""Layer 7: runtime assembly of a device: services, reactive signals, the local API and the
user-facing workflows."""
