"""ASTF in the MIFM (FGMV-43 9.2 steps 4-8): the gateway's part of asset transfers.

Sending side (RI-1 from its own M-Instance, then RE-1): check the trust agreement covers Assets,
route the Asset by the answer manifesto (through a bridge's Conversion Service when the peer accepts
its Qualifier only converted, as avatars go in 9.1 step 3), sign the Asset Item (offers) or the
Transaction Item (COMMIT decisions) with the M-Instance key, add an envelope binding origin,
destination, transfer id and the offer's content digest, and forward to the peer's gateway.
Receiving side (RE-1): the caller is the origin (mTLS), the agreement is active, the envelope and
the signed Items verify; then the M-Instance stages the offer or applies the decision, idempotently
by transfer id. So envelopes are checked without claiming a replay nonce: a repeated message is a
harmless duplicate, answered from the journal.

Each committed transfer is audited once by each gateway (event ``ASSET_COMMITTED``, subject the
transfer id, idempotency key ``ASSET_COMMITTED <transfer id>``), whatever the retries, crashes and
replicas. Decisions pass even when the agreement was revoked after the offer: a revocation stops new
transfers, while a transfer already staged must still reach one owner of record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.agreements import ASSET_ACTION, ASSET_TYPE, AgreementBook
from gateway.asset_checks import NOT_JOURNALLED, check_exchange, journalled_decision, journalled_offer
from gateway.bridging import choose_route, convert_via_bridge
from gateway.channels import Channels
from gateway.envelope import EnvelopeChecker, make_envelope
from gateway.negotiation import NegotiationService
from gateway.verification import ForeignItemVerifier, refusals_counted
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.audit import REFUSED
from mmmfed.crashpoints import crashpoint
from mmmfed.errors import FailedPrecondition, InvalidInput, MmmfedError, NotFound, PermissionDenied
from mmmfed.items import Item, instance_of, parse_item, sign_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.metrics import NodeMetrics
from mmmfed.rpc import call
from mmmfed.store import SharedAuditLog

ASSET_COMMITTED = "ASSET_COMMITTED"
ASSET_ABORTED = "ASSET_ABORTED"
CHUNK_BYTES = 1024 * 1024
_KINDS = {apb.ASSET_DECISION_KIND_COMMIT: "COMMIT", apb.ASSET_DECISION_KIND_ABORT: "ABORT"}


def bound_bytes(kind: str, content_digest: str) -> bytes:
    """What an asset message's envelope binds in its ItemSHA256: the kind of message (OFFER,
    COMMIT, ABORT) and the offer's content digest."""
    return f"{kind} {content_digest}".encode()


def _peer_of(process_id: str, field: str) -> str:
    try:
        return instance_of(process_id)
    except InvalidInput as err:
        raise InvalidInput(f"{field} is not an mmm:// id: {err.message}", reason="BAD_PROCESS_ID") from err


