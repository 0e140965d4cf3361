"""Asset transfers between M-Instances (FGMV-43 9.2, ASTF with ASEF): both roles of one M-Instance.

Origin (9.2 steps 2-4, 9): :meth:`TransferService.transfer` journals the transfer and locks the
Asset, then a driver task sends the offer through this instance's gateway, decides (COMMIT once
the destination staged it; ABORT when it refused, or when the transfer expired first), and
repeats the decision until the destination acknowledges it. Failures of the network or of a node
are retried with exponential backoff and jitter; refusals are final, and a peer that is gone
(:data:`PEER_GONE`) ends the transfer FAILED with the payment refunded. On start,
:meth:`TransferService.recover` restarts a driver for every transfer not yet acknowledged, so
every transfer reaches a terminal state across crashes and restarts.

Destination (9.2 steps 5-7): :meth:`stage` checks an offer its gateway verified (expiry,
Qualifier accepted by this M-Instance's manifesto, data digest, content digest, currency) and
holds it; :meth:`decide` applies the origin's decision. Both are idempotent by transfer id.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from instance.assets import offers
from instance.assets.decisions import TransferDecisions
from instance.assets.states import Role, TransferState, TxStatus
from instance.assets.store import check_process
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.config import AssetsConfig, ManifestoConfig
from mmmfed.errors import DataIntegrityError, FailedPrecondition, InvalidInput, NotFound, PermissionDenied, RemoteError
from mmmfed.exchange import ExchangePolicy, exchange
from mmmfed.items import Item, instance_of, parse_item, sha256_hex
from mmmfed.rpc import decode_rpc_error

log = logging.getLogger(__name__)
T = TypeVar("T")

# gRPC codes by which the destination (or a gateway) refuses an offer for good: the origin aborts.
REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)
# Reasons that say the peer cannot take part any more (issue 12 item 8): it is not configured, or
# no agreement with it is in force. An offer refused so makes the transfer FAILED (refunded); an
# ABORT that cannot be delivered for one of them ends the transfer FAILED instead of retrying for
# ever. Every other error of a decision (UNAVAILABLE, DEADLINE_EXCEEDED, a node restarting...) is
# retried with backoff: a COMMIT is always retried, since only its delivery gives the Asset an
# owner of record at the destination.
PEER_GONE = frozenset({"UNKNOWN_PEER", "NO_AGREEMENT", "AGREEMENT_REVOKED", "AGREEMENT_EXPIRED"})
CALL_TIMEOUT_S = 5.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class TransferService:
    """Asset transfers of one M-Instance (see the module doc).

    Args:
        decisions: the origin's lock, commit and abort as Process Actions, over the M-Instance's
            asset ledger (owner of record, Wallets, journal).
        config: currency, exchange policies by peer, timeout and retry settings.
        manifesto: what this M-Instance accepts (an offered Asset's Qualifier must be in it).
        gateway: returns a stub of this instance's own gateway (RI-1); None: no federation.
    """

    def __init__(
        self,
        decisions: TransferDecisions,
        config: AssetsConfig,
        manifesto: ManifestoConfig,
        gateway: Callable[[], gateway_pb2_grpc.PlatformGatewayAsyncStub] | None,
        *,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.decisions = decisions
        self.ledger = decisions.ledger
        self._config = config
        self._accepts = {(f.item_type, f.format) for f in manifesto.accepts}
        self._gateway = gateway
        self._clock_ms = clock_ms
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._id = self.ledger.m_instance_id

    # -- origin --------------------------------------------------------------------------
    async def transfer(self, request: apb.TransferAssetRequest) -> apb.AssetTransferView:
        """9.2 step 2: the owner's Transact of the Asset, decided by the World and journalled with
        the Asset locked (see :meth:`TransferDecisions.lock` for the errors), then the transfer is
        driven in the background. InvalidInput ``TIMEOUT_INVALID`` for a negative timeout,
        ``BAD_PROCESS_ID`` (the source is not a Process of this M-Instance, or the destination not
        one of another); FailedPrecondition ``NO_GATEWAY`` without a gateway, ``NO_EXCHANGE_POLICY``
        for a payment to a peer without an exchange policy."""
        if self._gateway is None:
            raise FailedPrecondition(f"{self._id} has no gateway to transfer through", reason="NO_GATEWAY")
        if request.timeout_ms < 0 or request.payment_amount < 0:
            raise InvalidInput("timeout_ms and payment_amount must not be negative", reason="TIMEOUT_INVALID")
        transfer_id = request.transfer_id or f"urn:uuid:{uuid.uuid4()}"
        if len(transfer_id) > 256 or not transfer_id.isprintable():
            raise InvalidInput("transfer_id must be at most 256 printable characters", reason="TRANSFER_ID_INVALID")
        source, destination = request.source_process_id, request.destination_process_id
        check_process(source, "source_process_id", local_to=self._id)
        check_process(destination, "destination_process_id", foreign_to=self._id)
        request_digest = sha256_hex(
            "\n".join([request.asset_id, source, destination, str(request.payment_amount)]).encode()
        )
        existing = await asyncio.to_thread(self.ledger.existing, transfer_id, request_digest)
        if existing is None:
            paid = request.payment_amount
            record = self._exchange(destination, paid) if paid else apb.ExchangeRecord()
            now = self._clock_ms()
            existing = self.decisions.lock(
                transfer_id=transfer_id,
                request_digest=request_digest,
                asset_id=request.asset_id,
                source_process_id=source,
                destination_process_id=destination,
                exchange=record,
                expires_at_ms=now + (request.timeout_ms or self._config.transfer_timeout_ms),
                now_ms=now,
            )
        if not existing.terminal:
            self._start_driver(transfer_id)
        return existing

    async def register_asset(self, request: apb.RegisterAssetRequest) -> apb.AssetView:
        """9.2 step 1: mint the Asset in the ledger (:meth:`AssetLedger.register_asset` for the
        errors); the World holds it at once, with the Rights its ICapabilities give its owner."""
        view = await asyncio.to_thread(self.ledger.register_asset, request)
        self.decisions.process_actions.adopt_asset(view)
        return view

    async def cancel(self, transfer_id: str, *, note: str = "") -> apb.AssetTransferView:
        """An operator ends an origin transfer that is not decided yet (PENDING): the abort of
        :meth:`TransferDecisions.abort` (Transaction Cancelled, reason ``CANCELLED_BY_OPERATOR``),
        then the driver delivers the ABORT. NotFound ``TRANSFER_NOT_FOUND`` (no origin transfer of
        that id); FailedPrecondition ``TRANSFER_DECIDED`` when COMMIT or ABORT was decided first."""
        view = await asyncio.to_thread(self.ledger.transfer, transfer_id)
        if view.role != Role.ORIGIN:
            raise NotFound(f"no transfer {transfer_id[:256]!r} from {self._id}", reason="TRANSFER_NOT_FOUND")
        message = f"cancelled by the operator: {note}" if note else "cancelled by the operator"
        decided = self.decisions.abort(
            transfer_id, tx_status=TxStatus.CANCELLED, reason="CANCELLED_BY_OPERATOR", message=message
        )
        view = await asyncio.to_thread(self.ledger.transfer, transfer_id)
        if not decided:
            raise FailedPrecondition(
                f"transfer {transfer_id} is {view.state}: its decision is taken, it can no longer be cancelled",
                reason="TRANSFER_DECIDED",
                metadata={"state": view.state},
            )
        if not view.terminal:
            self._start_driver(transfer_id)  # the ABORT reaches the destination
        log.info("asset transfer cancelled", extra={"transfer_id": transfer_id, "note": note[:200]})
        return view

    def _exchange(self, destination_process_id: str, amount: int) -> apb.ExchangeRecord:
        peer = instance_of(destination_process_id)
        policy = self._config.exchange.get(peer)
        if policy is None:
            raise FailedPrecondition(
                f"{self._id} declares no exchange policy for payments to {peer}", reason="NO_EXCHANGE_POLICY"
            )
        source = f"manifesto {self._id} asset.exchange.{peer}"
        done = exchange(
            amount, ExchangePolicy.from_config(policy, from_currency=self._config.currency_id, source=source)
        )
        return offers.exchange_record(done)

    def recover(self) -> int:
        """Restart a driver for every origin transfer not yet acknowledged; returns how many."""
        unfinished = self.ledger.unfinished_origin_transfers()
        for transfer_id in unfinished:
            self._start_driver(transfer_id)
        if unfinished:
            log.info("asset transfers recovered", extra={"count": len(unfinished)})
        return len(unfinished)

    def _start_driver(self, transfer_id: str) -> None:
        running = self._drivers.get(transfer_id)
        if running is not None and not running.done():
            return
        task = asyncio.create_task(self._drive(transfer_id), name=f"asset-transfer {transfer_id}")
        self._drivers[transfer_id] = task
        task.add_done_callback(functools.partial(self._forget_driver, transfer_id))

    def _forget_driver(self, transfer_id: str, task: asyncio.Task[None]) -> None:
        """Done callback of a driver: drop it, unless a newer driver of the transfer replaced it."""
        if self._drivers.get(transfer_id) is task:
            self._drivers.pop(transfer_id, None)

    async def stop(self) -> None:
        """Cancel the drivers (their transfers resume at the next start: the journal is durable)."""
        tasks = list(self._drivers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._drivers.clear()

    async def _drive(self, transfer_id: str) -> None:
        """Send the offer, decide, send the decision until acknowledged (see the module doc)."""
        delay_ms = self._config.retry_initial_ms
        while True:
            view = await asyncio.to_thread(self.ledger.transfer, transfer_id)
            if view.terminal:
                return
            try:
                if view.state == TransferState.PENDING:
                    await self._offer_and_decide(view)
                elif view.state in (TransferState.COMMITTED, TransferState.ABORTING):
                    await self._send_decision(view)
                delay_ms = self._config.retry_initial_ms
                continue
            except RemoteError as err:
                log.info(
                    "asset transfer retry",
                    extra={
                        "transfer_id": transfer_id,
                        "state": view.state,
                        "reason": err.reason,
                        "code": err.code.name,
                    },
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # a defect must not end the driver: the transfer would be stuck
                log.exception("asset transfer driver error", extra={"transfer_id": transfer_id})
            pause_ms = delay_ms * random.uniform(0.5, 1.0)
            if view.state == TransferState.PENDING:  # wake up at the expiry, to abort on time
                pause_ms = min(pause_ms, max(0, view.expires_at_ms - self._clock_ms()))
            await asyncio.sleep(pause_ms / 1000)
            delay_ms = min(delay_ms * 2, self._config.retry_max_ms)

    async def _offer_and_decide(self, view: apb.AssetTransferView) -> None:
        tid = view.transfer_id
        if self._clock_ms() >= view.expires_at_ms:
            self.decisions.abort(
                tid,
                tx_status=TxStatus.FAILED,
                reason="TRANSFER_EXPIRED",
                message="the transfer could not complete before it expired",
            )
            return
        offer = await asyncio.to_thread(self.ledger.offer_of, tid)
        offer.asset_data = await asyncio.to_thread(self.ledger.asset_data, view.asset_id)
        await asyncio.to_thread(self.ledger.count_attempt, tid)
        remaining_s = max(0.05, min(CALL_TIMEOUT_S, (view.expires_at_ms - self._clock_ms()) / 1000))
        try:
            ack = await self._rpc(lambda stub: stub.SendAssetOffer(offer, timeout=remaining_s))
        except RemoteError as err:
            if err.code not in REFUSALS:
                raise
            status = TxStatus.FAILED if err.reason in PEER_GONE else TxStatus.REJECTED
            self.decisions.abort(tid, tx_status=status, reason=err.reason, message=err.message)
            return
        if ack.state == "ABORTED":
            self.decisions.abort(
                tid,
                tx_status=TxStatus.CANCELLED,
                reason="DESTINATION_ABORTED",
                message="the destination had already recorded this transfer as aborted",
            )
            return
        tra = offers.transaction_item(
            m_instance_id=self._id,
            transaction_id=offers.transaction_id(self._id, tid),
            payer_process_id=view.source_process_id,
            payee_process_id=view.destination_process_id,
            value=(offer.exchange.paid.amount_minor, self._config.currency_id),
            status="Final",
            asset_id=view.asset_id,
            destination_asset_id=ack.destination_asset_id,
            transfer_id=tid,
            exchange=offer.exchange,
        )
        self.decisions.commit(tid, destination_asset_id=ack.destination_asset_id, transaction_json=tra.raw)

    async def _send_decision(self, view: apb.AssetTransferView) -> None:
        tid = view.transfer_id
        offer = await asyncio.to_thread(self.ledger.offer_of, tid)
        commit = view.state == TransferState.COMMITTED
        decision = apb.AssetDecision(
            transfer_id=tid,
            decision=apb.ASSET_DECISION_KIND_COMMIT if commit else apb.ASSET_DECISION_KIND_ABORT,
            content_digest=offer.content_digest,
            destination_m_instance_id=view.peer_m_instance_id,
        )
        if commit:
            decision.transaction.item_json = await asyncio.to_thread(self.ledger.transaction_of, tid)
        await asyncio.to_thread(self.ledger.count_attempt, tid)
        try:
            ack = await self._rpc(lambda stub: stub.SendAssetDecision(decision, timeout=CALL_TIMEOUT_S))
        except RemoteError as err:
            if commit or err.reason not in PEER_GONE:
                raise
            message = f"the ABORT cannot reach {view.peer_m_instance_id}: {err.message}"
            await asyncio.to_thread(self.ledger.give_up, tid, reason=err.reason, message=message)
            return
        await asyncio.to_thread(self.ledger.acknowledged, tid, transaction_json=ack.transaction.item_json)

    async def _rpc(self, use: Callable[[gateway_pb2_grpc.PlatformGatewayAsyncStub], Awaitable[T]]) -> T:
        assert self._gateway is not None
        try:
            return await use(self._gateway())
        except grpc.aio.AioRpcError as err:
            raise decode_rpc_error(err) from err

    # -- destination ---------------------------------------------------------------------
    async def stage(self, offer: apb.AssetOffer) -> apb.AssetOfferAck:
        """9.2 steps 5-6, for an offer this instance's gateway verified (``origin_m_instance_id``
        set). A known transfer id returns its recorded state first (duplicates are harmless, even
        late ones). Raises PermissionDenied ``ORIGIN_MISMATCH``, FailedPrecondition
        ``TRANSFER_EXPIRED`` / ``QUALIFIER_NOT_SUPPORTED`` / ``CURRENCY_NOT_ACCEPTED``, InvalidInput
        ``BAD_PROCESS_ID`` / ``OFFER_DIGEST_MISMATCH`` / ``ASSET_MALFORMED``, DataIntegrityError
        ``DIGEST_MISMATCH``, AlreadyExists ``TRANSFER_ID_REUSED``; nothing is written then."""
        origin = offer.origin_m_instance_id
        item = parse_item(offer.asset.item_json)
        if item.m_instance_id != origin or instance_of(offer.source_process_id) != origin:
            raise PermissionDenied(f"{origin} may not offer Assets of {item.m_instance_id}", reason="ORIGIN_MISMATCH")
        digest = offers.content_digest(offer)
        if digest != offer.content_digest:
            raise InvalidInput("the offer's content_digest does not match its content", reason="OFFER_DIGEST_MISMATCH")
        known = await asyncio.to_thread(self.ledger.known_offer, offer.transfer_id, digest)
        if known is not None:
            return known
        self._check_offer(offer, item)
        destination_asset_id = f"mmm://{self._id}/assets/{uuid.uuid5(uuid.NAMESPACE_URL, offer.transfer_id)}"
        staged = offers.asset_item(
            m_instance_id=self._id,
            asset_id=destination_asset_id,
            owner_process_id=offer.destination_process_id,
            qualifier=item.qualifier,
            data=item.data,
            currency_id=self._config.currency_id,
            provenance=[*item.doc.get("Provenance", []), offers.transaction_id(origin, offer.transfer_id)],
            source_item_id=offers.origin_item(item).item_id,
            trace=[{"ProcessID": t["ProcessID"], "Time": t["Time"]} for t in item.doc.get("Trace", [])],
            market_class=str(item.doc.get("MarketClass", "")),
            value_metadata=item.doc.get("ValueMetadata"),
            descr=item.doc.get("DescrMetadata"),
        )
        return await asyncio.to_thread(
            self.ledger.stage, offer, origin=origin, staged_item=staged.raw, destination_asset_id=destination_asset_id
        )

    def _check_offer(self, offer: apb.AssetOffer, item: Item) -> None:
        if self._clock_ms() >= offer.expires_at_ms:
            raise FailedPrecondition(f"transfer {offer.transfer_id} has expired", reason="TRANSFER_EXPIRED")
        dest = offer.destination_process_id
        try:
            local = instance_of(dest) == self._id and "/processes/" in dest
        except InvalidInput:
            local = False
        if not local:
            raise InvalidInput(f"{dest[:256]!r} is not a Process of {self._id}", reason="BAD_PROCESS_ID")
        if item.doc.get("ItemType") != "ASS" or ("ASS", item.format) not in self._accepts:
            raise FailedPrecondition(
                f"{self._id} accepts no Asset in {item.format or 'no Format'}", reason="QUALIFIER_NOT_SUPPORTED"
            )
        binding = item.data
        if binding is not None and (
            binding.size != len(offer.asset_data) or binding.sha256 != sha256_hex(offer.asset_data)
        ):
            raise DataIntegrityError("the Asset's data does not match its ItemData digest", reason="DIGEST_MISMATCH")
        if binding is None and offer.asset_data:
            raise InvalidInput("data sent for an Asset without ItemData", reason="ASSET_MALFORMED")
        ex = offer.exchange
        pays = ex.paid.amount_minor or ex.received.amount_minor
        if pays and (ex.received.currency_id != self._config.currency_id or ex.received.amount_minor <= 0):
            raise FailedPrecondition(
                f"{self._id} pays out in {self._config.currency_id}, not {ex.received.currency_id or 'nothing'}",
                reason="CURRENCY_NOT_ACCEPTED",
            )

    async def decide(self, decision: apb.AssetDecision) -> apb.AssetDecisionAck:
        """9.2 step 7: apply the origin's decision (see :meth:`AssetLedger.apply_decision`).
        PermissionDenied ``ORIGIN_MISMATCH`` when the decision does not come from the
        transfer's origin; InvalidInput ``TRANSACTION_MISSING`` for a COMMIT without its
        Transaction."""
        origin = decision.origin_m_instance_id
        offer = await asyncio.to_thread(self.ledger.staged_offer, decision.transfer_id)
        if offer is not None and instance_of(offer.source_process_id) != origin:
            raise PermissionDenied(f"{origin} did not offer transfer {decision.transfer_id}", reason="ORIGIN_MISMATCH")
        tra = decision.transaction.item_json
        if decision.decision == apb.ASSET_DECISION_KIND_COMMIT and not tra:
            raise InvalidInput("a COMMIT carries the signed Transaction", reason="TRANSACTION_MISSING")
        if decision.decision not in (apb.ASSET_DECISION_KIND_COMMIT, apb.ASSET_DECISION_KIND_ABORT):
            raise InvalidInput("decision must be COMMIT or ABORT", reason="DECISION_INVALID")
        ack = await asyncio.to_thread(self.ledger.apply_decision, decision, origin=origin, transaction_json=tra)
        if ack.state == TransferState.COMMITTED:  # owned here now: its Rights are the World's
            view = await asyncio.to_thread(self.ledger.transfer, decision.transfer_id)
            self.decisions.adopt(view.destination_asset_id)
        return ack
