"""The Conversion Service pipeline (ITU FGMV-43 9.1 AVCF; MPAI MMM-TEC Convert Action).

Steps: parse GLB -> validate input (refuse on errors) -> strip VRM, keep meta -> fix VRM 0.x
facing -> simplify to the triangle budget -> re-encode textures -> rebuild one clean GLB ->
validate output (0 errors or fail). The textures are re-encoded in a thread beside the mesh steps
(see :func:`_convert_sync`); the validator runs on its warm worker (:mod:`.validator`).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from bridge.conversion.errors import (
    GLTF_VALIDATION_FAILED,
    TRIANGLE_BUDGET_UNREACHABLE,
    ConversionOutputInvalid,
    ConversionRefused,
    ConversionTimeout,
)
from bridge.conversion.gltf_model import Glb, Json, parse_glb
from bridge.conversion.limits import ConversionLimits, check_image
from bridge.conversion.rebuild import (
    Rebuilder,
    count_instances,
    decode_meshes,
    drawn_triangles,
    image_bytes,
    morph_target_count,
    rewrite_skins_and_animations,
    texture_users,
)
from bridge.conversion.report import ConversionReport
from bridge.conversion.simplify import Primitive, simplify_to_budget, to_indexed_triangles
from bridge.conversion.target import ConversionTarget
from bridge.conversion.textures import ReencodedImage, reencode_image
from bridge.conversion.validator import GltfValidator, ValidationResult
from bridge.conversion.vrm import VRM0, check_required_extensions, fix_facing, strip_vrm

GENERATOR = "mmmfed bridge Conversion Service"
_SHOWN_MESSAGES = 5


@dataclass
class _Converted:
    data: bytes
    report: ConversionReport


def _first_messages(result: ValidationResult) -> str:
    return "; ".join(result.messages[:_SHOWN_MESSAGES])


async def convert(
    data: bytes, target: ConversionTarget, *, validator: GltfValidator, limits: ConversionLimits | None = None
) -> tuple[bytes, ConversionReport]:
    """Convert a VRM 0.x, VRM 1.0 or glTF 2.0 binary into a plain glTF 2.0 GLB fitting ``target``.

    Args:
        data: the input GLB bytes (.vrm or .glb).
        target: triangle budget, texture format and largest texture side.
        validator: runs the Khronos glTF validator on the input and on the output (with its own
            time limit).
        limits: image sizes and the time the whole conversion may take (issue 12 item 6);
            :class:`ConversionLimits` defaults when None.

    Returns:
        (output GLB bytes, report). The output validates with 0 errors.

    Raises:
        ConversionRefused: reasons NOT_GLB, GLTF_VALIDATION_FAILED (with the error count and
            first messages), TRIANGLE_BUDGET_UNREACHABLE, UNSUPPORTED_INPUT (FGMV-43 AVIR-202),
            IMAGE_TOO_LARGE (an image header over ``limits``, refused before anything is decoded
            or validated).
        ValidatorUnavailable: Node.js or gltf-validator missing.
        ValidatorTimeout: a validator run took longer than its time limit (it was killed).
        ConversionTimeout: the whole conversion took longer than ``limits.conversion_timeout_s``
            (a worker thread already converting finishes in the background; its result is dropped).
        ConversionOutputInvalid: the output failed validation (a bug in this service).

    Parsing and CPU-heavy work run in a worker thread (``asyncio.to_thread``).
    """
    limits = limits if limits is not None else ConversionLimits()
    try:
        return await asyncio.wait_for(_convert(data, target, validator, limits), limits.conversion_timeout_s)
    except TimeoutError as err:
        raise ConversionTimeout(
            f"the conversion did not finish within {limits.conversion_timeout_s} s; the input is too costly"
        ) from err


def _parse_and_check_images(data: bytes, limits: ConversionLimits) -> Glb:
    """Parse the GLB and refuse it if any image header is over ``limits`` (nothing decoded)."""
    glb = parse_glb(data)
    for i, image in enumerate(glb.doc.get("images") or []):
        name = f"image {i}" + (f" ({image['name']})" if isinstance(image, dict) and image.get("name") else "")
        if isinstance(image, dict):
            check_image(image_bytes(glb, image, i), limits, name=name)
    return glb


async def _convert(
    data: bytes, target: ConversionTarget, validator: GltfValidator, limits: ConversionLimits
) -> tuple[bytes, ConversionReport]:
    glb = await asyncio.to_thread(_parse_and_check_images, data, limits)
    checked = await validator.validate(data)
    if checked.errors:
        raise ConversionRefused(
            f"the Khronos glTF validator reports {checked.errors} errors in the input; "
            f"first: {_first_messages(checked)}",
            reason=GLTF_VALIDATION_FAILED,
            metadata={"validator_errors": str(checked.errors)},
        )
    converted = await asyncio.to_thread(_convert_sync, glb, len(data), target)
    result = await validator.validate(converted.data)
    if result.errors:
        raise ConversionOutputInvalid(f"converted file has {result.errors} validator errors: {_first_messages(result)}")
    converted.report.validator_errors = result.errors
    converted.report.validator_warnings = result.warnings
    return converted.data, converted.report


def _reencode_images(glb: Glb, target: ConversionTarget) -> list[ReencodedImage]:
    """Every image of the input (in order) re-encoded for ``target``: the texture work."""
    return [
        reencode_image(image_bytes(glb, image, i), fmt=target.texture_format, max_px=target.max_texture_px)
        for i, image in enumerate(glb.doc.get("images") or [])
    ]


def _convert_sync(glb: Glb, bytes_in: int, target: ConversionTarget) -> _Converted:
    """The conversion proper, on a validated input. The texture work runs in a second thread
    beside the mesh work (Pillow's codecs and meshoptimizer's C code release the GIL): it reads
    only ``glb`` (which nothing here changes: :func:`strip_vrm` works on a copy), and its result
    or error is taken where the images are written, so errors come in the same order as when
    both ran one after the other (mesh errors first)."""
    if not glb.doc.get("images"):  # no texture work: no second thread to start and join (~0.6 ms)
        none: Future[list[ReencodedImage]] = Future()
        none.set_result([])
        return _convert_with(glb, bytes_in, target, none)
    with ThreadPoolExecutor(1, thread_name_prefix="conversion-textures") as pool:
        images = pool.submit(_reencode_images, glb, target)
        return _convert_with(glb, bytes_in, target, images)


def _convert_with(
    glb: Glb, bytes_in: int, target: ConversionTarget, images: Future[list[ReencodedImage]]
) -> _Converted:
    check_required_extensions(glb.doc)
    doc, stripped = strip_vrm(glb.doc)
    report = ConversionReport(source_format=stripped.source_format, bytes_in=bytes_in)
    report.kept.extend(stripped.kept)
    report.dropped.extend(stripped.dropped)
    if stripped.source_format == VRM0:
        report.facing_fixed = fix_facing(doc)
    meshes = [[to_indexed_triangles(p) for p in m] for m in decode_meshes(glb, doc)]
    instances = count_instances(doc)
    report.triangles_in = drawn_triangles(meshes, instances)
    meshes, info = simplify_to_budget(meshes, instances, target.max_triangles)
    if report.triangles_in > target.max_triangles:
        locked = f", borders locked on meshes {info.locked_meshes}" if info.locked_meshes else ""
        report.kept.append(f"seams (simplified at relative error <= {info.target_error}{locked})")
    report.triangles_out = drawn_triangles(meshes, instances)
    rebuilder = Rebuilder(glb)
    _write_meshes(doc, meshes, rebuilder, report)
    rewrite_skins_and_animations(doc, rebuilder)
    _write_images(doc, images.result(), rebuilder, report)
    _describe_kept(doc, report)
    asset = doc.setdefault("asset", {"version": "2.0"})
    if "generator" in asset:
        asset.setdefault("extras", {})["source_generator"] = asset["generator"]
    asset["generator"] = GENERATOR
    out = rebuilder.build(doc)
    report.bytes_out = len(out)
    return _Converted(out, report)


def _write_meshes(doc: Json, meshes: list[list[Primitive]], rebuilder: Rebuilder, report: ConversionReport) -> None:
    emptied = 0
    for m, (mesh, prims) in enumerate(zip(doc.get("meshes") or [], meshes, strict=True)):
        kept = []
        for src, prim in zip(mesh["primitives"], prims, strict=True):
            if prim.indices is not None and len(prim.indices) == 0:
                emptied += 1
                continue
            kept.append(rebuilder.write_primitive(prim, src))
        if not kept:
            raise ConversionRefused(
                f"mesh {m} would keep no triangle under the budget",
                reason=TRIANGLE_BUDGET_UNREACHABLE,
            )
        mesh["primitives"] = kept
    if emptied:
        report.dropped.append(f"primitives left with no triangle ({emptied})")


def _write_images(doc: Json, reencoded: list[ReencodedImage], rebuilder: Rebuilder, report: ConversionReport) -> None:
    users = texture_users(doc)
    materials = doc.get("materials") or []
    alpha_images = 0
    made_opaque: list[str] = []
    for i, (image, encoded) in enumerate(zip(doc.get("images") or [], reencoded, strict=True)):
        for key in ("uri", "bufferView", "mimeType"):
            image.pop(key, None)
        image["bufferView"] = rebuilder.add_image(encoded.data)
        image["mimeType"] = encoded.mime_type
        w_in, h_in = encoded.size_in
        w_out, h_out = encoded.size_out
        report.textures.append(
            {
                "name": str(image.get("name") or f"image {i}"),
                "from": f"{encoded.mime_in} {w_in}x{h_in}",
                "to": f"{encoded.mime_type} {w_out}x{h_out}",
            }
        )
        blended = [m for m in users.get(i, []) if materials[m].get("alphaMode") in ("BLEND", "MASK")]
        if encoded.alpha_dropped and blended:
            alpha_images += 1
            made_opaque.extend(_settle_alpha_mode(materials, blended))
    if alpha_images:
        note = f"; materials made OPAQUE: {', '.join(made_opaque)}" if made_opaque else ""
        report.dropped.append(f"alpha on {alpha_images} textures (JPEG){note}")


def _settle_alpha_mode(materials: list[Json], indices: list[int]) -> list[str]:
    """A BLEND/MASK material whose base colour texture lost its alpha keeps alphaMode only if
    baseColorFactor's alpha is below 1 (alpha still varies); otherwise it becomes OPAQUE."""
    changed = []
    for m in indices:
        mat = materials[m]
        factor = (mat.get("pbrMetallicRoughness") or {}).get("baseColorFactor") or [1, 1, 1, 1]
        if factor[3] >= 1 and mat.get("alphaMode") != "OPAQUE":
            mat["alphaMode"] = "OPAQUE"
            mat.pop("alphaCutoff", None)
            changed.append(str(mat.get("name") or f"material {m}"))
    return changed


def _describe_kept(doc: Json, report: ConversionReport) -> None:
    for skin in doc.get("skins") or []:
        report.kept.append(f"skin: {len(skin.get('joints') or [])} joints")
    targets = morph_target_count(doc)
    if targets:
        report.kept.append(f"morph targets: {targets}")
    if doc.get("animations"):
        report.kept.append(f"animations: {len(doc['animations'])}")
    if doc.get("extensionsUsed"):
        report.kept.append(f"extensions: {', '.join(doc['extensionsUsed'])}")
