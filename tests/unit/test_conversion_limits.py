"""What a conversion may make the bridge spend (issue 12 item 6): image sizes checked from their
headers before anything is decoded or validated, and time limits on the validator and on the
whole conversion. The texture bomb is BoxTextured.glb with its texture replaced by a
12000x12000 PNG (0.45 MB encoded, 432 MB decoded) that the Khronos validator accepts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.conversion import (
    IMAGE_TOO_LARGE,
    ConversionLimits,
    ConversionRefused,
    ConversionTarget,
    ConversionTimeout,
    GltfValidator,
    ValidatorTimeout,
    convert,
)
from bridge.conversion.limits import check_image, image_size
from mmmfed.testing import solid_png, with_texture

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
BOX = SAMPLES / "gltf" / "BoxTextured" / "BoxTextured.glb"
GODETTE = SAMPLES / "vrm" / "godot-vrm_Godette" / "Godette_vrm_v4.vrm"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"sample assets not found at {SAMPLES}")
TARGET = ConversionTarget(max_triangles=1000, texture_format="jpeg", max_texture_px=1024)
PEAK_RSS_LIMIT_BYTES = 600 * 1024 * 1024


@pytest.fixture(scope="module")
def bomb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BoxTextured.glb whose texture is a 12000x12000 PNG, as a file."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.glb"
    path.write_bytes(with_texture(BOX.read_bytes(), solid_png(12000, 12000)))
    return path


def child_pids() -> set[int]:
    """Pids of this process's living children (from /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                out.add(int(entry.name))
    return out


def test_image_size_comes_from_the_header() -> None:
    """The size of a 12000x12000 PNG is read from its header (nothing decoded); it is over the
    default limits, and a 64x64 one is not."""
    big = solid_png(12000, 12000)
    assert image_size(big) == (12000, 12000)
    with pytest.raises(ConversionRefused, match="12000x12000") as info:
        check_image(big, ConversionLimits())
    assert info.value.reason == IMAGE_TOO_LARGE
    check_image(solid_png(64, 64), ConversionLimits())


def test_pixel_count_limit_applies_to_long_thin_images() -> None:
    """An image within the side limit but over the pixel limit is refused IMAGE_TOO_LARGE."""
    limits = ConversionLimits(max_image_side_px=8192, max_image_pixels=100 * 100)
    with pytest.raises(ConversionRefused) as info:
        check_image(solid_png(200, 100), limits)
    assert info.value.reason == IMAGE_TOO_LARGE


async def test_bomb_is_refused_before_validation(bomb_path: Path, tmp_path: Path) -> None:
    """The bomb is refused IMAGE_TOO_LARGE before the validator runs: a validator that cannot
    run (no node binary) is never reached."""
    unrunnable = GltfValidator(node=str(tmp_path / "no-node"))
    data = await asyncio.to_thread(bomb_path.read_bytes)
    with pytest.raises(ConversionRefused, match="12000x12000") as info:
        await convert(data, TARGET, validator=unrunnable)
    assert info.value.reason == IMAGE_TOO_LARGE
    assert info.value.code.name == "INVALID_ARGUMENT"


async def test_configured_limit_refuses_a_small_texture(tmp_path: Path) -> None:
    """A configured maximum below the sample's own texture refuses the sample itself."""
    with pytest.raises(ConversionRefused) as info:
        await convert(
            BOX.read_bytes(), TARGET, validator=GltfValidator(), limits=ConversionLimits(max_image_side_px=64)
        )
    assert info.value.reason == IMAGE_TOO_LARGE


# Runs COMMAND (argv as JSON) with stderr to STDERR_PATH and prints "<exit code> <peak RSS KiB>". The
# measuring parent is this small process, not pytest: a child forked from a large process can report
# the parent's resident pages (shared until exec) as its own peak.
_MEASURE = """
import json, resource, subprocess, sys
with open(sys.argv[2], "wb") as stderr:
    code = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=stderr).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def test_cli_refuses_the_bomb_within_600_mb(bomb_path: Path, tmp_path: Path) -> None:
    """`mmmfed convert BOMB.glb` exits 2 naming IMAGE_TOO_LARGE, with no traceback and no output
    file, and its process peaks under 600 MB (before the limit: about 1.2 GB)."""
    out, stderr_path = tmp_path / "x.glb", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "mmmfed", "convert", str(bomb_path), "--out", str(out), "--max-triangles", "1000"]
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(command), str(stderr_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    )
    returncode, peak_kib = (int(field) for field in measured.stdout.split())
    message = stderr_path.read_text()
    assert returncode == 2, message
    assert "IMAGE_TOO_LARGE" in message
    assert "Traceback" not in message
    assert not out.exists()
    assert peak_kib * 1024 < PEAK_RSS_LIMIT_BYTES, peak_kib  # Linux: ru_maxrss in KiB


async def test_validator_is_killed_at_its_time_limit() -> None:
    """A validator run over its time limit ends VALIDATOR_TIMEOUT (DEADLINE_EXCEEDED) and its
    process is gone; the blocking variant too."""
    data = GODETTE.read_bytes()
    validator = GltfValidator(timeout_s=0.01)
    before = child_pids()
    with pytest.raises(ValidatorTimeout) as info:
        await validator.validate(data)
    assert (info.value.reason, info.value.code.name) == ("VALIDATOR_TIMEOUT", "DEADLINE_EXCEEDED")
    assert child_pids() <= before
    with pytest.raises(ValidatorTimeout) as info:
        validator.validate_sync(data)
    assert info.value.reason == "VALIDATOR_TIMEOUT"
    assert child_pids() <= before


async def test_conversion_ends_at_its_time_limit() -> None:
    """A conversion over its time limit ends CONVERSION_TIMEOUT (DEADLINE_EXCEEDED), and the
    validator it was running is stopped."""
    before = child_pids()
    with pytest.raises(ConversionTimeout) as info:
        await convert(
            GODETTE.read_bytes(), TARGET, validator=GltfValidator(), limits=ConversionLimits(conversion_timeout_s=0.05)
        )
    assert (info.value.reason, info.value.code.name) == ("CONVERSION_TIMEOUT", "DEADLINE_EXCEEDED")
    assert child_pids() <= before
