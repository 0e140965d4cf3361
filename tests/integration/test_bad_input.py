"""Bad input is answered with a clear gRPC status and ErrorInfo reason, and nothing is stored.

Persona streams go to gateway B's Federation.TransferAvatar (as gateway A, after negotiating
A->B) or straight to instance B's Instance.ImportAvatar (as gateway B); registrations go to
instance A as the operator. AVIR-202 names the refusal reasons; FGMV-43 GPIR-003 asks that
transfers be integrity-protected (size and sha-256 digest bound to the Item).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import grpc
import pytest
from personaflow import (
    CALL_TIMEOUT_S,
    CHUNK_BYTES,
    GOOD_ATTRIBUTES,
    HOME_USER,
    assert_nothing_stored,
    chunks_of,
    import_avatar,
    import_header,
    persona,
    send,
    signed_by_a,
    stored,
    transfer,
    transfer_header,
)
from rpcassert import refused

from mmmfed.api.v1 import bridge_pb2 as bpb
from mmmfed.api.v1 import bridge_pb2_grpc, instance_pb2_grpc
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.cli.inprocess import Federation, peer, start_federation
from mmmfed.cli.loopback import A, B, samples_dir
from mmmfed.items import FORMAT_GLB, Item, sha256_hex
from mmmfed.rpc import error_info
from mmmfed.streams import chunked
from mmmfed.tls import secure_channel

SAMPLES = samples_dir()
BOX = SAMPLES / "gltf" / "BoxTextured" / "BoxTextured.glb"
GODETTE = SAMPLES / "vrm" / "godot-vrm_Godette" / "Godette_vrm_v4.vrm"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"sample assets not found at {SAMPLES}")


class Deliver(Protocol):
    """Sends a Persona and its data chunks to b.example (see the ``deliver`` fixture)."""

    def __call__(
        self, fed: Federation, item: Item, chunks: Iterable[bytes], *, hold: bool = False
    ) -> Awaitable[Any]: ...


# -- helpers ---------------------------------------------------------------------------------
async def via_gateway(fed: Federation, item: Item, chunks: Iterable[bytes], *, hold: bool = False) -> Any:
    """TransferAvatar at gateway B as gateway A sends it: the Persona signed by a.example (an
    Item that is not a whole Item document, for malformed-JSON cases, is sent as it is)."""
    sent = signed_by_a(fed, item) if "Header" in item.doc else item
    messages = [transfer_header(sent), *(gpb.TransferAvatarRequest(chunk=c) for c in chunks)]
    return await transfer(fed, messages, hold=hold)


async def to_instance(fed: Federation, item: Item, chunks: Iterable[bytes], *, hold: bool = False) -> Any:
    messages = [import_header(item), *(ipb.ImportAvatarRequest(chunk=c) for c in chunks)]
    return await import_avatar(fed, messages, hold=hold)


@pytest.fixture(params=[via_gateway, to_instance], ids=["via-gateway-b", "to-instance-b"])
def deliver(request: pytest.FixtureRequest) -> Deliver:
    """Send a Persona and its data chunks to b.example, through its gateway or directly."""
    route: Deliver = request.param
    return route


# -- positive control ------------------------------------------------------------------------
async def test_correct_persona_is_imported_and_stored(
    negotiated: Federation, deliver: Deliver, good_glb: bytes
) -> None:
    """A Persona whose data matches its size, digest and Qualifier is imported and stored
    (control for the refusals below: same path, same data)."""
    fed, item = negotiated, persona(good_glb)
    result = await deliver(fed, item, chunks_of(good_glb))
    assert result.roaming_user_process_id == HOME_USER
    assert result.bytes_received == len(good_glb)
    store = fed.nodes["instance-b"].store
    kept = store.get_item(item.item_id)
    assert {k: v for k, v in kept.doc.items() if k != "proof"} == item.doc  # a gateway adds a.example's proof
    assert b"".join(store.read_blob(sha256_hex(good_glb), chunk_bytes=CHUNK_BYTES)) == good_glb
    world = fed.nodes["instance-b"].process_actions.world  # the visitor is a Process of b.example's World
    assert world.personae[HOME_USER] == [item.item_id] and HOME_USER in world.processes
    assert world.items[world.visitor_item_id(HOME_USER)]["ProcessID"] == HOME_USER


# -- the data does not match the Item (GPIR-003 integrity) ---------------------------------
async def test_truncated_glb_is_refused(negotiated: Federation, deliver: Deliver, good_glb: bytes) -> None:
    """A GLB cut short, even with a matching size and digest, is refused GLB_TRUNCATED (AVIR-202)."""
    fed, before = negotiated, stored(negotiated)
    cut = good_glb[: len(good_glb) // 2]
    await refused(
        deliver(fed, persona(cut), chunks_of(cut)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "GLB_TRUNCATED",
        str(len(good_glb)),
        str(len(cut)),
    )
    await assert_nothing_stored(fed, before)


async def test_digest_mismatch_is_data_loss(negotiated: Federation, deliver: Deliver, good_glb: bytes) -> None:
    """Correct bytes under a wrong ItemData.Digest are refused DATA_LOSS DIGEST_MISMATCH (GPIR-003)."""
    fed, before = negotiated, stored(negotiated)
    wrong = sha256_hex(b"not the avatar")
    await refused(
        deliver(fed, persona(good_glb, digest=wrong), chunks_of(good_glb)),
        grpc.StatusCode.DATA_LOSS,
        "DIGEST_MISMATCH",
        wrong,
        sha256_hex(good_glb),
    )
    await assert_nothing_stored(fed, before)


async def test_short_stream_is_data_loss(negotiated: Federation, deliver: Deliver, good_glb: bytes) -> None:
    """A stream that ends before ItemData.Size bytes is refused DATA_LOSS SIZE_MISMATCH (GPIR-003)."""
    fed, before = negotiated, stored(negotiated)
    sent = good_glb[:-100]
    await refused(
        deliver(fed, persona(good_glb), chunks_of(sent)),
        grpc.StatusCode.DATA_LOSS,
        "SIZE_MISMATCH",
        str(len(sent)),
        str(len(good_glb)),
    )
    await assert_nothing_stored(fed, before)


async def test_stream_longer_than_declared_is_refused(
    negotiated: Federation, deliver: Deliver, good_glb: bytes
) -> None:
    """A byte more than ItemData.Size is refused RESOURCE_EXHAUSTED STREAM_TOO_LARGE as it
    arrives, without waiting for the stream to end."""
    fed, before = negotiated, stored(negotiated)
    err = await refused(
        deliver(fed, persona(good_glb), [*chunks_of(good_glb), bytes(10)], hold=True),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "STREAM_TOO_LARGE",
        str(len(good_glb)),
    )
    info = error_info(err)
    assert info is not None and info.metadata["limit_bytes"] == str(len(good_glb))
    await assert_nothing_stored(fed, before)


async def test_data_of_another_format_is_refused(negotiated: Federation, deliver: Deliver) -> None:
    """VRM data under an Item claiming glTF/2.0-binary is refused QUALIFIER_MISMATCH (AVIR-202)."""
    fed, before = negotiated, stored(negotiated)
    vrm = GODETTE.read_bytes()
    await refused(
        deliver(fed, persona(vrm), chunked(vrm)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "QUALIFIER_MISMATCH",
        "VRM/0.x",
        FORMAT_GLB,
    )
    await assert_nothing_stored(fed, before)


async def test_understated_attributes_are_checked_on_the_data(negotiated: Federation, deliver: Deliver) -> None:
    """A Persona whose Attributes claim JPEG textures but whose data has PNG ones is refused
    CONSTRAINTS_NOT_MET: the instance checks the data, not the claim (AVIR-202)."""
    fed, before = negotiated, stored(negotiated)
    png_box = BOX.read_bytes()
    await refused(
        deliver(fed, persona(png_box), chunks_of(png_box)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONSTRAINTS_NOT_MET",
        "image/png",
    )
    await assert_nothing_stored(fed, before)


# -- the Item itself is refused before its data ----------------------------------------------
async def test_unknown_qualifier_is_qualns(negotiated: Federation, deliver: Deliver, good_glb: bytes) -> None:
    """A Persona in a Format b.example does not accept is refused QUALIFIER_NOT_SUPPORTED with
    PA Status QualNS on the header alone (MMM-TEC QualNS; AVIR-202)."""
    fed, before = negotiated, stored(negotiated)
    err = await refused(
        deliver(fed, persona(good_glb, fmt="FBX/7.4"), [], hold=True),
        grpc.StatusCode.INVALID_ARGUMENT,
        "QUALIFIER_NOT_SUPPORTED",
        "FBX/7.4",
    )
    info = error_info(err)
    assert info is not None
    assert dict(info.metadata) == {"format": "FBX/7.4", "pa_status": "QualNS"}
    await assert_nothing_stored(fed, before)


async def test_declared_constraints_over_the_limit_are_refused(
    negotiated: Federation, deliver: Deliver, good_glb: bytes
) -> None:
    """A Persona declaring more triangles than b.example's budget is refused CONSTRAINTS_NOT_MET
    on the header alone (AVIR-202)."""
    fed, before = negotiated, stored(negotiated)
    attributes = {**GOOD_ATTRIBUTES, "Triangles": "90000"}
    await refused(
        deliver(fed, persona(good_glb, attributes=attributes), [], hold=True),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONSTRAINTS_NOT_MET",
        "90000",
        "1500",
    )
    await assert_nothing_stored(fed, before)


def _item_with_duplicate_header(good: Item) -> bytes:
    return b'{"Header":"MMM-ITM-V2.2",' + good.raw[1:]


@pytest.mark.parametrize(
    ("make_json", "reason", "mentions"),
    [
        pytest.param(_item_with_duplicate_header, "JSON_DUPLICATE_KEY", '"Header" twice', id="duplicate-keys"),
        pytest.param(lambda good: b"<Item/>", "JSON_SYNTAX", "byte 0", id="not-json"),
        pytest.param(
            lambda good: good.raw.replace(b'"Length":', b'"Length":NaN,"X":'), "JSON_NON_FINITE", "NaN", id="nan"
        ),
        pytest.param(lambda good: json.dumps([good.doc]).encode(), "ITEM_MALFORMED", "JSON object", id="not-an-object"),
        pytest.param(
            lambda good: good.raw.replace(b'"Length":', b'"Length":-'),
            "ITEM_MALFORMED",
            "non-negative",
            id="negative-size",
        ),
    ],
)
async def test_malformed_item_json_is_refused(
    negotiated: Federation,
    deliver: Deliver,
    good_glb: bytes,
    make_json: Callable[[Item], bytes],
    reason: str,
    mentions: str,
) -> None:
    """Item JSON that is not a single well-formed object is refused on the header, with the
    strict-intake reason (JSON_*) or ITEM_MALFORMED."""
    fed, before = negotiated, stored(negotiated)
    good = persona(good_glb)
    bad = Item(raw=make_json(good), doc={"ItemID": f"mmm://{A}/items/x"}, wire=good.wire)
    await refused(deliver(fed, bad, [], hold=True), grpc.StatusCode.INVALID_ARGUMENT, reason, mentions)
    await assert_nothing_stored(fed, before)


# -- stream framing ------------------------------------------------------------------------------
async def test_stream_starting_with_a_chunk_is_refused(negotiated: Federation, good_glb: bytes) -> None:
    """A TransferAvatar stream that starts with data instead of the header is refused STREAM_ORDER."""
    fed, before = negotiated, stored(negotiated)
    messages = [gpb.TransferAvatarRequest(chunk=chunks_of(good_glb)[0])]
    await refused(transfer(fed, messages, hold=True), grpc.StatusCode.INVALID_ARGUMENT, "STREAM_ORDER", "header")
    await assert_nothing_stored(fed, before)


async def test_import_starting_with_a_chunk_is_refused(negotiated: Federation, good_glb: bytes) -> None:
    """An ImportAvatar stream that starts with data instead of the header is refused STREAM_ORDER."""
    fed, before = negotiated, stored(negotiated)
    messages = [ipb.ImportAvatarRequest(chunk=chunks_of(good_glb)[0])]
    await refused(import_avatar(fed, messages, hold=True), grpc.StatusCode.INVALID_ARGUMENT, "STREAM_ORDER", "header")
    await assert_nothing_stored(fed, before)


async def test_second_header_mid_stream_is_refused(negotiated: Federation, good_glb: bytes) -> None:
    """A second header after data chunks is refused STREAM_ORDER, and the partial upload is dropped."""
    fed, before = negotiated, stored(negotiated)
    item = persona(good_glb)
    first = chunks_of(good_glb)[0]
    signed = signed_by_a(fed, item)
    messages = [transfer_header(signed), gpb.TransferAvatarRequest(chunk=first), transfer_header(signed)]
    await refused(transfer(fed, messages, hold=True), grpc.StatusCode.INVALID_ARGUMENT, "STREAM_ORDER", "header")
    await assert_nothing_stored(fed, before)


# -- node limits ---------------------------------------------------------------------------------
@pytest.fixture
async def small_limit(tmp_path: Path) -> AsyncIterator[Federation]:
    """A negotiated loopback federation whose nodes take Items of at most 100 000 bytes."""
    fed = await start_federation(tmp_path, max_item_bytes=100_000)
    try:
        assert fed.at_a is not None
        await fed.at_a.negotiate(B)
        yield fed
    finally:
        await fed.stop()


async def test_declared_size_over_node_limit_is_refused_before_data(
    small_limit: Federation, deliver: Deliver, good_glb: bytes
) -> None:
    """An ItemData.Size above the node's max_item_bytes is refused RESOURCE_EXHAUSTED
    STREAM_TOO_LARGE on the header alone: no data is sent, and the answer does not wait for it."""
    fed, before = small_limit, stored(small_limit)
    err = await refused(
        deliver(fed, persona(good_glb, size=200_000), [], hold=True),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "STREAM_TOO_LARGE",
        "200000",
        "100000",
    )
    info = error_info(err)
    assert info is not None and info.metadata["limit_bytes"] == "100000"
    await assert_nothing_stored(fed, before)


# -- registration at a.example -------------------------------------------------------------------
async def test_register_truncated_vrm_is_refused(federation: Federation) -> None:
    """RegisterHuman with a VRM cut in half is refused GLB_TRUNCATED and creates no User Process."""
    fed, before = federation, stored(federation, "instance-a")
    vrm = GODETTE.read_bytes()
    cut = vrm[: len(vrm) // 2]
    header = ipb.RegisterHumanRequest(header=ipb.RegisterHumanHeader(human_name="carol", file_name=GODETTE.name))
    messages = [header, *(ipb.RegisterHumanRequest(chunk=c) for c in chunked(cut))]
    p = fed.plan
    call = send(p.operator_tls, p.instance_a, instance_pb2_grpc.InstanceStub, "RegisterHuman", messages)
    await refused(call, grpc.StatusCode.INVALID_ARGUMENT, "GLB_TRUNCATED", str(len(vrm)), str(len(cut)))
    store = fed.nodes["instance-a"].store
    assert store.find_items(item_type="PRC", owner_id=f"mmm://{A}/processes/user/carol") == []
    await assert_nothing_stored(fed, before, "instance-a")


# -- migration requests at gateway A -------------------------------------------------------------
async def migrate(fed: Federation, user: str, peer_id: str) -> gpb.MigrateAvatarResponse:
    assert fed.at_a is not None
    request = gpb.MigrateAvatarRequest(user_process_id=user, peer_m_instance_id=peer_id)
    return await fed.at_a.gateway.MigrateAvatar(request, timeout=CALL_TIMEOUT_S)


async def test_migrate_before_negotiate_is_refused(federation: Federation) -> None:
    """MigrateAvatar before Negotiate is refused FAILED_PRECONDITION NOT_NEGOTIATED, naming the peer."""
    assert federation.at_a is not None
    user = (await federation.at_a.register_human("alice", GODETTE)).user_process_id
    before = stored(federation)
    await refused(migrate(federation, user, B), grpc.StatusCode.FAILED_PRECONDITION, "NOT_NEGOTIATED", B, "Negotiate")
    await assert_nothing_stored(federation, before)


async def test_migrate_unknown_user_is_not_found(negotiated: Federation) -> None:
    """MigrateAvatar of a User a.example does not have is refused NOT_FOUND USER_NOT_FOUND."""
    before, nobody = stored(negotiated), f"mmm://{A}/processes/user/nobody"
    await refused(migrate(negotiated, nobody, B), grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND", nobody)
    await assert_nothing_stored(negotiated, before)


async def test_negotiate_with_unknown_peer_is_not_found(federation: Federation) -> None:
    """Negotiate with an M-Instance no gateway is configured for is refused NOT_FOUND UNKNOWN_PEER."""
    assert federation.at_a is not None
    request = gpb.NegotiateRequest(peer_m_instance_id="c.example")
    await refused(
        federation.at_a.gateway.Negotiate(request, timeout=CALL_TIMEOUT_S),
        grpc.StatusCode.NOT_FOUND,
        "UNKNOWN_PEER",
        "c.example",
    )


async def test_migrate_to_unknown_peer_is_not_found(negotiated: Federation) -> None:
    """MigrateAvatar to an M-Instance no gateway is configured for is refused NOT_FOUND UNKNOWN_PEER."""
    assert negotiated.at_a is not None
    user = (await negotiated.at_a.register_human("alice", GODETTE)).user_process_id
    await refused(migrate(negotiated, user, "c.example"), grpc.StatusCode.NOT_FOUND, "UNKNOWN_PEER", "c.example")


# -- bridge -----------------------------------------------------------------------------------------
async def test_convert_with_unknown_virtual_bridge_is_not_found(negotiated: Federation, good_glb: bytes) -> None:
    """Convert naming a virtual bridge the bridge never created is refused NOT_FOUND
    UNKNOWN_VIRTUAL_BRIDGE before any data is converted."""
    p, vb_id = negotiated.plan, f"urn:uuid:{uuid.uuid4()}"
    header = bpb.ConvertHeader(
        virtual_bridge_id=vb_id,
        item=itpb.ItemEnvelope(item_json=persona(good_glb).raw),
        target=mpb.Feature(item_type="ITM", qualifier=mpb.Qualifier(sub_type="Persona", format=FORMAT_GLB)),
    )
    release = asyncio.Event()

    async def header_then_wait() -> AsyncIterator[bpb.ConvertRequest]:
        yield bpb.ConvertRequest(header=header)
        await release.wait()  # no data: the refusal must not wait for it

    async def first_answer() -> bpb.ConvertResponse:
        async with secure_channel(p.gateway_a.tls, peer(p.bridge)) as channel:
            stream = bridge_pb2_grpc.BridgeStub(channel).Convert(header_then_wait(), timeout=CALL_TIMEOUT_S)
            try:
                return await stream.read()
            finally:
                release.set()

    await refused(first_answer(), grpc.StatusCode.NOT_FOUND, "UNKNOWN_VIRTUAL_BRIDGE", vb_id)


async def test_early_refusal_reaches_a_client_still_sending(negotiated: Federation) -> None:
    """A refusal on the header arrives with its reason (QUALIFIER_NOT_SUPPORTED, AVIR-202) even
    while the client is still streaming data, through gateway B: the server drains the rest
    of the stream before answering instead of letting grpc.aio report INTERNAL (grpc#36066)."""
    fed, before = negotiated, stored(negotiated)
    data = bytes(2 * 1024 * 1024)
    item = signed_by_a(fed, persona(data, fmt="FBX/7.4"))
    for _ in range(20):
        messages = [transfer_header(item), *(gpb.TransferAvatarRequest(chunk=c) for c in chunked(data, 65536))]
        await refused(transfer(fed, messages), grpc.StatusCode.INVALID_ARGUMENT, "QUALIFIER_NOT_SUPPORTED")
    await assert_nothing_stored(fed, before)
