"""Contents b.example accepts only converted reach it through the bridge's Conversion Service
(ITU FGMV-43 9.3 with 9.5 steps 5-9, COCF, COIR-204/205), over real nodes, real mTLS and real
files: b's manifesto names the content kinds, formats and limits it accepts (policies), the
negotiation routes the rest via the bridge, and `mmmfed content migrate` says it was converted
and what was lost. b holds a new Item whose SourceItem is the home content, signed by the bridge
over a's gateway's proof, with the licence, metadata and Rights unchanged; a content no bridge
converts, or the bridge cannot convert, is refused with its reason and b stores nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import soundfile
from cliproc import mmmfed_in_thread as mmmfed
from contentflow import cli_json, operators
from PIL import Image
from sample_assets import BOX, FOX, MORPH_CUBE, gltf_folder_of_glb, needs_samples, needs_sounds, sound_sample

import bridge.service
import gateway.content_bridging
from mmmfed.cli.inprocess import Federation
from mmmfed.glb import inspect_glb
from mmmfed.items import Item, domain_doc, item_of

pytestmark = needs_samples
A, B = "a.example", "b.example"
ALICE = f"mmm://{A}/processes/user/alice"
BOB = f"mmm://{B}/processes/user/bob"


async def _publish(at_a: list[str], path: Path, licence: str = "CC-BY-4.0") -> str:
    published = await cli_json(
        "content", "publish", str(path), *at_a, "--owner", ALICE, "--title", path.stem, "--licence", licence
    )
    return str(published["item_id"])


async def _migrate(content_id: str, at_a: list[str]) -> tuple[int, dict[str, object]]:
    done = await mmmfed("content", "migrate", content_id, *at_a, "--to", B, "--json")
    return done.returncode, json.loads(done.stdout)


async def _accepting(fed: Federation, policies: dict[str, str]) -> None:
    """b publishes ``policies`` in its manifesto (registered again), then a negotiates with b."""
    node_b = fed.nodes["instance-b"]
    node_b.manifesto.policies.update(policies)
    await node_b.register_manifesto()
    assert fed.at_a is not None
    await fed.at_a.negotiate(B)


async def _transfer_entries(fed: Federation) -> list[str]:
    entries = await fed.nodes["gateway-b"].audit.entries(peer_id=A)
    return [e.reason or e.event for e in entries if (e.details or {}).get("rpc") == "TransferContent"]


def _held_at_b(fed: Federation, item_id: str) -> tuple[dict[str, object], bytes]:
    """b's stored Item (domain document) and its one part's bytes, as b's store holds them."""
    store = fed.nodes["instance-b"].contents.store
    doc = domain_doc(store.get(item_id).item.raw)
    package = store.package(item_id)
    assert len(package.parts) == 1
    return doc, package.root.data


