"""The Qualifier Format registry (mmmfed.formats): every format the project names is registered,
real files of each format pass its check, files of another format or flavour, cut short or not
laid out as the specification says are refused with their reason, and a manifesto or Conversion
Service naming a format no one knows is refused with the field named (issue 13 item 4)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from sample_assets import BOX, FOX, GODETTE, SPHERE, VRM1, needs_samples, usdz_package

from bridge.service import CONVERSION_PAIRS, check_conversion_pairs
from instance.node import InstanceNode
from mmmfed.config import FeatureConfig, InstanceConfig, ManifestoConfig, check_manifesto_formats, load_config
from mmmfed.errors import InvalidInput
from mmmfed.formats import FORMAT_USDZ, FORMATS, MEDIA_GLB, MEDIA_USDZ, check_data, lookup
from mmmfed.items import FORMAT_GLB, FORMAT_VRM_0, FORMAT_VRM_1


def _refused(fmt: str, data: bytes, reason: str, *mentions: str, media_type: str = "") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_data(fmt, data, media_type=media_type)
    err = caught.value
    assert err.reason == reason, err
    assert err.metadata["format"] == fmt[:256]
    for fact in mentions:
        assert fact in err.message, (fact, err.message)
    return err


def test_every_format_the_project_names_is_registered_with_its_media_type_and_spec() -> None:
    assert set(FORMATS) == {FORMAT_GLB, FORMAT_VRM_0, FORMAT_VRM_1, FORMAT_USDZ}
    assert {name: f.media_types for name, f in FORMATS.items()} == {
        FORMAT_GLB: (MEDIA_GLB,),
        FORMAT_VRM_0: (MEDIA_GLB,),
        FORMAT_VRM_1: (MEDIA_GLB,),
        FORMAT_USDZ: (MEDIA_USDZ,),
    }
    assert all(f.spec and f.name == name for name, f in FORMATS.items())
    check_conversion_pairs(CONVERSION_PAIRS)  # the bridge's own pairs are all known


@needs_samples
@pytest.mark.parametrize(
    ("path", "fmt"),
    [(BOX, FORMAT_GLB), (FOX, FORMAT_GLB), (GODETTE, FORMAT_VRM_0), (SPHERE, FORMAT_VRM_0), (VRM1, FORMAT_VRM_1)],
)
def test_real_samples_pass_their_formats_check(path: Path, fmt: str) -> None:
    assert check_data(fmt, path.read_bytes()) == MEDIA_GLB
    assert check_data(fmt, path.read_bytes(), media_type=MEDIA_GLB) == MEDIA_GLB


@needs_samples
@pytest.mark.parametrize(
    ("path", "declared", "found"),
    [
        (GODETTE, FORMAT_VRM_1, FORMAT_VRM_0),
        (VRM1, FORMAT_VRM_0, FORMAT_VRM_1),
        (BOX, FORMAT_VRM_1, FORMAT_GLB),
        (GODETTE, FORMAT_GLB, FORMAT_VRM_0),
    ],
)
def test_a_glb_of_another_flavour_is_a_format_mismatch(path: Path, declared: str, found: str) -> None:
    err = _refused(declared, path.read_bytes(), "ASSET_FORMAT_MISMATCH", declared, f"declare its format as {found}")
    assert err.metadata["found"] == found


@needs_samples
def test_broken_glbs_are_refused_with_the_glb_reason() -> None:
    box = BOX.read_bytes()
    _refused(FORMAT_GLB, box[: len(box) // 2], "GLB_TRUNCATED", "not a valid glTF/2.0-binary file")
    _refused(FORMAT_VRM_0, usdz_package(), "GLB_MALFORMED", "missing 'glTF' magic")
    _refused(FORMAT_GLB, b"", "GLB_MALFORMED")


def test_a_usdz_package_laid_out_as_the_spec_says_passes() -> None:
    assert check_data(FORMAT_USDZ, usdz_package()) == MEDIA_USDZ
    textured = usdz_package([("scene.usdc", b"PXR-USDC" + bytes(80)), ("textures/a.png", b"\x89PNG" + bytes(7))])
    assert check_data(FORMAT_USDZ, textured, media_type=MEDIA_USDZ) == MEDIA_USDZ


@needs_samples
def test_files_that_are_not_usdz_packages_are_refused() -> None:
    _refused(FORMAT_USDZ, BOX.read_bytes(), "USDZ_MALFORMED", "not a readable zip archive")
    _refused(FORMAT_USDZ, usdz_package(align=False), "USDZ_MALFORMED", "64-byte boundary")
    _refused(FORMAT_USDZ, usdz_package([("readme.txt", b"#usda 1.0")]), "USDZ_MALFORMED", "'readme.txt' is not a .usda")
    _refused(FORMAT_USDZ, usdz_package([("cube.usdc", b"#usda 1.0")]), "USDZ_MALFORMED", "neither USD text")
    _refused(FORMAT_USDZ, usdz_package([]), "USDZ_MALFORMED", "empty")
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cube.usda", b"#usda 1.0\n" * 20)
    _refused(FORMAT_USDZ, deflated.getvalue(), "USDZ_MALFORMED", "compressed")


@needs_samples
def test_media_type_must_be_the_formats_own_or_unspecified() -> None:
    _refused(FORMAT_USDZ, usdz_package(), "ASSET_MEDIA_TYPE_MISMATCH", MEDIA_USDZ, media_type=MEDIA_GLB)
    _refused(FORMAT_GLB, BOX.read_bytes(), "ASSET_MEDIA_TYPE_MISMATCH", "image/png", media_type="image/png")
    assert check_data(FORMAT_GLB, BOX.read_bytes(), media_type="application/octet-stream") == MEDIA_GLB


def test_an_unknown_format_is_refused_naming_the_field_and_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        lookup("FBX/7.4", field="manifesto.accepts[3].format")
    err = caught.value
    assert err.reason == "UNKNOWN_FORMAT"
    assert err.metadata == {"field": "manifesto.accepts[3].format", "format": "FBX/7.4"}
    assert "manifesto.accepts[3].format 'FBX/7.4'" in err.message and FORMAT_USDZ in err.message
    _refused("FBX/7.4", b"", "UNKNOWN_FORMAT")


def test_a_conversion_pair_naming_an_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_conversion_pairs([*CONVERSION_PAIRS, (FORMAT_VRM_1, "FBX/7.4", ())])
    assert caught.value.reason == "UNKNOWN_FORMAT"
    assert "conversion pair 3 (VRM/1.0 -> FBX/7.4) to format" in caught.value.message


def _instance_config(tmp_path: Path, accepts: list[str]) -> dict[str, object]:
    manifesto = ManifestoConfig(
        produces=[FeatureConfig(format=FORMAT_VRM_1)], accepts=[FeatureConfig(format=f) for f in accepts]
    )
    return {
        "m_instance_id": "a.example",
        "tls_name": "instance.a.example",
        "data_dir": str(tmp_path / "data"),
        "tls": {"ca_cert": "ca.pem", "cert": "cert.pem", "key": "key.pem"},
        "manifesto": manifesto.model_dump(),
    }


def test_an_instance_config_naming_an_unknown_format_is_refused_with_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(_instance_config(tmp_path, [FORMAT_GLB, "glTF/2.0"])))
    with pytest.raises(InvalidInput) as caught:
        load_config(path, InstanceConfig)
    err = caught.value
    assert err.reason == "UNKNOWN_FORMAT", err
    assert f"config {path}: manifesto.accepts[1].format 'glTF/2.0'" in err.message
    assert "or remove that feature" in err.message

    path.write_text(json.dumps(_instance_config(tmp_path, [FORMAT_GLB, FORMAT_USDZ])))
    check_manifesto_formats(load_config(path, InstanceConfig).manifesto, source="test")  # all known


def test_an_instance_node_refuses_to_start_before_opening_its_data_dir(tmp_path: Path) -> None:
    """A config built in code (the in-process federation's way) is refused by the node itself."""
    config = InstanceConfig.model_validate(_instance_config(tmp_path, ["USDZ/2.0"]))
    with pytest.raises(InvalidInput) as caught:
        InstanceNode(config)
    assert caught.value.reason == "UNKNOWN_FORMAT"
    assert "M-Instance a.example: manifesto.accepts[0].format 'USDZ/2.0'" in caught.value.message
    assert not (tmp_path / "data").exists()