class AssetRelay:
    """Both sides of the ASTF relay for one gateway (see the module doc)."""

    def __init__(
        self,
        m_instance_id: str,
        channels: Channels,
        negotiation: NegotiationService,
        *,
        keys: InstanceKeyStore,
        verifier: ForeignItemVerifier,
        envelopes: EnvelopeChecker,
        audit: SharedAuditLog,
        metrics: NodeMetrics,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._negotiation = negotiation
        self._agreements: AgreementBook = negotiation.agreements
        self._keys = keys
        self._verifier = verifier
        self._envelopes = envelopes
        self._audit = audit
        self._metrics = metrics

    def _sign(self, item_json: bytes) -> bytes:
        record, key = self._keys.current()
        return sign_item(parse_item(item_json), key=key, verification_method=self._keys.method(record)).raw

    # -- sending side ---------------------------------------------------------------------
    async def _record(self, transfer_id: str) -> apb.AssetTransferRecord:
        """The transfer as this M-Instance journalled it (RI-1 GetTransferRecord); a transfer it
        does not hold is FAILED_PRECONDITION ``NOT_JOURNALLED`` (issue 12 item 3)."""
        stub = self._channels.instance()
        request = apb.GetAssetTransferRequest(transfer_id=transfer_id)
        try:
            record: apb.AssetTransferRecord = await call(lambda: stub.GetTransferRecord(request))
        except MmmfedError as err:
            if err.reason != "TRANSFER_NOT_FOUND":
                raise
            raise FailedPrecondition(
                f"{self._id} journalled no transfer {transfer_id[:256]}: nothing to sign", reason=NOT_JOURNALLED
            ) from err
        return record

    async def send_offer(self, offer: apb.AssetOffer) -> apb.AssetOfferAck:
        """RI-1 -> RE-1 (9.2 step 4), for an offer exactly as this M-Instance journalled it
        (FAILED_PRECONDITION ``NOT_JOURNALLED`` otherwise: nothing is signed). FAILED_PRECONDITION
        (agreement: ``NO_AGREEMENT``, ``AGREEMENT_REVOKED``, ``OUT_OF_AGREEMENT``...), NOT_FOUND
        ``UNKNOWN_PEER``, INVALID_ARGUMENT ``BAD_PROCESS_ID``, and the peer's refusals, passed
        through with their reasons."""
        offer = journalled_offer(offer, await self._record(offer.transfer_id))
        return await self._forward_offer(offer)

    async def _forward_offer(self, offer: apb.AssetOffer) -> apb.AssetOfferAck:
        """Sign and forward ``offer``: only ever one :meth:`send_offer` read from the journal."""
        peer = _peer_of(offer.destination_process_id, "destination_process_id")
        if peer == self._id:
            raise InvalidInput("an Asset offer goes to another M-Instance", reason="BAD_PROCESS_ID")
        await self._agreements.require_active(peer, item_type=ASSET_TYPE, action=ASSET_ACTION)
        out = apb.AssetOffer()
        out.CopyFrom(offer)
        out.ClearField("origin_m_instance_id")
        home = parse_item(self._sign(offer.asset.item_json))
        out.asset.item_json = home.raw
        answer = await self._negotiation.answer_for(peer)
        row = choose_route(home, answer, item_type=ASSET_TYPE, sub_type=str(home.qualifier.get("SubType", "")))
        if row.route == mpb.FEATURE_ROUTE_VIA_BRIDGE:  # 9.2 with the AVCF of 9.1 step 3: converted on the way
            converted, data = await self._convert(home, offer.asset_data, row, answer.virtual_bridge_id, peer)
            out.asset.item_json, out.asset_data = converted, data
        out.envelope_json = make_envelope(
            keys=self._keys,
            destination=peer,
            transfer_id=offer.transfer_id,
            item_json=bound_bytes("OFFER", offer.content_digest),
        )
        stub = self._channels.peer(peer)
        crashpoint("gateway.offer.before_forward")
        ack: apb.AssetOfferAck = await call(lambda: stub.OfferAsset(out), attempts=1)
        crashpoint("gateway.offer.after_forward")
        return ack

    async def _convert(
        self, home: Item, data: bytes, row: mpb.NegotiatedFeature, vb_id: str, peer: str
    ) -> tuple[bytes, bytes]:
        """The bridge's conversion of an Asset and its data (the Item embeds ``home``), signed by
        the bridge key negotiated with ``peer``."""

        async def chunks() -> AsyncIterator[bytes]:
            for at in range(0, len(data), CHUNK_BYTES):
                yield data[at : at + CHUNK_BYTES]

        stub = self._channels.bridge(row.bridge_id)
        bridge_keys = await self._negotiation.bridge_keys(peer)
        item, converted = await convert_via_bridge(stub, home, row, vb_id, chunks(), {}, bridge_keys=bridge_keys)
        return item.item_json, b"".join([chunk async for chunk in converted])

    async def send_decision(self, decision: apb.AssetDecision) -> apb.AssetDecisionAck:
        """RI-1 -> RE-1 (9.2 steps 7-8): for a decision exactly as this M-Instance journalled it
        (FAILED_PRECONDITION ``NOT_JOURNALLED`` otherwise: nothing is signed), sign the COMMIT's
        Transaction, forward, and audit the commit once. INVALID_ARGUMENT ``DECISION_INVALID``;
        the peer's errors pass through."""
        kind = _KINDS.get(decision.decision)
        if kind is None:
            raise InvalidInput("decision must be COMMIT or ABORT", reason="DECISION_INVALID")
        decision = journalled_decision(decision, kind, await self._record(decision.transfer_id))
        return await self._forward_decision(decision)

    async def _forward_decision(self, decision: apb.AssetDecision) -> apb.AssetDecisionAck:
        """Sign and forward ``decision``: only ever one :meth:`send_decision` read from the journal."""
        kind = _KINDS[decision.decision]
        peer = decision.destination_m_instance_id
        out = apb.AssetDecision()
        out.CopyFrom(decision)
        out.ClearField("origin_m_instance_id")
        if kind == "COMMIT":
            if not decision.transaction.item_json:
                raise InvalidInput("a COMMIT carries its Transaction", reason="TRANSACTION_MISSING")
            out.transaction.item_json = self._sign(decision.transaction.item_json)
        out.envelope_json = make_envelope(
            keys=self._keys,
            destination=peer,
            transfer_id=decision.transfer_id,
            item_json=bound_bytes(kind, decision.content_digest),
        )
        stub = self._channels.peer(peer)
        ack: apb.AssetDecisionAck = await call(lambda: stub.DecideAssetTransfer(out), attempts=1)
        await self._audit_decision(ack, peer=peer, direction="out")
        return ack

    async def _audit_decision(self, ack: apb.AssetDecisionAck, *, peer: str, direction: str) -> None:
        event = ASSET_COMMITTED if ack.state == "COMMITTED" else ASSET_ABORTED
        crashpoint("gateway.decision.before_audit")
        await self._audit.append(
            event,
            peer_id=peer,
            subject=ack.transfer_id,
            details={"direction": direction},
            once=f"{event} {ack.transfer_id}",
        )
        crashpoint("gateway.decision.after_audit")

    async def peer_history(self, peer: str, asset_id: str) -> apb.AssetHistoryResponse:
        """RI-1 -> RE-1, ASIR-103: an Asset's history and current owner at ``peer``, as the peer
        answers it (FAILED_PRECONDITION without an agreement covering Assets)."""
        await self._agreements.require_active(peer, item_type=ASSET_TYPE, action=ASSET_ACTION)
        stub = self._channels.peer(peer)
        request = apb.AssetHistoryRequest(asset_id=asset_id)
        history: apb.AssetHistoryResponse = await call(lambda: stub.GetAssetHistory(request))
        return history

    # -- receiving side -------------------------------------------------------------------
    async def receive_offer(self, offer: apb.AssetOffer, peer: str) -> apb.AssetOfferAck:
        """RE-1 (9.2 steps 5-6): verify, then stage at this M-Instance. PERMISSION_DENIED
        ``ORIGIN_MISMATCH``; FAILED_PRECONDITION (agreement); the verification pipeline's refusals
        of the Asset Item and of the envelope; then the instance's refusals (see
        ``TransferService.stage``). Refusals are audited."""
        try:
            with refusals_counted(self._metrics):
                if _peer_of(offer.source_process_id, "source_process_id") != peer:
                    raise PermissionDenied(
                        f"{offer.source_process_id[:256]} is not a Process of {peer}, the calling gateway's",
                        reason="ORIGIN_MISMATCH",
                    )
            await self._agreements.require_active(peer, item_type=ASSET_TYPE, action=ASSET_ACTION)
            # a conversion is signed by a bridge of the negotiation in which the peer offered to us
            bridge_keys = await self._negotiation.bridge_keys(peer, incoming=True)
            await self._verifier.verify_persona(offer.asset.item_json, peer_id=peer, bridge_keys=bridge_keys)
            with refusals_counted(self._metrics):
                await self._envelopes.check(
                    offer.envelope_json,
                    peer_id=peer,
                    transfer_id=offer.transfer_id,
                    item_json=bound_bytes("OFFER", offer.content_digest),
                    claim=False,
                    items=(offer.asset.item_json,),  # its proofs dated with the envelope (issue 12 item 4)
                )
                policies = await self._negotiation.peer_policies(peer)
                check_exchange(offer.exchange, policies, origin=peer, destination=self._id)
        except MmmfedError as err:
            details = {"direction": "in", "action": "OfferAsset"}
            await self._audit.append(
                REFUSED, peer_id=peer, subject=offer.transfer_id, reason=err.reason, details=details
            )
            raise
        inward = apb.AssetOffer()
        inward.CopyFrom(offer)
        inward.origin_m_instance_id = peer
        stub = self._channels.instance()
        crashpoint("gateway.offer.before_forward")
        ack: apb.AssetOfferAck = await call(lambda: stub.StageAsset(inward), attempts=1)
        crashpoint("gateway.offer.after_forward")
        return ack

    async def receive_decision(self, decision: apb.AssetDecision, peer: str) -> apb.AssetDecisionAck:
        """RE-1 (9.2 step 7): the envelope and, for COMMIT, the Transaction signed by ``peer``
        verify; then the instance applies it, and a commit is audited once."""
        kind = _KINDS.get(decision.decision)
        if kind is None:
            raise InvalidInput("decision must be COMMIT or ABORT", reason="DECISION_INVALID")
        with refusals_counted(self._metrics):
            await self._envelopes.check(
                decision.envelope_json,
                peer_id=peer,
                transfer_id=decision.transfer_id,
                item_json=bound_bytes(kind, decision.content_digest),
                claim=False,
                items=(decision.transaction.item_json,) if kind == "COMMIT" and decision.transaction.item_json else (),
            )
        if kind == "COMMIT":
            tra = await self._verifier.verify_persona(decision.transaction.item_json, peer_id=peer, bridge_keys={})
            if tra.doc.get("TransferID") != decision.transfer_id:
                raise InvalidInput("the Transaction is not this transfer's", reason="TRANSACTION_MISMATCH")
        inward = apb.AssetDecision()
        inward.CopyFrom(decision)
        inward.origin_m_instance_id = peer
        stub = self._channels.instance()
        ack: apb.AssetDecisionAck = await call(lambda: stub.DecideAssetTransfer(inward), attempts=1)
        await self._audit_decision(ack, peer=peer, direction="in")
        return ack

    async def history(self, asset_id: str, peer: str) -> apb.AssetHistoryResponse:
        """RE-1, ASIR-103: an Asset's history here, for a peer under an active agreement that was
        a party to it (origin or destination of one of its transfers, issue 12 item 3). To any
        other peer NOT_FOUND ``ASSET_NOT_FOUND``, as for an Asset that does not exist: nothing leaks."""
        await self._agreements.require_active(peer, item_type=ASSET_TYPE, action=ASSET_ACTION)
        stub = self._channels.instance()
        request = apb.AssetHistoryRequest(asset_id=asset_id)
        history: apb.AssetHistoryResponse = await call(lambda: stub.AssetHistory(request))
        if not any(t.peer_m_instance_id == peer for t in history.transfers):
            raise NotFound(f"no Asset {asset_id[:256]!r} at {self._id}", reason="ASSET_NOT_FOUND")
        return history
