"""The origin side of an asset transfer in the ledger (FGMV-43 9.2 steps 2, 7 and 8): the writes
of the lock (journal, lock the Asset, hold the payment in escrow), of the decision (COMMIT
settles, ABORT unlocks and refunds) and of the destination's acknowledgement. Persistence only:
the lock and the decision are Process Actions the World decides
(:mod:`instance.assets.decisions`), whose transaction these writes join. Each is one write of
:class:`LedgerStore` between its crash points ``origin.begin``, ``origin.decide`` and
``origin.ack``; states are in :mod:`instance.assets.states`.
"""

from __future__ import annotations

import sqlite3

from instance.assets import offers
from instance.assets.states import ESCROW, FEES, AssetState, Role, TransferState, TxStatus, settlement_account
from instance.assets.store import TRANSFER_COLUMNS, LedgerStore, TransferRow, insert_transfer, transfer_view
from instance.assets.store import offers_asset_id as offers_asset_id
from instance.world.actions.assets import DECIDE_POINT, LOCK_POINT
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.errors import AlreadyExists, FailedPrecondition, NotFound
from mmmfed.items import instance_of


class OriginJournal(LedgerStore):
    """The transfers of which this M-Instance is the origin."""

    def offer_of(self, transfer_id: str) -> apb.AssetOffer:
        """The offer recorded for an origin transfer (as begun: resent unchanged)."""
        with self._read() as db:
            row = db.execute("SELECT offer FROM transfers WHERE transfer_id = ?", (transfer_id,)).fetchone()
        if row is None:
            raise NotFound(f"no transfer {transfer_id[:256]!r}", reason="TRANSFER_NOT_FOUND")
        return apb.AssetOffer.FromString(bytes(row[0]))

    def record(self, transfer_id: str) -> apb.AssetTransferRecord:
        """An origin transfer as journalled, with its Asset's data: what this M-Instance's gateway
        may sign for it (issue 12 item 3). NotFound ``TRANSFER_NOT_FOUND`` (also for a transfer
        of which this M-Instance is the destination)."""
        view = self.transfer(transfer_id)
        if view.role != Role.ORIGIN:
            raise NotFound(f"no transfer {transfer_id[:256]!r} from {self.m_instance_id}", reason="TRANSFER_NOT_FOUND")
        offer = self.offer_of(transfer_id)
        with self._read() as db:
            row = db.execute("SELECT data FROM assets WHERE asset_id = ?", (view.asset_id,)).fetchone()
        offer.asset_data = bytes(row[0]) if row else b""
        return apb.AssetTransferRecord(view=view, offer=offer, transaction_json=self.transaction_of(transfer_id))

    def transaction_of(self, transfer_id: str) -> bytes:
        with self._read() as db:
            row = db.execute("SELECT transaction_json FROM transfers WHERE transfer_id = ?", (transfer_id,)).fetchone()
        return bytes(row[0]) if row else b""

    def unfinished_origin_transfers(self) -> list[str]:
        """Origin transfers whose decision the destination has not acknowledged yet (recovery)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT transfer_id FROM transfers WHERE role = ? AND terminal = 0 ORDER BY created_ms", (Role.ORIGIN,)
            ).fetchall()
        return [r[0] for r in rows]

    def count_attempt(self, transfer_id: str) -> None:
        """One more send of this transfer's offer or decision (informational, not crash-relevant)."""
        with self._write() as db:
            db.execute(
                "UPDATE transfers SET attempts = attempts + 1, updated_ms = ? WHERE transfer_id = ?",
                (self._clock_ms(), transfer_id),
            )

    # -- origin --------------------------------------------------------------------------
    def begin(
        self,
        *,
        transfer_id: str,
        request_digest: str,
        asset_id: str,
        source_process_id: str,
        destination_process_id: str,
        exchange: apb.ExchangeRecord,
        expires_at_ms: int,
        now_ms: int,
    ) -> None:
        """9.2 step 2, the write of a lock the World performed (the Transact of the Asset,
        :class:`instance.assets.decisions.TransferDecisions`): journal the transfer PENDING, lock
        the Asset and hold the payment in escrow, in one write (inside the decision's transaction).
        The checks were the decision's; a state that contradicts them (FailedPrecondition
        ``ASSET_LOCKED`` / ``ASSET_MIGRATED`` / ``INSUFFICIENT_FUNDS``) is raised and writes nothing."""
        view = self.asset(asset_id)
        offer = apb.AssetOffer(
            transfer_id=transfer_id,
            source_process_id=source_process_id,
            destination_process_id=destination_process_id,
            asset=view.asset,
            exchange=exchange,
            expires_at_ms=expires_at_ms,
        )
        offer.content_digest = offers.content_digest(offer)
        with self._write(LOCK_POINT) as db:
            state = db.execute("SELECT state, owner FROM assets WHERE asset_id = ?", (asset_id,)).fetchone()
            self._check_transferable(apb.AssetView(state=state[0], owner_process_id=state[1]), asset_id=asset_id)
            paid = exchange.paid.amount_minor
            if paid and self._balance(db, source_process_id) < paid:
                raise FailedPrecondition(
                    f"{source_process_id} has {self._balance(db, source_process_id)} {self.currency_id} "
                    f"minor units, {paid} needed",
                    reason="INSUFFICIENT_FUNDS",
                )
            if paid:
                self._move(db, source_process_id, ESCROW, paid)
            db.execute(
                "UPDATE assets SET state = ?, locked_by = ? WHERE asset_id = ?",
                (AssetState.LOCKED, transfer_id, asset_id),
            )
            row = TransferRow(
                transfer_id=transfer_id,
                role=Role.ORIGIN,
                state=TransferState.PENDING,
                tx_status=TxStatus.PENDING,
                peer=instance_of(destination_process_id),
                created_ms=now_ms,
                asset_id=asset_id,
                source_process_id=source_process_id,
                destination_process_id=destination_process_id,
                request_digest=request_digest,
                content_digest=offer.content_digest,
                offer=offer.SerializeToString(),
                expires_ms=expires_at_ms,
            )
            insert_transfer(db, row)

    def _check_transferable(self, view: apb.AssetView, *, asset_id: str = "") -> None:
        name = asset_id or offers_asset_id(view)
        if view.state == AssetState.LOCKED:
            raise FailedPrecondition(
                f"{name} is locked by transfer {view.locked_by or 'in flight'}", reason="ASSET_LOCKED"
            )
        if view.state == AssetState.MIGRATED:
            raise FailedPrecondition(
                f"{name} has migrated to {view.migrated_to or 'another M-Instance'}", reason="ASSET_MIGRATED"
            )

    def existing(self, transfer_id: str, request_digest: str) -> apb.AssetTransferView | None:
        """The transfer journalled under ``transfer_id`` for the same request, or None if there is
        none. AlreadyExists ``TRANSFER_ID_REUSED`` when the id names another request."""
        with self._read() as db:
            return self._existing_in(db, transfer_id, request_digest)

    def _existing_in(
        self, db: sqlite3.Connection, transfer_id: str, request_digest: str
    ) -> apb.AssetTransferView | None:
        row = db.execute("SELECT request_digest FROM transfers WHERE transfer_id = ?", (transfer_id,)).fetchone()
        if row is None:
            return None
        if row[0] != request_digest:
            raise AlreadyExists(
                f"transfer id {transfer_id} names another transfer; use a new id", reason="TRANSFER_ID_REUSED"
            )
        found = db.execute(f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE transfer_id = ?", (transfer_id,)).fetchone()
        return transfer_view(found)

    def decide_commit(self, transfer_id: str, *, destination_asset_id: str, transaction_json: bytes) -> None:
        """The destination staged it: COMMIT. The Asset becomes MIGRATED (pointer to its new home),
        the escrowed payment goes to the exchange fee and the peer's settlement account. No-op
        unless the transfer is PENDING."""
        with self._write(DECIDE_POINT) as db:
            row = db.execute(
                "SELECT state, asset_id, offer, peer FROM transfers WHERE transfer_id = ?", (transfer_id,)
            ).fetchone()
            if row is None or row[0] != TransferState.PENDING:
                return
            offer = apb.AssetOffer.FromString(bytes(row[2]))
            paid, fee = offer.exchange.paid.amount_minor, offer.exchange.fee.amount_minor
            if paid:
                self._move(db, ESCROW, FEES, fee)
                self._move(db, ESCROW, settlement_account(row[3]), paid - fee)
            db.execute(
                "UPDATE assets SET state = ?, owner = '', migrated_to = ?, locked_by = '' WHERE asset_id = ?",
                (AssetState.MIGRATED, destination_asset_id, row[1]),
            )
            db.execute(
                "UPDATE transfers SET state = ?, tx_status = ?, destination_asset_id = ?, transaction_json = ?, "
                "updated_ms = ? WHERE transfer_id = ?",
                (
                    TransferState.COMMITTED,
                    TxStatus.FINAL,
                    destination_asset_id,
                    transaction_json,
                    self._clock_ms(),
                    transfer_id,
                ),
            )

    def decide_abort(self, transfer_id: str, *, tx_status: TxStatus, reason: str, message: str) -> None:
        """ABORT (refused, expired or cancelled): unlock the Asset and refund the payment.
        ``tx_status`` is the Transaction status: Rejected, Failed or Cancelled. No-op unless PENDING."""
        with self._write(DECIDE_POINT) as db:
            row = db.execute(
                "SELECT state, asset_id, offer, source_process_id FROM transfers WHERE transfer_id = ?", (transfer_id,)
            ).fetchone()
            if row is None or row[0] != TransferState.PENDING:
                return
            offer = apb.AssetOffer.FromString(bytes(row[2]))
            if offer.exchange.paid.amount_minor:
                self._move(db, ESCROW, row[3], offer.exchange.paid.amount_minor)
            db.execute(
                "UPDATE assets SET state = ?, locked_by = '' WHERE asset_id = ? AND locked_by = ?",
                (AssetState.OWNED, row[1], transfer_id),
            )
            db.execute(
                "UPDATE transfers SET state = ?, tx_status = ?, reason = ?, message = ?, updated_ms = ? "
                "WHERE transfer_id = ?",
                (TransferState.ABORTING, tx_status, reason, message[:1024], self._clock_ms(), transfer_id),
            )

    def acknowledged(self, transfer_id: str, *, transaction_json: bytes = b"") -> None:
        """The destination acknowledged the decision: COMMITTED -> COMPLETED (the signed
        Transaction joins the Asset's Provenance here too), ABORTING -> CANCELLED or FAILED."""
        with self._write("origin.ack") as db:
            row = db.execute(
                "SELECT state, asset_id, tx_status FROM transfers WHERE transfer_id = ?", (transfer_id,)
            ).fetchone()
            if row is None or row[0] not in (TransferState.COMMITTED, TransferState.ABORTING):
                return
            if row[0] == TransferState.COMMITTED:
                if transaction_json:
                    self._append_provenance(db, row[1], transaction_json)
                state = TransferState.COMPLETED
            else:
                state = TransferState.FAILED if row[2] == TxStatus.FAILED else TransferState.CANCELLED
            db.execute(
                "UPDATE transfers SET state = ?, terminal = 1, updated_ms = ? WHERE transfer_id = ?",
                (state, self._clock_ms(), transfer_id),
            )

    def give_up(self, transfer_id: str, *, reason: str, message: str) -> None:
        """An ABORT that can never be delivered (the peer is not configured any more, issue 12
        item 8): ABORTING -> FAILED, terminal. The Asset was unlocked and the payment refunded
        when the abort was decided; no-op in any other state."""
        with self._write("origin.ack") as db:
            db.execute(
                "UPDATE transfers SET state = ?, tx_status = ?, terminal = 1, reason = ?, message = ?, "
                "updated_ms = ? WHERE transfer_id = ? AND state = ?",
                (
                    TransferState.FAILED,
                    TxStatus.FAILED,
                    reason,
                    message[:1024],
                    self._clock_ms(),
                    transfer_id,
                    TransferState.ABORTING,
                ),
            )
