"""Persona transfer helpers shared by the integration tests: build a Persona Item of a.example,
stream it to b.example's gateway (Federation.TransferAvatar, as gateway A) or instance
(Instance.ImportAvatar, as gateway B) over real mTLS, and compare what an instance stores before
and after (GPIR-003: transfers are integrity-protected, size and sha-256 digest bound to the Item)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from gateway.envelope import make_envelope
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc, instance_pb2_grpc
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import A
from mmmfed.config import TlsConfig
from mmmfed.items import FORMAT_GLB, DataBinding, Item, build_item, sha256_hex, sign_item
from mmmfed.streams import chunked
from mmmfed.tls import secure_channel

HOME_USER = f"mmm://{A}/processes/user/alice"
A_AVATAR_SERVICE = f"mmm://{A}/processes/service/avatar-service"
# What BoxTextured.glb becomes for b.example (1500 triangles, JPEG, 512 px): see good_glb.
GOOD_ATTRIBUTES = {"Triangles": "12", "TextureFormats": "image/jpeg", "MaxTexturePx": "211"}
CHUNK_BYTES = 4096  # several chunks per file, so refusals can happen mid-stream
CALL_TIMEOUT_S = 15.0


def persona(
    data: bytes,
    *,
    size: int | None = None,
    digest: str | None = None,
    fmt: str = FORMAT_GLB,
    attributes: dict[str, str] | None = None,
) -> Item:
    """A Persona Item of a.example binding ``data`` (or the given size and digest)."""
    return build_item(
        m_instance_id=A,
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": fmt, "Attributes": attributes or GOOD_ATTRIBUTES},
        data=DataBinding(len(data) if size is None else size, digest or sha256_hex(data), "model/gltf-binary"),
        producer_process_id=A_AVATAR_SERVICE,
    )


def chunks_of(data: bytes) -> list[bytes]:
    """``data`` in CHUNK_BYTES slices, so a refusal can come mid-stream."""
    return list(chunked(data, CHUNK_BYTES))


async def send(
    tls: TlsConfig,
    cfg: Any,
    stub: Callable[[grpc.aio.Channel], Any],
    method: str,
    messages: Iterable[Any],
    *,
    hold: bool = False,
) -> Any:
    """Call the client-streaming ``method`` of ``cfg``'s node presenting ``tls``.

    ``hold``: after the last message keep the stream open (no half-close) until the answer
    comes, so a refusal cannot be waiting for more data. It also keeps the client from writing
    while a server refuses early, which grpc.aio may misreport as INTERNAL (grpc/grpc#36066).
    """
    release = asyncio.Event()

    async def stream() -> AsyncIterator[Any]:
        for message in messages:
            yield message
        if hold:
            await release.wait()

    async with secure_channel(tls, peer(cfg)) as channel:
        try:
            return await getattr(stub(channel), method)(stream(), timeout=CALL_TIMEOUT_S)
        finally:
            release.set()


def transfer_header(item: Item, home_user: str = HOME_USER) -> gpb.TransferAvatarRequest:
    """The first message of a TransferAvatar stream for ``item`` (a fresh transfer id, no envelope yet)."""
    return gpb.TransferAvatarRequest(
        header=gpb.TransferAvatarHeader(
            transfer_id=f"urn:uuid:{uuid.uuid4()}",
            home_user_process_id=home_user,
            persona=itpb.ItemEnvelope(item_json=item.raw),
            home_item_id=item.item_id,
        )
    )


def import_header(item: Item, home_user: str = HOME_USER) -> ipb.ImportAvatarRequest:
    """The first message of an ImportAvatar stream for ``item`` from a.example (a fresh transfer id)."""
    return ipb.ImportAvatarRequest(
        header=ipb.ImportAvatarHeader(
            home_user_process_id=home_user,
            home_m_instance_id=A,
            persona=itpb.ItemEnvelope(item_json=item.raw),
            home_item_id=item.item_id,
            transfer_id=f"urn:uuid:{uuid.uuid4()}",
        )
    )


def with_envelope(fed: Federation, message: gpb.TransferAvatarRequest) -> gpb.TransferAvatarRequest:
    """A header as gateway A sends it: with its signed transfer envelope (replay protection)."""
    if message.WhichOneof("part") != "header" or message.header.envelope_json:
        return message
    header = gpb.TransferAvatarHeader()
    header.CopyFrom(message.header)
    header.envelope_json = make_envelope(
        keys=fed.nodes["gateway-a"].keys,
        destination="b.example",
        transfer_id=header.transfer_id,
        item_json=header.persona.item_json,
    )
    return gpb.TransferAvatarRequest(header=header)


async def transfer(fed: Federation, messages: Iterable[Any], *, hold: bool = False, envelope: bool = True) -> Any:
    """Federation.TransferAvatar at gateway B, presenting gateway A's certificate; headers get
    gateway A's signed envelope unless ``envelope`` is False or they carry one."""
    p = fed.plan
    stub = gateway_pb2_grpc.FederationStub
    sent = [with_envelope(fed, m) for m in messages] if envelope else messages
    return await send(p.gateway_a.tls, p.gateway_b, stub, "TransferAvatar", sent, hold=hold)


async def import_avatar(fed: Federation, messages: Iterable[Any], *, hold: bool = False) -> Any:
    """Instance.ImportAvatar at instance B, presenting gateway B's certificate."""
    p = fed.plan
    stub = instance_pb2_grpc.InstanceStub
    return await send(p.gateway_b.tls, p.instance_b, stub, "ImportAvatar", messages, hold=hold)


def signed_by_a(fed: Federation, item: Item) -> Item:
    """``item`` signed with gateway A's current instance key, as gateway A sends Items."""
    keys = fed.nodes["gateway-a"].keys
    record, key = keys.current()
    return sign_item(item, key=key, verification_method=keys.method(record))


@dataclass(frozen=True)
class Stored:
    """What an instance holds: its ItemIDs, its World's Processes and its committed blob files."""

    items: frozenset[str]
    processes: frozenset[str]
    blobs: frozenset[str]


def stored(fed: Federation, node: str = "instance-b") -> Stored:
    """What ``node`` holds now: its ItemIDs (its World's and its Item store's), its World's
    Processes and its committed blob files."""
    blobs = Path(fed.nodes[node].config.data_dir) / "blobs"
    world = fed.nodes[node].process_actions.world
    return Stored(
        items=frozenset(i.item_id for i in fed.nodes[node].store.find_items()) | frozenset(world.items),
        processes=frozenset(world.processes),
        blobs=frozenset(p.name for p in blobs.iterdir() if p.name != "tmp"),
    )


async def assert_nothing_stored(fed: Federation, before: Stored, node: str = "instance-b") -> None:
    """No new Item, no new blob, and no partial upload left in ``blobs/tmp`` (a cancelled
    upstream call may take a moment to clean up, so ``*.part`` files get up to 2 s)."""
    tmp = Path(fed.nodes[node].config.data_dir) / "blobs" / "tmp"
    for _ in range(40):
        if not list(tmp.glob("*.part")):
            break
        await asyncio.sleep(0.05)
    assert list(tmp.glob("*.part")) == []
    assert stored(fed, node) == before
