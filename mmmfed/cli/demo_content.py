"""The demo's content step (FGMV-43 9.3 steps 1-7, COIFC; issue 16 item 8).

1. A ``.gltf`` model with its external ``.bin`` (the AnimatedMorphCube sample, CC0-1.0) migrates
   to b.example, whose manifesto accepts 3D models only as binary glTF within its limits
   (:data:`B_CONTENT_POLICIES`): the bridge's Conversion Service packs and converts it, and says
   what changed. The converted model stays linked to its home: one version graph, the same
   version ids on both sides, b holding each home version as the bridge converted it
   (:mod:`gateway.content_version_bridging`).
2. A Markdown note migrates to b.example, which accepts it as it is; it stays linked too.
3. b.example's gateway stops; the user edits both contents at a.example and at b.example at once
   (each side queues its new versions): the model recoloured red at a (a ``.gltf``), blue at b
   (the ``.glb`` b holds); b.example's gateway starts again and both queues drain. The note's
   concurrent edits merge on their own (a three-way line merge); the model's are a conflict both
   sides show (a's ``.gltf`` reaching b converted, b's ``.glb`` reaching a as it is) until the
   owner keeps one (``content resolve``); then both hold the same head, b its converted form.

The calls are the Content service's (what ``mmmfed content ...`` sends), with each M-Instance's
operator certificate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console

from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import content_pb2_grpc
from mmmfed.cli.content_cmd import conversion_of
from mmmfed.cli.loopback import A, B, LoopbackPlan
from mmmfed.cli.processes import NodeProcesses
from mmmfed.client import wait_serving
from mmmfed.config import PeerAddress
from mmmfed.content.glb_pack import glb_bytes
from mmmfed.content.package import ContentPackage, ContentPart, read_gltf_package
from mmmfed.glb import split_glb
from mmmfed.items import domain_doc
from mmmfed.rpc import call
from mmmfed.tls import secure_channel

# b.example's manifesto in the demo: 3D models only as binary glTF of at most 5,000 triangles
# with JPEG textures of at most 256 px; images, sounds and text in any format.
B_CONTENT_POLICIES = {
    "content.accepts": "Model3D glTF/2.0-binary, Image, Sound, Text",
    "content.model.max_triangles": "5000",
    "content.model.max_texture_px": "256",
    "content.model.texture_formats": "image/jpeg",
}
NOTE = "# Fox sighting\n\nSeen at the north gate at dusk.\nIt ran towards the forest.\n"
SYNC_TIMEOUT_S = 30.0


RED, BLUE = [1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]


def recoloured_gltf(package: ContentPackage, colour: list[float]) -> list[tuple[str, bytes]]:
    """The ``.gltf`` package's parts (root first) with every material's base colour ``colour``."""
    doc = json.loads(package.root.data)
    for material in doc.get("materials") or []:
        material.setdefault("pbrMetallicRoughness", {})["baseColorFactor"] = colour
    root = ContentPart.of(package.root.path, json.dumps(doc).encode(), package.root.media_type)
    return [(p.path, p.data) for p in (root, *package.parts[1:])]


def recoloured_glb(glb: bytes, colour: list[float]) -> bytes:
    """A ``.glb`` with every material's base colour ``colour`` (its BIN chunk unchanged)."""
    doc, blob = split_glb(glb)
    for material in doc.get("materials") or []:
        material.setdefault("pbrMetallicRoughness", {})["baseColorFactor"] = colour
    return glb_bytes(doc, blob)


def base_colour(glb: bytes) -> list[float]:
    """The first material's base colour of a ``.glb`` ([] when it has none)."""
    materials = split_glb(glb)[0].get("materials") or [{}]
    return list(materials[0].get("pbrMetallicRoughness", {}).get("baseColorFactor") or [])


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {SYNC_TIMEOUT_S:g} s")
        await asyncio.sleep(0.2)


