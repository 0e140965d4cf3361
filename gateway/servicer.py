"""gRPC servicers of the gateway: PlatformGateway (RI-1, RI-5) and Federation (RE-1, RE-5)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from google.protobuf.json_format import MessageToDict

from gateway.assets import AssetRelay
from gateway.audit_service import AuditService
from gateway.avatar_sync import AvatarSyncRelay
from gateway.bundles import own_bundle
from gateway.channels import Channels
from gateway.content_search import ContentSearch
from gateway.content_sync import ContentVersionSync
from gateway.contents import ContentRelay
from gateway.keyring import KEY_SET_TYPE
from gateway.migration import MigrationService
from gateway.negotiation import NegotiationService
from gateway.outbox import Outbox
from gateway.resolution import ResolutionService
from gateway.status import GatewayStatusService
from gateway.transactions import TransactionReceiver
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.audit import (
    ACCEPTED,
    AGREEMENT_ACCEPTED,
    AGREEMENT_PROPOSED,
    AGREEMENT_REJECTED,
    AGREEMENT_REVOKED,
    REFUSED,
)
from mmmfed.config import GatewayConfig
from mmmfed.errors import FailedPrecondition, MmmfedError, PermissionDenied
from mmmfed.items import domain_doc, proof_time
from mmmfed.keyfile import load_signing_key
from mmmfed.keys import COMPROMISED, SUPERSEDED, InstanceKeyStore
from mmmfed.manifesto import ROUTE_NAMES
from mmmfed.proofs import sign_document
from mmmfed.rpc import call
from mmmfed.rpc_types import ServicerContext
from mmmfed.store import SharedAuditLog
from mmmfed.streams import split_header
from mmmfed.trust import TrustDomains


class PlatformGatewayServicer(gateway_pb2_grpc.PlatformGatewayServicer):
    """RI side: called by this gateway's own instance and operators."""

    def __init__(
        self,
        negotiation: NegotiationService,
        migration: MigrationService,
        channels: Channels,
        audit: SharedAuditLog,
        resolution: ResolutionService,
        assets: AssetRelay,
        *,
        domains: TrustDomains,
        status: GatewayStatusService,
        outbox: Outbox,
        contents: ContentRelay,
        content_search: ContentSearch,
        avatar_sync: AvatarSyncRelay,
        content_sync: ContentVersionSync | None = None,
    ) -> None:
        self._avatar_sync = avatar_sync
        self._contents = contents
        self._content_search = content_search
        self._content_sync = content_sync
        self._domains = domains
        self._status = status
        self._outbox = outbox
        self._negotiation = negotiation
        self._migration = migration
        self._channels = channels
        self._audit = audit
        self._resolution = resolution
        self._assets = assets

    def _from_own_instance(self, context: ServicerContext) -> None:
        """Issue 12 item 3: only this gateway's own M-Instance (its TLS identity, not an operator)
        hands over what the gateway signs: asset offers and decisions read back from its journal,
        and Process Actions whose carried Items it attached from its store; PERMISSION_DENIED
        ``NOT_OWN_INSTANCE``."""
        caller = self._domains.identify(context)
        name = self._channels.instance_name
        if not caller.own or not any(i.role == "instance" and i.name == name for i in caller.identities):
            raise PermissionDenied(
                f"only {self._channels.instance_name}, this gateway's M-Instance, hands over what this gateway signs",
                reason="NOT_OWN_INSTANCE",
            )

    async def SendAssetOffer(self, request: apb.AssetOffer, context: ServicerContext) -> apb.AssetOfferAck:
        """RI-1, ASTF (FGMV-43 9.2 step 4): sign and forward the instance's offer as journalled
        (gateway/assets.py); PERMISSION_DENIED NOT_OWN_INSTANCE, FAILED_PRECONDITION NOT_JOURNALLED."""
        self._from_own_instance(context)
        return await self._assets.send_offer(request)

    async def SendAssetDecision(self, request: apb.AssetDecision, context: ServicerContext) -> apb.AssetDecisionAck:
        """RI-1 (9.2 steps 7-8): sign and forward the instance's decision as journalled, audit a
        commit once; PERMISSION_DENIED NOT_OWN_INSTANCE, FAILED_PRECONDITION NOT_JOURNALLED."""
        self._from_own_instance(context)
        return await self._assets.send_decision(request)

    async def SendContent(
        self, request: cpb.MigrateContentRequest, context: ServicerContext
    ) -> cpb.ContentTransferResponse:
        """RI-3, FGMV-43 9.3 steps 1-2: migrate a content of this M-Instance, read from it here
        (gateway/contents.py); PERMISSION_DENIED NOT_OWN_INSTANCE, FAILED_PRECONDITION LICENCE_FORBIDS."""
        self._from_own_instance(context)
        return await self._contents.send(request.content_id, request.peer_m_instance_id)

    async def SyncContentWithPeer(self, request: cpb.SyncContentRequest, context: ServicerContext) -> cpb.SyncedPeer:
        """RI-3, FGMV-43 9.3 steps 5-7 (COSF): pull and push a content's versions with one linked
        peer (gateway/content_sync.py); PERMISSION_DENIED NOT_OWN_INSTANCE / NOT_LINKED."""
        self._from_own_instance(context)
        return await self._sync().sync_with(request.content_id, request.peer_m_instance_id)

    def _sync(self) -> ContentVersionSync:
        if self._content_sync is None:
            raise FailedPrecondition("this gateway does not synchronise contents", reason="NO_CONTENT_SYNC")
        return self._content_sync

    async def SearchPeerContents(
        self, request: cpb.SearchContentsRequest, context: ServicerContext
    ) -> cpb.SearchContentsResponse:
        """RI-3, COIR-101/105: search the agreed peers' shared contents (gateway/content_search.py);
        PERMISSION_DENIED NOT_OWN_INSTANCE, INVALID_ARGUMENT CONTENT_QUERY_INVALID."""
        self._from_own_instance(context)
        return await self._content_search.search_peers(request)

    async def SyncAvatarHome(self, request: spb.RoamingChange, context: ServicerContext) -> spb.RoamingChange:
        """RI-1, FGMV-43 9.1 steps 5-6: a roaming User's change to its home gateway (RE-1 SyncAvatar,
        gateway/avatar_sync.py); own M-Instance only (PERMISSION_DENIED NOT_OWN_INSTANCE)."""
        self._from_own_instance(context)
        return await self._avatar_sync.send_home(request)

    async def GetPeerAssetHistory(
        self, request: gpb.PeerAssetHistoryRequest, context: ServicerContext
    ) -> apb.AssetHistoryResponse:
        """RI-1, ASIR-103: an Asset's history and current owner at a peer M-Instance."""
        return await self._assets.peer_history(request.peer_m_instance_id, request.asset_id)

    async def Resolve(self, request: papb.ProcessActionRequest, context: ServicerContext) -> papb.ProcessActionResponse:
        """RI-1, MMM-TEC Resolution: forward a local Process's request to a peer's Process
        (gateway/resolution.py); a refusal comes back as a PA Status. Only from this gateway's
        own M-Instance (PERMISSION_DENIED NOT_OWN_INSTANCE): it attaches the carried Items as its
        store holds them (instance/process_actions.py), and this gateway signs those."""
        self._from_own_instance(context)
        return await self._resolution.send(request)

    async def SendToPeer(self, request: fpb.SendToPeerRequest, context: ServicerContext) -> fpb.SendToPeerResponse:
        """RI-1 (issue 18 item 2): entries for a peer, in federation transactions (gateway/outbox.py);
        only from the own M-Instance, as for Resolve (PERMISSION_DENIED NOT_OWN_INSTANCE)."""
        self._from_own_instance(context)
        return fpb.SendToPeerResponse(results=await self._outbox.submit(request.peer_m_instance_id, request.entries))

    async def RegisterManifesto(
        self, request: mpb.Manifesto, context: ServicerContext
    ) -> gpb.RegisterManifestoResponse:
        """RI-5, FGMV-43 9.5 step 1; INVALID_ARGUMENT MANIFESTO_INVALID."""
        return gpb.RegisterManifestoResponse(manifesto_id=await self._negotiation.register(request))

    async def Negotiate(self, request: gpb.NegotiateRequest, context: ServicerContext) -> gpb.NegotiateResponse:
        """RI-5, FGMV-43 9.5 steps 2-8, ending in a trust agreement signed by both (audited);
        NOT_FOUND UNKNOWN_PEER, FAILED_PRECONDITION MANIFESTO_NOT_REGISTERED / AGREEMENT_NOT_ACCEPTED.
        """
        peer_id = request.peer_m_instance_id
        try:
            result = await self._negotiation.negotiate(peer_id)
        except MmmfedError as err:
            await self._audit.append(AGREEMENT_REJECTED, peer_id=peer_id, subject="", reason=err.reason)
            raise
        agreement_id = json.loads(result.agreement_json)["AgreementID"]
        await self._audit.append(AGREEMENT_ACCEPTED, peer_id=peer_id, subject=agreement_id)
        return result

    async def MigrateAvatar(
        self, request: gpb.MigrateAvatarRequest, context: ServicerContext
    ) -> gpb.MigrateAvatarResponse:
        """RI-1, FGMV-43 9.1 steps 1-4; a refused avatar is an answer (REFUSED, AVIR-202/AVIR-001), not
        an error.
        """
        peer_id = request.peer_m_instance_id
        try:
            result = await self._migration.migrate(request.user_process_id, peer_id)
        except MmmfedError as err:
            details: dict[str, object] = {"rpc": "MigrateAvatar", "message": err.message[:500]}
            await self._audit.append(
                REFUSED, peer_id=peer_id, subject=request.user_process_id, reason=err.reason, details=details
            )
            raise
        if result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED:
            details = {"rpc": "MigrateAvatar", "route": result.route, "bytes": result.bytes_sent}
            await self._audit.append(ACCEPTED, peer_id=peer_id, subject=request.user_process_id, details=details)
        else:
            details = {"rpc": "MigrateAvatar", "message": result.refusal_message[:500]}
            await self._audit.append(
                REFUSED, peer_id=peer_id, subject=request.user_process_id, reason=result.refusal_reason, details=details
            )
        return result

    async def GetStatus(self, request: gpb.GetGatewayStatusRequest, context: ServicerContext) -> gpb.GatewayStatus:
        """RI-5: what this gateway holds now (gateway/status.py), for its own M-Instance and
        operators only: the service's guard, as for RevokeAgreement, admits no peer."""
        return await self._status.status()

    async def RevokeAgreement(
        self, request: gpb.RevokePeerAgreementRequest, context: ServicerContext
    ) -> gpb.AgreementMessage:
        """RI-5: revoke the trust agreement with a peer: at once here (audited), then at the peer
        (RE-5). NOT_FOUND NO_AGREEMENT; UNAVAILABLE if the peer cannot be told (revoked here)."""
        peer_id = request.peer_m_instance_id
        revoked = await self._negotiation.agreements.revoke(peer_id, reason=request.reason)
        agreement_id = json.loads(revoked)["AgreementID"]
        details = {"by": "operator", "reason": request.reason[:500]}
        await self._audit.append(AGREEMENT_REVOKED, peer_id=peer_id, subject=agreement_id, details=details)
        stub = self._channels.peer(peer_id)
        notice = gpb.RevokeAgreementRequest(agreement_id=agreement_id, reason=request.reason)
        await call(lambda: stub.RevokeAgreement(notice))
        return gpb.AgreementMessage(agreement_json=revoked)


