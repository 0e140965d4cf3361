"""Durable state of a node behind one interface (:class:`Store`).

The embedded default is :class:`~mmmfed.store.sqlite.SqliteStore` (stdlib sqlite3 + content-
addressed blob files); a Redis backend implements the same protocol for gateway replicas.
"""

from mmmfed.store.base import BlobWriter, StagedBlob, Store
from mmmfed.store.sqlite import SqliteStore

__all__ = ["BlobWriter", "SqliteStore", "StagedBlob", "Store"]
