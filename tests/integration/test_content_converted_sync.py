"""A content the bridge converted stays in step with its home (ITU FGMV-43 9.3 steps 5-7 with
COCF, COSF; issue 16), over real nodes, real mTLS, the real bridge and a real sample: the
AnimatedMorphCube ``.gltf`` package migrates to b.example, whose manifesto accepts 3D models only
as binary glTF, and b holds it as a ``.glb`` of its own ItemID sharing the home's version graph
(same version ids; b holds each home version converted, with the bridge and what changed). The
owner edits it at a (a ``.gltf``) and at b (a ``.glb``) at once: both sides show the conflict,
the owner resolves it at home, and both hold the same head, b's stored bytes a validator-clean
``.glb`` within b's limits. A version the bridge cannot convert is refused with its reason, b
stores nothing of it, and b's other contents go on synchronising."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cliproc import mmmfed_in_thread as mmmfed
from contentflow import ALICE, BOB, B, cli_json, operators
from sample_assets import BOX, FOX, MORPH_CUBE, gltf_folder_of_glb, needs_samples

from instance.world.model import Action, DeonticVerb, Right, RightLevel
from mmmfed.cli.inprocess import Federation
from mmmfed.content.glb_pack import glb_bytes
from mmmfed.glb import inspect_glb, split_glb

pytestmark = needs_samples
B_POLICIES = {
    "content.accepts": "Model3D glTF/2.0-binary, Image, Sound, Text",
    "content.model.max_triangles": "5000",
    "content.model.max_texture_px": "256",
    "content.model.texture_formats": "image/jpeg",
}


async def _accepting(fed: Federation, policies: dict[str, str]) -> None:
    """b publishes ``policies`` in its manifesto (registered again), then a negotiates with b."""
    node_b = fed.nodes["instance-b"]
    node_b.manifesto.policies.update(policies)
    await node_b.register_manifesto()
    assert fed.at_a is not None
    await fed.at_a.negotiate(B)


async def _until(what: Callable[[], bool], *, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "synchronisation did not arrive"
        await asyncio.sleep(0.1)


async def _pause_sync(fed: Federation) -> None:
    for node in ("instance-a", "instance-b"):
        worker = fed.nodes[node].content_sync
        assert worker is not None
        await worker.stop()


def _start_sync(fed: Federation) -> None:
    for node in ("instance-a", "instance-b"):
        worker = fed.nodes[node].content_sync
        assert worker is not None
        worker.start()


def _let_bob_modify(fed: Federation, here_id: str, home_id: str) -> None:
    """Both Worlds give bob, a User of b, the Modify Right on the content (as its owner alice
    would grant it at each): b's on the Item b holds, to make a version there; a's on the home's
    Item, to apply that version at home (COIR-302)."""
    for node, content_id in (("instance-b", here_id), ("instance-a", home_id)):
        world = fed.nodes[node].process_actions.world
        right_id = f"{content_id}#{BOB}#Modify"
        world.rights[right_id] = Right(
            right_id, BOB, DeonticVerb.MAY, Action.MODIFY, content_id, RightLevel.ACQUIRED, ALICE, 0
        )


def _heads(fed: Federation, node: str, content_id: str) -> list[str]:
    return sorted(h.version_id for h in fed.nodes[node].contents.history(content_id).heads)


def _recoloured_gltf(source: Path, folder: Path, colour: list[float]) -> Path:
    """The cube's .gltf package copied into ``folder`` with its material's base colour changed."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = json.loads(source.read_text())
    doc["materials"][0]["pbrMetallicRoughness"]["baseColorFactor"] = colour
    for buffer in doc["buffers"]:
        (folder / buffer["uri"]).write_bytes((source.parent / buffer["uri"]).read_bytes())
    out = folder / source.name
    out.write_text(json.dumps(doc))
    return out


def _recoloured_glb(glb: bytes, colour: list[float]) -> bytes:
    doc, blob = split_glb(glb)
    for material in doc.get("materials") or []:
        material.setdefault("pbrMetallicRoughness", {})["baseColorFactor"] = colour
    return glb_bytes(doc, blob)


