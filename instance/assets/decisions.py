"""The origin's decisions of an Asset transfer as Process Actions (FGMV-43 9.2 steps 2 and 7).

:class:`TransferDecisions` sends the lock (Transact), the commit and the abort (Rights Manage) of
``instance/world/actions/assets.py`` to the engine, which judges them by the same Rights check as
every other Action and records them as Activity Data, and writes what a performed decision
changes in the asset ledger in the SAME database transaction as its record. Crash points around
that one write: ``origin.begin`` (lock) and ``origin.decide`` (commit, abort). A refused decision is
recorded and changes nothing; the refusal is raised as the error the RPC returns.

Call on the event loop's thread (the engine is not shared with worker threads); each call is
short: a few SQLite statements and one commit.
"""

from __future__ import annotations

import uuid

from instance.assets.ledger import AssetLedger
from instance.assets.states import AssetState, TransferState, TxStatus
from instance.process_actions import ProcessActionService
from instance.world.actions.assets import DECIDE_POINT, LOCK_POINT
from instance.world.model import (
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    PAErrorCode,
    PAStatus,
    ProcessActionRequest,
    ProcessActionResponse,
    Value,
)
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.errors import FailedPrecondition, InvalidInput, MmmfedError, PermissionDenied

_LOCK_REFUSALS: dict[PAErrorCode, tuple[type[MmmfedError], str]] = {
    PAErrorCode.INS_RIGHTS: (PermissionDenied, "NO_TRANSACT_RIGHT"),
    PAErrorCode.INS_VALUE: (FailedPrecondition, "INSUFFICIENT_FUNDS"),
    PAErrorCode.CLASH: (FailedPrecondition, "ASSET_LOCKED"),
    PAErrorCode.INC_ID: (InvalidInput, "BAD_PROCESS_ID"),
}
"""The RPC error of a refused lock, by PA Status error (any other: InvalidInput ``PA_<code>``)."""


class DecisionRefused(MmmfedError):
    """The engine refused a commit or an abort: a defect (the lock gives the Asset Transfer
    Service the Right both need), raised so the transfer's driver logs it and retries."""


