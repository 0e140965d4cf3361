"""Content kinds, metadata and the one signed Item of a content (ITU FGMV-43 9.3 step 1, COTF;
COIR-102/103/106), on real files: ../shared/samples and the freedesktop sound theme."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image
from sample_assets import BOX, MORPH_CUBE, gltf_folder_of_glb, needs_samples, needs_sounds, sound_sample

from mmmfed.content.item import check_parts, content_document, is_content, parts_of
from mmmfed.content.kinds import FORMAT_GLTF_JSON, ContentKind, inspect_file, inspect_single
from mmmfed.content.metadata import ContentMetadata, spdx_licence
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.errors import DataIntegrityError, InvalidInput
from mmmfed.glb import split_glb
from mmmfed.items import item_of, parse_item, sign_item
from mmmfed.proofs import SigningKey, verify_document_did_key

META = ContentMetadata.of(
    title="Animated morph cube", licence="CC0-1.0", tags=["cube", "Morph"], creator="Khronos", description="test"
)


def png_of(glb: Path) -> bytes:
    """The first image of a real GLB (BoxTextured's PNG)."""
    doc, blob = split_glb(glb.read_bytes())
    view = doc["bufferViews"][doc["images"][0]["bufferView"]]
    start = view.get("byteOffset", 0)
    return blob[start : start + view["byteLength"]]


@needs_samples
def test_cotf_a_gltf_package_is_a_3d_model_of_its_parts() -> None:
    content = inspect_file(MORPH_CUBE)
    assert (content.kind, content.format) == (ContentKind.MODEL, FORMAT_GLTF_JSON)
    assert content.attributes["Triangles"] == "12" and len(content.package.parts) == 2


@needs_samples
def test_cotf_a_glb_is_a_3d_model_of_one_part() -> None:
    content = inspect_file(BOX)
    assert (content.kind, content.format, content.attributes["TextureFormats"]) == (
        ContentKind.MODEL,
        "glTF/2.0-binary",
        "image/png",
    )
    assert [p.media_type for p in content.package.parts] == ["model/gltf-binary"]


@needs_samples
@pytest.mark.parametrize(
    ("pillow", "fmt", "media"),
    [("PNG", "PNG", "image/png"), ("JPEG", "JPEG", "image/jpeg"), ("WEBP", "WebP", "image/webp")],
)
def test_cotf_images_are_checked_by_pillow(pillow: str, fmt: str, media: str) -> None:
    """BoxTextured's real texture, as PNG and re-encoded as JPEG and WebP."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png_of(BOX))).convert("RGB").save(out, format=pillow)
    content = inspect_single("wood.png" if pillow == "PNG" else f"wood.{fmt.lower()}", out.getvalue())
    assert (content.kind, content.format, content.package.root.media_type) == (ContentKind.IMAGE, fmt, media)
    assert content.attributes == {"Width": "211", "Height": "211"}  # BoxTextured's texture


@needs_samples
def test_cotf_a_truncated_image_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        inspect_single("wood.png", png_of(BOX)[:400])
    assert caught.value.reason == "CONTENT_MALFORMED" and "wood.png" in caught.value.message


def test_cotf_a_gif_is_not_an_image_format_taken() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="GIF")
    with pytest.raises(InvalidInput) as caught:
        inspect_single("anim.png", out.getvalue())
    assert caught.value.reason == "CONTENT_FORMAT_UNSUPPORTED"


@needs_sounds
@pytest.mark.parametrize(("target", "fmt"), [("OGG", "Ogg/Vorbis"), ("WAV", "WAV"), ("FLAC", "FLAC")])
def test_cotf_sounds_are_decoded_by_libsndfile(target: str, fmt: str) -> None:
    """The freedesktop bell (Ogg Vorbis) as it is, and written by libsndfile as WAV and FLAC."""
    bell = sound_sample("bell.oga").read_bytes()
    if target == "OGG":
        data, name = bell, "bell.oga"
    else:
        samples, rate = soundfile.read(io.BytesIO(bell), dtype="int16")
        out = io.BytesIO()
        soundfile.write(out, samples, rate, format=target)
        data, name = out.getvalue(), f"bell.{target.lower()}"
    content = inspect_single(name, data)
    assert (content.kind, content.format) == (ContentKind.SOUND, fmt)
    assert content.attributes["SampleRate"] == "44100" and content.attributes["Channels"] == "2"
    assert 100 <= int(content.attributes["DurationMs"]) <= 200


def test_cotf_bytes_that_are_not_sound_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        inspect_single("noise.wav", np.arange(64, dtype=np.uint8).tobytes())
    assert caught.value.reason == "CONTENT_MALFORMED"


@pytest.mark.parametrize(("name", "fmt"), [("notes.md", "Markdown"), ("notes.txt", "PlainText")])
def test_cotf_utf8_text_is_text(name: str, fmt: str) -> None:
    content = inspect_single(name, "# Café\n\nDeux lignes.\n".encode())
    assert (content.kind, content.format) == (ContentKind.TEXT, fmt)
    assert content.attributes == {"Characters": "21", "Lines": "3"}


@pytest.mark.parametrize("data", [b"caf\xe9", b"bell\x07"])
def test_cotf_text_that_is_not_utf8_or_has_control_characters_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        inspect_single("notes.txt", data)
    assert caught.value.reason == "CONTENT_MALFORMED"


def test_cotf_a_file_of_no_kind_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        inspect_single("model.fbx", b"x")
    assert caught.value.reason == "CONTENT_KIND_UNKNOWN"


def test_coir_103_licences_are_spdx_ids() -> None:
    assert spdx_licence("cc-by-4.0") == "CC-BY-4.0" and spdx_licence("MIT OR Apache-2.0") == "MIT OR Apache-2.0"
    for bad in ("Freeware", "CC-BY-9.9", ""):
        with pytest.raises(InvalidInput) as caught:
            spdx_licence(bad)
        assert caught.value.reason == "LICENCE_UNKNOWN"


def test_coir_102_metadata_is_checked_and_round_trips_through_descr_metadata() -> None:
    assert META.tags == ("cube", "morph")
    assert ContentMetadata.from_descr(META.descr()) == META
    for bad in ({"title": " "}, {"tags": ["no spaces"]}, {"tags": [f"t{i}" for i in range(17)]}):
        with pytest.raises(InvalidInput) as caught:
            ContentMetadata.of(**{"title": "x", "licence": "MIT", **bad})  # type: ignore[arg-type]
        assert caught.value.reason == "CONTENT_METADATA_INVALID"


@needs_samples
def test_cotf_the_content_item_lists_each_part_and_its_signature_covers_them(tmp_path: Path) -> None:
    """One ITM Item: the V2.2 form has one ni: ItemData entry per part (DataID = path), parses
    back to the same document, and a proof over it fails once a part's digest is changed."""
    content = inspect_file(gltf_folder_of_glb(BOX, tmp_path / "box"))
    doc = content_document(
        m_instance_id="a.example",
        item_id="mmm://a.example/items/box",
        producer_process_id="mmm://a.example/processes/user/alice",
        content=content,
        metadata=META,
    )
    item = item_of(doc)
    entries = item.wire["ItemData"]
    assert [e["DataID"] for e in entries] == ["BoxTextured.gltf", "BoxTextured.bin", "texture.png"]
    assert all(e["DataURI"].startswith("ni:///sha-256;") for e in entries)
    assert parse_item(item.raw).doc == doc and is_content(doc)
    assert [p.sha256 for p in parts_of(doc)] == [p.sha256 for p in content.package.parts]
    check_parts(doc, content.package)
    key = SigningKey.generate()
    signed = sign_item(item, key=key, verification_method=key.verification_method)
    assert verify_document_did_key(parse_item(signed.raw).wire).verified
    tampered = dict(signed.wire)
    tampered["ItemData"] = [dict(entries[0]), dict(entries[1]), {**entries[2], "DataURI": content.package.parts[0].ni}]
    assert not verify_document_did_key(tampered).verified


@needs_samples
def test_cotf_parts_that_differ_from_the_item_are_refused() -> None:
    content = inspect_file(MORPH_CUBE)
    doc = content_document(
        m_instance_id="a.example",
        item_id="mmm://a.example/items/cube",
        producer_process_id="mmm://a.example/processes/user/alice",
        content=content,
        metadata=META,
    )
    root, buffer = content.package.parts
    changed = ContentPart.of(buffer.path, buffer.data[:-4] + b"\x00\x00\x00\x01", buffer.media_type)
    with pytest.raises(DataIntegrityError) as caught:
        check_parts(doc, ContentPackage((root, changed)))
    assert caught.value.reason == "DIGEST_MISMATCH" and caught.value.metadata["path"] == buffer.path


@pytest.mark.parametrize("size", [(17000, 1), (16000, 11500)])
def test_cotf_an_image_too_large_to_decode_is_refused_before_decoding(size: tuple[int, int]) -> None:
    """A PNG wider than 16384 px (our limit), and one of 184 Mpx within it (Pillow's decompression
    bomb limit): TooLarge, nothing decoded."""
    from mmmfed.errors import TooLarge

    out = io.BytesIO()
    Image.new("1", size).save(out, format="PNG")  # 1 bit a pixel, all zero: small on disk
    with pytest.raises(TooLarge) as caught:
        inspect_single("bomb.png", out.getvalue())
    assert caught.value.reason == "CONTENT_TOO_LARGE"
