"""RegisterAsset lets in only a file of its declared Qualifier Format (issue 13 item 4): data that
fails the format's check, a format mmmfed does not know, data with no format and a media type
that is not the format's are refused INVALID_ARGUMENT with their reason, and nothing is stored;
a real USDZ package is let in with its media type. A gateway refuses a platform manifesto naming
a format it does not know and keeps the one registered."""

from __future__ import annotations

import grpc
import pytest
from assetflow import ALICE, GLB, register_asset, register_owner
from rpcassert import refused
from sample_assets import BOX, GODETTE, needs_samples, usdz_package

from gateway.node import GatewayNode
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.cli.inprocess import Federation
from mmmfed.errors import InvalidInput
from mmmfed.formats import MEDIA_USDZ
from mmmfed.items import domain_doc

pytestmark = needs_samples
USDZ = "USDZ/1.0"


async def test_register_asset_refuses_data_that_is_not_a_file_of_its_format(federation: Federation) -> None:
    fed = federation
    assert fed.at_a is not None
    await register_owner(fed, ALICE)
    before = await fed.at_a.instance.GetLedger(apb.GetLedgerRequest())
    box = BOX.read_bytes()
    cases = [
        (box, USDZ, "", "USDZ_MALFORMED", "not a valid USDZ/1.0 file"),
        (usdz_package(), GLB, "", "GLB_MALFORMED", "missing 'glTF' magic"),
        (box[:1000], GLB, "", "GLB_TRUNCATED", "only 1000 arrived"),
        (GODETTE.read_bytes(), "VRM/1.0", "", "ASSET_FORMAT_MISMATCH", "declare its format as VRM/0.x"),
        (box, "FBX/7.4", "", "UNKNOWN_FORMAT", "'FBX/7.4' is not a Qualifier Format"),
        (b"", "FBX/7.4", "", "UNKNOWN_FORMAT", "use one of"),
        (box, "", "", "ASSET_FORMAT_MISSING", "give format"),
        (usdz_package(), USDZ, "model/gltf-binary", "ASSET_MEDIA_TYPE_MISMATCH", MEDIA_USDZ),
    ]
    for data, fmt, media_type, reason, mention in cases:
        request = apb.RegisterAssetRequest(owner_process_id=ALICE, format=fmt, media_type=media_type, data=data)
        await refused(
            fed.at_a.instance.RegisterAsset(request), grpc.StatusCode.INVALID_ARGUMENT, reason, mention, fmt or "format"
        )
    assert await fed.at_a.instance.GetLedger(apb.GetLedgerRequest()) == before

    asset_id = await register_asset(fed, fmt=USDZ, data=usdz_package())
    (asset,) = (await fed.at_a.instance.GetLedger(apb.GetLedgerRequest())).assets
    doc = domain_doc(asset.asset.item_json)
    assert (doc["AssetID"], doc["ItemQualifier"]["Format"], doc["ItemData"]["MediaType"]) == (
        asset_id,
        USDZ,
        MEDIA_USDZ,
    )


async def test_gateway_refuses_a_platform_manifesto_naming_an_unknown_format(federation: Federation) -> None:
    node = federation.nodes["gateway-a"]
    assert isinstance(node, GatewayNode)
    registered = await node.negotiation.platform()
    unknown = mpb.Manifesto()
    unknown.CopyFrom(registered)
    unknown.manifesto_id = "urn:uuid:unknown-format"
    unknown.accepts.add().qualifier.format = "glTF/2.0"
    with pytest.raises(InvalidInput) as caught:
        await node.negotiation.register(unknown)
    assert caught.value.reason == "UNKNOWN_FORMAT"
    assert f"manifesto.accepts[{len(registered.accepts)}].qualifier.format 'glTF/2.0'" in caught.value.message
    assert (await node.negotiation.platform()).manifesto_id == registered.manifesto_id