class FederationServicer(gateway_pb2_grpc.FederationServicer):
    """RE side: called by peer gateways. The peer's M-Instance is the one whose configured
    gateway certificate name the verified client certificate carries."""

    def __init__(
        self,
        config: GatewayConfig,
        domains: TrustDomains,
        negotiation: NegotiationService,
        migration: MigrationService,
        channels: Channels,
        keys: InstanceKeyStore,
        audit: SharedAuditLog,
        resolution: ResolutionService,
        assets: AssetRelay,
        *,
        transactions: TransactionReceiver,
        contents: ContentRelay,
        content_search: ContentSearch,
        avatar_sync: AvatarSyncRelay,
        content_sync: ContentVersionSync | None = None,
    ) -> None:
        self._avatar_sync = avatar_sync
        self._contents = contents
        self._content_search = content_search
        self._content_sync = content_sync
        self._transactions = transactions
        self._config = config
        self._domains = domains
        self._negotiation = negotiation
        self._migration = migration
        self._channels = channels
        self._keys = keys
        self._audit = audit
        self._audit_rpc = AuditService(audit, keys)
        self._resolution = resolution
        self._assets = assets

    async def OfferAsset(self, request: apb.AssetOffer, context: ServicerContext) -> apb.AssetOfferAck:
        """RE-1, ASTF (FGMV-43 9.2 steps 4-6): verify a peer's offer and stage it here."""
        return await self._assets.receive_offer(request, self._peer(context))

    async def DecideAssetTransfer(self, request: apb.AssetDecision, context: ServicerContext) -> apb.AssetDecisionAck:
        """RE-1 (9.2 steps 7-8): verify the origin's decision and apply it here."""
        return await self._assets.receive_decision(request, self._peer(context))

    async def GetAssetHistory(
        self, request: apb.AssetHistoryRequest, context: ServicerContext
    ) -> apb.AssetHistoryResponse:
        """RE-1, ASIR-103: an Asset's history and current owner here."""
        return await self._assets.history(request.asset_id, self._peer(context))

    async def ForwardProcessAction(
        self, request: papb.ProcessActionRequest, context: ServicerContext
    ) -> papb.ProcessActionResponse:
        """RE-1, MMM-TEC Resolution: a peer's Process asks a Process here; verified, then decided
        by this M-Instance (gateway/resolution.py)."""
        return await self._resolution.receive(request, self._peer(context))

    async def SendTransaction(
        self, request: fpb.FederationTransaction, context: ServicerContext
    ) -> fpb.FederationTransactionResult:
        """RE-1 (issue 18 item 2): a peer's federation transaction, applied once per id, a result
        per entry (gateway/transactions.py); PERMISSION_DENIED UNKNOWN_PEER for a non-peer."""
        return await self._transactions.receive(request, self._peer(context))

    def _peer(self, context: ServicerContext) -> str:
        """The calling peer's M-Instance: the trust domain whose bundle issued its certificate,
        when that is a configured peer and the certificate is its gateway's."""
        caller = self._domains.identify(context)
        for domain in caller.trust_domains:
            peer = self._channels.peers.get(domain)
            if peer is not None and any(i.role == "gateway" and i.name == peer.tls_name for i in caller.identities):
                return domain
        raise PermissionDenied("the calling gateway is not a configured peer", reason="UNKNOWN_PEER")

    async def GetBundle(self, request: gpb.GetBundleRequest, context: ServicerContext) -> gpb.TrustBundle:
        """RE-5 bundle endpoint: this M-Instance's CA bundle as ``tls.ca_cert`` holds it now."""
        self._peer(context)
        return own_bundle(self._config)

    async def GetManifesto(self, request: gpb.GetPeerManifestoRequest, context: ServicerContext) -> mpb.Manifesto:
        """RE-5: this platform's manifesto, to configured peer gateways only."""
        self._peer(context)
        manifesto = await self._negotiation.platform()
        published = key_set(self._keys)
        manifesto.keys.extend(published.keys)
        manifesto.signed_keys_json = published.signed_json
        return manifesto

    async def OfferManifestos(
        self, request: gpb.OfferManifestosRequest, context: ServicerContext
    ) -> gpb.OfferManifestosResponse:
        """RE-5, FGMV-43 9.5 steps 6-7: offers A and V in, answer out; audited (LAF)."""
        peer = self._peer(context)
        try:
            response = await self._negotiation.answer(request.offer_a, request.offer_v, peer)
        except MmmfedError as err:
            await self._audit.append(
                AGREEMENT_REJECTED,
                peer_id=peer,
                subject=request.offer_a.manifesto_id,
                reason=err.reason,
                details={"message": err.message[:500]},
            )
            raise
        answer = response.answer
        routes = {r.offered.qualifier.format: ROUTE_NAMES.get(r.route, "?") for r in answer.negotiated}
        agreement_id = json.loads(response.agreement_json)["AgreementID"]
        details = {"routes": routes, "answer_manifesto_id": answer.manifesto_id}
        await self._audit.append(AGREEMENT_PROPOSED, peer_id=peer, subject=agreement_id, details=details)
        return response

    async def ConfirmAgreement(self, request: gpb.AgreementMessage, context: ServicerContext) -> gpb.AgreementMessage:
        """RE-5: the proposer's countersignature; the agreement becomes ACTIVE (audited)."""
        peer = self._peer(context)
        try:
            confirmed = await self._negotiation.agreements.confirm(request.agreement_json, peer)
        except MmmfedError as err:
            await self._audit.append(AGREEMENT_REJECTED, peer_id=peer, subject="", reason=err.reason)
            raise
        agreement_id = json.loads(confirmed)["AgreementID"]
        await self._audit.append(AGREEMENT_ACCEPTED, peer_id=peer, subject=agreement_id)
        return gpb.AgreementMessage(agreement_json=confirmed)

    async def RevokeAgreement(
        self, request: gpb.RevokeAgreementRequest, context: ServicerContext
    ) -> gpb.AgreementMessage:
        """RE-5: the peer revoked the agreement; it stops here too, at once (audited)."""
        peer = self._peer(context)
        revoked = await self._negotiation.agreements.revoke(
            peer, reason=request.reason, agreement_id=request.agreement_id
        )
        details = {"by": peer, "reason": request.reason[:500]}
        await self._audit.append(AGREEMENT_REVOKED, peer_id=peer, subject=request.agreement_id, details=details)
        return gpb.AgreementMessage(agreement_json=revoked)

    async def TransferAvatar(
        self, request_iterator: AsyncIterator[gpb.TransferAvatarRequest], context: ServicerContext
    ) -> gpb.TransferAvatarResponse:
        """RE-1, FGMV-43 9.1 steps 2-4: stream through to the instance; PERMISSION_DENIED
        ORIGIN_MISMATCH, FAILED_PRECONDITION NOT_NEGOTIATED, and the instance's refusals.
        """
        peer = self._peer(context)
        subject = ""
        try:
            header, chunks = await split_header(request_iterator)
            subject = header.transfer_id
            result = await self._migration.accept_transfer(header, chunks, peer)
        except MmmfedError as err:
            details: dict[str, object] = {"rpc": "TransferAvatar", "message": err.message[:500]}
            await self._audit.append(REFUSED, peer_id=peer, subject=subject, reason=err.reason, details=details)
            raise
        item_id = domain_doc(result.persona.item_json)["ItemID"]
        details = {"rpc": "TransferAvatar", "transfer_id": subject, "bytes": result.bytes_received}
        await self._audit.append(ACCEPTED, peer_id=peer, subject=item_id, details=details)
        return result

    async def TransferContent(
        self, request_iterator: AsyncIterator[cpb.ContentTransferRequest], context: ServicerContext
    ) -> cpb.ContentTransferResponse:
        """RE-3, FGMV-43 9.3 steps 3-4: verify a peer's content and store it here, all or nothing."""
        peer = self._peer(context)
        header, chunks = await split_header(request_iterator)
        return await self._contents.receive(header, chunks, peer)

    async def ExchangeContentVersions(
        self, request: cpb.ContentVersions, context: ServicerContext
    ) -> cpb.ContentVersions:
        """RE-3, FGMV-43 9.3 steps 5-7 (COSF): a linked peer's versions of a content, verified and
        applied once each; answered with this side's versions it lacks (gateway/content_sync.py)."""
        peer = self._peer(context)
        if self._content_sync is None:
            raise FailedPrecondition("this gateway does not synchronise contents", reason="NO_CONTENT_SYNC")
        return await self._content_sync.exchange(request, peer)

    async def SearchContents(
        self, request: cpb.SearchContentsRequest, context: ServicerContext
    ) -> cpb.SearchContentsResponse:
        """RE-3, COIR-101/105: what this M-Instance shares with the calling peer matching the query,
        signed here; FAILED_PRECONDITION without an agreement covering contents."""
        return await self._content_search.answer(request, self._peer(context))

    async def SyncAvatar(self, request: spb.RoamingChange, context: ServicerContext) -> spb.RoamingChange:
        """RE-1, FGMV-43 9.1 step 7 (AVSF): a roaming change of one of our Users from the peer it
        visits, kept PENDING at home (gateway/avatar_sync.py); FAILED_PRECONDITION NOT_VISITING."""
        peer = self._peer(context)
        try:
            result = await self._avatar_sync.receive(request, peer)
        except MmmfedError as err:
            details: dict[str, object] = {"rpc": "SyncAvatar", "message": err.message[:500]}
            await self._audit.append(
                REFUSED, peer_id=peer, subject=request.change_id[:256], reason=err.reason, details=details
            )
            raise
        details = {"rpc": "SyncAvatar", "user": request.home_user_process_id[:256]}
        await self._audit.append(ACCEPTED, peer_id=peer, subject=result.change_id, details=details)
        return result

    async def RecoverRoamingAvatar(
        self, request: spb.RecoverRoamingAvatarRequest, context: ServicerContext
    ) -> spb.RecoverRoamingAvatarResponse:
        """RE-1, AVIR-103: whether the roaming avatar of a revisiting User is still held here."""
        return await self._avatar_sync.answer_recover(request, self._peer(context))

    async def OfferDefaultAvatar(
        self, request: gpb.OfferDefaultAvatarRequest, context: ServicerContext
    ) -> gpb.OfferDefaultAvatarResponse:
        """RE-1, AVIR-001: the instance's default avatar for a refused visitor."""
        return await self._migration.offer_default(request.home_user_process_id, self._peer(context))

    async def GetKeys(self, request: gpb.GetKeysRequest, context: ServicerContext) -> mpb.KeySet:
        """RE-5 key service: every verification key of this M-Instance, current and past."""
        self._peer(context)
        return key_set(self._keys)

    async def GetAuditEntries(
        self, request: gpb.GetAuditEntriesRequest, context: ServicerContext
    ) -> gpb.GetAuditEntriesResponse:
        """RE-5 LAF (FGMV-43 7.5.3; issue 12 item 7): the calling peer's own entries of this
        gateway's audit log, at most 500 a page whatever it asks, with the head and its signed
        checkpoint (gateway/audit_service.py). Each entry's hash can be recomputed by the peer."""
        peer = self._peer(context)
        return await self._audit_rpc.page(peer, since_seq=request.since_seq, limit=request.limit)

    async def GetAuditCheckpoint(
        self, request: gpb.GetAuditCheckpointRequest, context: ServicerContext
    ) -> gpb.AuditCheckpoint:
        """RE-5 LAF (issue 12 item 7): this gateway's audit chain head, signed, for the peer to keep."""
        self._peer(context)
        return await self._audit_rpc.checkpoint()