class _Side:
    """One M-Instance's Content service, for the step's calls."""

    def __init__(self, name: str, stub: content_pb2_grpc.ContentAsyncStub) -> None:
        self.name = name
        self.stub = stub

    async def publish(self, owner: str, parts: list[tuple[str, bytes]], title: str, licence: str, **meta: str) -> str:
        request = cpb.PublishContentRequest(
            owner_process_id=owner,
            parts=[cpb.ContentPartData(path=p, data=d) for p, d in parts],
            title=title,
            licence=licence,
            **meta,
        )
        view: cpb.ContentView = await call(lambda: self.stub.PublishContent(request), attempts=1)
        return str(domain_doc(view.item.item_json)["ItemID"])

    async def migrate(self, content_id: str) -> cpb.ContentTransferResponse:
        request = cpb.MigrateContentRequest(content_id=content_id, peer_m_instance_id=B)
        result: cpb.ContentTransferResponse = await call(lambda: self.stub.MigrateContent(request), attempts=1)
        return result

    async def update(self, content_id: str, parts: list[tuple[str, bytes]]) -> cpb.ContentVersionInfo:
        request = cpb.UpdateContentRequest(
            content_id=content_id, parts=[cpb.ContentPartData(path=name, data=data) for name, data in parts]
        )
        info: cpb.ContentVersionInfo = await call(lambda: self.stub.UpdateContent(request), attempts=1)
        return info

    async def history(self, content_id: str) -> cpb.ContentHistoryResponse:
        request = cpb.ContentHistoryRequest(content_id=content_id)
        answer: cpb.ContentHistoryResponse = await call(lambda: self.stub.ContentHistory(request), attempts=3)
        return answer

    async def conflicts(self) -> list[cpb.ContentConflict]:
        listed: cpb.ListConflictsResponse = await call(
            lambda: self.stub.ListConflicts(cpb.ListConflictsRequest()), attempts=3
        )
        return list(listed.conflicts)

    async def current_view(self, content_id: str) -> cpb.GetContentResponse:
        got: cpb.GetContentResponse = await call(
            lambda: self.stub.GetContent(cpb.GetContentRequest(content_id=content_id)), attempts=3
        )
        return got

    async def current(self, content_id: str) -> bytes:
        got: cpb.GetContentResponse = await call(
            lambda: self.stub.GetContent(cpb.GetContentRequest(content_id=content_id)), attempts=3
        )
        return bytes(got.parts[0].data)


def _short(version_id: str) -> str:
    return version_id[:12]