async def test_fgmv43_9_3_cocf_a_gltf_with_external_files_arrives_at_b_as_a_validator_clean_glb_within_limits(
    federation: Federation, tmp_path: Path
) -> None:
    """Fox as a .gltf with its .bin and PNG texture outside; b accepts only binary glTF of at most
    300 triangles and 64 px JPEG textures: the negotiation routes it via the bridge, b holds a
    new Item (SourceItem the home content, ConvertedBy the bridge, licence and Rights unchanged)
    whose .glb the bridge's Khronos validator finds clean and within b's limits."""
    at_a, at_b = await operators(federation, tmp_path)
    await _accepting(
        federation,
        {
            "content.accepts": "Model3D glTF/2.0-binary, Image PNG",
            "content.model.max_triangles": "300",
            "content.model.max_texture_px": "64",
            "content.model.texture_formats": "image/jpeg",
        },
    )
    gltf = gltf_folder_of_glb(FOX, tmp_path / "fox")
    home_id = await _publish(at_a, gltf)
    code, migrated = await _migrate(home_id, at_a)
    assert code == 0, migrated
    assert (migrated["route"], migrated["converted"], migrated["source_item_id"]) == ("via bridge", True, home_id)
    assert migrated["format"] == "glTF/2.0-binary" and migrated["item_id"] != home_id
    assert migrated["bridge_id"] == federation.plan.bridge.bridge_id
    report = migrated["conversion_report"]
    assert isinstance(report, dict) and report["source_format"] == "glTF/2.0-json"
    assert any("mesh simplified" in c for c in report["changed"]), report
    assert any("image/jpeg" in c for c in report["changed"]), report
    assert migrated["lost"] == report["dropped"]
    assert any("mesh detail" in x for x in report["dropped"]) and any("64x64" in x for x in report["dropped"])

    doc, glb = _held_at_b(federation, str(migrated["item_id"]))
    validated = await federation.nodes["bridge"].validator.validate(glb)
    assert validated.errors == 0, validated.messages
    facts = inspect_glb(glb)
    assert facts.triangles <= 300 and facts.max_texture_px <= 64 and facts.texture_formats == ("image/jpeg",)
    assert doc["SourceItemID"] == home_id and doc["SourceItem"]["ItemID"] == home_id  # type: ignore[index]
    descr = doc["DescrMetadata"]
    assert isinstance(descr, dict)
    assert (descr["Licence"], descr["Title"], descr["ConvertedBy"]) == ("CC-BY-4.0", "Fox", migrated["bridge_id"])
    home_doc = domain_doc(federation.nodes["instance-a"].contents.store.get(home_id).item.raw)
    assert doc["ICapabilities"] == home_doc["ICapabilities"]
    store_b = federation.nodes["instance-b"].contents.store
    assert store_b.home_of(str(migrated["item_id"])) == A and not store_b.has(home_id)
    shown = await cli_json("content", "show", str(migrated["item_id"]), *at_b)
    assert (shown["owner_process_id"], shown["licence"]) == (ALICE, "CC-BY-4.0")
    assert (shown["converted_from"], shown["converted_by"]) == (home_id, migrated["bridge_id"])
    assert shown["conversion_lost"] == report["dropped"]
    table = await mmmfed("content", "show", str(migrated["item_id"]), *at_b)
    assert table.returncode == 0 and "converted by" in table.stdout and "mesh detail" in table.stdout, table.stdout
    assert await _transfer_entries(federation) == ["ACCEPTED"]

    plain = await mmmfed("content", "migrate", home_id, *at_a, "--to", B)  # the same conversion: held once
    assert plain.returncode == 0 and plain.stdout.strip() == migrated["item_id"], plain.stderr
    assert "already held it" in plain.stderr and "converted by" in plain.stderr, plain.stderr
    assert "glTF/2.0-json" in plain.stderr and "lost:" in plain.stderr and "mesh simplified" in plain.stderr
    assert [s.item.item_id for s in store_b.migrated_here()] == [migrated["item_id"]]

    cube_id = await _publish(at_a, MORPH_CUBE)  # the sample as published: .gltf + .bin, morph targets
    code, cube = await _migrate(cube_id, at_a)
    assert code == 0 and cube["converted"] is True and cube["format"] == "glTF/2.0-binary", cube
    _, cube_glb = _held_at_b(federation, str(cube["item_id"]))
    validated = await federation.nodes["bridge"].validator.validate(cube_glb)
    assert validated.errors == 0, validated.messages


