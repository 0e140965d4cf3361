"""Conversion Service on the real sample avatars (FGMV-43 9.1 AVCF; MMM-TEC Convert Action)."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bridge.conversion import (
    GLTF_VALIDATION_FAILED,
    NOT_GLB,
    TRIANGLE_BUDGET_UNREACHABLE,
    UNSUPPORTED_INPUT,
    ConversionRefused,
    ConversionTarget,
    GltfValidator,
    ValidatorUnavailable,
    convert,
)
from bridge.conversion.gltf_model import Glb, buffer_view_bytes, parse_glb, read_accessor
from bridge.conversion.service import _convert_sync
from mmmfed.testing import with_texture

SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"sample assets not found at {SAMPLES}")

GODETTE = "vrm/godot-vrm_Godette/Godette_vrm_v4.vrm"
CASES = [  # (file, source format, has enough triangles to halve)
    (GODETTE, "VRM 0.x", True),
    ("vrm/UniVRM_EmissionMigration/EmissionMigration_v0.107.0.vrm", "VRM 0.x", True),
    ("vrm/VRM-Addon-for-Blender_tests/pose_rotation_scale_shape_key_skinned.vrm", "VRM 0.x", False),
    (
        "vrm/vrm-specification_VRMC_materials_mtoon_UV_Animation_Test/VRMC_materials_mtoon_UV_Animation_Test.vrm",
        "VRM 1.0",
        False,
    ),
    ("gltf/Fox/Fox.glb", "glTF 2.0", True),
    ("gltf/BoxTextured/BoxTextured.glb", "glTF 2.0", False),
]


@pytest.fixture(scope="module")
def validator() -> GltfValidator:
    return GltfValidator()


def pack_gltf(path: Path) -> bytes:
    """Pack a .gltf with one external .bin into GLB bytes (test helper)."""
    doc = json.loads(path.read_text())
    binary = (path.parent / doc["buffers"][0].pop("uri")).read_bytes()
    binary += b"\0" * (-len(binary) % 4)
    body = json.dumps(doc).encode()
    body += b" " * (-len(body) % 4)
    total = 28 + len(body) + len(binary)
    return (
        struct.pack("<III", 0x46546C67, 2, total)
        + struct.pack("<II", len(body), 0x4E4F534A)
        + body
        + struct.pack("<II", len(binary), 0x004E4942)
        + binary
    )


def drawn_triangles(glb: Glb) -> int:
    """Triangles of every mesh, once per node instancing it (once if no node does)."""
    doc = glb.doc
    uses = [sum(1 for n in doc.get("nodes", []) if n.get("mesh") == m) or 1 for m in range(len(doc.get("meshes", [])))]
    total = 0
    for mesh, n in zip(doc.get("meshes", []), uses, strict=True):
        for prim in mesh["primitives"]:
            assert prim.get("mode", 4) == 4
            count = doc["accessors"][prim["indices"] if "indices" in prim else prim["attributes"]["POSITION"]]["count"]
            total += n * (count // 3)
    return total


def extension_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        names.update(node.get("extensions") or {})
        for key, value in node.items():
            if key != "extras":
                names |= extension_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= extension_names(item)
    return names


def morph_counts(doc: dict[str, Any]) -> list[int]:
    return [max(len(p.get("targets", [])) for p in m["primitives"]) for m in doc.get("meshes", [])]


def world_positions(doc: dict[str, Any]) -> dict[int, np.ndarray]:
    """World-space origin of every node reachable from the default scene (TRS only)."""

    def local(node: dict[str, Any]) -> np.ndarray:
        if "matrix" in node:
            return np.array(node["matrix"], dtype=float).reshape(4, 4).T
        x, y, z, w = node.get("rotation", [0, 0, 0, 1])
        rot = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        m = np.eye(4)
        m[:3, :3] = rot * np.array(node.get("scale", [1, 1, 1]))
        m[:3, 3] = node.get("translation", [0, 0, 0])
        return m

    out: dict[int, np.ndarray] = {}
    stack = [(n, np.eye(4)) for n in doc["scenes"][doc.get("scene", 0)]["nodes"]]
    while stack:
        n, parent = stack.pop()
        world = parent @ local(doc["nodes"][n])
        out[n] = world[:3, 3]
        stack.extend((c, world) for c in doc["nodes"][n].get("children", []))
    return out


@pytest.mark.parametrize(("name", "source_format", "halve"), CASES, ids=[Path(c[0]).stem for c in CASES])
async def test_sample_converts_to_valid_plain_gltf(
    name: str, source_format: str, halve: bool, validator: GltfValidator
) -> None:
    """Each real sample converts to a GLB the validator accepts (0 errors), within the triangle
    budget, without VRM extensions, with skins and morph targets intact and JPEG <= 512 px."""
    data = (SAMPLES / name).read_bytes()
    src = parse_glb(data)
    tris_in = drawn_triangles(src)
    budget = tris_in // 2 if halve else tris_in
    target = ConversionTarget(max_triangles=budget, texture_format="jpeg", max_texture_px=512)

    out, report = await convert(data, target, validator=validator)

    result = validator.validate_sync(out)  # independent check of the output
    assert result.errors == 0, result.messages
    assert (report.validator_errors, report.validator_warnings) == (0, result.warnings)
    glb = parse_glb(out)
    doc = glb.doc
    assert report.source_format == source_format
    assert (report.triangles_in, report.triangles_out) == (tris_in, drawn_triangles(glb))
    assert report.triangles_out <= budget
    assert (report.bytes_in, report.bytes_out) == (len(data), len(out))
    assert not {n for n in extension_names(doc) if n == "VRM" or n.startswith("VRMC_")}
    assert not {n for n in doc.get("extensionsUsed", []) if n == "VRM" or n.startswith("VRMC_")}
    assert [len(s["joints"]) for s in doc.get("skins", [])] == [len(s["joints"]) for s in src.doc.get("skins", [])]
    assert morph_counts(doc) == morph_counts(src.doc)
    assert len(doc.get("animations", [])) == len(src.doc.get("animations", []))
    for image in doc.get("images", []):
        assert image["mimeType"] == "image/jpeg"
        with Image.open(io.BytesIO(buffer_view_bytes(glb, image["bufferView"]))) as img:
            assert img.format == "JPEG"
            assert max(img.size) <= 512
    if source_format != "glTF 2.0":
        assert doc["asset"]["extras"]["vrm_meta"]
        assert "VRM meta in asset.extras (vrm_meta)" in report.kept
    assert report.facing_fixed == (source_format == "VRM 0.x")
    json.dumps(report.to_dict())


async def test_godette_report_faces_and_bytes(validator: GltfValidator) -> None:
    """Godette (VRM 0.x, facing -Z) comes out facing +Z, smaller, with what was dropped listed."""
    data = (SAMPLES / GODETTE).read_bytes()
    src = parse_glb(data)
    bones = {b["bone"]: b["node"] for b in src.doc["extensions"]["VRM"]["humanoid"]["humanBones"]}
    target = ConversionTarget(max_triangles=1700, texture_format="jpeg", max_texture_px=512)

    out, report = await convert(data, target, validator=validator)

    before, after = world_positions(src.doc), world_positions(parse_glb(out).doc)
    foot, toes = bones["leftFoot"], bones["leftToes"]
    assert before[toes][2] < before[foot][2]  # toes point to -Z in VRM 0.x
    assert after[toes][2] > after[foot][2]  # and to +Z after the fix
    assert np.allclose(after[toes][[0, 2]], -before[toes][[0, 2]], atol=1e-5)
    assert report.bytes_out < report.bytes_in
    assert "skin: 68 joints" in report.kept
    assert "morph targets: 15" in report.kept
    dropped = " | ".join(report.dropped)
    for feature in (
        "humanoid bone map",
        "spring bones",
        "MToon shading",
        "blend shape groups",
        "look-at",
        "first-person",
        "alpha on 1 textures (JPEG)",
    ):
        assert feature in dropped
    assert {t["from"] for t in report.textures} >= {"image/png 1024x1024"}
    assert parse_glb(out).doc["asset"]["extras"]["vrm_meta"]["licenseName"] == "CC_BY"


async def test_png_target_keeps_alpha_material(validator: GltfValidator) -> None:
    """A PNG target keeps alpha: Godette's BLEND material stays BLEND and nothing is reported."""
    data = (SAMPLES / GODETTE).read_bytes()
    target = ConversionTarget(max_triangles=100_000, texture_format="png", max_texture_px=256)

    out, report = await convert(data, target, validator=validator)

    doc = parse_glb(out).doc
    assert "BLEND" in {m.get("alphaMode") for m in doc["materials"]}
    assert not [d for d in report.dropped if d.startswith("alpha")]
    assert all(
        t["to"].startswith("image/png") and max(map(int, t["to"].split()[1].split("x"))) <= 256 for t in report.textures
    )
    assert report.triangles_out == report.triangles_in


