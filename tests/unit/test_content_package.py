"""A ``.gltf`` read as one package of content-addressed parts and packed into one GLB (ITU
FGMV-43 9.3, COIR-204/205), on the real samples in ../shared/samples."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sample_assets import BOX, MORPH_CUBE, copy_gltf_sample, gltf_folder_of_glb, needs_samples

from bridge.conversion.validator import GltfValidator
from mmmfed.content.glb_pack import pack_glb
from mmmfed.content.package import MEDIA_GLTF, MEDIA_GLTF_BUFFER, package_path, read_gltf_package
from mmmfed.errors import InvalidInput
from mmmfed.glb import inspect_glb, split_glb
from mmmfed.v22.parts import of_ni_uri

ESCAPING_URIS = [
    "../secret.bin",
    "sub/../../secret.bin",
    "%2e%2e/secret.bin",
    "/etc/passwd",
    "file:///etc/passwd",
    "http://example.com/model.bin",
    "https://example.com/model.bin",
    "//example.com/model.bin",
    "C:/model.bin",
    "sub\\..\\..\\secret.bin",
]


@pytest.mark.parametrize("uri", ESCAPING_URIS)
def test_coir_204_a_uri_leaving_the_package_is_refused_naming_it(uri: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        package_path(uri)
    assert caught.value.reason == "CONTENT_URI_OUTSIDE_PACKAGE"
    assert caught.value.metadata["uri"] == uri and repr(uri) in caught.value.message


@pytest.mark.parametrize(
    ("uri", "path"),
    [("Model.bin", "Model.bin"), ("tex/a%20b.png", "tex/a b.png"), ("sub/../Model.bin", "Model.bin")],
)
def test_coir_204_a_uri_inside_the_package_names_its_relative_path(uri: str, path: str) -> None:
    assert package_path(uri) == path


def test_coir_204_a_data_uri_stays_in_the_root_part() -> None:
    assert package_path("data:application/octet-stream;base64,AAAA") is None


@needs_samples
def test_coir_204_morph_cube_is_one_package_of_content_addressed_parts() -> None:
    package = read_gltf_package(MORPH_CUBE)
    assert [(p.path, p.media_type) for p in package.parts] == [
        ("AnimatedMorphCube.gltf", MEDIA_GLTF),
        ("AnimatedMorphCube.bin", MEDIA_GLTF_BUFFER),
    ]
    for part in package.parts:
        on_disk = (MORPH_CUBE.parent / part.path).read_bytes()
        assert part.data == on_disk and part.sha256 == hashlib.sha256(on_disk).hexdigest()
        assert of_ni_uri(part.ni) == (part.sha256, part.media_type)


@needs_samples
def test_coir_205_packed_morph_cube_is_a_validator_clean_glb() -> None:
    glb = pack_glb(read_gltf_package(MORPH_CUBE))
    doc, blob = split_glb(glb)
    assert doc["buffers"] == [{"byteLength": (MORPH_CUBE.with_suffix(".bin")).stat().st_size}]
    assert blob.startswith(MORPH_CUBE.with_suffix(".bin").read_bytes())
    result = GltfValidator().validate_sync(glb)
    assert (result.errors, result.warnings) == (0, 0), result.messages


@needs_samples
def test_coir_205_external_images_are_packed_as_buffer_view_images(tmp_path: Path) -> None:
    """BoxTextured unpacked to .gltf + .bin + .png packs back to a GLB with its PNG inside."""
    gltf = gltf_folder_of_glb(BOX, tmp_path / "box")
    package = read_gltf_package(gltf)
    assert [p.media_type for p in package.parts] == [MEDIA_GLTF, MEDIA_GLTF_BUFFER, "image/png"]
    glb = pack_glb(package)
    assert inspect_glb(glb).texture_formats == ("image/png",)
    assert GltfValidator().validate_sync(glb).errors == 0


@needs_samples
@pytest.mark.parametrize("uri", ["../outside.png", "file:///etc/hostname", "https://example.com/t.png"])
def test_coir_204_a_gltf_naming_an_outside_image_is_refused_naming_uri_and_file(tmp_path: Path, uri: str) -> None:
    (tmp_path / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    gltf = gltf_folder_of_glb(BOX, tmp_path / "box", image_uri=uri)
    with pytest.raises(InvalidInput) as caught:
        read_gltf_package(gltf)
    assert caught.value.reason == "CONTENT_URI_OUTSIDE_PACKAGE"
    assert uri in caught.value.message and str(gltf) in caught.value.message


@needs_samples
def test_coir_204_a_link_leading_outside_the_folder_is_refused(tmp_path: Path) -> None:
    gltf = copy_gltf_sample(MORPH_CUBE, tmp_path / "cube")
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(gltf.with_suffix(".bin").read_bytes())
    gltf.with_suffix(".bin").unlink()
    gltf.with_suffix(".bin").symlink_to(outside)
    with pytest.raises(InvalidInput) as caught:
        read_gltf_package(gltf)
    assert caught.value.reason == "CONTENT_URI_OUTSIDE_PACKAGE"


@needs_samples
def test_coir_204_a_missing_part_is_refused_naming_the_uri(tmp_path: Path) -> None:
    gltf = copy_gltf_sample(MORPH_CUBE, tmp_path / "cube")
    gltf.with_suffix(".bin").unlink()
    with pytest.raises(InvalidInput) as caught:
        read_gltf_package(gltf)
    assert caught.value.reason == "CONTENT_PART_MISSING" and "AnimatedMorphCube.bin" in caught.value.message


@needs_samples
def test_coir_205_a_buffer_shorter_than_its_byte_length_is_refused(tmp_path: Path) -> None:
    gltf = copy_gltf_sample(MORPH_CUBE, tmp_path / "cube")
    bin_path = gltf.with_suffix(".bin")
    bin_path.write_bytes(bin_path.read_bytes()[:100])
    with pytest.raises(InvalidInput) as caught:
        pack_glb(read_gltf_package(gltf))
    assert caught.value.reason == "GLTF_MALFORMED" and "byteLength" in caught.value.message


def test_coir_205_a_data_uri_buffer_is_packed_into_the_bin_chunk(tmp_path: Path) -> None:
    doc = {
        "asset": {"version": "2.0"},
        "buffers": [{"uri": "data:application/octet-stream;base64,AAECAw==", "byteLength": 4}],
        "bufferViews": [{"buffer": 0, "byteLength": 4}],
    }
    gltf = tmp_path / "tiny.gltf"
    gltf.write_text(json.dumps(doc))
    package = read_gltf_package(gltf)
    assert len(package.parts) == 1
    packed, blob = split_glb(pack_glb(package))
    assert blob == b"\x00\x01\x02\x03" and packed["bufferViews"] == [{"buffer": 0, "byteLength": 4, "byteOffset": 0}]


def test_coir_204_a_file_that_is_not_gltf_json_is_refused(tmp_path: Path) -> None:
    gltf = tmp_path / "broken.gltf"
    gltf.write_text("{not json")
    with pytest.raises(InvalidInput) as caught:
        read_gltf_package(gltf)
    assert caught.value.reason == "GLTF_MALFORMED" and "broken.gltf" in caught.value.message


@needs_samples
def test_coir_204_parts_sent_over_the_wire_are_checked_as_a_package() -> None:
    """What the Content service receives: the .gltf and exactly the parts its URIs name."""
    from mmmfed.content.kinds import inspect_parts

    root, buffer = MORPH_CUBE.read_bytes(), MORPH_CUBE.with_suffix(".bin").read_bytes()
    content = inspect_parts([("AnimatedMorphCube.gltf", root), ("AnimatedMorphCube.bin", buffer)])
    assert [p.path for p in content.package.parts] == ["AnimatedMorphCube.gltf", "AnimatedMorphCube.bin"]
    for parts, reason in [
        ([("AnimatedMorphCube.gltf", root)], "CONTENT_PART_MISSING"),
        (
            [("AnimatedMorphCube.gltf", root), ("AnimatedMorphCube.bin", buffer), ("extra.bin", b"x")],
            "CONTENT_PARTS_MISMATCH",
        ),
        ([("AnimatedMorphCube.gltf", root), ("AnimatedMorphCube.gltf", root)], "CONTENT_PARTS_MISMATCH"),
        ([("a.txt", b"a"), ("b.txt", b"b")], "CONTENT_PARTS_MISMATCH"),
        ([], "CONTENT_PARTS_MISMATCH"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            inspect_parts(parts)
        assert caught.value.reason == reason, parts[:1]


def test_coir_204_a_gltf_sent_with_a_uri_leaving_the_package_is_refused() -> None:
    from mmmfed.content.kinds import inspect_parts

    doc = {"asset": {"version": "2.0"}, "buffers": [{"uri": "../../etc/passwd", "byteLength": 4}]}
    with pytest.raises(InvalidInput) as caught:
        inspect_parts([("evil.gltf", json.dumps(doc).encode()), ("../../etc/passwd", b"root")])
    assert caught.value.reason == "CONTENT_URI_OUTSIDE_PACKAGE"