@needs_sounds
async def test_cocf_an_image_and_a_sound_are_converted_to_what_b_accepts(
    federation: Federation, tmp_path: Path
) -> None:
    """A PNG texture of Fox becomes a JPEG of at most 64 px (its alpha reported if lost); the
    freedesktop bell (Ogg Vorbis, 44.1 kHz stereo) becomes FLAC at 22.05 kHz mono, as b's
    manifesto accepts, and libsndfile and Pillow read b's stored bytes as such."""
    at_a, _ = await operators(federation, tmp_path)
    await _accepting(
        federation,
        {
            "content.accepts": "Image JPEG, Sound FLAC",
            "content.image.max_px": "64",
            "content.sound.max_sample_rate": "22050",
            "content.sound.max_channels": "1",
        },
    )
    gltf_folder_of_glb(FOX, tmp_path / "fox")
    png = tmp_path / "fox" / "texture.png"
    with Image.open(png) as original:
        assert original.format == "PNG" and max(original.size) > 64
    image_id = await _publish(at_a, png)
    code, migrated = await _migrate(image_id, at_a)
    assert code == 0 and migrated["format"] == "JPEG" and migrated["converted"] is True, migrated
    _, jpeg = _held_at_b(federation, str(migrated["item_id"]))
    with Image.open(io.BytesIO(jpeg)) as held:
        assert held.format == "JPEG" and max(held.size) == 64
    assert any("resolution" in c for c in migrated["conversion_report"]["changed"])  # type: ignore[index]

    bell = sound_sample("bell.oga")
    sound_id = await _publish(at_a, bell)
    code, migrated = await _migrate(sound_id, at_a)
    assert code == 0 and migrated["format"] == "FLAC", migrated
    _, flac = _held_at_b(federation, str(migrated["item_id"]))
    info = soundfile.info(io.BytesIO(flac))
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 22050, 1)
    assert abs(info.duration - soundfile.info(bell).duration) < 0.01
    lost = migrated["lost"]
    assert isinstance(lost, list) and any("above 11025 Hz" in x for x in lost), lost
    assert migrated["attributes"] == {  # the Qualifier b's instance found in the bytes
        "SampleRate": "22050",
        "Channels": "1",
        "DurationMs": str(info.frames * 1000 // 22050),
        "Encoding": "PCM_16",
    }


async def test_cocf_a_content_no_bridge_converts_or_the_bridge_cannot_convert_is_refused_and_nothing_stored(
    federation: Federation, tmp_path: Path
) -> None:
    """Markdown where b accepts only plain text: no bridge converts text, CONTENT_NOT_ACCEPTED
    naming the format and what b accepts, refused at a before any byte leaves. BoxTextured as a
    .gltf where b allows 2 triangles: the bridge cannot simplify a box that far, CONVERSION_FAILED
    naming the bridge's reason. b's gateway saw no transfer and b stores nothing."""
    at_a, _ = await operators(federation, tmp_path)
    await _accepting(federation, {"content.accepts": "Text PlainText, Model3D glTF/2.0-binary"})
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nA content in Markdown.\n")
    text_id = await _publish(at_a, notes)
    code, refused = await _migrate(text_id, at_a)
    assert (code, refused["error"]) == (2, "CONTENT_NOT_ACCEPTED"), refused
    message = str(refused["message"])
    assert "Text Markdown" in message and "Text PlainText, Model3D glTF/2.0-binary" in message, message

    await _accepting(federation, {"content.model.max_triangles": "2"})
    box_id = await _publish(at_a, gltf_folder_of_glb(BOX, tmp_path / "box"))
    code, refused = await _migrate(box_id, at_a)
    assert (code, refused["error"]) == (2, "CONVERSION_FAILED"), refused
    assert "TRIANGLE_BUDGET_UNREACHABLE" in json.dumps(refused), refused
    assert await _transfer_entries(federation) == []
    assert federation.nodes["instance-b"].contents.store.migrated_here() == []


async def test_cocf_a_bridge_that_alters_the_licence_is_refused_by_a_and_by_b_and_nothing_stored(
    federation: Federation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bridge signs a conversion that changed the licence (COIR-103: it converts only the
    bytes): a's gateway refuses it before sending, CONVERSION_ALTERED_CONTENT; with a's check
    skipped, b's gateway refuses it the same way after verifying the bridge's proof."""
    at_a, _ = await operators(federation, tmp_path)
    await _accepting(federation, {"content.accepts": "Image JPEG"})
    convert_item = bridge.service.converted_item

    def relicensed(*args: Any, **kwargs: Any) -> Item:
        doc = dict(convert_item(*args, **kwargs).doc)
        doc["DescrMetadata"] = {**doc["DescrMetadata"], "Licence": "CC0-1.0"}
        return item_of(doc)

    monkeypatch.setattr(bridge.service, "converted_item", relicensed)
    gltf_folder_of_glb(FOX, tmp_path / "fox")
    image_id = await _publish(at_a, tmp_path / "fox" / "texture.png")
    code, refused = await _migrate(image_id, at_a)
    assert (code, refused["error"]) == (2, "CONVERSION_ALTERED_CONTENT"), refused
    assert "Licence" in str(refused["message"])
    assert await _transfer_entries(federation) == []
    monkeypatch.setattr(gateway.content_bridging, "check_kept", lambda item, home=None: None)
    code, refused = await _migrate(image_id, at_a)
    assert (code, refused["error"]) == (2, "CONVERSION_ALTERED_CONTENT"), refused
    assert await _transfer_entries(federation) == ["CONVERSION_ALTERED_CONTENT"]
    assert federation.nodes["instance-b"].contents.store.migrated_here() == []
