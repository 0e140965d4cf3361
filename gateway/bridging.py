"""Routes and Conversion Services on the way to a peer (FGMV-43 9.1 step 3, 9.2): which answer row
an Item travels by, and streaming it through a bridge's Conversion Service (AVCF, and for
Assets whose Qualifier the peer does not accept)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import grpc

from gateway.bridge_trust import check_converted
from mmmfed.api.v1 import bridge_pb2 as bpb
from mmmfed.api.v1 import bridge_pb2_grpc
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.items import Item
from mmmfed.manifesto import violations
from mmmfed.rpc import decode_rpc_error
from mmmfed.streams import RequestPump


def _facts(item: Item) -> dict[str, int | list[str]]:
    attrs = item.qualifier.get("Attributes") or {}
    data = item.data
    facts: dict[str, int | list[str]] = {"bytes": data.size if data else 0}
    for key, attr in (("triangles", "Triangles"), ("max_texture_px", "MaxTexturePx")):
        if str(attrs.get(attr, "")).isdigit():
            facts[key] = int(attrs[attr])
    if "TextureFormats" in attrs:
        facts["texture_formats"] = [f for f in str(attrs["TextureFormats"]).split(",") if f]
    return facts


def choose_route(
    item: Item, answer: mpb.Manifesto, *, item_type: str = "ITM", sub_type: str = "Persona"
) -> mpb.NegotiatedFeature:
    """The answer row ``item`` (of ``item_type`` / ``sub_type``) travels by: DIRECT when its actual
    Qualifier attributes fit the peer's constraints, else VIA_BRIDGE when negotiated. Raises
    InvalidInput with reason ``QUALIFIER_NOT_SUPPORTED`` or ``CONSTRAINTS_NOT_MET`` (AVIR-202)
    otherwise."""
    rows = [
        r
        for r in answer.negotiated
        if r.offered.qualifier.format == item.format
        and r.offered.qualifier.sub_type == sub_type
        and (r.offered.item_type or "ITM") == item_type
    ]
    problems: list[str] = []
    for row in rows:
        if row.route == mpb.FEATURE_ROUTE_DIRECT:
            problems = violations(_facts(item), row.target.constraints)
            if not problems:
                return row
    for row in rows:
        if row.route == mpb.FEATURE_ROUTE_VIA_BRIDGE:
            return row
    if problems:
        raise InvalidInput(
            f"{answer.issuer_id} limits are exceeded: {'; '.join(problems)}", reason="CONSTRAINTS_NOT_MET"
        )
    raise InvalidInput(
        f"{answer.issuer_id} accepts no {sub_type} in {item.format or 'no Format'}, directly or through a bridge",
        reason="QUALIFIER_NOT_SUPPORTED",
    )


async def convert_via_bridge(
    stub: bridge_pb2_grpc.BridgeAsyncStub,
    home: Item,
    row: mpb.NegotiatedFeature,
    vb_id: str,
    chunks: AsyncIterator[bytes],
    report: dict[str, bytes],
    *,
    bridge_keys: Mapping[str, bytes],
) -> tuple[itpb.ItemEnvelope, AsyncIterator[bytes]]:
    """Stream ``home`` and its data into the bridge's Conversion Service for ``row.target``;
    returns the converted Item (signed by the bridge, embedding ``home``) and an iterator over its
    data (the conversion report lands in ``report['report']`` at the end). The bridge's refusals
    come back as RemoteError with its code and reason; MmmfedError ``BRIDGE_PROTOCOL`` when it
    does not answer with an Item first; BridgeIdentityRefused ``BRIDGE_IDENTITY_MISMATCH`` when
    the Item is not signed by a key of ``bridge_keys`` (the verified offer manifesto V's, issue 12
    item 5), before any of its data is read."""
    header = bpb.ConvertHeader(virtual_bridge_id=vb_id, item=itpb.ItemEnvelope(item_json=home.raw), target=row.target)

    async def requests() -> AsyncIterator[bpb.ConvertRequest]:
        yield bpb.ConvertRequest(header=header)
        async for chunk in chunks:
            yield bpb.ConvertRequest(chunk=chunk)

    pump = RequestPump(requests())
    stream = stub.Convert(pump.requests())
    pump.call = stream

    async def read() -> bpb.ConvertResponse | object:
        try:
            return await stream.read()
        except grpc.aio.AioRpcError as err:
            raise decode_rpc_error(err) from err
        except asyncio.CancelledError:
            if pump.error is not None:
                raise pump.error from None
            raise

    first = await read()
    if not isinstance(first, bpb.ConvertResponse) or first.WhichOneof("part") != "item":  # or EOF
        raise MmmfedError("bridge did not answer with the converted Item", reason="BRIDGE_PROTOCOL")
    try:
        check_converted(first.item.item_json, bridge_keys, row.bridge_id)
    except MmmfedError:
        stream.cancel()
        raise

    async def converted() -> AsyncIterator[bytes]:
        while True:
            message = await read()
            if not isinstance(message, bpb.ConvertResponse):  # grpc.aio.EOF
                return
            kind = message.WhichOneof("part")
            if kind == "chunk":
                yield message.chunk
            elif kind == "report_json":
                report["report"] = message.report_json

    return first.item, converted()
