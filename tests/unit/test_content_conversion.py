"""The content side of a bridge's Conversion Service and of the negotiation (ITU FGMV-43 9.3 with
9.5 steps 5-9, COCF, COIR-204/205), on real files: what b's content policies accept and the
target Feature they make, the rows a negotiation routes via a bridge and what the answering
side keeps, images (Pillow) and sounds (libsndfile) converted to an accepted format, and the
checks that a conversion kept the licence, metadata and Rights."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile
from PIL import Image
from sample_assets import FOX, gltf_folder_of_glb, needs_samples, needs_sounds, sound_sample

from bridge.content_conversion import (
    CONTENT_PAIRS,
    ConvertedContent,
    _convert_image,
    _convert_sound,
    content_conversions,
    converted_item,
    converted_item_id,
)
from bridge.conversion.errors import ConversionRefused
from gateway.content_bridging import check_kept
from gateway.content_rows import check_content_row, content_route, content_rows
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.content.acceptance import ContentAcceptance
from mmmfed.content.item import content_document
from mmmfed.content.kinds import inspect_single
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.errors import FailedPrecondition, InvalidInput, PermissionDenied
from mmmfed.items import Item, item_of, new_id

A = "a.example"
POLICIES = {
    "content.accepts": "Model3D glTF/2.0-binary, Image JPEG, Sound FLAC",
    "content.model.max_triangles": "300",
    "content.model.texture_formats": "image/jpeg",
    "content.image.max_px": "64",
    "content.sound.max_sample_rate": "22050",
    "content.sound.max_channels": "1",
}


def _png(size: tuple[int, int], *, alpha: int = 255) -> bytes:
    out = io.BytesIO()
    gradient = np.zeros((size[1], size[0], 4), dtype=np.uint8)
    gradient[..., 0] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :]
    gradient[..., 3] = alpha
    Image.fromarray(gradient, "RGBA").save(out, format="PNG")
    return out.getvalue()


def _content(name: str, data: bytes, licence: str = "CC-BY-4.0") -> Item:
    inspected = inspect_single(name, data)
    metadata = ContentMetadata.of(title="T", licence=licence)
    owner = new_id(A, "processes/user", "alice")
    doc = content_document(
        m_instance_id=A, item_id=new_id(A, "items"), producer_process_id=owner, content=inspected, metadata=metadata
    )
    doc["ICapabilities"] = [{"ProcessID": owner, "Rights": ["Modify", "Hide"]}]
    return item_of(doc)


def test_fgmv43_9_5_content_policies_name_limits_and_make_the_target_feature() -> None:
    accepted = ContentAcceptance.of(POLICIES)
    assert accepted.restricts and not ContentAcceptance.of({"content.max_bytes": "9"}).restricts
    model = {"SubType": "Model3D", "Format": "glTF/2.0-binary", "Attributes": {"Triangles": "576"}}
    model["Attributes"]["TextureFormats"] = "image/png"
    assert accepted.misfits(model) == [
        "Triangles 576 triangles > 300 (content.model.max_triangles)",
        "textures image/png not in image/jpeg (content.model.texture_formats)",
    ]
    with pytest.raises(FailedPrecondition) as refused:
        accepted.require(model, [], where="b.example")
    assert refused.value.reason == "CONSTRAINTS_NOT_MET"
    sound = {"SubType": "Sound", "Format": "FLAC", "Attributes": {"SampleRate": "22050", "Channels": "1"}}
    assert accepted.fits(sound) and not accepted.fits({**sound, "Format": "WAV"})
    feature = accepted.feature("Image", "JPEG")
    assert (feature.item_type, feature.qualifier.sub_type, feature.constraints.max_texture_px) == ("ITM", "Image", 64)
    assert accepted.feature("Sound", "FLAC").constraints.max_sample_rate_hz == 22050
    with pytest.raises(InvalidInput) as bad:
        ContentAcceptance.of({"content.sound.max_channels": "two"})
    assert bad.value.reason == "CONTENT_POLICY_INVALID"


def test_fgmv43_9_5_negotiation_routes_contents_b_does_not_accept_via_the_bridge_and_b_checks_each_row() -> None:
    """a offers one row per bridge content pair whose target b accepts; b keeps those its own
    policies accept and offer V carries, answered with its own limits; the rest are UNSUPPORTED."""
    rows = content_rows(POLICIES, {"bridge.example": content_conversions()})
    routes = {(r.offered.qualifier.sub_type, r.offered.qualifier.format, r.target.qualifier.format) for r in rows}
    assert ("Model3D", "glTF/2.0-json", "glTF/2.0-binary") in routes and ("Sound", "Ogg/Vorbis", "FLAC") in routes
    assert all(r.route == mpb.FEATURE_ROUTE_VIA_BRIDGE and r.target.qualifier.format != "PNG" for r in rows)
    assert content_rows({"content.max_bytes": "100"}, {"bridge.example": content_conversions()}) == []
    bridged = {(p.item_type, p.from_qualifier.format, p.to_qualifier.format) for p in content_conversions()}
    gltf = next(r for r in rows if r.offered.qualifier.format == "glTF/2.0-json")
    kept = check_content_row(gltf, POLICIES, bridged, "bridge.example")
    assert kept.route == mpb.FEATURE_ROUTE_VIA_BRIDGE and kept.target.constraints.max_triangles == 300
    assert check_content_row(gltf, {"content.accepts": "Text"}, bridged, "bridge.example").route == (
        mpb.FEATURE_ROUTE_UNSUPPORTED
    )
    assert check_content_row(gltf, POLICIES, set(), "bridge.example").route == mpb.FEATURE_ROUTE_UNSUPPORTED
    answer = mpb.Manifesto(negotiated=rows)
    glb = content_route(answer, {"SubType": "Model3D", "Format": "glTF/2.0-binary"})
    assert glb is not None and glb.target.qualifier.format == "glTF/2.0-binary"
    assert content_route(answer, {"SubType": "Text", "Format": "Markdown"}) is None


def test_cocf_every_content_pair_the_bridge_announces_is_a_kind_it_converts() -> None:
    kinds = {sub_type for sub_type, *_ in CONTENT_PAIRS}
    assert kinds == {"Model3D", "Image", "Sound"}
    assert len(content_conversions()) == len(CONTENT_PAIRS)


def test_cocf_an_image_is_downscaled_and_encoded_as_accepted_and_what_is_lost_is_reported() -> None:
    report: dict[str, list[str]] = {"kept": [], "changed": [], "dropped": []}
    jpeg = _convert_image(_png((200, 100), alpha=128), "JPEG", 64, report)  # type: ignore[arg-type]
    with Image.open(io.BytesIO(jpeg)) as out:
        assert (out.format, out.size, out.mode) == ("JPEG", (64, 32), "RGB")
    assert "alpha channel (JPEG has none)" in report["dropped"]
    assert "resolution 200x100 -> 64x32 px" in report["changed"] and report["changed"][0] == "format PNG -> JPEG"
    report = {"kept": [], "changed": [], "dropped": []}
    webp = _convert_image(_png((32, 32)), "WebP", 64, report)  # type: ignore[arg-type]
    with Image.open(io.BytesIO(webp)) as out:
        assert out.format == "WEBP" and out.size == (32, 32)
    assert report["dropped"] == []  # a PNG becomes a lossless WebP
    with pytest.raises(ConversionRefused) as refused:
        _convert_image(b"\x89PNG\r\n\x1a\nnot a png", "PNG", 0, {"kept": [], "changed": [], "dropped": []})
    assert refused.value.reason == "CONTENT_MALFORMED"


@needs_sounds
def test_cocf_a_real_ogg_sound_becomes_flac_at_the_accepted_rate_and_channels() -> None:
    bell = sound_sample("bell.oga").read_bytes()
    source = soundfile.info(io.BytesIO(bell))
    report: dict[str, list[str]] = {"kept": [], "changed": [], "dropped": []}
    flac = _convert_sound(bell, "FLAC", 22050, 1, report)  # type: ignore[arg-type]
    info = soundfile.info(io.BytesIO(flac))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_16", 22050, 1)
    assert abs(info.frames - source.frames * 22050 / source.samplerate) <= 1
    assert report["changed"][0] == "encoding OGG/VORBIS -> FLAC/PCM_16"
    assert "frequencies above 11025 Hz" in report["dropped"] and "2 channels mixed down to 1" in report["changed"]
    report = {"kept": [], "changed": [], "dropped": []}
    wav = _convert_sound(bell, "WAV", 0, 0, report)  # type: ignore[arg-type]
    assert soundfile.info(io.BytesIO(wav)).samplerate == source.samplerate and report["dropped"] == []


@needs_samples
def test_cocf_the_converted_item_keeps_licence_metadata_and_rights_and_is_named_by_what_it_converts(
    tmp_path: object,
) -> None:
    """The converted Item is a new Item of a's whose SourceItem is the home content; converting
    the same content for the same target names the same Item; check_kept refuses a conversion
    that changed the licence."""
    texture = gltf_folder_of_glb(FOX, tmp_path / "fox").parent / "texture.png"  # type: ignore[operator]
    home = _content("texture.png", texture.read_bytes())
    report: dict[str, object] = {"kind": "Image", "source_format": "PNG", "dropped": []}
    report.update(kept=[], changed=[])
    jpeg = _convert_image(texture.read_bytes(), "JPEG", 64, report)  # type: ignore[arg-type]
    package = ContentPackage((ContentPart.of("texture.jpg", jpeg, "image/jpeg"),))
    converted = ConvertedContent(package, report)
    target = ContentAcceptance.of(POLICIES).feature("Image", "JPEG")
    item = converted_item(home, converted, target, bridge_id="bridge.example", producer_process_id="p")
    assert item.doc["SourceItemID"] == home.item_id and item.doc["SourceItem"]["ItemID"] == home.item_id
    assert item.qualifier["Format"] == "JPEG" and item.doc["DescrMetadata"]["ConvertedBy"] == "bridge.example"
    assert item.doc["DescrMetadata"]["Conversion"] == {"From": "Image PNG", "Lost": ["detail finer than 64x64 px"]}
    assert item.item_id == converted_item_id(home, target, package, bridge_id="bridge.example")
    check_kept(item, home.doc)
    other = _content("texture.png", texture.read_bytes(), licence="MIT")
    altered = converted_item(home, converted, target, bridge_id="bridge.example", producer_process_id="p")
    doc = dict(altered.doc)
    doc["DescrMetadata"] = {**doc["DescrMetadata"], "Licence": "MIT"}
    with pytest.raises(PermissionDenied) as refused:
        check_kept(item_of(doc), home.doc)
    assert refused.value.reason == "CONVERSION_ALTERED_CONTENT" and "Licence" in refused.value.message
    with pytest.raises(PermissionDenied):
        check_kept(item, other.doc)  # another content than the one sent
