"""gRPC servicer of the reference M-Instance: decode, call :class:`AvatarService` or
:class:`ProcessActionService`, encode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from instance.assets.transfers import TransferService
from instance.avatar_status import AvatarMigrations
from instance.avatar_sync import AvatarSync, HomeSync
from instance.avatars import AvatarService, receive
from instance.linked_identities import LinkedIdentityService
from instance.process_actions import ProcessActionService
from instance.world.activity import ActivityLog
from instance.world.wire import request_from_proto, response_to_proto
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import instance_pb2_grpc
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.errors import FailedPrecondition, InvalidInput, PermissionDenied
from mmmfed.items import Item
from mmmfed.rpc_types import ServicerContext
from mmmfed.streams import split_header
from mmmfed.trust import TrustDomains


def envelope(item: Item) -> itpb.ItemEnvelope:
    return itpb.ItemEnvelope(item_json=item.raw)


class InstanceServicer(instance_pb2_grpc.InstanceServicer):
    """Implements ``mmmfed.api.v1.Instance`` (RI-1 and registration)."""

    def __init__(
        self,
        avatars: AvatarService,
        migrations: AvatarMigrations,
        manifesto: mpb.Manifesto,
        process_actions: ProcessActionService,
        assets: TransferService,
        *,
        own_gateway: str | None,
        domains: TrustDomains,
        avatar_sync: AvatarSync,
        home_sync: HomeSync | None = None,
        linked: LinkedIdentityService | None = None,
    ) -> None:
        self._linked = linked
        self._avatar_sync = avatar_sync
        self._home_sync = home_sync
        self._assets = assets
        self._avatars = avatars
        self._migrations = migrations
        self._manifesto = manifesto
        self._process_actions = process_actions
        self._own_gateway = own_gateway
        self._domains = domains

    async def Act(self, request: ipb.ActRequest, context: ServicerContext) -> papb.ProcessActionResponse:
        """Inter-Process Protocol (MMM-TEC): decide a Process Action here or resolve it at another
        M-Instance. Refusals are PA Status Errors; INVALID_ARGUMENT PROCESS_ACTION_MALFORMED /
        JSON_* for an undecodable message; PERMISSION_DENIED ORIGIN_NOT_GATEWAY when anyone but this
        instance's gateway sets an origin; the gateway's error when Resolution fails."""
        origin = request.origin_m_instance_id or None
        if origin is not None and not self._is_own_gateway(context):
            raise PermissionDenied(
                "only this M-Instance's gateway passes on requests of other M-Instances", reason="ORIGIN_NOT_GATEWAY"
            )
        decided = await self._process_actions.act(request_from_proto(request.request), origin=origin)
        return response_to_proto(decided, m_instance_id=self._process_actions.m_instance_id)

    async def QueryActivity(
        self, request: ipb.QueryActivityRequest, context: ServicerContext
    ) -> ipb.QueryActivityResponse:
        """Activity Data as ACD Items, oldest first; INVALID_ARGUMENT ACTIVITY_QUERY_MALFORMED for a
        negative window or limit."""
        if request.since_ms < 0 or request.until_ms < 0 or request.limit < 0:
            raise InvalidInput("times and limit must not be negative", reason="ACTIVITY_QUERY_MALFORMED")
        records = self._process_actions.activity.query(
            process_id=request.process_id or None,
            item_id=request.item_id or None,
            since_ms=request.since_ms or None,
            until_ms=request.until_ms or None,
            limit=request.limit or 1000,
        )
        m_instance_id = self._process_actions.m_instance_id
        return ipb.QueryActivityResponse(
            records_json=[
                json.dumps(ActivityLog.to_item(r, m_instance_id), separators=(",", ":"), ensure_ascii=False).encode()
                for r in records
            ]
        )

    async def RegisterHuman(
        self, request_iterator: AsyncIterator[ipb.RegisterHumanRequest], context: ServicerContext
    ) -> ipb.RegisterHumanResponse:
        """Register a human from a streamed avatar file; INVALID_ARGUMENT (GLB_*, BAD_HUMAN_NAME,
        QUALIFIER_NOT_SUPPORTED), ALREADY_EXISTS, RESOURCE_EXHAUSTED.
        """
        header, chunks = await split_header(request_iterator)
        blob = await receive(chunks, self._avatars.stage())
        facts = await self._avatars.inspect_staged(blob)  # off the event loop
        reg = self._avatars.register_human(
            human_name=header.human_name,
            display_name=header.display_name or header.human_name,
            file_name=header.file_name,
            licence=header.licence,
            blob=blob,
            facts=facts,
        )
        return ipb.RegisterHumanResponse(
            user_process_id=str(reg.user.doc["ProcessID"]),
            account_id=reg.account.item_id,
            personal_profile_id=reg.personal_profile.item_id,
            persona=envelope(reg.persona),
        )

    async def ExportAvatar(
        self, request: ipb.ExportAvatarRequest, context: ServicerContext
    ) -> AsyncIterator[itpb.ItemPart]:
        """RI-1, FGMV-43 9.1 step 1: the Persona envelope, then its data; NOT_FOUND USER_NOT_FOUND /
        PERSONA_NOT_FOUND.
        """
        persona, chunks = self._avatars.export(request.user_process_id)
        yield itpb.ItemPart(envelope=envelope(persona))
        for chunk in chunks:
            yield itpb.ItemPart(chunk=chunk)

    async def ImportAvatar(
        self, request_iterator: AsyncIterator[ipb.ImportAvatarRequest], context: ServicerContext
    ) -> ipb.ImportAvatarResponse:
        """RI-1, FGMV-43 9.1 step 4: header checked before data (QualNS, constraints), data checked as
        it arrives (size, digest) and after (GLB, format).
        """
        header, chunks = await split_header(request_iterator)
        persona = self._avatars.check_incoming(header.persona.item_json, header.home_user_process_id)
        binding = persona.data
        assert binding is not None  # check_incoming guarantees it
        writer = self._avatars.stage(expected_size=binding.size, expected_sha256=binding.sha256)
        blob = await receive(chunks, writer)
        facts = await self._avatars.inspect_staged(blob)  # off the event loop
        imported = self._avatars.complete_import(persona, header.home_user_process_id, blob, facts=facts)
        self._avatar_sync.keep_roaming(  # AVIR-103: kept for a revisit
            header.home_user_process_id, header.home_item_id, header.transfer_id, persona, header.avatar_version
        )
        return ipb.ImportAvatarResponse(
            roaming_user_process_id=str(imported.roaming_user.doc["ProcessID"]),
            persona=envelope(imported.persona),
            bytes_received=imported.bytes_received,
        )

    # -- avatars that come home (FGMV-43 9.1 steps 5-7: instance/avatar_sync.py) ----------
    async def ChangeAppearance(
        self, request: spb.ChangeAppearanceRequest, context: ServicerContext
    ) -> spb.ChangeAppearanceResponse:
        """AVIR-303, AVIR-301: at home a new avatar version; for a roaming User a roaming change sent
        home over RI-1 SyncAvatarHome (9.1 steps 5-6); the home's refusal passes through."""
        return await self._avatar_sync.change_and_sync(request, self._home_sync)

    async def ReceiveRoamingChange(self, request: spb.RoamingChange, context: ServicerContext) -> spb.RoamingChange:
        """RI-1, 9.1 step 7, own gateway only (PERMISSION_DENIED ORIGIN_NOT_GATEWAY): keep PENDING;
        FAILED_PRECONDITION NOT_VISITING, RESOURCE_EXHAUSTED TOO_MANY_PENDING_CHANGES."""
        self._from_own_gateway(context)
        return self._avatar_sync.receive(request)  # the Item store is of the event loop thread

    async def DecideRoamingChanges(
        self, request: spb.DecideRoamingChangesRequest, context: ServicerContext
    ) -> spb.AvatarHistory:
        """AVIR-102: keep or discard a visit's pending changes; FAILED_PRECONDITION NO_PENDING_CHANGE."""
        return self._avatar_sync.decide(request)  # the Item store is of the event loop thread

    async def GetAvatarHistory(
        self, request: spb.GetAvatarHistoryRequest, context: ServicerContext
    ) -> spb.AvatarHistory:
        """A home avatar's versions and roaming changes; NOT_FOUND USER_NOT_FOUND, INVALID_ARGUMENT NOT_HOME_USER."""
        return self._avatar_sync.history(request.user_process_id)

    async def RecoverRoamingAvatar(
        self, request: spb.RecoverRoamingAvatarRequest, context: ServicerContext
    ) -> spb.RecoverRoamingAvatarResponse:
        """RI-1, AVIR-103, own gateway only: the roaming avatar still held for a revisit, if any."""
        self._from_own_gateway(context)
        return self._avatar_sync.recover(request)  # the Item store is of the event loop thread

    # -- identities linked from other M-Instances (FGMV-43 9.4 step 4: instance/linked_identities.py)
    def _linked_identities(self) -> LinkedIdentityService:
        if self._linked is None:
            raise FailedPrecondition("this M-Instance links no identities", reason="IDENTITIES_NOT_LINKED_HERE")
        return self._linked

    async def ImportIdentity(
        self, request: ipb.ImportIdentityRequest, context: ServicerContext
    ) -> ipb.ImportIdentityResponse:
        """RI-1, FGMV-43 9.4 step 4, own gateway only (PERMISSION_DENIED ORIGIN_NOT_GATEWAY): the
        admitted identity becomes a User Process here with the Rights of its admission;
        INVALID_ARGUMENT LINKED_IDENTITY_MALFORMED / REGISTRATION_REFUSED, RESOURCE_EXHAUSTED
        LINKED_IDENTITIES_FULL."""
        self._from_own_gateway(context)
        return self._linked_identities().import_identity(request)  # the World is of the event loop thread

    async def RemoveIdentity(
        self, request: ipb.RemoveIdentityRequest, context: ServicerContext
    ) -> ipb.RemoveIdentityResponse:
        """RI-1, IDIR-204, own gateway only: the linked Process, its Rights and its disclosed
        claims are deleted here; NOT_FOUND NOT_LINKED."""
        self._from_own_gateway(context)
        return self._linked_identities().remove(request)

    async def GetDefaultAvatar(
        self, request: ipb.GetDefaultAvatarRequest, context: ServicerContext
    ) -> ipb.GetDefaultAvatarResponse:
        """RI-1, AVIR-001; FAILED_PRECONDITION NO_DEFAULT_AVATAR."""
        return ipb.GetDefaultAvatarResponse(persona=envelope(self._avatars.default_avatar()))

    async def RecordAvatarMigration(
        self, request: ipb.AvatarMigrationRecord, context: ServicerContext
    ) -> ipb.AvatarMigrationRecord:
        """RI-1: the home gateway's report of a migration's outcome (FGMV-43 9.1); this
        instance's gateway only (PERMISSION_DENIED ORIGIN_NOT_GATEWAY); INVALID_ARGUMENT
        RECORD_MALFORMED."""
        self._from_own_gateway(context)
        return await asyncio.to_thread(self._migrations.record, request)

    async def ListUsers(self, request: ipb.ListUsersRequest, context: ServicerContext) -> ipb.ListUsersResponse:
        """The Users of this M-Instance with their current Persona and last migrations."""
        return self._migrations.users()

    async def GetAvatarStatus(self, request: ipb.GetAvatarStatusRequest, context: ServicerContext) -> ipb.AvatarStatus:
        """One User's Personae and avatar migrations; NOT_FOUND USER_NOT_FOUND."""
        return self._migrations.status(request.user_process_id)

    async def GetManifesto(self, request: ipb.GetManifestoRequest, context: ServicerContext) -> mpb.Manifesto:
        """This instance's platform manifesto (FGMV-43 9.5 step 1)."""
        return self._manifesto

    async def ReadItem(self, request: ipb.ReadItemRequest, context: ServicerContext) -> AsyncIterator[itpb.ItemPart]:
        """A stored Item's envelope, then its data; NOT_FOUND ITEM_NOT_FOUND."""
        item, chunks = self._avatars.read_item(request.item_id)
        yield itpb.ItemPart(envelope=envelope(item))
        for chunk in chunks:
            yield itpb.ItemPart(chunk=chunk)

    # -- assets (FGMV-43 9.2) --------------------------------------------------------------
    def _is_own_gateway(self, context: ServicerContext) -> bool:
        """True when the caller is this M-Instance's gateway (its own trust domain, its TLS name)."""
        caller = self._domains.identify(context)
        return caller.own and any(i.name == self._own_gateway and i.role == "gateway" for i in caller.identities)

    def _from_own_gateway(self, context: ServicerContext) -> None:
        if not self._is_own_gateway(context):
            raise PermissionDenied(
                "only this M-Instance's gateway passes on offers and decisions of other M-Instances",
                reason="ORIGIN_NOT_GATEWAY",
            )

    async def RegisterAsset(self, request: apb.RegisterAssetRequest, context: ServicerContext) -> apb.AssetView:
        """Mint an Asset (9.2 step 1); INVALID_ARGUMENT BAD_PROCESS_ID / ASSET_TOO_LARGE / ASSET_MALFORMED /
        MARKET_CLASS_UNKNOWN / ASSET_PRICE_MISSING."""
        return await self._assets.register_asset(request)

    async def FundWallet(self, request: apb.FundWalletRequest, context: ServicerContext) -> apb.WalletView:
        """Issue currency from the treasury to a Process's Wallet; INVALID_ARGUMENT AMOUNT_INVALID."""
        return await asyncio.to_thread(self._assets.ledger.fund, request.holder_process_id, request.amount)

    async def GetWallet(self, request: apb.GetWalletRequest, context: ServicerContext) -> apb.WalletView:
        """A Wallet's balance in this M-Instance's currency (0 for an unknown holder)."""
        return await asyncio.to_thread(self._assets.ledger.wallet, request.holder_process_id)

    async def GetLedger(self, request: apb.GetLedgerRequest, context: ServicerContext) -> apb.Ledger:
        """Every Asset, Wallet and transfer of this M-Instance's ledger."""
        return await asyncio.to_thread(self._assets.ledger.snapshot)

    async def TransferAsset(self, request: apb.TransferAssetRequest, context: ServicerContext) -> apb.AssetTransferView:
        """9.2 step 2 (see :meth:`TransferService.transfer` for the statuses)."""
        return await self._assets.transfer(request)

    async def GetAssetTransfer(
        self, request: apb.GetAssetTransferRequest, context: ServicerContext
    ) -> apb.AssetTransferView:
        """One transfer of the journal; NOT_FOUND TRANSFER_NOT_FOUND."""
        return await asyncio.to_thread(self._assets.ledger.transfer, request.transfer_id)

    async def CancelAssetTransfer(
        self, request: apb.CancelAssetTransferRequest, context: ServicerContext
    ) -> apb.AssetTransferView:
        """9.2 step 7, an operator's ABORT of a transfer not decided yet (see
        :meth:`TransferService.cancel`); PERMISSION_DENIED NOT_OPERATOR for anyone but an operator
        of this trust domain (not even this instance's gateway)."""
        caller = self._domains.identify(context)
        if not (caller.own and any(i.role == "operator" for i in caller.identities)):
            raise PermissionDenied(
                "only an operator of this M-Instance's trust domain cancels its transfers", reason="NOT_OPERATOR"
            )
        return await self._assets.cancel(request.transfer_id, note=request.note[:1024])

    async def AssetHistory(
        self, request: apb.AssetHistoryRequest, context: ServicerContext
    ) -> apb.AssetHistoryResponse:
        """ASIR-103/105: the Asset, its Provenance and transfers; NOT_FOUND ASSET_NOT_FOUND."""
        return await asyncio.to_thread(self._assets.ledger.history, request.asset_id)

    async def StageAsset(self, request: apb.AssetOffer, context: ServicerContext) -> apb.AssetOfferAck:
        """9.2 steps 5-6, from this instance's gateway only (PERMISSION_DENIED ORIGIN_NOT_GATEWAY);
        see :meth:`TransferService.stage`."""
        self._from_own_gateway(context)
        return await self._assets.stage(request)

    async def DecideAssetTransfer(self, request: apb.AssetDecision, context: ServicerContext) -> apb.AssetDecisionAck:
        """9.2 step 7, from this instance's gateway only; see :meth:`TransferService.decide`."""
        self._from_own_gateway(context)
        return await self._assets.decide(request)

    async def GetTransferRecord(
        self, request: apb.GetAssetTransferRequest, context: ServicerContext
    ) -> apb.AssetTransferRecord:
        """Issue 12 item 3: an origin transfer as journalled, for this instance's gateway only
        (PERMISSION_DENIED ORIGIN_NOT_GATEWAY), to sign from; NOT_FOUND TRANSFER_NOT_FOUND."""
        self._from_own_gateway(context)
        return await asyncio.to_thread(self._assets.ledger.record, request.transfer_id)