async def test_gltf_with_morph_targets_packed_from_gltf(validator: GltfValidator) -> None:
    """AnimatedMorphCube (.gltf + .bin packed into a GLB by the test) keeps its morph targets and
    animation; decoded target data is unchanged."""
    data = pack_gltf(SAMPLES / "gltf/AnimatedMorphCube/AnimatedMorphCube.gltf")
    target = ConversionTarget(max_triangles=12, texture_format="png", max_texture_px=64)

    out, report = await convert(data, target, validator=validator)

    src, dst = parse_glb(data), parse_glb(out)
    assert report.validator_errors == 0
    assert "morph targets: 2" in report.kept and "animations: 1" in report.kept
    s_prim, d_prim = src.doc["meshes"][0]["primitives"][0], dst.doc["meshes"][0]["primitives"][0]
    s_idx = read_accessor(src, s_prim["indices"]).ravel()
    d_idx = read_accessor(dst, d_prim["indices"]).ravel()
    for s_t, d_t in zip(s_prim["targets"], d_prim["targets"], strict=True):
        s_pos, d_pos = read_accessor(src, s_t["POSITION"]), read_accessor(dst, d_t["POSITION"])
        assert np.array_equal(s_pos[s_idx], d_pos[d_idx])  # per-corner target data unchanged


