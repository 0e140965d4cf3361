"""gRPC servicers of identity migration (FGMV-43 9.4; issue 17): IdentityGateway (RI-4, this
M-Instance's operators) and IdentityFederation (RE-4, peers' gateways). The access policy
(gateway/node.py) admits the callers; these name the calling peer and hand over to
:mod:`gateway.identity_migration` (home side) and :mod:`gateway.identity_import` (destination)."""

from __future__ import annotations

from gateway.channels import Channels
from gateway.identity_import import IdentityImport
from gateway.identity_migration import IdentityMigration
from gateway.identity_sync import IdentitySync
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.api.v1 import identity_pb2_grpc
from mmmfed.errors import PermissionDenied
from mmmfed.rpc_types import ServicerContext
from mmmfed.trust import TrustDomains


def calling_peer(domains: TrustDomains, channels: Channels, context: ServicerContext) -> str:
    """The calling peer's M-Instance: the trust domain whose bundle issued its certificate, when
    that is a configured peer and the certificate is its gateway's; PermissionDenied
    ``UNKNOWN_PEER`` otherwise."""
    caller = domains.identify(context)
    for domain in caller.trust_domains:
        peer = channels.peers.get(domain)
        if peer is not None and any(i.role == "gateway" and i.name == peer.tls_name for i in caller.identities):
            return domain
    raise PermissionDenied("the calling gateway is not a configured peer", reason="UNKNOWN_PEER")


class IdentityGatewayServicer(identity_pb2_grpc.IdentityGatewayServicer):
    """RI-4: an operator of this M-Instance migrates or unlinks a user's identity."""

    def __init__(self, migration: IdentityMigration, sync: IdentitySync) -> None:
        self._migration = migration
        self._sync = sync

    async def MigrateIdentity(
        self, request: ipb.MigrateIdentityRequest, context: ServicerContext
    ) -> ipb.MigrateIdentityResponse:
        """RI-4, FGMV-43 9.4 steps 1-2: present the chosen claims to the peer (gateway/identity_migration.py)."""
        return await self._migration.migrate(request)

    async def UnlinkIdentity(
        self, request: ipb.UnlinkIdentityRequest, context: ServicerContext
    ) -> ipb.UnlinkIdentityResponse:
        """RI-4, IDIR-204: unlink at the peer and keep its signed receipt of deletion."""
        return await self._migration.unlink(request)

    async def ResolveDid(self, request: ipb.ResolveDidRequest, context: ServicerContext) -> ipb.ResolveDidResponse:
        """RI-4, IDIR-101/202: a DID document, here for this M-Instance's DIDs, else at the
        DID's home over RE-5."""
        return await self._migration.resolve(request.did)

    async def SyncIdentity(
        self, request: ipb.SyncIdentityRequest, context: ServicerContext
    ) -> ipb.SyncIdentityResponse:
        """RI-4, IDSF (FGMV-43 9.4 steps 5-7): push, settle or offer changes (gateway/identity_sync.py)."""
        return await self._sync.sync(request)


class IdentityFederationServicer(identity_pb2_grpc.IdentityFederationServicer):
    """RE-4: a peer's gateway presents, unlinks, or reads this M-Instance's status list."""

    def __init__(
        self,
        importer: IdentityImport,
        migration: IdentityMigration,
        sync: IdentitySync,
        *,
        domains: TrustDomains,
        channels: Channels,
    ) -> None:
        self._import = importer
        self._migration = migration
        self._sync = sync
        self._domains = domains
        self._channels = channels

    def _peer(self, context: ServicerContext) -> str:
        return calling_peer(self._domains, self._channels, context)

    async def GetNonce(
        self, request: ipb.GetIdentityNonceRequest, context: ServicerContext
    ) -> ipb.GetIdentityNonceResponse:
        """RE-4: ``count`` nonces (default 1, at most 50; INVALID_ARGUMENT ``NONCE_COUNT``), one
        per presentation, bound to the calling peer."""
        return await self._import.nonce(self._peer(context), request.count)

    async def PresentIdentity(
        self, request: ipb.PresentIdentityRequest, context: ServicerContext
    ) -> ipb.PresentIdentityResponse:
        """RE-4, FGMV-43 9.4 steps 3-4: verify and link (gateway/identity_import.py)."""
        return await self._import.present(request, self._peer(context))

    async def UnlinkIdentity(
        self, request: ipb.PeerUnlinkIdentityRequest, context: ServicerContext
    ) -> ipb.PeerUnlinkIdentityResponse:
        """RE-4, IDIR-204: delete the link and its claims, answer a signed receipt of deletion."""
        return await self._import.unlink(request, self._peer(context))

    async def GetStatusList(
        self, request: ipb.GetStatusListRequest, context: ServicerContext
    ) -> ipb.GetStatusListResponse:
        """RE-4: this M-Instance's current status list token (statuslist+jwt)."""
        self._peer(context)
        return ipb.GetStatusListResponse(token=self._migration.status_list_token(request.uri))

    async def ResolveDid(self, request: ipb.ResolveDidRequest, context: ServicerContext) -> ipb.ResolveDidResponse:
        """RE-5, IDIR-101/202: the DID document of this M-Instance or of one of its users (the
        user's current key); NOT_FOUND DID_UNKNOWN otherwise."""
        self._peer(context)
        return self._migration.resolve_local(request.did)

    async def PushIdentityUpdate(
        self, request: ipb.PushIdentityUpdateRequest, context: ServicerContext
    ) -> ipb.PushIdentityUpdateResponse:
        """RE-4, IDSF steps 5-6: take the home's re-issued credential within the consented scope."""
        return await self._sync.push_update(request, self._peer(context))

    async def OfferIdentityChange(
        self, request: ipb.OfferIdentityChangeRequest, context: ServicerContext
    ) -> ipb.OfferIdentityChangeResponse:
        """RE-4, IDSF step 7: keep a change the user made at the calling platform until they settle it."""
        return await self._sync.offer(request, self._peer(context))
