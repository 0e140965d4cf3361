"""`mmmfed convert` on a glTF in its JSON form (ITU FGMV-43 9.3, COIR-204/205): the ``.gltf``
package is packed into one GLB and converted by the bridge's Conversion Service, on real samples."""

from __future__ import annotations

import json
from pathlib import Path

from cliproc import mmmfed
from sample_assets import BOX, MORPH_CUBE, copy_gltf_sample, gltf_folder_of_glb, needs_samples

from mmmfed.glb import inspect_glb


@needs_samples
def test_coir_205_convert_packs_a_gltf_with_an_external_bin_into_a_valid_glb(tmp_path: Path) -> None:
    out = tmp_path / "cube.glb"
    result = mmmfed("convert", str(MORPH_CUBE), "--max-triangles", "1500", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["validator_errors"], report["validator_warnings"]) == (0, 0)
    assert [p["path"] for p in report["package"]["parts"]] == ["AnimatedMorphCube.gltf", "AnimatedMorphCube.bin"]
    assert "morph targets: 2" in report["kept"] and "animations: 1" in report["kept"]
    facts = inspect_glb(out.read_bytes())
    assert facts.format == "glTF/2.0-binary" and facts.triangles == 12


@needs_samples
def test_coir_205_convert_reencodes_the_external_texture_of_a_gltf(tmp_path: Path) -> None:
    gltf = gltf_folder_of_glb(BOX, tmp_path / "box")
    out = tmp_path / "box.glb"
    result = mmmfed("convert", str(gltf), "--max-triangles", "1500", "--max-texture-px", "128", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "0 errors, 0 warnings" in result.stdout and "packed from .gltf: 3 parts" in result.stdout
    facts = inspect_glb(out.read_bytes())
    assert facts.texture_formats == ("image/jpeg",) and facts.max_texture_px <= 128


@needs_samples
def test_coir_204_convert_refuses_a_gltf_whose_uri_leaves_the_package(tmp_path: Path) -> None:
    """Exit 2 naming the URI and the file; nothing written; the same under --json."""
    (tmp_path / "secret.png").write_bytes(BOX.read_bytes()[:64])
    gltf = gltf_folder_of_glb(BOX, tmp_path / "box", image_uri="../secret.png")
    out = tmp_path / "out.glb"
    result = mmmfed("convert", str(gltf), "--max-triangles", "1500", "--out", str(out))
    assert result.returncode == 2
    assert "CONTENT_URI_OUTSIDE_PACKAGE" in result.stderr and "../secret.png" in result.stderr
    assert "BoxTextured.gltf" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    as_json = mmmfed("convert", str(gltf), "--max-triangles", "1500", "--out", str(out), "--json")
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["error"] == "CONTENT_URI_OUTSIDE_PACKAGE"
    assert not out.exists()


@needs_samples
def test_coir_204_convert_refuses_a_gltf_with_a_missing_buffer(tmp_path: Path) -> None:
    gltf = copy_gltf_sample(MORPH_CUBE, tmp_path / "cube")
    gltf.with_suffix(".bin").unlink()
    out = tmp_path / "out.glb"
    result = mmmfed("convert", str(gltf), "--max-triangles", "1500", "--out", str(out))
    assert result.returncode == 2 and "CONTENT_PART_MISSING" in result.stderr
    assert "AnimatedMorphCube.bin" in result.stderr and not out.exists()
