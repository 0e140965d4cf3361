"""States and account names of the asset ledger (FGMV-43 9.2; MMM-TEC Asset and Transaction).

Every state is a :class:`enum.StrEnum`, stored in SQLite and shown on the wire as its value.

Origin journal: ``PENDING`` (Asset LOCKED, payment held in ``escrow``) -> ``COMMITTED`` (Asset
MIGRATED with its new home; the payment settled) -> ``COMPLETED`` once the destination
acknowledged; or ``PENDING`` -> ``ABORTING`` (Asset unlocked, payment refunded) -> ``CANCELLED``
or ``FAILED`` (expired) once acknowledged. Destination: ``STAGED`` (held, not owned) ->
``COMMITTED`` (the Asset is owned here, the payee credited) or ``ABORTED``.
"""

from __future__ import annotations

from enum import StrEnum

from instance.world.world import settlement_account

TREASURY, ESCROW, FEES = "treasury", "escrow", "exchange-fees"
"""Ledger accounts beside the Processes' Wallets and :func:`settlement_account`."""
MAX_ASSET_BYTES = 8 * 1024 * 1024


class AssetState(StrEnum):
    """Where an Asset of the ledger stands."""

    OWNED = "OWNED"
    LOCKED = "LOCKED"
    MIGRATED = "MIGRATED"


class TransferState(StrEnum):
    """A transfer's state in the journal (origin and destination states; see the module docstring)."""

    PENDING = "PENDING"
    COMMITTED = "COMMITTED"
    COMPLETED = "COMPLETED"
    ABORTING = "ABORTING"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    STAGED = "STAGED"
    ABORTED = "ABORTED"


class Role(StrEnum):
    """Which side of a transfer this M-Instance is."""

    ORIGIN = "origin"
    DESTINATION = "destination"


class TxStatus(StrEnum):
    """The Status of the transfer's TRA Item (MMM-TEC Transaction)."""

    PENDING = "Pending"
    FINAL = "Final"
    REJECTED = "Rejected"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


__all__ = [
    "ESCROW",
    "FEES",
    "MAX_ASSET_BYTES",
    "TREASURY",
    "AssetState",
    "Role",
    "TransferState",
    "TxStatus",
    "settlement_account",
]