class TransferDecisions:
    """Lock, commit and abort of origin transfers (see the module docstring)."""

    def __init__(self, ledger: AssetLedger, process_actions: ProcessActionService) -> None:
        self.ledger = ledger
        self.process_actions = process_actions
        self._id = ledger.m_instance_id
        for view in ledger.held_assets():  # the World holds what its durable store holds
            process_actions.adopt_asset(view)

    def lock(
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
    ) -> apb.AssetTransferView:
        """9.2 step 2: the owner's Transact of the Asset; performed, the transfer is journalled
        PENDING, the Asset LOCKED and the payment held in escrow, with its record, in one write.
        Idempotent by ``transfer_id`` (the same request returns the transfer as it is now).

        Raises AlreadyExists ``TRANSFER_ID_REUSED``, NotFound ``ASSET_NOT_FOUND``,
        FailedPrecondition ``ASSET_MIGRATED`` (not held here any more), and by the PA Status:
        PermissionDenied ``NO_TRANSACT_RIGHT`` (InsRights: the source holds no Transact Right on
        the Asset), FailedPrecondition ``ASSET_LOCKED`` (Clash) / ``INSUFFICIENT_FUNDS`` (InsValue),
        InvalidInput ``BAD_PROCESS_ID`` (IncID: the source is not a registered Process here)."""
        with self.ledger.database.write(LOCK_POINT):
            existing = self.ledger.existing(transfer_id, request_digest)
            if existing is not None:
                return existing
            view = self.ledger.asset(asset_id)
            if view.state == AssetState.MIGRATED:
                raise FailedPrecondition(
                    f"{asset_id} has migrated to {view.migrated_to or 'another M-Instance'}", reason="ASSET_MIGRATED"
                )
            paid = exchange.paid.amount_minor
            request = self._request(
                source_process_id,
                Action.TRANSACT,
                transfer_id,
                "lock",
                now_ms,
                Complement(ComplementKind.NIL, asset_id),
                Complement(ComplementKind.TO, destination_process_id, is_process=True),
                payment=Value(paid, self.ledger.currency_id) if paid else None,
            )
            response = self.process_actions.decide(request)
            if response.status.is_ack:
                self.ledger.begin(
                    transfer_id=transfer_id,
                    request_digest=request_digest,
                    asset_id=asset_id,
                    source_process_id=source_process_id,
                    destination_process_id=destination_process_id,
                    exchange=exchange,
                    expires_at_ms=expires_at_ms,
                    now_ms=now_ms,
                )
        if not response.status.is_ack:
            raise _lock_refusal(response.status, source_process_id, asset_id)
        return self.ledger.transfer(transfer_id)

    def commit(self, transfer_id: str, *, destination_asset_id: str, transaction_json: bytes) -> None:
        """9.2 step 7, COMMIT: the Asset Transfer Service hands the Asset's Rights To the receiving
        Process; the Asset becomes MIGRATED and the escrow settles (:meth:`AssetLedger.decide_commit`),
        with its record, in one write. No-op unless the transfer is PENDING."""
        with self.ledger.database.write(DECIDE_POINT):
            view = self.ledger.transfer(transfer_id)
            if view.state != TransferState.PENDING:
                return
            to = Complement(ComplementKind.TO, view.destination_process_id, is_process=True)
            self._settle(view, "commit", to)
            self.ledger.decide_commit(
                transfer_id, destination_asset_id=destination_asset_id, transaction_json=transaction_json
            )

    def abort(self, transfer_id: str, *, tx_status: TxStatus, reason: str, message: str) -> bool:
        """9.2 step 7, ABORT (refused, expired, cancelled): the Asset Transfer Service's Right on
        the Asset ends; the Asset is unlocked and the payment refunded
        (:meth:`AssetLedger.decide_abort`), with its record, in one write. No-op unless PENDING;
        returns whether this call decided the abort."""
        with self.ledger.database.write(DECIDE_POINT):
            view = self.ledger.transfer(transfer_id)
            if view.state != TransferState.PENDING:
                return False
            service = self.process_actions.world.transfer_service
            self._settle(view, "abort", Complement(ComplementKind.FROM, service, is_process=True))
            self.ledger.decide_abort(transfer_id, tx_status=tx_status, reason=reason, message=message)
        return True

    def adopt(self, asset_id: str) -> None:
        """Hold an Asset of the ledger in the World (after it was registered, or arrived by a
        COMMIT at this M-Instance), with the Rights its ICapabilities give."""
        self.process_actions.adopt_asset(self.ledger.asset(asset_id))

    # -- helpers ---------------------------------------------------------------------------
    def _settle(self, view: apb.AssetTransferView, kind: str, holder: Complement) -> ProcessActionResponse:
        service = self.process_actions.world.transfer_service
        request = self._request(
            service,
            Action.RIGHTS_MANAGE,
            view.transfer_id,
            kind,
            max(view.updated_ms, view.created_ms),
            Complement(ComplementKind.NIL, view.asset_id),
            holder,
        )
        response = self.process_actions.decide(request)
        if not response.status.is_ack:
            raise DecisionRefused(
                f"the {kind} of transfer {view.transfer_id} was refused: {response.status.reason}",
                reason="DECISION_REFUSED",
            )
        return response

    def _request(
        self,
        source: str,
        action: Action,
        transfer_id: str,
        kind: str,
        time_ms: int,
        *complements: Complement,
        payment: Value | None = None,
    ) -> ProcessActionRequest:
        service = self.process_actions.world.transfer_service
        local = f"{uuid.uuid5(uuid.NAMESPACE_URL, transfer_id)}-{kind}"
        return ProcessActionRequest(
            DeonticVerb.MAY,
            action,
            source,
            service,
            complements=complements,
            time_ms=time_ms,
            payment=payment,
            process_action_id=f"mmm://{self._id}/process-actions/transfer-{local}",
        )


def _lock_refusal(status: PAStatus, source: str, asset_id: str) -> MmmfedError:
    """The RPC error of a lock the World refused (:data:`_LOCK_REFUSALS`)."""
    pa_status = status.error.value if status.error is not None else status.kind.value
    default = (InvalidInput, f"PA_{pa_status}")
    kind, reason = _LOCK_REFUSALS.get(status.error, default) if status.error is not None else default
    if status.error is PAErrorCode.INS_RIGHTS:
        message = f"{source} holds no Transact Right on {asset_id}"
    else:
        message = status.reason
    return kind(message, reason=reason, metadata={"pa_status": pa_status})


__all__ = ["DecisionRefused", "TransferDecisions"]
