"""The demo flow end to end over real gRPC and mutual TLS: FGMV-43 9.5 negotiation, then 9.1
avatar migration with conversion through the bridge, refusal (AVIR-202) with a default avatar
(AVIR-001), and a roaming User keeping its home identifier (IDIR-101, IDIR-103)."""

from __future__ import annotations

import json

from sample_assets import BOX, FOX, GODETTE, SPHERE, VRM1, needs_samples

from bridge.conversion import GltfValidator
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.cli.inprocess import Federation
from mmmfed.cli.loopback import B_MAX_TEXTURE_PX, B_MAX_TRIANGLES
from mmmfed.client import read_item
from mmmfed.glb import inspect_glb, split_glb
from mmmfed.items import domain_doc, sha256_hex

pytestmark = needs_samples


async def test_negotiation_stores_answer_with_all_three_routes(federation: Federation) -> None:
    """Negotiation gives direct, via-bridge and unsupported rows, and both gateways keep the answer."""
    result = await federation.at_a.negotiate("b.example")
    routes = {row.offered.qualifier.format: row.route for row in result.answer.negotiated}
    assert routes == {
        "VRM/0.x": mpb.FEATURE_ROUTE_VIA_BRIDGE,
        "VRM/1.0": mpb.FEATURE_ROUTE_VIA_BRIDGE,
        "glTF/2.0-binary": mpb.FEATURE_ROUTE_DIRECT,
        "USDZ/1.0": mpb.FEATURE_ROUTE_UNSUPPORTED,
    }
    assert result.offer_v.kind == mpb.MANIFESTO_KIND_OFFER_V and result.offer_v.virtual_bridge_id
    assert result.answer.virtual_bridge_id == result.offer_v.virtual_bridge_id
    stored_a = await federation.nodes["gateway-a"].store.get_document("manifesto/answer", "b.example")
    stored_b = await federation.nodes["gateway-b"].store.get_document("manifesto/answered", "a.example")
    assert mpb.Manifesto.FromString(stored_a).manifesto_id == result.answer.manifesto_id
    assert mpb.Manifesto.FromString(stored_b).manifesto_id == result.answer.manifesto_id


async def test_godette_migrates_through_the_bridge(federation: Federation) -> None:
    """Godette (VRM 0.x) reaches b.example as valid glTF within b's budget, bound to a roaming
    User that keeps its home id, with SourceItemID and a Trace naming the bridge."""
    await federation.at_a.negotiate("b.example")
    reg = await federation.at_a.register_human("godette", GODETTE)
    result = await federation.at_a.migrate(reg.user_process_id, "b.example")

    assert result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED, result.refusal_message
    assert result.route == "via bridge"
    assert result.roaming_user_process_id == "mmm://a.example/processes/user/godette"
    persona = domain_doc(result.peer_persona.item_json)
    home = domain_doc(reg.persona.item_json)
    assert persona["SourceItemID"] == home["ItemID"]
    assert persona["Trace"][-1]["ProcessID"].startswith("mmm://bridge.example/")
    assert persona["ItemQualifier"]["Format"] == "glTF/2.0-binary"

    envelope, data = await read_item(federation.at_b.instance, persona["ItemID"])
    assert envelope.item_json == result.peer_persona.item_json
    assert sha256_hex(data) == persona["ItemData"]["Digest"]["Value"]
    facts = inspect_glb(data)
    assert facts.triangles <= B_MAX_TRIANGLES
    assert facts.texture_formats == ("image/jpeg",) and facts.max_texture_px <= B_MAX_TEXTURE_PX
    doc, _ = split_glb(data)
    assert not any(k.startswith("VRM") for k in doc.get("extensions", {}))
    assert (await GltfValidator().validate(data)).errors == 0

    report = json.loads(result.conversion_report_json)
    assert report["validator_errors"] == 0
    assert any("spring bones" in d for d in report["dropped"])
    assert any("humanoid" in d for d in report["dropped"])
    assert any("skin" in k for k in report["kept"])

    home_log = [(e.event, e.peer_id) for e in await federation.nodes["gateway-a"].audit.entries()]
    assert home_log == [("AGREEMENT_ACCEPTED", "b.example"), ("ACCEPTED", "b.example")]  # LAF at home too

    world_b = federation.nodes["instance-b"].process_actions.world  # a roaming User: a Process of b's World
    prcs = [d for d in world_b.items.values() if d.get("ItemType") == "PRC"]
    roaming = [d for d in prcs if d["ProcessID"] == reg.user_process_id]
    assert len(roaming) == 1 and roaming[0]["Roaming"]["HomeMInstanceID"] == "a.example"
    assert reg.user_process_id in world_b.processes


async def test_vrm1_migrates_through_the_bridge(federation: Federation) -> None:
    """A VRM 1.0 avatar is converted to plain glTF with JPEG textures and migrated."""
    await federation.at_a.negotiate("b.example")
    reg = await federation.at_a.register_human("mtoon", VRM1)
    result = await federation.at_a.migrate(reg.user_process_id, "b.example")
    assert result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED, result.refusal_message
    attrs = domain_doc(result.peer_persona.item_json)["ItemQualifier"]["Attributes"]
    assert attrs["TextureFormats"] == "image/jpeg"


