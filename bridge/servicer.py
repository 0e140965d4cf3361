"""gRPC servicer of the bridge node: decode, call :class:`BridgeService`, encode; the Item data
streamed in and out counts in ``mmmfed_transferred_bytes_total{direction}`` (issue 6, item 2)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bridge.service import BridgeService, report_json
from mmmfed.api.v1 import bridge_pb2 as bpb
from mmmfed.api.v1 import bridge_pb2_grpc
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.content.item import is_content, parts_of
from mmmfed.content.transfer import PartsChecker, check_limits, part_bytes
from mmmfed.items import Item
from mmmfed.metrics import RECEIVED, SENT, NodeMetrics
from mmmfed.rpc_types import ServicerContext
from mmmfed.store import BlobWriter
from mmmfed.streams import chunked, split_header


class BridgeServicer(bridge_pb2_grpc.BridgeServicer):
    """Implements ``mmmfed.api.v1.Bridge``."""

    def __init__(
        self,
        service: BridgeService,
        *,
        max_item_bytes: int,
        tmp_dir: Path | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self._metrics = metrics if metrics is not None else NodeMetrics()
        self._service = service
        self._max_bytes = max_item_bytes
        # A private (0700) directory of its own, not a fixed name in /tmp another user could
        # make first (issue 12 item 6); removed by close().
        self._own_tmp = tmp_dir is None
        self._tmp = tmp_dir or Path(tempfile.mkdtemp(prefix="mmmfed-bridge-"))

    def close(self) -> None:
        """Remove the temporary directory this servicer made (idempotent)."""
        if self._own_tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._own_tmp = False

    async def GetManifesto(self, request: bpb.GetBridgeManifestoRequest, context: ServicerContext) -> mpb.Manifesto:
        """Manifesto V of this bridge (FGMV-43 9.5)."""
        return self._service.manifesto()

    async def CreateVirtualBridge(
        self, request: bpb.CreateVirtualBridgeRequest, context: ServicerContext
    ) -> bpb.CreateVirtualBridgeResponse:
        """MBMF: a virtual bridge for the offered features; INVALID_ARGUMENT QUALIFIER_NOT_SUPPORTED
        for a pair it lacks.
        """
        vb_id, offer_v = self._service.create_virtual_bridge(
            request.from_m_instance_id, request.to_m_instance_id, list(request.features)
        )
        return bpb.CreateVirtualBridgeResponse(virtual_bridge_id=vb_id, offer_v=offer_v)

    async def Convert(
        self, request_iterator: AsyncIterator[bpb.ConvertRequest], context: ServicerContext
    ) -> AsyncIterator[bpb.ConvertResponse]:
        """Conversion Service (AVCF, 9.1 step 3; contents, COCF: :meth:`_convert_content`): header,
        data in; converted Item, data, report out.
        INVALID_ARGUMENT (GLTF_VALIDATION_FAILED, NOT_GLB, ...), DATA_LOSS (DIGEST_MISMATCH),
        RESOURCE_EXHAUSTED (STREAM_TOO_LARGE), NOT_FOUND (UNKNOWN_VIRTUAL_BRIDGE).
        """
        header, chunks = await split_header(request_iterator)
        source = self._service.check_request(header.virtual_bridge_id, header.item.item_json, header.target)
        if is_content(source.doc):
            async for response in self._convert_content(source, chunks, header.target):
                yield response
            return
        binding = source.data
        assert binding is not None  # check_request guarantees it
        writer = BlobWriter(
            self._tmp, expected_size=binding.size, expected_sha256=binding.sha256, max_bytes=self._max_bytes
        )
        received = self._metrics.transferred_bytes.labels(direction=RECEIVED)
        with writer:
            async for chunk in chunks:
                received.inc(len(chunk))
                writer.write(chunk)
            staged = writer.finish()
        try:
            data = staged.path.read_bytes()
        finally:
            staged.path.unlink(missing_ok=True)
        converted = await self._service.convert(source, data, header.target)
        yield bpb.ConvertResponse(item=itpb.ItemEnvelope(item_json=converted.item.raw))
        sent = self._metrics.transferred_bytes.labels(direction=SENT)
        for chunk in chunked(converted.data):
            sent.inc(len(chunk))
            yield bpb.ConvertResponse(chunk=chunk)
        yield bpb.ConvertResponse(report_json=report_json(converted.report))

    async def _convert_content(
        self, source: Item, chunks: AsyncIterator[bytes], target: mpb.Feature
    ) -> AsyncIterator[bpb.ConvertResponse]:
        """A content's Convert (FGMV-43 9.3 with 9.5, COCF): its parts' bytes in the order its
        Item lists them, each checked (size, sha-256) as it arrives, at most ``max_item_bytes``
        in all (RESOURCE_EXHAUSTED ``CONTENT_TOO_LARGE``); out: the converted Item, its parts'
        bytes in its order, then the report (JSON)."""
        refs = parts_of(source.doc)
        check_limits(refs, max_bytes=self._max_bytes)
        checker = PartsChecker(refs, keep=True)
        received = self._metrics.transferred_bytes.labels(direction=RECEIVED)
        async for chunk in chunks:
            received.inc(len(chunk))
            checker.feed(chunk)
        checker.finish()
        item, package, report = await self._service.convert_content(source, checker.package(), target)
        yield bpb.ConvertResponse(item=itpb.ItemEnvelope(item_json=item.raw))
        sent = self._metrics.transferred_bytes.labels(direction=SENT)
        for chunk in part_bytes(package):
            sent.inc(len(chunk))
            yield bpb.ConvertResponse(chunk=chunk)
        yield bpb.ConvertResponse(report_json=json.dumps(report, sort_keys=True).encode())