async def test_sphere_refused_by_validator(validator: GltfValidator) -> None:
    """sphere.vrm (1984 validator errors: non-unit normals) is refused before conversion, with
    the error count and the first messages."""
    data = (SAMPLES / "vrm/VRM-Addon-for-Blender_tests/sphere.vrm").read_bytes()
    target = ConversionTarget(max_triangles=500, texture_format="jpeg", max_texture_px=512)

    with pytest.raises(ConversionRefused) as info:
        await convert(data, target, validator=validator)

    assert info.value.reason == GLTF_VALIDATION_FAILED
    assert "1984 errors" in info.value.message
    assert "ACCESSOR_VECTOR3_NON_UNIT at /meshes/0/primitives/0/attributes/NORMAL" in info.value.message


@pytest.mark.parametrize("cut", [0, 11, 20, 1000, -1])
async def test_truncated_glb_refused(cut: int, validator: GltfValidator) -> None:
    """A truncated GLB is refused as NOT_GLB."""
    data = (SAMPLES / "gltf/BoxTextured/BoxTextured.glb").read_bytes()[:cut]
    target = ConversionTarget(max_triangles=10, texture_format="png", max_texture_px=64)
    with pytest.raises(ConversionRefused) as info:
        await convert(data, target, validator=validator)
    assert info.value.reason == NOT_GLB


async def test_random_bytes_refused(validator: GltfValidator) -> None:
    """Random bytes are refused as NOT_GLB."""
    data = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    target = ConversionTarget(max_triangles=10, texture_format="png", max_texture_px=64)
    with pytest.raises(ConversionRefused) as info:
        await convert(data, target, validator=validator)
    assert info.value.reason == NOT_GLB


async def test_unreachable_budget_refused(validator: GltfValidator) -> None:
    """A budget simplification cannot meet without opening seams is refused, not exceeded."""
    data = (SAMPLES / "gltf/BoxTextured/BoxTextured.glb").read_bytes()
    target = ConversionTarget(max_triangles=6, texture_format="png", max_texture_px=64)
    with pytest.raises(ConversionRefused) as info:
        await convert(data, target, validator=validator)
    assert info.value.reason == TRIANGLE_BUDGET_UNREACHABLE


async def test_validator_unavailable(tmp_path: Path) -> None:
    """A missing gltf-validator package or node binary is VALIDATOR_UNAVAILABLE (INTERNAL)
    and tells the operator to run make setup."""
    box = (SAMPLES / "gltf/BoxTextured/BoxTextured.glb").read_bytes()
    with pytest.raises(ValidatorUnavailable, match="make setup") as info:
        await GltfValidator(node_modules_dir=tmp_path).validate(box)
    assert info.value.reason == "VALIDATOR_UNAVAILABLE"
    with pytest.raises(ValidatorUnavailable, match="make setup"):
        GltfValidator(node=str(tmp_path / "no-node")).validate_sync(box)


def test_mesh_refusals_come_before_texture_refusals_though_textures_run_beside_meshes() -> None:
    """The texture work runs in a thread beside the mesh work; an input whose meshes and texture
    would both be refused still gets the mesh reason (as when they ran one after the other), and
    with a budget it can meet, the texture's reason."""
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    data = with_texture((SAMPLES / "gltf/BoxTextured/BoxTextured.glb").read_bytes(), gif.getvalue())
    glb = parse_glb(data)
    with pytest.raises(ConversionRefused) as both:
        _convert_sync(glb, len(data), ConversionTarget(max_triangles=6, texture_format="png", max_texture_px=64))
    assert both.value.reason == TRIANGLE_BUDGET_UNREACHABLE
    with pytest.raises(ConversionRefused, match="GIF is not PNG or JPEG") as texture:
        _convert_sync(glb, len(data), ConversionTarget(max_triangles=1500, texture_format="png", max_texture_px=64))
    assert texture.value.reason == UNSUPPORTED_INPUT
