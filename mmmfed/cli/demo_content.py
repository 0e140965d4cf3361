"""The demo's content step (FGMV-43 9.3 steps 1-7, COIFC; issue 16 item 8).

1. A ``.gltf`` model with its external ``.bin`` (the AnimatedMorphCube sample, CC0-1.0) migrates
   to b.example, whose manifesto accepts 3D models only as binary glTF within its limits
   (:data:`B_CONTENT_POLICIES`): the bridge's Conversion Service packs and converts it, and says
   what changed.
2. A Markdown note and an image (the Fox sample's texture, CC-BY-4.0) migrate to b.example, which
   accepts them as they are; they stay linked to their home.
3. b.example's gateway stops; the user edits both contents at a.example and at b.example at once
   (each side queues its new versions); b.example's gateway starts again and both queues drain.
   The note's concurrent edits merge on their own (a three-way line merge); the image's are a
   conflict both sides show until the owner keeps one (``content resolve``); then both hold the
   same head.

The calls are the Content service's (what ``mmmfed content ...`` sends), with each M-Instance's
operator certificate. A content the bridge converted is a new Item of the home's and is not kept
in step (a limit of the synchronisation as built).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from PIL import Image
from rich.console import Console

from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import content_pb2_grpc
from mmmfed.cli.content_cmd import conversion_of
from mmmfed.cli.loopback import A, B, LoopbackPlan
from mmmfed.cli.processes import NodeProcesses
from mmmfed.client import wait_serving
from mmmfed.config import PeerAddress
from mmmfed.content.package import read_gltf_package
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


def fox_texture(samples: Path) -> bytes:
    """The PNG texture embedded in the Fox sample (CC-BY-4.0), as its GLB holds it."""
    doc, blob = split_glb((samples / "gltf" / "Fox" / "Fox.glb").read_bytes())
    view = doc["bufferViews"][doc["images"][0]["bufferView"]]
    start = view.get("byteOffset", 0)
    return blob[start : start + view["byteLength"]]


def _edited_png(data: bytes, edit: Callable[[Image.Image], Image.Image]) -> bytes:
    out = io.BytesIO()
    edit(Image.open(io.BytesIO(data)).convert("RGB")).save(out, format="PNG")
    return out.getvalue()


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

    async def update(self, content_id: str, name: str, data: bytes) -> cpb.ContentVersionInfo:
        request = cpb.UpdateContentRequest(content_id=content_id, parts=[cpb.ContentPartData(path=name, data=data)])
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

    async def current(self, content_id: str) -> bytes:
        got: cpb.GetContentResponse = await call(
            lambda: self.stub.GetContent(cpb.GetContentRequest(content_id=content_id)), attempts=3
        )
        return bytes(got.parts[0].data)


def _short(version_id: str) -> str:
    return version_id[:12]


async def content_step(p: LoopbackPlan, procs: NodeProcesses, owner: str, samples: Path, console: Console) -> bool:
    """Run the step for ``owner`` (a User Process of a.example whose avatar is at b.example) and
    print what happens; True when the model arrived converted, the note merged and the image's
    conflict was resolved with both sides on the same head."""
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

        # 2. a note and an image that stay linked
        note = await at_a.publish(owner, [("sighting.md", NOTE.encode())], "Fox sighting", "CC-BY-4.0")
        texture = await asyncio.to_thread(fox_texture, samples)
        image = await at_a.publish(
            owner, [("fox.png", texture)], "Fox texture", "CC-BY-4.0", creator="PixelMannen, tomkranis"
        )
        for content_id in (note, image):
            await at_a.migrate(content_id)
        console.print(f"{note} (Markdown) and {image} (PNG) migrated to {B}, linked to their home", markup=False)

        # 3. edits at both sides at once, b's gateway down
        procs.procs["gateway-b"].terminate()
        await asyncio.to_thread(procs.procs["gateway-b"].wait, 10)
        console.print(f"gateway.{B} stopped: edits on both sides wait in their M-Instance's queue", markup=False)
        lines = NOTE.splitlines()
        note_a = "\n".join([lines[0].replace("sighting", "sighting (north gate)"), *lines[1:]]) + "\n"
        note_b = "\n".join([*lines[:-1], "It ran towards the forest, then back to the gate."]) + "\n"
        await at_a.update(note, "sighting.md", note_a.encode())
        await at_b.update(note, "sighting.md", note_b.encode())
        rotated = await at_a.update(image, "fox.png", _edited_png(texture, lambda im: im.rotate(90)))
        await at_b.update(image, "fox.png", _edited_png(texture, lambda im: im.convert("L").convert("RGB")))
        console.print("edited at both: the note's first line at a, its last at b; the image rotated at a, grey at b")
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

        async def image_in_conflict() -> bool:
            listed = [await side.conflicts() for side in (at_a, at_b)]
            return all(any(c.content_id == image for c in conflicts) for conflicts in listed)

        await _until(image_in_conflict, "the image's conflict")
        heads = next(c for c in await at_a.conflicts() if c.content_id == image).heads
        console.print(
            f"image: CONFLICT shown at {A} and {B}, heads {', '.join(_short(h.version_id) for h in heads)}",
            markup=False,
        )
        request = cpb.ResolveContentRequest(content_id=image, keep_version_id=rotated.version_id)
        kept: cpb.ContentVersionInfo = await call(lambda: at_a.stub.ResolveContent(request), attempts=1)

        async def image_resolved() -> bool:
            ha, hb = await at_a.history(image), await at_b.history(image)
            return list(ha.head_ids) == list(hb.head_ids) == [kept.version_id]

        await _until(image_resolved, "the image's resolution reaching b")
        same_image = await at_a.current(image) == await at_b.current(image)
        console.print(
            f"image: the owner kept a's rotation (merge version {_short(kept.version_id)}, both heads its "
            f"parents); {B} holds the same head, no conflict left",
            markup=False,
        )
    return converted and same_note and same_image
