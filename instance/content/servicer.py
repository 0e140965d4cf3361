"""gRPC servicer of ``mmmfed.api.v1.Content`` (ITU FGMV-43 9.3, COTF): decode, call
:class:`~instance.content.service.ContentService`, encode. The parts are checked by kind in a
worker thread (decoding an image or a sound is CPU work); the World decides on the event loop's
thread."""

from __future__ import annotations

import asyncio

from instance.content.service import ContentService
from instance.content.store import ContentFilter
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import content_pb2_grpc
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.content.kinds import inspect_parts
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage
from mmmfed.items import Item
from mmmfed.rpc_types import ServicerContext


def view(item: Item, owner: str) -> cpb.ContentView:
    return cpb.ContentView(item=itpb.ItemEnvelope(item_json=item.raw), owner_process_id=owner)


def parts_message(package: ContentPackage) -> list[cpb.ContentPartData]:
    return [cpb.ContentPartData(path=p.path, media_type=p.media_type, data=p.data) for p in package.parts]


class ContentServicer(content_pb2_grpc.ContentServicer):
    """Implements ``mmmfed.api.v1.Content`` over one :class:`ContentService`."""

    def __init__(self, contents: ContentService) -> None:
        self._contents = contents

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