async def content_step(p: LoopbackPlan, procs: NodeProcesses, owner: str, samples: Path, console: Console) -> bool:
    """Run the step for ``owner`` (a User Process of a.example whose avatar is at b.example) and
    print what happens; True when the model arrived converted, the note merged and the model's
    conflict was resolved with both sides on the same head (b holding it converted)."""
    addresses = {
        A: PeerAddress(tls_name=p.instance_a.tls_name, address=p.instance_a.listen),
        B: PeerAddress(tls_name=p.instance_b.tls_name, address=p.instance_b.listen),
    }
    async with (
        secure_channel(p.operators[A], addresses[A]) as ch_a,
        secure_channel(p.operators[B], addresses[B]) as ch_b,
    ):
        at_a, at_b = _Side(A, content_pb2_grpc.ContentStub(ch_a)), _Side(B, content_pb2_grpc.ContentStub(ch_b))
        # 1. a .gltf package through the bridge
        cube = samples / "gltf" / "AnimatedMorphCube" / "AnimatedMorphCube.gltf"
        package = await asyncio.to_thread(read_gltf_package, cube)
        model = await at_a.publish(
            owner, [(x.path, x.data) for x in package.parts], "Animated morph cube", "CC0-1.0", creator="Khronos"
        )
        moved = await at_a.migrate(model)
        conversion = conversion_of(moved)
        report = conversion["conversion_report"]
        arrived = domain_doc(moved.content.item.item_json)
        fmt = arrived["ItemQualifier"]["Format"]
        console.print(
            f"{cube.name} + {len(package.parts) - 1} external part, CC0-1.0 -> {B}: {conversion['route']} "
            f"{conversion['bridge_id']}; arrived as {fmt} {arrived['ItemID']} (home content {model})",
            markup=False,
        )
        for label in ("kept", "changed", "dropped"):
            entries = "; ".join(str(e) for e in report.get(label) or []) or "nothing"
            console.print(f"  {'lost' if label == 'dropped' else label}: {entries}", markup=False)
        converted = conversion["converted"] and fmt == "glTF/2.0-binary"

        here = str(arrived["ItemID"])  # the converted model's ItemID at b (its records name the home's)

        async def linked_model() -> bool:
            ha, hb = await at_a.history(model), await at_b.history(here)
            return bool(hb.versions) and list(ha.head_ids) == list(hb.head_ids)

        await _until(linked_model, "the converted model's first version at b")
        first = (await at_b.history(here)).versions[0]
        console.print(
            f"  linked: both hold version {_short(first.version_id)} ({A}: {first.format}, "
            f"{B}: {first.held_format} converted by {first.converted_by})",
            markup=False,
        )

        # 2. a note that stays linked
        note = await at_a.publish(owner, [("sighting.md", NOTE.encode())], "Fox sighting", "CC-BY-4.0")
        await at_a.migrate(note)
        console.print(f"{note} (Markdown) migrated to {B} as it is, linked to its home", markup=False)

        # 3. edits at both sides at once, b's gateway down
        procs.procs["gateway-b"].terminate()
        await asyncio.to_thread(procs.procs["gateway-b"].wait, 10)
        console.print(f"gateway.{B} stopped: edits on both sides wait in their M-Instance's queue", markup=False)
        lines = NOTE.splitlines()
        note_a = "\n".join([lines[0].replace("sighting", "sighting (north gate)"), *lines[1:]]) + "\n"
        note_b = "\n".join([*lines[:-1], "It ran towards the forest, then back to the gate."]) + "\n"
        await at_a.update(note, [("sighting.md", note_a.encode())])
        await at_b.update(note, [("sighting.md", note_b.encode())])
        red = await at_a.update(model, recoloured_gltf(package, RED))
        held_glb = (await at_b.current_view(here)).parts[0]
        await at_b.update(here, [(held_glb.path, recoloured_glb(bytes(held_glb.data), BLUE))])
        console.print(
            "edited at both: the note's first line at a, its last at b; the model red at a (.gltf), blue at b (.glb)"
        )
        path = p.config_paths()["gateway-b"]
        procs.start("gateway-b", ["serve", "gateway", "--config", str(path)])
        await wait_serving(
            p.operator_for(p.gateway_b), PeerAddress(tls_name=p.gateway_b.tls_name, address=p.gateway_b.listen)
        )
        console.print(f"gateway.{B} serving again: both queues drain", markup=False)

        async def note_merged() -> bool:
            ha, hb = await at_a.history(note), await at_b.history(note)
            return len(ha.head_ids) == 1 and list(ha.head_ids) == list(hb.head_ids)

        await _until(note_merged, "the note's merge")
        merged = (await at_a.current(note)).decode()
        same_note = merged == (await at_b.current(note)).decode() and "north gate)" in merged and "back to" in merged
        head = (await at_a.history(note)).head_ids[0]
        console.print(f"note: the two edits merged on their own; both hold head {_short(head)}:", markup=False)
        for line in merged.splitlines():
            console.print(f"  | {line}", markup=False)

        async def model_in_conflict() -> bool:
            at_home = any(c.content_id == model and len(c.heads) == 2 for c in await at_a.conflicts())
            there = any(c.content_id == here and len(c.heads) == 2 for c in await at_b.conflicts())
            return at_home and there

        await _until(model_in_conflict, "the model's conflict")
        for side, content_id in ((at_a, model), (at_b, here)):
            heads = next(c for c in await side.conflicts() if c.content_id == content_id).heads
            shown = ", ".join(
                f"{_short(h.version_id)} ({h.held_format or h.format}{' converted' if h.converted_by else ''})"
                for h in heads
            )
            console.print(f"model: CONFLICT shown at {side.name}, heads {shown}", markup=False)
        request = cpb.ResolveContentRequest(content_id=model, keep_version_id=red.version_id)
        kept: cpb.ContentVersionInfo = await call(lambda: at_a.stub.ResolveContent(request), attempts=1)

        async def model_resolved() -> bool:
            ha, hb = await at_a.history(model), await at_b.history(here)
            return list(ha.head_ids) == list(hb.head_ids) == [kept.version_id]

        await _until(model_resolved, "the model's resolution reaching b")
        held = await at_b.current_view(here)
        held_format = domain_doc(held.content.item.item_json)["ItemQualifier"]["Format"]
        red_at_b = base_colour(bytes(held.parts[0].data))[:3] == RED[:3]
        console.print(
            f"model: the owner kept a's red .gltf (merge version {_short(kept.version_id)}, both heads its "
            f"parents); {B} holds the same head as {held_format} converted by the bridge, red, no conflict left",
            markup=False,
        )
    return converted and same_note and red_at_b and held_format == "glTF/2.0-binary"
