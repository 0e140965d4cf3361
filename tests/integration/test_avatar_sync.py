"""Avatars that come home, over real nodes (FGMV-43 9.1 steps 5-7, AVSF; AVIR-102, AVIR-103,
AVIR-104, AVIR-301-304): accessories and outfits are Items attached to the avatar and travel with it;
a change of appearance at b.example reaches a.example as a pending roaming change with b's
activity records, and becomes a new version only when the User keeps it; a revisit recovers the
roaming avatar without conversion or transfer; a sync from a peer the avatar is not visiting is
refused and changes nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import grpc
from cliproc import mmmfed_in_thread as mmmfed
from rpcassert import refused
from sample_assets import VRM1, needs_samples

from gateway.node import GatewayNode
from instance.node import InstanceNode
from instance.world.model import (
    Action,
    DeonticVerb,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    Right,
    RightLevel,
    complements,
)
from instance.world.wire import request_to_proto, response_from_proto
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import A, B
from mmmfed.client import OperatorClient
from mmmfed.items import FORMAT_GLB, domain_doc
from mmmfed.tls import secure_channel

pytestmark = needs_samples

SHOP_B = f"mmm://{B}/processes/user/outfitter"


async def _asset(client: OperatorClient, owner: str, sub_type: str, data: bytes, title: str) -> str:
    request = apb.RegisterAssetRequest(
        owner_process_id=owner, sub_type=sub_type, format=FORMAT_GLB, data=data, title=title
    )
    view = await client.instance.RegisterAsset(request)
    return str(domain_doc(view.asset.item_json)["ItemID"])


async def _roaming_alice(fed: Federation, tmp_path: Path, glb: bytes) -> tuple[str, str, gpb.MigrateAvatarResponse]:
    """alice of a.example with a hat attached, migrated to b.example; returns her ProcessID,
    the hat's ItemID and the migration's answer."""
    assert fed.at_a is not None
    await fed.at_a.negotiate(B)
    path = tmp_path / "alice.glb"
    path.write_bytes(glb)
    reg = await fed.at_a.register_human("alice", path)
    user = reg.user_process_id
    hat = await _asset(fed.at_a, user, "Accessory", glb, "hat")
    await fed.at_a.instance.ChangeAppearance(
        spb.ChangeAppearanceRequest(user_process_id=user, attach=[spb.AttachmentRef(item_id=hat, slot="accessory")])
    )
    moved = await fed.at_a.migrate(user, B)
    assert moved.outcome == gpb.MIGRATION_OUTCOME_MIGRATED, moved.refusal_message
    return user, hat, moved


async def _swap_outfit_at_b(fed: Federation, user: str, glb: bytes) -> tuple[str, spb.ChangeAppearanceResponse]:
    assert fed.at_b is not None
    coat = await _asset(fed.at_b, SHOP_B, "Outfit", glb, "coat")
    changed = await fed.at_b.instance.ChangeAppearance(
        spb.ChangeAppearanceRequest(user_process_id=user, attach=[spb.AttachmentRef(item_id=coat, slot="outfit")])
    )
    return coat, changed


async def _authenticate_at_b(fed: Federation, user: str) -> str:
    """A Process Action of the roaming User at b (Authenticate, to b's registration Process), which
    b's engine decides and records as Activity Data; returns its ProcessActionID. The visitor acts
    at b in person (IDIR-103) but holds no Right to Authenticate there, so it is refused InsRights,
    and the refusal is Activity Data of her visit all the same."""
    assert fed.at_b is not None
    pa_id = f"mmm://{A}/pa/{uuid.uuid4()}"  # an id of the requesting Process's M-Instance
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.AUTHENTICATE,
        user,
        f"mmm://{B}/processes/registration",
        complements(nil=user),
        int(time.time() * 1000),
        process_action_id=pa_id,
    )
    reply = response_from_proto(await fed.at_b.instance.Act(ipb.ActRequest(request=request_to_proto(request))))
    assert reply.status.kind is PAStatusKind.ERROR and reply.status.error is PAErrorCode.INS_RIGHTS, reply.status
    return pa_id


async def _history(client: OperatorClient, user: str) -> spb.AvatarHistory:
    return await client.instance.GetAvatarHistory(spb.GetAvatarHistoryRequest(user_process_id=user))


async def test_attachments_travel_and_a_kept_change_becomes_a_version(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """The hat attached at home travels with the avatar (b's roaming avatar wears it); the coat
    put on at b reaches home PENDING with b's activity records, and only keep makes version 3,
    whose parent is version 2 and which names the visit and the change (AVIR-102)."""
    fed = negotiated
    assert fed.at_a is not None
    user, hat, moved = await _roaming_alice(fed, tmp_path, good_glb)
    acted = await _authenticate_at_b(fed, user)  # what alice does at b: Activity Data of b
    coat, changed = await _swap_outfit_at_b(fed, user, good_glb)

    assert changed.change.state == "PENDING" and changed.change.visited_m_instance_id == B
    assert [a.item_id for a in changed.change.attachments] == [hat, coat]  # the hat came with her
    assert changed.change.base_version == 2
    before = await _history(fed.at_a, user)
    assert [v.version for v in before.versions] == [1, 2]  # not a version yet
    [pending] = before.changes
    assert pending.state == "PENDING" and pending.visit_id == fed_visit(await _status(fed, user))
    # 7.1.3: what alice did at b is seen at home (ACD Items of b, naming her Process)
    activity = [json.loads(r) for r in pending.activity_json]
    assert activity and all(r["ItemType"] == "ACD" and r["MInstanceID"] == B for r in activity)
    mine = [r for r in activity if r["SourceProcessID"] == user]
    assert [(r["ProcessActionID"], r["Action"], r["PAStatus"]["ErrorCode"]) for r in mine] == [
        (acted, "Authenticate", "InsRights")
    ]

    kept = await fed.at_a.instance.DecideRoamingChanges(
        spb.DecideRoamingChangesRequest(user_process_id=user, keep=True)
    )
    head = kept.versions[-1]
    assert (head.version, head.parent_version) == (3, 2)
    assert (head.visited_m_instance_id, head.visit_id, head.change_id) == (B, pending.visit_id, pending.change_id)
    assert [(a.item_id, a.slot) for a in head.attachments] == [(hat, "accessory"), (coat, "outfit")]
    assert head.attachments[1].digest and json.loads(head.attachments[1].qualifier_json)["SubType"] == "Outfit"
    assert kept.changes[-1].state == "KEPT" and kept.changes[-1].kept_as_version == 3
    assert moved.route == "direct"


async def test_a_discarded_change_never_becomes_a_version(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """Discard (AVIR-102) leaves the home avatar as it was; a second decision finds nothing pending."""
    fed = negotiated
    assert fed.at_a is not None
    user, hat, _ = await _roaming_alice(fed, tmp_path, good_glb)
    await _swap_outfit_at_b(fed, user, good_glb)
    before = (await _history(fed.at_a, user)).versions
    decided = await fed.at_a.instance.DecideRoamingChanges(
        spb.DecideRoamingChangesRequest(user_process_id=user, keep=False)
    )
    assert list(decided.versions) == list(before)
    assert [a.item_id for a in decided.versions[-1].attachments] == [hat]
    assert [c.state for c in decided.changes] == ["DISCARDED"]
    await refused(
        fed.at_a.instance.DecideRoamingChanges(spb.DecideRoamingChangesRequest(user_process_id=user, keep=True)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_PENDING_CHANGE",
    )


async def test_a_sync_from_a_peer_the_avatar_is_not_visiting_is_refused(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """b.example sends a change for a User of a.example whose avatar never went there: refused
    NOT_VISITING at home, nothing recorded; a change naming another visit is refused too."""
    fed = negotiated
    assert fed.at_a is not None
    path = tmp_path / "bob.glb"
    path.write_bytes(good_glb)
    bob = (await fed.at_a.register_human("bob", path)).user_process_id
    change = spb.RoamingChange(
        change_id=f"urn:uuid:{uuid.uuid4()}",
        home_user_process_id=bob,
        visited_m_instance_id=B,
        visit_id=f"urn:uuid:{uuid.uuid4()}",
        base_version=1,
    )
    p = fed.plan
    async with secure_channel(p.gateway_b.tls, peer(p.gateway_a)) as channel:  # as gateway B, over RE-1
        stub = gateway_pb2_grpc.FederationStub(channel)
        await refused(stub.SyncAvatar(change), grpc.StatusCode.FAILED_PRECONDITION, "NOT_VISITING")
        assert list((await _history(fed.at_a, bob)).changes) == []
        # a User of b.example is not a.example's to receive
        change.home_user_process_id = SHOP_B
        await refused(stub.SyncAvatar(change), grpc.StatusCode.PERMISSION_DENIED, "NOT_HOME_USER")
    refusal = (await fed.nodes["gateway-a"].audit.entries())[-1]
    assert (refusal.event, refusal.peer_id, refusal.reason) == ("REFUSED", B, "NOT_HOME_USER")


async def test_a_revisit_recovers_the_roaming_avatar_without_conversion(negotiated: Federation) -> None:
    """AVIR-103: the second migration of the same VRM avatar to b.example is answered by b with
    the roaming avatar it kept: no bridge conversion, no byte transferred, the same Persona."""
    fed = negotiated
    assert fed.at_a is not None
    reg = await fed.at_a.register_human("mtoon", VRM1)
    first = await fed.at_a.migrate(reg.user_process_id, B)
    assert first.outcome == gpb.MIGRATION_OUTCOME_MIGRATED and first.route == "via bridge"
    converted = _sample(fed, "bridge", "mmmfed_conversion_duration_seconds_count", outcome="converted")
    sent = _sample(fed, "gateway-a", "mmmfed_transferred_bytes_total", direction="sent")
    assert converted == 1 and sent > 0

    again = await fed.at_a.migrate(reg.user_process_id, B)
    assert again.outcome == gpb.MIGRATION_OUTCOME_MIGRATED
    assert again.route == "recovered" and again.bytes_sent == 0
    assert again.peer_persona.item_json == first.peer_persona.item_json
    assert _sample(fed, "bridge", "mmmfed_conversion_duration_seconds_count", outcome="converted") == converted
    assert _sample(fed, "gateway-a", "mmmfed_transferred_bytes_total", direction="sent") == sent  # no byte
    # the recovery began a new visit: changes now belong to it
    status = await _status(fed, reg.user_process_id)
    assert [m.route for m in status.migrations] == ["via bridge", "recovered"]


def _sample(fed: Federation, node: str, name: str, **labels: str) -> float:
    """A metric of ``node``'s own registry (0 when never counted)."""
    return float(fed.nodes[node].metrics.registry.get_sample_value(name, labels) or 0.0)


async def _status(fed: Federation, user: str) -> ipb.AvatarStatus:
    assert fed.at_a is not None
    return await fed.at_a.instance.GetAvatarStatus(ipb.GetAvatarStatusRequest(user_process_id=user))


def fed_visit(status: ipb.AvatarStatus) -> str:
    """The transfer id of the avatar's last migration: the visit it is on."""
    return str([m for m in status.migrations if m.outcome == "MIGRATED"][-1].transfer_id)


async def _operator_args(fed: Federation, tmp_path: Path, at: str) -> list[str]:
    """--config (the M-Instance's, written to a file) and its operator's TLS material."""
    cfg = fed.plan.instance_a if at == "a" else fed.plan.instance_b
    config = tmp_path / f"instance-{at}.json"
    config.write_text(cfg.model_dump_json())
    tls = fed.plan.operator_for(cfg)
    return ["--config", str(config), "--cert", str(tls.cert), "--key", str(tls.key)]


async def test_cli_wear_at_b_then_history_and_sync_keep_at_home(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """`mmmfed avatar wear` at b sends the change home; `avatar history` at home shows it
    pending (table within 80 columns, and --json); `avatar sync --keep` makes version 3; a second
    `sync` exits 2 NO_PENDING_CHANGE."""
    fed = negotiated
    assert fed.at_b is not None
    user, hat, _ = await _roaming_alice(fed, tmp_path, good_glb)
    coat = await _asset(fed.at_b, SHOP_B, "Outfit", good_glb, "coat")
    at_a, at_b = await _operator_args(fed, tmp_path, "a"), await _operator_args(fed, tmp_path, "b")

    worn = await mmmfed("avatar", "wear", user, *at_b, "--outfit", coat, "--remove", hat, "--json")
    assert worn.returncode == 0, worn.stdout + worn.stderr
    sent = json.loads(worn.stdout)["change"]
    assert sent["state"] == "PENDING" and [a["item_id"] for a in sent["attachments"]] == [coat]

    table = await mmmfed("avatar", "history", user, *at_a, columns=80)
    assert table.returncode == 0, table.stderr
    assert all(len(line) <= 80 for line in table.stdout.splitlines()) and "PENDING" in table.stdout
    history = json.loads((await mmmfed("avatar", "history", user, *at_a, "--json")).stdout)
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["changes"][0]["activity"] and history["changes"][0]["visited_m_instance_id"] == B

    kept = await mmmfed("avatar", "sync", user, *at_a, "--keep", "--json")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    head = json.loads(kept.stdout)["versions"][-1]
    assert (head["version"], head["parent_version"], head["visited_m_instance_id"]) == (3, 2, B)
    assert [a["item_id"] for a in head["attachments"]] == [coat]
    again = await mmmfed("avatar", "sync", user, *at_a, "--discard")
    assert again.returncode == 2 and "NO_PENDING_CHANGE" in again.stderr


def _change(user: str, visit_id: str, **fields: object) -> spb.RoamingChange:
    return spb.RoamingChange(
        change_id=f"urn:uuid:{uuid.uuid4()}", home_user_process_id=user, visit_id=visit_id, base_version=2, **fields
    )


async def test_every_peer_controlled_part_of_a_sync_is_bounded(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """From the peer the avatar visits, in its visit: over 256 KiB, 17 attachments or an activity
    record that is not an ACD Item are refused and nothing is recorded; the 17th pending change is
    refused TOO_MANY_PENDING_CHANGES until the User decides; the peer's word for where it is
    (visited_m_instance_id) is replaced by the authenticated peer."""
    fed = negotiated
    assert fed.at_a is not None
    user, hat, _ = await _roaming_alice(fed, tmp_path, good_glb)
    visit = fed_visit(await _status(fed, user))
    one = spb.AvatarAttachment(item_id=hat, slot="accessory")
    p = fed.plan
    async with secure_channel(p.gateway_b.tls, peer(p.gateway_a)) as channel:
        stub = gateway_pb2_grpc.FederationStub(channel)
        huge = _change(user, visit, activity_json=[b"x" * 8000] * 40)
        await refused(stub.SyncAvatar(huge), grpc.StatusCode.RESOURCE_EXHAUSTED, "ROAMING_CHANGE_TOO_LARGE")
        crowded = _change(user, visit, attachments=[one] * 17)
        await refused(stub.SyncAvatar(crowded), grpc.StatusCode.RESOURCE_EXHAUSTED, "ROAMING_CHANGE_TOO_LARGE")
        forged = _change(user, visit, activity_json=[b'{"ItemType":"PRC"}'])
        await refused(stub.SyncAvatar(forged), grpc.StatusCode.INVALID_ARGUMENT, "ROAMING_CHANGE_MALFORMED")
        assert list((await _history(fed.at_a, user)).changes) == []

        for _ in range(16):
            accepted = await stub.SyncAvatar(_change(user, visit, attachments=[one], visited_m_instance_id="c.example"))
            assert (accepted.state, accepted.visited_m_instance_id) == ("PENDING", B)
        await refused(
            stub.SyncAvatar(_change(user, visit, attachments=[one])),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "TOO_MANY_PENDING_CHANGES",
        )
        await fed.at_a.instance.DecideRoamingChanges(spb.DecideRoamingChangesRequest(user_process_id=user, keep=False))
        assert (await stub.SyncAvatar(_change(user, visit, attachments=[one]))).state == "PENDING"
    assert len((await _history(fed.at_a, user)).versions) == 2  # none of it became a version


async def test_after_a_revisit_only_the_new_visit_syncs_and_a_kept_version_travels_again(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """The recovery begins a new visit: a change of the old visit is refused NOT_VISITING, one of
    the new visit is accepted. Once kept (version 3), the next migration to b recovers the same
    Persona again, and b's roaming avatar then wears version 3."""
    fed = negotiated
    assert fed.at_a is not None
    assert fed.at_b is not None
    user, hat, _ = await _roaming_alice(fed, tmp_path, good_glb)
    old_visit = fed_visit(await _status(fed, user))
    again = await fed.at_a.migrate(user, B)
    assert again.route == "recovered"
    new_visit = fed_visit(await _status(fed, user))
    assert new_visit != old_visit
    p = fed.plan
    async with secure_channel(p.gateway_b.tls, peer(p.gateway_a)) as channel:
        stub = gateway_pb2_grpc.FederationStub(channel)
        await refused(stub.SyncAvatar(_change(user, old_visit)), grpc.StatusCode.FAILED_PRECONDITION, "NOT_VISITING")
    coat, changed = await _swap_outfit_at_b(fed, user, good_glb)  # b's own path, in the new visit
    assert changed.change.visit_id == new_visit
    await fed.at_a.instance.DecideRoamingChanges(spb.DecideRoamingChangesRequest(user_process_id=user, keep=True))

    third = await fed.at_a.migrate(user, B)  # the same Persona: recovered again, wearing version 3
    assert (third.route, third.bytes_sent) == ("recovered", 0)
    worn = await fed.at_b.instance.ChangeAppearance(
        spb.ChangeAppearanceRequest(user_process_id=user, detach_item_ids=["nothing"])
    )
    assert worn.change.base_version == 3 and [a.item_id for a in worn.change.attachments] == [hat, coat]


async def test_changes_made_while_home_is_down_wait_in_a_durable_queue_and_reach_home_in_order(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """a's gateway is down when alice, visiting b, puts on a coat and then takes off her hat:
    each change is QUEUED at b (worn there at once, kept in b's database), b's M-Instance
    restarts, and once a's gateway serves again both reach home PENDING, in the order made and
    each once; b's queue is then empty."""
    fed = negotiated
    assert fed.at_b is not None
    user, hat, _ = await _roaming_alice(fed, tmp_path, good_glb)
    await fed.nodes["gateway-a"].stop()
    coat, first = await _swap_outfit_at_b(fed, user, good_glb)
    assert first.change.state == "QUEUED" and [a.item_id for a in first.change.attachments] == [hat, coat]
    second = await fed.at_b.instance.ChangeAppearance(
        spb.ChangeAppearanceRequest(user_process_id=user, detach_item_ids=[hat])
    )
    assert second.change.state == "QUEUED" and [a.item_id for a in second.change.attachments] == [coat]
    await fed.nodes["instance-b"].stop()
    restarted = InstanceNode(fed.plan.instance_b)
    fed.nodes["instance-b"] = restarted
    assert restarted.avatar_home is not None
    queued = [c.change_id for c in restarted.avatar_home.queued()]
    assert queued == [first.change.change_id, second.change.change_id]
    restarted.avatar_home.cap_s = 0.3
    await restarted.start()
    gateway_a = GatewayNode(fed.plan.gateway_a)
    fed.nodes["gateway-a"] = gateway_a
    await gateway_a.start()
    deadline = time.monotonic() + 30
    while restarted.avatar_home.queued():
        assert time.monotonic() < deadline, "the queued changes did not reach home"
        await asyncio.sleep(0.1)
    assert fed.at_a is not None
    history = await _history(fed.at_a, user)
    assert [(c.change_id, c.state) for c in history.changes] == [(q, "PENDING") for q in queued]
    assert [a.item_id for a in history.changes[-1].attachments] == [coat]
    assert [v.version for v in history.versions] == [1, 2]  # a version only when alice keeps it


async def test_a_wear_at_home_is_a_modify_of_the_persona_the_world_decides(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """AVIR-303 at home: wearing the hat is the World's Modify of alice's Persona, asked by alice
    (Ack, Activity Data naming the Persona); once a May Not Right forbids her to Modify it, the
    next wear is refused InsRights, recorded as Activity Data too, and makes no version."""
    fed = negotiated
    assert fed.at_a is not None
    path = tmp_path / "alice.glb"
    path.write_bytes(good_glb)
    user = (await fed.at_a.register_human("alice", path)).user_process_id
    hat = await _asset(fed.at_a, user, "Accessory", good_glb, "hat")
    node = fed.nodes["instance-a"]
    persona = node.avatars.persona_of(user).item_id
    worn = await fed.at_a.instance.ChangeAppearance(
        spb.ChangeAppearanceRequest(user_process_id=user, attach=[spb.AttachmentRef(item_id=hat, slot="accessory")])
    )
    assert worn.version.version == 2
    [modify] = [r for r in node.process_actions.activity.query(item_id=persona) if r.action == "Modify"]
    assert (modify.source_id, modify.status, modify.error) == (user, "Ack", None)
    world = node.process_actions.world
    right_id = f"{persona}#{user}#no-modify"
    world.rights[right_id] = Right(
        right_id, user, DeonticVerb.MAY_NOT, Action.MODIFY, persona, RightLevel.GRANTED, user, 0
    )
    await refused(
        fed.at_a.instance.ChangeAppearance(spb.ChangeAppearanceRequest(user_process_id=user, detach_item_ids=[hat])),
        grpc.StatusCode.PERMISSION_DENIED,
        "InsRights",
        persona,
    )
    refusals = [r for r in node.process_actions.activity.query(process_id=user) if r.error == "InsRights"]
    assert [r.action for r in refusals] == ["Modify"]
    assert [v.version for v in (await _history(fed.at_a, user)).versions] == [1, 2]
