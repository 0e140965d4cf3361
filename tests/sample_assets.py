"""The real sample assets the tests use (``../shared/samples``, see mmmfed.cli.loopback.samples_dir)
and the mark that skips a test when they are absent. A support module, not a conftest: pytest
loads every ``conftest.py`` under the module name ``conftest``, so test modules must not import
from one."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest

from mmmfed.cli.loopback import samples_dir

SAMPLES = samples_dir()
GODETTE = SAMPLES / "vrm" / "godot-vrm_Godette" / "Godette_vrm_v4.vrm"
VRM1 = (
    SAMPLES
    / "vrm"
    / "vrm-specification_VRMC_materials_mtoon_UV_Animation_Test"
    / "VRMC_materials_mtoon_UV_Animation_Test.vrm"
)
SPHERE = SAMPLES / "vrm" / "VRM-Addon-for-Blender_tests" / "sphere.vrm"
BOX = SAMPLES / "gltf" / "BoxTextured" / "BoxTextured.glb"
FOX = SAMPLES / "gltf" / "Fox" / "Fox.glb"
MORPH_CUBE = SAMPLES / "gltf" / "AnimatedMorphCube" / "AnimatedMorphCube.gltf"

needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"real sample assets not found at {SAMPLES} (../shared/samples)"
)

USDA_CUBE = b'#usda 1.0\n(\n    defaultPrim = "Cube"\n)\n\ndef Cube "Cube"\n{\n    double size = 1\n}\n'


def usdz_package(entries: list[tuple[str, bytes]] | None = None, *, align: bool = True) -> bytes:
    """A USDZ package (OpenUSD "Usdz File Format Specification"): a zip of stored entries whose
    data starts on 64-byte boundaries (padded with an extra field, as usdzip does), first entry a
    USD layer; by default one ``cube.usda``. ``align=False`` leaves the data unaligned (a plain
    zip), to be refused."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries if entries is not None else [("cube.usda", USDA_CUBE)]:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            pad = (-(out.tell() + 30 + len(name.encode()))) % 64 if align else 0
            if 0 < pad < 4:
                pad += 64  # an extra field record is at least its 4-byte header
            if pad:
                info.extra = struct.pack("<HH", 0x1986, pad - 4) + bytes(pad - 4)
            archive.writestr(info, data)
    return out.getvalue()


def gltf_folder_of_glb(glb: Path, folder: Path, *, image_uri: str = "texture.png") -> Path:
    """Unpack a real GLB (e.g. BoxTextured) into ``folder`` as a ``.gltf`` with its BIN chunk as
    an external ``.bin`` and each bufferView image as an external file (the first named
    ``image_uri``; give a URI that leaves the folder to make a hostile package). Returns the
    ``.gltf`` path."""
    from mmmfed.glb import split_glb

    doc, blob = split_glb(glb.read_bytes())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{glb.stem}.bin").write_bytes(blob)
    doc["buffers"] = [{"uri": f"{glb.stem}.bin", "byteLength": len(blob)}]
    for i, image in enumerate(doc.get("images") or []):
        view = doc["bufferViews"][image.pop("bufferView")]
        start = view.get("byteOffset", 0)
        name = image_uri if i == 0 else f"image{i}.png"
        if not name.startswith(("..", "/", "file:", "http")):
            (folder / name).write_bytes(blob[start : start + view["byteLength"]])
        image["uri"] = name
    path = folder / f"{glb.stem}.gltf"
    path.write_text(json.dumps(doc))
    return path


def copy_gltf_sample(src: Path, folder: Path) -> Path:
    """Copy a ``.gltf`` sample and the files beside it into ``folder`` (writable); the copy's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in src.parent.iterdir():  # bytes only: the samples are read-only, the copy is not
        if f.is_file():
            (folder / f.name).write_bytes(f.read_bytes())
    return folder / src.name


SOUNDS = Path("/usr/share/sounds/freedesktop/stereo")  # Debian sound-theme-freedesktop (make setup)
needs_sounds = pytest.mark.skipif(
    not SOUNDS.is_dir(), reason=f"real sounds not found at {SOUNDS}: run make setup (sound-theme-freedesktop)"
)


def sound_sample(name: str) -> Path:
    """A real Ogg Vorbis sound of the freedesktop sound theme, e.g. ``bell.oga``."""
    return SOUNDS / name
