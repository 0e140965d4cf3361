"""Calls to a bridge's Conversion Service as gateway A makes them (a support module for tests,
like :mod:`sample_assets`): a Persona Item of a.example for GLB bytes, a virtual bridge a -> b for
GLB, and the Convert request stream (header, then the data in chunks)."""

from __future__ import annotations

from mmmfed.api.v1 import bridge_pb2 as bpb
from mmmfed.api.v1 import bridge_pb2_grpc
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.cli.loopback import A
from mmmfed.items import FORMAT_GLB, DataBinding, build_item, sha256_hex
from mmmfed.streams import chunked

GLB = mpb.Feature(item_type="ITM", qualifier=mpb.Qualifier(sub_type="Persona", format=FORMAT_GLB))


async def convert_requests(stub: bridge_pb2_grpc.BridgeStub, data: bytes) -> list[bpb.ConvertRequest]:
    """Creates a virtual bridge a.example -> b.example (GLB to GLB) on ``stub``'s bridge and returns
    the Convert requests for ``data`` (a GLB) carried by an unsigned Persona Item of a.example."""
    item = build_item(
        m_instance_id=A,
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": FORMAT_GLB},
        data=DataBinding(len(data), sha256_hex(data), "model/gltf-binary"),
        producer_process_id=f"mmm://{A}/processes/service/avatar-service",
    )
    created = await stub.CreateVirtualBridge(
        bpb.CreateVirtualBridgeRequest(
            from_m_instance_id=A,
            to_m_instance_id="b.example",
            features=[mpb.NegotiatedFeature(offered=GLB, target=GLB)],
        )
    )
    header = bpb.ConvertHeader(
        virtual_bridge_id=created.virtual_bridge_id, item=itpb.ItemEnvelope(item_json=item.raw), target=GLB
    )
    return [bpb.ConvertRequest(header=header), *(bpb.ConvertRequest(chunk=c) for c in chunked(data))]