async def _migrated(fed: Federation, at_a: list[str], path: Path, title: str) -> tuple[str, str]:
    published = await cli_json(
        "content", "publish", str(path), *at_a, "--owner", ALICE, "--title", title, "--licence", "CC0-1.0"
    )
    home_id = str(published["item_id"])
    migrated = await cli_json("content", "migrate", home_id, *at_a, "--to", B)
    assert (migrated["route"], migrated["converted"], migrated["source_item_id"]) == ("via bridge", True, home_id)
    return home_id, str(migrated["item_id"])


async def test_cosf_cocf_a_converted_gltf_edited_at_both_sides_conflicts_then_both_hold_the_same_head(
    federation: Federation, tmp_path: Path
) -> None:
    fed = federation
    at_a, at_b = await operators(fed, tmp_path)
    await _accepting(fed, B_POLICIES)
    home_id, here_id = await _migrated(fed, at_a, MORPH_CUBE, "Animated morph cube")
    assert here_id != home_id

    # linked, one version graph: b holds the home's first version, converted
    history_a = await cli_json("content", "history", home_id, *at_a)
    history_b = await cli_json("content", "history", here_id, *at_b)
    assert history_a["linked_peers"] == [B] and history_b["linked_peers"] == ["a.example"]
    first = history_a["versions"][0]
    assert [v["version_id"] for v in history_b["versions"]] == [first["version_id"]]
    assert history_b["current_version_id"] == first["version_id"] == history_a["current_version_id"]
    held = history_b["versions"][0]
    assert (held["format"], held["held_format"]) == ("glTF/2.0-json", "glTF/2.0-binary")
    assert held["converted_by"] == fed.plan.bridge.bridge_id and first["converted_by"] == ""
    store_b = fed.nodes["instance-b"].contents.store
    assert store_b.source_of(here_id) == home_id and not store_b.has(home_id)
    version_b = fed.nodes["instance-b"].contents.history(here_id).versions[0]
    rendition = store_b.rendition(version_b)
    assert rendition is not None and rendition.source_version_id == first["version_id"]
    assert rendition.report["source_format"] == "glTF/2.0-json" and "dropped" in rendition.report, rendition.report

    # edited at both sides at once: a red .gltf at home, a blue .glb at b
    await _pause_sync(fed)
    _let_bob_modify(fed, here_id, home_id)
    red = _recoloured_gltf(MORPH_CUBE, tmp_path / "red", [1.0, 0.0, 0.0, 1.0])
    va = await cli_json("content", "update", home_id, str(red), *at_a)
    blue = tmp_path / "blue.glb"
    blue.write_bytes(_recoloured_glb(store_b.package(here_id).root.data, [0.0, 0.0, 1.0, 1.0]))
    vb = await cli_json("content", "update", here_id, str(blue), *at_b, "--author", BOB)
    assert va["parent_ids"] == vb["parent_ids"] == [first["version_id"]]
    assert (va["format"], vb["format"]) == ("glTF/2.0-json", "glTF/2.0-binary")

    synced = await cli_json("content", "sync", here_id, *at_b)  # b pulls a's (converted), pushes its own
    assert synced["peers"][0]["error"] == "", synced
    both = sorted([va["version_id"], vb["version_id"]])
    for at, node, content_id in ((at_a, "instance-a", home_id), (at_b, "instance-b", here_id)):
        listed = await cli_json("content", "conflicts", *at)
        assert [c["content_id"] for c in listed] == [content_id], listed
        assert sorted(h["version_id"] for h in listed[0]["heads"]) == both
        assert _heads(fed, node, content_id) == both
    table = await mmmfed("content", "conflicts", *at_b)
    assert table.returncode == 0 and va["version_id"][:12] in table.stdout and vb["version_id"][:12] in table.stdout
    # b's .glb reached home as it is (a accepts it); a's .gltf reached b converted
    store_a = fed.nodes["instance-a"].contents.store
    from_b = fed.nodes["instance-a"].contents.history(home_id)
    at_home = next(v for v in from_b.versions if v.version_id == vb["version_id"])
    assert store_a.version_package(at_home).root.data == blue.read_bytes()
    assert store_a.rendition(at_home) is None
    converted_va = next(
        v for v in fed.nodes["instance-b"].contents.history(here_id).versions if v.version_id == va["version_id"]
    )
    assert store_b.rendition(converted_va) is not None

    # the owner resolves at home, keeping a's .gltf: the merge reaches b converted
    _start_sync(fed)
    resolved = await cli_json("content", "resolve", home_id, *at_a, "--keep", va["version_id"][:12])
    assert sorted(resolved["parent_ids"]) == both
    await _until(lambda: _heads(fed, "instance-b", here_id) == [resolved["version_id"]])
    assert _heads(fed, "instance-a", home_id) == [resolved["version_id"]]
    assert await cli_json("content", "conflicts", *at_a) == [] == await cli_json("content", "conflicts", *at_b)
    history_b = await cli_json("content", "history", here_id, *at_b)
    assert history_b["current_version_id"] == resolved["version_id"]
    assert next(v for v in history_b["versions"] if v["version_id"] == resolved["version_id"])["converted_by"]

    glb = store_b.package(here_id).root.data  # what b holds: the converted merge, red
    validated = await fed.nodes["bridge"].validator.validate(glb)
    assert validated.errors == 0, validated.messages
    facts = inspect_glb(glb)
    assert facts.triangles <= 5000 and facts.max_texture_px <= 256
    colour = split_glb(glb)[0]["materials"][0]["pbrMetallicRoughness"]["baseColorFactor"]
    assert colour[:3] == [1.0, 0.0, 0.0], colour
    shown = await cli_json("content", "show", here_id, *at_b)
    assert (shown["format"], shown["converted_from"], shown["licence"]) == ("glTF/2.0-binary", home_id, "CC0-1.0")


