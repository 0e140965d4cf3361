"""gRPC servicers of ``mmmfed.api.v1.Content`` (ITU FGMV-43 9.3, COTF) and of
``ContentExchange`` (RI-3, for this M-Instance's gateway only): decode, call
:class:`~instance.content.service.ContentService` or :class:`~instance.content.imports.ContentImports`,
encode. The parts are checked by kind in a worker thread (decoding an image or a sound is CPU
work); the World decides on the event loop's thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from instance.content.imports import ContentImports
from instance.content.search import ContentShares, search
from instance.content.service import ContentHistory, ContentService
from instance.content.store import ContentFilter
from instance.content.sync import ContentSyncWorker
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import content_pb2_grpc, gateway_pb2_grpc
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.content.item import parts_of
from mmmfed.content.kinds import inspect_parts
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.content.query import ContentQuery
from mmmfed.content.renditions import Rendition
from mmmfed.content.versions import ContentVersion
from mmmfed.errors import FailedPrecondition, InvalidInput
from mmmfed.items import Item, domain_doc, parse_item
from mmmfed.rpc import call
from mmmfed.rpc_types import ServicerContext
from mmmfed.streams import split_header

GatewayStub = Callable[[], "gateway_pb2_grpc.PlatformGatewayAsyncStub"]


def view(item: Item, owner: str) -> cpb.ContentView:
    return cpb.ContentView(item=itpb.ItemEnvelope(item_json=item.raw), owner_process_id=owner)


def parts_message(package: ContentPackage) -> list[cpb.ContentPartData]:
    return [cpb.ContentPartData(path=p.path, media_type=p.media_type, data=p.data) for p in package.parts]


def version_info(version: ContentVersion, converted: tuple[str, str] = ("", "")) -> cpb.ContentVersionInfo:
    """What a table shows of a version, and its record; ``converted``: (bridge, Format held
    here) for a version held here converted (COCF)."""
    return cpb.ContentVersionInfo(
        converted_by=converted[0],
        held_format=converted[1],
        version_id=version.version_id,
        parent_ids=list(version.parents),
        author_process_id=version.author,
        time_ms=version.time_ms,
        title=version.title,
        format=str(version.qualifier.get("Format", "")),
        bytes=version.size,
        part_count=len(version.parts),
        record_json=version.record_json,
    )


def history_message(history: ContentHistory) -> cpb.ContentHistoryResponse:
    return cpb.ContentHistoryResponse(
        content_id=history.content_id,
        versions=[version_info(v, history.converted.get(v.version_id, ("", ""))) for v in history.versions],
        head_ids=[h.version_id for h in history.heads],
        current_version_id=history.current,
        linked_peers=history.linked,
    )


def version_data(version: ContentVersion, package: ContentPackage) -> cpb.ContentVersionData:
    return cpb.ContentVersionData(
        version_id=version.version_id, record_json=version.record_json, parts=parts_message(package)
    )


def versions_of(message: cpb.ContentVersions | cpb.ApplyVersionsRequest) -> list[tuple[ContentVersion, ContentPackage]]:
    """The versions a message carries, each checked: its id is its record's digest
    (DATA_LOSS VERSION_ID_MISMATCH), its parts those the record lists (DIGEST_MISMATCH...), or,
    for a version converted on the way, those its converted Item lists
    (:class:`~mmmfed.content.renditions.Rendition`)."""
    return [(version, package) for version, package, _ in _versions_with_renditions(message)]


def _versions_with_renditions(
    message: cpb.ContentVersions | cpb.ApplyVersionsRequest,
) -> list[tuple[ContentVersion, ContentPackage, Rendition | None]]:
    from mmmfed.content.versions import check_package

    out: list[tuple[ContentVersion, ContentPackage, Rendition | None]] = []
    for data in message.versions:
        version = ContentVersion.from_record(data.record_json, version_id=data.version_id)
        converted = parse_item(data.converted_item.item_json) if data.converted_item.item_json else None
        listed = parts_of(converted.doc) if converted is not None else version.parts
        by_path = {p.path: p for p in listed}
        package = ContentPackage(
            tuple(
                ContentPart.of(p.path, p.data, by_path[p.path].media_type if p.path in by_path else "")
                for p in data.parts
            )
        )
        if converted is None:
            check_package(version, package)
            out.append((version, package, None))
        else:
            rendition = Rendition.of(version, converted, package, data.bridge_id, data.conversion_report_json)
            out.append((version, package, rendition))
    return out


class ContentServicer(content_pb2_grpc.ContentServicer):
    """Implements ``mmmfed.api.v1.Content`` over one :class:`ContentService`."""

    def __init__(
        self,
        contents: ContentService,
        *,
        gateway: GatewayStub | None = None,
        syncer: ContentSyncWorker | None = None,
    ) -> None:
        self._contents = contents
        self._gateway = gateway
        self._syncer = syncer
        self._shares = ContentShares(contents.store, contents.m_instance_id)

    async def PublishContent(self, request: cpb.PublishContentRequest, context: ServicerContext) -> cpb.ContentView:
        metadata = ContentMetadata.of(
            title=request.title,
            licence=request.licence,
            description=request.description,
            tags=list(request.tags),
            creator=request.creator,
            copyright=request.copyright,
        )
        content = await asyncio.to_thread(inspect_parts, [(p.path, p.data) for p in request.parts])
        item = self._contents.publish(request.owner_process_id, content, metadata)
        return view(item, request.owner_process_id)

    async def ListContents(
        self, request: cpb.ListContentsRequest, context: ServicerContext
    ) -> cpb.ListContentsResponse:
        where = ContentFilter(
            kind=request.kind or None,
            tag=request.tag or None,
            creator=request.creator or None,
            licence=request.licence or None,
            owner=request.owner_process_id or None,
        )
        found = self._contents.search(where)
        return cpb.ListContentsResponse(contents=[view(item, owner) for item, owner in found])

    async def GetContent(self, request: cpb.GetContentRequest, context: ServicerContext) -> cpb.GetContentResponse:
        item, owner = self._contents.get(request.content_id)
        package = await asyncio.to_thread(self._contents.package, request.content_id)
        return cpb.GetContentResponse(content=view(item, owner), parts=parts_message(package))

    async def MigrateContent(
        self, request: cpb.MigrateContentRequest, context: ServicerContext
    ) -> cpb.ContentTransferResponse:
        """FGMV-43 9.3 steps 1-4 through this M-Instance's gateway (RI-3 SendContent), which reads
        the content from here itself: NOT_FOUND CONTENT_NOT_FOUND first, FAILED_PRECONDITION
        NO_GATEWAY, then the gateway's and the peer's answers."""
        self._contents.get(request.content_id)
        if self._gateway is None:
            raise FailedPrecondition("this M-Instance has no gateway to migrate through", reason="NO_GATEWAY")
        stub = self._gateway()
        sent = cpb.MigrateContentRequest(content_id=request.content_id, peer_m_instance_id=request.peer_m_instance_id)
        result: cpb.ContentTransferResponse = await call(lambda: stub.SendContent(sent), attempts=1)
        # COSF: a content the peer holds stays linked to it, as it is or converted by a bridge (a new
        # Item there whose SourceItem is this one, sharing this content's version graph, COCF); its
        # history follows now (and, should this fail, from the queue).
        held_there = domain_doc(result.content.item.item_json) if result.content.item.item_json else {}
        converted = result.route == "via bridge" and result.source_item_id == request.content_id
        if held_there and (held_there["ItemID"] == request.content_id or converted):
            self._contents.link(request.content_id, request.peer_m_instance_id)
            if self._syncer is not None:
                await self._syncer.sync(request.content_id, request.peer_m_instance_id)
        return result

    async def UpdateContent(
        self, request: cpb.UpdateContentRequest, context: ServicerContext
    ) -> cpb.ContentVersionInfo:
        """COIR-104: a new version (service.ContentService.update)."""
        self._contents.get(request.content_id)  # CONTENT_NOT_FOUND before the parts are read
        content = await asyncio.to_thread(inspect_parts, [(p.path, p.data) for p in request.parts])
        return version_info(self._contents.update(request.content_id, request.author_process_id, content))

    async def ContentHistory(
        self, request: cpb.ContentHistoryRequest, context: ServicerContext
    ) -> cpb.ContentHistoryResponse:
        """COIR-104: the versions held here; NOT_FOUND CONTENT_NOT_FOUND."""
        return history_message(self._contents.history(request.content_id))

    async def RevertContent(
        self, request: cpb.RevertContentRequest, context: ServicerContext
    ) -> cpb.ContentVersionInfo:
        """COIR-104: a new version equal to an old one (service.ContentService.revert)."""
        return version_info(self._contents.revert(request.content_id, request.version_id, request.author_process_id))

    async def SyncContent(self, request: cpb.SyncContentRequest, context: ServicerContext) -> cpb.SyncContentResponse:
        """COSF now: each linked peer (or the one named) through the gateway; a peer's failure is
        in its SyncedPeer (the synchronisation stays queued). FAILED_PRECONDITION NOT_LINKED /
        NO_GATEWAY, NOT_FOUND CONTENT_NOT_FOUND."""
        history = self._contents.history(request.content_id)
        peers = [request.peer_m_instance_id] if request.peer_m_instance_id else history.linked
        if not peers or not set(peers) <= set(history.linked):
            raise FailedPrecondition(
                f"content {request.content_id} is not linked with {request.peer_m_instance_id or 'any peer'}"
                " (it is linked once it migrates)",
                reason="NOT_LINKED",
            )
        if self._syncer is None:
            raise FailedPrecondition("this M-Instance has no gateway to synchronise through", reason="NO_GATEWAY")
        answers = [await self._syncer.sync(request.content_id, peer) for peer in peers]
        heads = [h.version_id for h in self._contents.history(request.content_id).heads]
        return cpb.SyncContentResponse(peers=answers, head_ids=heads)

    async def ListConflicts(
        self, request: cpb.ListConflictsRequest, context: ServicerContext
    ) -> cpb.ListConflictsResponse:
        """COSF: the contents held here with two or more heads."""
        conflicts = [
            cpb.ContentConflict(
                content_id=h.content_id,
                title=h.heads[-1].title,
                heads=[version_info(v, h.converted.get(v.version_id, ("", ""))) for v in h.heads],
            )
            for h in self._contents.conflicts()
        ]
        return cpb.ListConflictsResponse(conflicts=conflicts)

    async def ResolveContent(
        self, request: cpb.ResolveContentRequest, context: ServicerContext
    ) -> cpb.ContentVersionInfo:
        """COSF: the owner's merge version (service.ContentService.resolve)."""
        if not request.keep_version_id:
            raise InvalidInput("name the head to keep (--keep VERSION)", reason="VERSION_NOT_FOUND")
        return version_info(
            self._contents.resolve(request.content_id, request.keep_version_id, request.author_process_id)
        )

    async def SearchContents(
        self, request: cpb.SearchContentsRequest, context: ServicerContext
    ) -> cpb.SearchContentsResponse:
        """COIR-101/105: this M-Instance's hits first, then (``peers``) each peer's through the
        gateway (RI-3 SearchPeerContents). INVALID_ARGUMENT CONTENT_QUERY_INVALID; FAILED_PRECONDITION
        NO_GATEWAY for ``peers`` without a gateway."""
        query = ContentQuery.of_message(request.query)
        here = self._contents.m_instance_id
        found = await asyncio.to_thread(search, self._contents.store, query)
        answer = cpb.SearchContentsResponse(
            hits=[cpb.ContentHit(m_instance_id=here, content=view(item, owner)) for item, owner in found]
        )
        if request.peers:
            if self._gateway is None:
                raise FailedPrecondition("this M-Instance has no gateway to search peers through", reason="NO_GATEWAY")
            stub = self._gateway()
            peers: cpb.SearchContentsResponse = await call(lambda: stub.SearchPeerContents(request), attempts=1)
            answer.hits.extend(peers.hits)
            answer.failures.extend(peers.failures)
        return answer

    async def ShareContent(
        self, request: cpb.ShareContentRequest, context: ServicerContext
    ) -> cpb.ShareContentResponse:
        """COIR-105: share a content of this M-Instance with a peer, or stop (``unshare``)."""
        shared = await asyncio.to_thread(
            self._shares.set, request.content_id, request.peer_m_instance_id, shared=not request.unshare
        )
        return cpb.ShareContentResponse(content_id=request.content_id, shared_with=shared)


