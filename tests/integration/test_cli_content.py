"""`mmmfed content publish|list|show` against a running M-Instance (ITU FGMV-43 9.3 step 1, COTF;
COIR-101/102/204) over its Content service, with real files: a .gltf package from
../shared/samples, a freedesktop sound, Markdown; and refusals that exit 2 and store nothing."""

from __future__ import annotations

import json
from pathlib import Path

from cliproc import mmmfed_in_thread as mmmfed
from sample_assets import BOX, MORPH_CUBE, gltf_folder_of_glb, needs_samples, needs_sounds, sound_sample

from mmmfed.cli.inprocess import Federation
from mmmfed.items import sha256_hex

pytestmark = needs_samples
A = "a.example"
ALICE = f"mmm://{A}/processes/user/alice"


async def _operator(federation: Federation, tmp_path: Path) -> list[str]:
    """--config (a.example's, written to a file) and its operator's TLS material; alice registered."""
    assert federation.at_a is not None
    await federation.at_a.register_process(ALICE)
    cfg = federation.plan.instance_a
    config = tmp_path / "instance-a.json"
    config.write_text(cfg.model_dump_json())
    tls = federation.plan.operator_for(cfg)
    return ["--config", str(config), "--cert", str(tls.cert), "--key", str(tls.key)]


async def _json(*args: str) -> object:
    done = await mmmfed(*args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


async def _publish(at_a: list[str], file: Path, *extra: str) -> dict[str, object]:
    published = await _json("content", "publish", str(file), *at_a, "--owner", ALICE, *extra)
    assert isinstance(published, dict)
    return published


@needs_sounds
async def test_coir_204_cotf_publish_list_and_show_a_gltf_package_a_sound_and_text(
    federation: Federation, tmp_path: Path
) -> None:
    """The .gltf and its .bin are one content of two parts; list filters by tag and kind; show
    --out writes the package as a folder, byte for byte; a one-part content as a file."""
    at_a = await _operator(federation, tmp_path)
    cube = await _publish(
        at_a, MORPH_CUBE, "--title", "Morph cube", "--licence", "cc0-1.0", "--tag", "demo", "--creator", "Khronos"
    )
    assert (cube["kind"], cube["format"], cube["licence"], cube["owner_process_id"]) == (
        "Model3D",
        "glTF/2.0-json",
        "CC0-1.0",
        ALICE,
    )
    parts = cube["parts"]
    assert isinstance(parts, list) and [p["path"] for p in parts] == ["AnimatedMorphCube.gltf", "AnimatedMorphCube.bin"]
    assert parts[1]["sha256"] == sha256_hex(MORPH_CUBE.with_suffix(".bin").read_bytes())
    bell = await _publish(
        at_a, sound_sample("bell.oga"), "--title", "Bell", "--licence", "CC-BY-SA-3.0", "--tag", "demo"
    )
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nA content in Markdown.\n")
    text = await _publish(at_a, notes, "--title", "Notes", "--licence", "MIT")
    assert (bell["format"], text["format"]) == ("Ogg/Vorbis", "Markdown")

    listed = await _json("content", "list", *at_a)
    assert [c["item_id"] for c in listed] == [cube["item_id"], bell["item_id"], text["item_id"]]  # type: ignore[union-attr]
    demo = await _json("content", "list", *at_a, "--tag", "demo")
    assert [c["item_id"] for c in demo] == [cube["item_id"], bell["item_id"]]  # type: ignore[union-attr]
    sounds = await _json("content", "list", *at_a, "--kind", "Sound")
    assert [c["item_id"] for c in sounds] == [bell["item_id"]]  # type: ignore[union-attr]
    table = await mmmfed("content", "list", *at_a, columns=80)
    assert table.returncode == 0 and "Morph cube" in table.stdout and "Contents at a.example (3)" in table.stdout

    folder = tmp_path / "cube-out"
    shown = await _json("content", "show", str(cube["item_id"]), *at_a, "--out", str(folder))
    assert shown["written"] == str(folder)  # type: ignore[index]
    for name in ("AnimatedMorphCube.gltf", "AnimatedMorphCube.bin"):
        assert (folder / name).read_bytes() == (MORPH_CUBE.parent / name).read_bytes()
    ogg = tmp_path / "bell.oga"
    done = await mmmfed("content", "show", str(bell["item_id"]), *at_a, "--out", str(ogg))
    assert done.returncode == 0 and "Ogg/Vorbis" in done.stdout, done.stderr
    assert ogg.read_bytes() == sound_sample("bell.oga").read_bytes()


async def test_coir_204_a_gltf_whose_uri_leaves_the_package_is_refused_and_nothing_is_sent(
    federation: Federation, tmp_path: Path
) -> None:
    at_a = await _operator(federation, tmp_path)
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    hostile = gltf_folder_of_glb(BOX, tmp_path / "box", image_uri="../secret.png")
    done = await mmmfed(
        "content", "publish", str(hostile), *at_a, "--owner", ALICE, "--title", "Box", "--licence", "MIT"
    )
    assert done.returncode == 2 and "CONTENT_URI_OUTSIDE_PACKAGE" in done.stderr and "../secret.png" in done.stderr
    assert await _json("content", "list", *at_a) == []


async def test_cotf_refusals_exit_2_name_the_reason_and_store_nothing(federation: Federation, tmp_path: Path) -> None:
    """A licence that is not SPDX (checked before sending), an owner that is not a Process here,
    and a PNG cut short (checked by the M-Instance): exit 2, JSON error, nothing stored."""
    at_a = await _operator(federation, tmp_path)
    broken = tmp_path / "wood.png"
    broken.write_bytes(BOX.read_bytes()[:300].replace(b"glTF", b"\x89PNG", 1))
    cases = [
        (MORPH_CUBE, ALICE, "Freeware", "LICENCE_UNKNOWN"),
        (MORPH_CUBE, f"mmm://{A}/processes/user/nobody", "MIT", "USER_NOT_FOUND"),
        (broken, ALICE, "MIT", "CONTENT_MALFORMED"),
    ]
    for file, owner, licence, reason in cases:
        done = await mmmfed(
            "content", "publish", str(file), *at_a, "--owner", owner, "--title", "x", "--licence", licence, "--json"
        )
        assert done.returncode == 2, (reason, done.stdout, done.stderr)
        assert json.loads(done.stdout)["error"] == reason
    assert await _json("content", "list", *at_a) == []
    missing = await mmmfed("content", "show", f"mmm://{A}/items/none", *at_a, "--out", str(tmp_path / "none"))
    assert missing.returncode == 2 and "CONTENT_NOT_FOUND" in missing.stderr and not (tmp_path / "none").exists()
