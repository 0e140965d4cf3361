"""Durable state of a node behind one interface (:class:`Store`), and the async shared state of
a gateway (:class:`SharedState`, :class:`SharedAuditLog`; issue 6 item 1).

The embedded default is :class:`~mmmfed.store.sqlite.SqliteStore` (stdlib sqlite3 + content-
addressed blob files); gateways reach it through :class:`EmbeddedState`, and several replicas of
one gateway share :mod:`mmmfed.store.redis` instead (:func:`open_gateway_state` chooses).
"""

from mmmfed.store.base import BlobWriter, StagedBlob, Store
from mmmfed.store.shared import (
    EmbeddedAuditLog,
    EmbeddedState,
    SharedAuditLog,
    SharedState,
    embedded_state,
    open_gateway_state,
)
from mmmfed.store.sqlite import SqliteStore

__all__ = [
    "BlobWriter",
    "EmbeddedAuditLog",
    "EmbeddedState",
    "SharedAuditLog",
    "SharedState",
    "SqliteStore",
    "StagedBlob",
    "Store",
    "embedded_state",
    "open_gateway_state",
]