async def test_cosf_cocf_a_version_the_bridge_cannot_convert_is_refused_and_the_queue_goes_on(
    federation: Federation, tmp_path: Path
) -> None:
    """BoxTextured (12 triangles) migrates converted where b allows 12 triangles; a new version at
    home that is Fox (hundreds of triangles) the bridge cannot simplify that far: the
    synchronisation is refused CONVERSION_FAILED naming the bridge's reason, audited, b stores
    nothing of that version, and a note linked to b still reaches it while the cube's row waits
    (retried with its own capped backoff)."""
    fed = federation
    at_a, at_b = await operators(fed, tmp_path)
    await _accepting(fed, {**B_POLICIES, "content.model.max_triangles": "12"})
    home_id, here_id = await _migrated(fed, at_a, gltf_folder_of_glb(BOX, tmp_path / "box"), "Box")
    await _pause_sync(fed)
    fox = gltf_folder_of_glb(FOX, tmp_path / "fox")
    heavy = await cli_json("content", "update", home_id, str(fox), *at_a)
    note = tmp_path / "note.md"
    note.write_text("# Box\n\nfirst\n")
    published = await cli_json(
        "content", "publish", str(note), *at_a, "--owner", ALICE, "--title", "Box note", "--licence", "CC0-1.0"
    )
    note_id = str(published["item_id"])
    assert (await mmmfed("content", "migrate", note_id, *at_a, "--to", B)).returncode == 0
    note.write_text("# Box\n\nsecond\n")
    edited = await cli_json("content", "update", note_id, str(note), *at_a)

    done = await mmmfed("content", "sync", home_id, *at_a, "--json")
    synced = json.loads(done.stdout)
    peer: dict[str, Any] = synced["peers"][0]
    assert peer["error"] == "CONVERSION_FAILED", synced
    assert "TRIANGLE_BUDGET_UNREACHABLE" in peer["message"], peer
    versions_b = [v.version_id for v in fed.nodes["instance-b"].contents.history(here_id).versions]
    assert heavy["version_id"] not in versions_b and len(versions_b) == 1
    entries = await fed.nodes["gateway-a"].audit.entries(peer_id=B)
    assert any(e.reason == "CONVERSION_FAILED" for e in entries)

    _start_sync(fed)  # the cube's row backs off alone: the note's new version reaches b
    await _until(lambda: _heads(fed, "instance-b", note_id) == [edited["version_id"]])
    assert heavy["version_id"] not in [v.version_id for v in fed.nodes["instance-b"].contents.history(here_id).versions]
    assert any(c == home_id for _, c, _ in fed.nodes["instance-a"].contents.store.queued())
    assert (await mmmfed("content", "show", here_id, *at_b)).returncode == 0
