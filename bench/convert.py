"""The bridge's Conversion Service on real avatars, beside a floor measured in the same run.

What is measured: the wall time of :func:`bridge.conversion.convert` (what the bridge runs for a
Convert call: validate the input, convert it to b.example's limits of the loopback federation,
<= 1,500 triangles and JPEG textures <= 512 px, validate the output) with the bridge's warm
validator (one long-lived Node.js worker).

Floor, per sample, in the same run and interleaved with it: the same warm validator on the input
and on the output, plus the texture work done by Pillow alone (decode each image of the input,
resize it LANCZOS to <= 512 px, encode JPEG quality 90), with nothing else: no glTF parsing, mesh
simplification, GLB rebuilding or report. For context, the same conversion with the validator
run as one Node.js process per validation (what the bridge did before its warm worker).

Samples (``../shared/samples``): Godette (VRM 0.x), the VRMC MToon UV animation test (VRM 1.0) and
AnimatedMorphCube (``.gltf`` JSON with an external ``.bin``; no textures, so its floor is the two
validations). The Conversion Service takes GLB; ``mmmfed convert`` packs a ``.gltf`` package into one
GLB first (:func:`mmmfed.content.input.read_model`), and so does this bench, before anything is
timed: that packing is not measured, and the conversion and its floor both start from the same GLB.

Bar: ``convert_vs_floor`` (the worst sample) <= 2.0. Medians over ``--runs`` runs after one
warm-up of each path. Last line: ``RESULT convert_vs_floor=R <sample>_vs_floor=... cold_convert_vs_floor=K
cold_validator_vs_warm=C`` (K: the worst sample's cold-validator conversion against its floor; C: the
smallest gain of the warm worker over a process per validation).

Run (from the checkout):  .venv/bin/python bench/convert.py [--runs 7] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from PIL import Image

from bridge.conversion import ConversionTarget, GltfValidator, convert
from bridge.conversion.gltf_model import buffer_view_bytes, parse_glb
from bridge.conversion.validator import ValidationResult
from mmmfed.cli.loopback import B_MAX_TEXTURE_PX, B_MAX_TRIANGLES, samples_dir
from mmmfed.content.input import read_model

SAMPLES = {
    "godette_vrm0": "vrm/godot-vrm_Godette/Godette_vrm_v4.vrm",
    "mtoon_vrm1": "vrm/vrm-specification_VRMC_materials_mtoon_UV_Animation_Test/"
    "VRMC_materials_mtoon_UV_Animation_Test.vrm",
    "morphcube_gltf": "gltf/AnimatedMorphCube/AnimatedMorphCube.gltf",
}
TARGET = ConversionTarget(max_triangles=B_MAX_TRIANGLES, texture_format="jpeg", max_texture_px=B_MAX_TEXTURE_PX)
JPEG_QUALITY = 90


def glb_of(path: Path) -> bytes:
    """The sample as GLB bytes, as ``mmmfed convert`` reads it: a ``.gltf`` package packed into one
    GLB (:func:`mmmfed.content.input.read_model`); a ``.vrm``/``.glb`` as it is."""
    return read_model(path).glb


class ColdValidator(GltfValidator):
    """The validator as it was: one Node.js process per validation (run in a thread)."""

    async def validate(self, data: bytes) -> ValidationResult:
        return await asyncio.to_thread(self.validate_sync, data)


def images_of(data: bytes) -> list[bytes]:
    """The bytes of every image (bufferView images) of a GLB."""
    glb = parse_glb(data)
    return [buffer_view_bytes(glb, int(i["bufferView"])) for i in glb.doc.get("images") or [] if "bufferView" in i]


def pillow_textures(images: list[bytes]) -> int:
    """Decode, resize to <= 512 px and encode JPEG each image, as Pillow alone; returns bytes out.

    A JPEG that already fits is kept as it is, as the Conversion Service keeps it."""
    total = 0
    for data in images:
        with Image.open(io.BytesIO(data)) as img:
            if img.format == "JPEG" and max(img.size) <= B_MAX_TEXTURE_PX:
                total += len(data)
                continue
            img.load()
            rgb = (img.convert("RGBA") if img.mode == "P" else img).convert("RGB")
        longest = max(rgb.size)
        if longest > B_MAX_TEXTURE_PX:
            ratio = B_MAX_TEXTURE_PX / longest
            rgb = rgb.resize(
                (max(1, round(rgb.size[0] * ratio)), max(1, round(rgb.size[1] * ratio))), Image.Resampling.LANCZOS
            )
        out = io.BytesIO()
        rgb.save(out, format="JPEG", quality=JPEG_QUALITY)
        total += out.tell()
    return total


async def timed(run: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


async def bench_sample(name: str, data: bytes, runs: int, warm: GltfValidator, cold: GltfValidator) -> dict[str, float]:
    """Median seconds of the conversion (warm and cold validator) and of the floor for one sample."""
    output, _ = await convert(data, TARGET, validator=warm)  # warm-up; the floor validates this output
    images = images_of(data)

    async def floor() -> None:
        await warm.validate(data)
        await asyncio.to_thread(pillow_textures, images)
        await warm.validate(output)

    async def converted() -> None:
        await convert(data, TARGET, validator=warm)

    async def converted_cold() -> None:
        await convert(data, TARGET, validator=cold)

    paths = {"convert": converted, "floor": floor, "convert_cold": converted_cold}
    for run in paths.values():
        await run()  # one warm-up each
    samples: dict[str, list[float]] = {key: [] for key in paths}
    for _ in range(runs):  # interleaved, so a busy moment costs every path alike
        for key, run in paths.items():
            samples[key].append(await timed(run))
    medians = {key: statistics.median(values) for key, values in samples.items()}
    print(
        f"{name:14s} {len(data) / 1e6:5.1f} MB {len(images):3d} images  "
        f"convert {medians['convert'] * 1000:7.0f} ms  floor {medians['floor'] * 1000:7.0f} ms  "
        f"ratio {medians['convert'] / medians['floor']:4.2f}x   "
        f"(cold validator: convert {medians['convert_cold'] * 1000:.0f} ms, "
        f"{medians['convert_cold'] / medians['floor']:.2f}x the floor)",
        flush=True,
    )
    return medians


async def main(runs: int) -> int:
    root = samples_dir()
    missing = [path for path in SAMPLES.values() if not (root / path).is_file()]
    if missing:
        print(f"samples not found under {root}: {missing}", file=sys.stderr)
        return 2
    warm, cold = GltfValidator(), ColdValidator()
    try:
        results = {
            name: await bench_sample(name, glb_of(root / path), runs, warm, cold) for name, path in SAMPLES.items()
        }
    finally:
        await warm.close()
    ratios = {name: r["convert"] / r["floor"] for name, r in results.items()}
    cold_gain = {name: r["convert_cold"] / r["convert"] for name, r in results.items()}
    fields = [f"convert_vs_floor={max(ratios.values()):.2f}"]
    fields += [f"{name}_vs_floor={ratio:.2f}" for name, ratio in ratios.items()]
    fields += [f"cold_convert_vs_floor={max(r['convert_cold'] / r['floor'] for r in results.values()):.2f}"]
    fields += [f"cold_validator_vs_warm={min(cold_gain.values()):.2f}"]
    print(f"bar: convert_vs_floor <= 2.00 ({'met' if max(ratios.values()) <= 2.0 else 'NOT met'})")
    print("RESULT " + " ".join(fields))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each path per sample (median)")
    parser.add_argument("--quick", action="store_true", help="a short run: 2 timed runs per path")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(2 if args.quick else args.runs)))
