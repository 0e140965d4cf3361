"""The destination side of an asset transfer (FGMV-43 9.2 steps 6 and 7): stage the offered
Asset (held, not owned), then apply the origin's decision. Each method is one write of
:class:`LedgerStore` between its crash points ``destination.stage`` and ``destination.decide``;
an ABORT for a transfer never staged leaves an ``ABORTED`` tombstone, so a late offer is refused.
"""

from __future__ import annotations

import sqlite3

from instance.assets import offers
from instance.assets.states import Role, TransferState, TxStatus, settlement_account
from instance.assets.store import LedgerStore, TransferRow, insert_asset, insert_transfer
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.errors import AlreadyExists, FailedPrecondition, PermissionDenied
from mmmfed.items import parse_item


class DestinationJournal(LedgerStore):
    """The transfers of which this M-Instance is the destination."""

    def stage(
        self, offer: apb.AssetOffer, *, origin: str, staged_item: bytes, destination_asset_id: str
    ) -> apb.AssetOfferAck:
        """9.2 step 6: hold the offered Asset (not owned yet) under its transfer id. A known
        transfer id with the same content digest returns the recorded state (``duplicate``);
        with another digest AlreadyExists ``TRANSFER_ID_REUSED``. The caller checked the offer
        (verification, acceptance, expiry) before."""
        with self._read() as db:
            known = self._dest_known(db, offer.transfer_id, offer.content_digest)
        if known is not None:
            return known
        with self._write("destination.stage") as db:
            known = self._dest_known(db, offer.transfer_id, offer.content_digest)
            if known is not None:
                return known
            now = self._clock_ms()
            item = offers.origin_item(parse_item(offer.asset.item_json))
            row = TransferRow(
                transfer_id=offer.transfer_id,
                role=Role.DESTINATION,
                state=TransferState.STAGED,
                tx_status=TxStatus.PENDING,
                peer=origin,
                created_ms=now,
                asset_id=item.item_id,
                destination_asset_id=destination_asset_id,
                source_process_id=offer.source_process_id,
                destination_process_id=offer.destination_process_id,
                content_digest=offer.content_digest,
                offer=offer.SerializeToString(),
                staged_item=staged_item,
                expires_ms=offer.expires_at_ms,
            )
            insert_transfer(db, row)
        return apb.AssetOfferAck(
            transfer_id=offer.transfer_id, state=TransferState.STAGED, destination_asset_id=destination_asset_id
        )

    def known_offer(self, transfer_id: str, digest: str) -> apb.AssetOfferAck | None:
        """The recorded answer to an offer already received (``duplicate``), or None if new;
        AlreadyExists ``TRANSFER_ID_REUSED`` when the id names other content."""
        with self._read() as db:
            return self._dest_known(db, transfer_id, digest)

    def _dest_known(self, db: sqlite3.Connection, transfer_id: str, digest: str) -> apb.AssetOfferAck | None:
        row = db.execute(
            "SELECT role, state, content_digest, destination_asset_id FROM transfers WHERE transfer_id = ?",
            (transfer_id,),
        ).fetchone()
        if row is None:
            return None
        if row[0] != Role.DESTINATION or (row[2] and row[2] != digest):
            raise AlreadyExists(f"transfer id {transfer_id} names another transfer", reason="TRANSFER_ID_REUSED")
        return apb.AssetOfferAck(transfer_id=transfer_id, state=row[1], destination_asset_id=row[3], duplicate=True)

    def apply_decision(
        self, decision: apb.AssetDecision, *, origin: str, transaction_json: bytes
    ) -> apb.AssetDecisionAck:
        """9.2 step 7: COMMIT makes the staged Asset owned here by the destination Process (the
        signed Transaction joins its Provenance; the payee is credited from the origin's
        settlement account); ABORT drops it (or leaves a tombstone for a transfer never staged).
        A repeated decision returns the recorded outcome (``duplicate``). FailedPrecondition
        ``TRANSFER_UNKNOWN`` (COMMIT of a transfer never staged), ``DECISION_CONFLICT``
        (the opposite decision was recorded), AlreadyExists ``TRANSFER_ID_REUSED``, PermissionDenied
        ``ORIGIN_MISMATCH`` when ``origin`` is not the M-Instance that offered (or tombstoned) it."""
        commit = decision.decision == apb.ASSET_DECISION_KIND_COMMIT
        wanted = TransferState.COMMITTED if commit else TransferState.ABORTED
        with self._write("destination.decide") as db:
            row = db.execute(
                "SELECT role, state, content_digest, offer, staged_item, destination_asset_id, destination_process_id, "
                "transaction_json, peer FROM transfers WHERE transfer_id = ?",
                (decision.transfer_id,),
            ).fetchone()
            now = self._clock_ms()
            if row is None:
                if commit:
                    raise FailedPrecondition(
                        f"transfer {decision.transfer_id} was never staged here", reason="TRANSFER_UNKNOWN"
                    )
                tombstone = TransferRow(
                    transfer_id=decision.transfer_id,
                    role=Role.DESTINATION,
                    state=TransferState.ABORTED,
                    tx_status=TxStatus.CANCELLED,
                    peer=origin,
                    created_ms=now,
                    content_digest=decision.content_digest,
                    terminal=True,
                    reason="ABORTED_BEFORE_STAGED",
                )
                insert_transfer(db, tombstone)
                return apb.AssetDecisionAck(transfer_id=decision.transfer_id, state=TransferState.ABORTED)
            role, state, digest, offer_raw, staged, dest_asset_id, payee, recorded_tra, peer = row
            if role == Role.DESTINATION and peer != origin:  # staged or tombstoned for another origin
                raise PermissionDenied(
                    f"{origin} did not offer transfer {decision.transfer_id}", reason="ORIGIN_MISMATCH"
                )
            if role != Role.DESTINATION or (digest and digest != decision.content_digest):
                raise AlreadyExists(
                    f"transfer id {decision.transfer_id} names another transfer", reason="TRANSFER_ID_REUSED"
                )
            if state == wanted:
                return apb.AssetDecisionAck(
                    transfer_id=decision.transfer_id,
                    state=state,
                    duplicate=True,
                    transaction=itpb.ItemEnvelope(item_json=bytes(recorded_tra)),
                )
            if state != TransferState.STAGED:
                raise FailedPrecondition(
                    f"transfer {decision.transfer_id} is already {state}; {wanted} conflicts",
                    reason="DECISION_CONFLICT",
                )
            if commit:
                offer = apb.AssetOffer.FromString(bytes(offer_raw))
                received = offer.exchange.received.amount_minor
                if received:
                    self._move(db, settlement_account(origin), payee, received)
                insert_asset(db, dest_asset_id, bytes(staged), offer.asset_data, payee, now)
                self._append_provenance(db, dest_asset_id, transaction_json)
            db.execute(
                "UPDATE transfers SET state = ?, tx_status = ?, terminal = 1, transaction_json = ?, updated_ms = ? "
                "WHERE transfer_id = ?",
                (
                    wanted,
                    TxStatus.FINAL if commit else TxStatus.CANCELLED,
                    transaction_json if commit else b"",
                    now,
                    decision.transfer_id,
                ),
            )
        return apb.AssetDecisionAck(
            transfer_id=decision.transfer_id,
            state=wanted,
            transaction=itpb.ItemEnvelope(item_json=transaction_json if commit else b""),
        )

    def staged_offer(self, transfer_id: str) -> apb.AssetOffer | None:
        with self._read() as db:
            row = db.execute(
                "SELECT offer FROM transfers WHERE transfer_id = ? AND role = ?", (transfer_id, Role.DESTINATION)
            ).fetchone()
        return apb.AssetOffer.FromString(bytes(row[0])) if row and row[0] else None
