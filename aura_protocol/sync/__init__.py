"""Anti-entropy sync: range-based set reconciliation of journal namespaces between devices.

`SyncService` (a device's periodic and on-demand sync) runs `AuraSync` sessions
(`protocol`) through the device's dispatcher and guard chain; a session reconciles the items
of one namespace (`items`: order key and fact id of every signed fact) with
`aura_core.reconcile`, then exchanges the missing facts as a stream (`wire`) that the receiving
side validates and merges (`ingest`). Which namespaces a device syncs with which peer is a
policy (`scopes`). See docs/architecture.md, "Sync", and docs/decisions.md.
"""

from aura_protocol.sync.items import order_key, shareable, sync_items
from aura_protocol.sync.protocol import CAPABILITIES, FACTS, PROTOCOL, RECONCILE, choreography
from aura_protocol.sync.scopes import AccountDevices, SharedScopes, SyncScope, shared_contexts
from aura_protocol.sync.service import SyncService
from aura_protocol.sync.session import SyncConfig, SyncReport

__all__ = [
    "SyncService",
    "SyncConfig",
    "SyncReport",
    "SyncScope",
    "SharedScopes",
    "AccountDevices",
    "shared_contexts",
    "CAPABILITIES",
    "RECONCILE",
    "FACTS",
    "PROTOCOL",
    "choreography",
    "order_key",
    "shareable",
    "sync_items",
]