async def test_sphere_is_refused_with_the_validator_reason_and_default_avatar(federation: Federation) -> None:
    """sphere.vrm is refused with the validator's reason (AVIR-202); b offers its default
    avatar (AVIR-001); nothing of it is stored at b."""
    await federation.at_a.negotiate("b.example")
    reg = await federation.at_a.register_human("sphere", SPHERE)
    before = len(federation.nodes["instance-b"].store.find_items())
    result = await federation.at_a.migrate(reg.user_process_id, "b.example")
    assert result.outcome == gpb.MIGRATION_OUTCOME_REFUSED
    assert result.refusal_reason == "GLTF_VALIDATION_FAILED"
    assert "1984 errors" in result.refusal_message
    default = domain_doc(result.default_avatar.item_json)
    assert default["MInstanceID"] == "b.example" and default["DescrMetadata"]["FileName"] == BOX.name
    assert len(federation.nodes["instance-b"].store.find_items()) == before
    refusal = (await federation.nodes["gateway-a"].audit.entries())[-1]
    assert (refusal.event, refusal.reason) == ("REFUSED", "GLTF_VALIDATION_FAILED")


async def test_migration_before_negotiation_is_refused(federation: Federation) -> None:
    """Without an answer manifesto there is no migration (FGMV-43 9.5 precedes 9.1)."""
    import pytest

    from mmmfed.errors import RemoteError

    reg = await federation.at_a.register_human("godette", GODETTE)
    with pytest.raises(RemoteError) as err:
        await federation.at_a.migrate(reg.user_process_id, "b.example")
    assert err.value.reason == "NOT_NEGOTIATED"


async def test_registration_keeps_the_manifestos_promises(federation: Federation) -> None:
    """a.example promises glTF Personae of at most 1,000 triangles with JPEG textures up to
    512 px: Fox.glb (PNG 1024 px) is refused CONSTRAINTS_NOT_MET and nothing is stored."""
    import pytest

    from mmmfed.errors import RemoteError

    before = len(federation.nodes["instance-a"].store.find_items())
    with pytest.raises(RemoteError) as err:
        await federation.at_a.register_human("fox", FOX)
    assert err.value.reason == "CONSTRAINTS_NOT_MET" and "1024" in err.value.message
    assert len(federation.nodes["instance-a"].store.find_items()) == before


async def test_home_instance_knows_where_each_avatar_went(federation: Federation) -> None:
    """FGMV-43 9.1 steps 1-4 seen from home: the gateway reports each outcome to its instance
    (RI-1 RecordAvatarMigration), so GetAvatarStatus says the VRM 1.0 avatar lives at b.example
    (the Persona there, the route) and sphere.vrm was refused (AVIR-202 reason, AVIR-001 default
    avatar); ListUsers at b.example names the visitor as registered roaming (IDIR-103)."""
    assert federation.at_a is not None and federation.at_b is not None
    await federation.at_a.negotiate("b.example")
    mtoon = await federation.at_a.register_human("mtoon", VRM1)
    sphere = await federation.at_a.register_human("sphere", SPHERE)
    moved = await federation.at_a.migrate(mtoon.user_process_id, "b.example")
    refused = await federation.at_a.migrate(sphere.user_process_id, "b.example")

    status = await federation.at_a.instance.GetAvatarStatus(
        ipb.GetAvatarStatusRequest(user_process_id=mtoon.user_process_id)
    )
    [went] = status.migrations
    assert (went.outcome, went.peer_m_instance_id, went.route) == ("MIGRATED", "b.example", "via bridge")
    assert went.peer_persona_id == domain_doc(moved.peer_persona.item_json)["ItemID"]
    assert went.home_persona_id == domain_doc(mtoon.persona.item_json)["ItemID"]
    assert status.user.kind == "home" and status.persona_ids == [went.home_persona_id]
    [no] = (
        await federation.at_a.instance.GetAvatarStatus(
            ipb.GetAvatarStatusRequest(user_process_id=sphere.user_process_id)
        )
    ).migrations
    assert (no.outcome, no.refusal_reason) == ("REFUSED", "GLTF_VALIDATION_FAILED")
    assert no.default_avatar_id == domain_doc(refused.default_avatar.item_json)["ItemID"]

    visitors = (await federation.at_b.instance.ListUsers(ipb.ListUsersRequest())).users
    [visitor] = [u for u in visitors if u.process_id == mtoon.user_process_id]
    assert (visitor.kind, visitor.home_m_instance_id) == ("registered roaming", "a.example")
    assert visitor.persona_id == went.peer_persona_id and visitor.persona_format == "glTF/2.0-binary"


async def test_negotiating_back_keeps_each_directions_answer(federation: Federation) -> None:
    """FGMV-43 9.5 is directional: a.example offers what it produces and b.example answers with
    what it accepts, and the other way round. Negotiating b -> a after a -> b keeps a's route to
    b (its VRM avatars go through the bridge), so a migration a -> b still succeeds; and b's
    answer for what a sends is kept apart from what b may send to a."""
    assert federation.at_a is not None and federation.at_b is not None
    await federation.at_a.negotiate("b.example")
    await federation.at_b.negotiate("a.example")
    reg = await federation.at_a.register_human("mtoon", VRM1)
    result = await federation.at_a.migrate(reg.user_process_id, "b.example")
    assert result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED, result.refusal_message
    assert result.route == "via bridge"
    gateway_a = federation.nodes["gateway-a"]
    outgoing = await gateway_a.negotiation.answer_for("b.example")
    incoming = await gateway_a.negotiation.answer_for("b.example", incoming=True)
    assert (outgoing.issuer_id, incoming.issuer_id) == ("b.example", "a.example")