class ContentExchangeServicer(content_pb2_grpc.ContentExchangeServicer):
    """Implements ``mmmfed.api.v1.ContentExchange`` (RI-3), which the node serves to its own gateway only."""

    def __init__(self, contents: ContentService, imports: ContentImports) -> None:
        self._contents = contents
        self._imports = imports
        self._shares = ContentShares(contents.store, contents.m_instance_id)

    async def ExportContent(
        self, request: cpb.ExportContentRequest, context: ServicerContext
    ) -> cpb.GetContentResponse:
        """The content for the gateway to sign (9.3 step 1); NOT_FOUND CONTENT_NOT_FOUND."""
        item, owner = self._contents.get(request.content_id)
        package = await asyncio.to_thread(self._contents.package, request.content_id)
        return cpb.GetContentResponse(content=view(item, owner), parts=parts_message(package))

    async def ImportContent(
        self, request_iterator: AsyncIterator[cpb.ContentTransferRequest], context: ServicerContext
    ) -> cpb.ContentTransferResponse:
        """A peer's content, verified by the gateway (9.3 step 4); stored all or nothing."""
        header, chunks = await split_header(request_iterator)
        return await self._imports.receive(header, chunks)

    async def ExportVersions(self, request: cpb.ExportVersionsRequest, context: ServicerContext) -> cpb.ContentVersions:
        """COSF: every version id, and those the linked peer lacks with their parts (bounded by
        ``max_bytes``); PERMISSION_DENIED NOT_LINKED."""
        every, out, more = self._contents.export_versions(
            request.content_id,
            request.peer_m_instance_id,
            known=set(request.known_ids),
            max_bytes=int(request.max_bytes) or 8 * 1024 * 1024,
            ids_only=request.ids_only,
        )
        local = self._contents.local_id(request.content_id, request.peer_m_instance_id)
        return cpb.ContentVersions(
            content_id=self._contents.wire_id(local),  # the home's ItemID for a content converted here
            known_ids=[v.version_id for v in every],
            versions=[version_data(v, p) for v, p in out],
            more=more,
        )

    async def ApplyVersions(
        self, request: cpb.ApplyVersionsRequest, context: ServicerContext
    ) -> cpb.ApplyVersionsResponse:
        """COSF: a linked peer's versions, verified again here and applied once each."""
        checked = _versions_with_renditions(request)
        versions = [(v, p) for v, p, _ in checked]
        renditions = {v.version_id: r for v, _, r in checked if r is not None}
        for version, package, rendition in checked:  # each a file of the kind and format it says, as on import
            inspected = await asyncio.to_thread(inspect_parts, [(p.path, p.data) for p in package.parts])
            qualifier = rendition.qualifier if rendition is not None else version.qualifier
            said = (str(qualifier.get("SubType", "")), str(qualifier.get("Format", "")))
            if said != (inspected.kind.value, inspected.format):
                raise InvalidInput(
                    f"version {version.version_id[:12]} says {said[0]} {said[1]}; its parts are"
                    f" {inspected.kind.value} {inspected.format}",
                    reason="CONTENT_QUALIFIER_MISMATCH",
                )
        origin = request.origin_m_instance_id
        results = self._contents.apply_remote(request.content_id, origin, versions, renditions)
        local = self._contents.local_id(request.content_id, origin)
        heads = [h.version_id for h in self._contents.history(local).heads]
        return cpb.ApplyVersionsResponse(applied_ids=[r.version_id for r in results if r.applied], head_ids=heads)

    async def SearchShared(
        self, request: cpb.SearchSharedRequest, context: ServicerContext
    ) -> cpb.SearchContentsResponse:
        """COIR-105: what this M-Instance shares with ``peer_m_instance_id`` matching the query,
        for the gateway to sign and answer that peer (RE-3). INVALID_ARGUMENT CONTENT_QUERY_INVALID."""
        query = ContentQuery.of_message(request.query)
        shared = await asyncio.to_thread(self._shares.shared_to, request.peer_m_instance_id)
        found = await asyncio.to_thread(search, self._contents.store, query, among=shared) if shared else []
        here = self._contents.m_instance_id
        return cpb.SearchContentsResponse(
            hits=[cpb.ContentHit(m_instance_id=here, content=view(item, owner)) for item, owner in found]
        )
