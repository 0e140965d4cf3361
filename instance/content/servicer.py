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
from instance.content.service import ContentService
from instance.content.store import ContentFilter
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import content_pb2_grpc, gateway_pb2_grpc
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.content.kinds import inspect_parts
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage
from mmmfed.content.query import ContentQuery
from mmmfed.errors import FailedPrecondition
from mmmfed.items import Item
from mmmfed.rpc import call
from mmmfed.rpc_types import ServicerContext
from mmmfed.streams import split_header

GatewayStub = Callable[[], "gateway_pb2_grpc.PlatformGatewayAsyncStub"]


def view(item: Item, owner: str) -> cpb.ContentView:
    return cpb.ContentView(item=itpb.ItemEnvelope(item_json=item.raw), owner_process_id=owner)


def parts_message(package: ContentPackage) -> list[cpb.ContentPartData]:
    return [cpb.ContentPartData(path=p.path, media_type=p.media_type, data=p.data) for p in package.parts]


class ContentServicer(content_pb2_grpc.ContentServicer):
    """Implements ``mmmfed.api.v1.Content`` over one :class:`ContentService`."""

    def __init__(self, contents: ContentService, *, gateway: GatewayStub | None = None) -> None:
        self._contents = contents
        self._gateway = gateway
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
        return result

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