_WIRE_REASON = {COMPROMISED: mpb.KEY_REVOCATION_REASON_COMPROMISED, SUPERSEDED: mpb.KEY_REVOCATION_REASON_SUPERSEDED}


def key_set(keys: InstanceKeyStore) -> mpb.KeySet:
    """The published KeySet of an instance key store, with its signed JSON form (signed by the
    current key, or by the newest one when every key is revoked, so revocations still travel).
    Each revoked key carries its revocation reason (issue 12 item 4)."""
    records = keys.records()
    published = [
        mpb.VerificationKey(
            key_id=r.key_id,
            verification_method=keys.method(r),
            public_key_multibase=r.public_key_multibase,
            valid_from_ms=r.valid_from_ms,
            valid_until_ms=r.valid_until_ms,
            revoked_at_ms=r.revoked_at_ms,
            revocation_reason=_WIRE_REASON.get(r.revocation_reason, mpb.KEY_REVOCATION_REASON_UNSPECIFIED),
        )
        for r in records
    ]
    signed = b""
    if records:
        try:
            signer, key = keys.current()
        except MmmfedError:
            signer, key = records[-1], load_signing_key(keys.directory / f"{records[-1].key_id}.pem")
        doc = {
            "Type": KEY_SET_TYPE,
            "MInstanceID": keys.m_instance_id,
            "Keys": [MessageToDict(k, preserving_proto_field_name=True) for k in published],
            "IssuedAtMs": int(time.time() * 1000),
        }
        proof_doc = sign_document(doc, key=key, verification_method=keys.method(signer), created=proof_time())
        signed = json.dumps(proof_doc, separators=(",", ":")).encode()
    return mpb.KeySet(m_instance_id=keys.m_instance_id, keys=published, signed_json=signed)
