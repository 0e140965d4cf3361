"""The bridge's Conversion Service for contents (ITU FGMV-43 9.3 with 9.5 steps 5-9, COCF,
COIR-204/205): a content whose Qualifier or Attributes the destination's manifesto does not
accept, converted to one it does, with the report of what was kept, changed and lost.

* ``Model3D``: a ``.gltf`` package (``glTF/2.0-json``) is packed into one GLB
  (:func:`mmmfed.content.glb_pack.pack_glb`) and, like a ``.glb``, goes through the avatar
  Conversion Service (:func:`bridge.conversion.convert`): textures to the accepted format and
  size, meshes simplified under the triangle limit, input and output checked by the Khronos glTF
  validator. Out: one ``.glb`` part (``glTF/2.0-binary``).
* ``Image``: PNG, JPEG or WebP decoded whole by Pillow, downscaled (LANCZOS, aspect kept) so its
  longest side fits, encoded in the accepted format (alpha lost in JPEG; WebP lossless from a PNG).
* ``Sound``: WAV, FLAC or Ogg decoded whole by libsndfile (soundfile), mixed down to the accepted
  channels, resampled (windowed-sinc low-pass, then linear interpolation) to the highest accepted
  sample rate, encoded in the accepted codec (WAV / FLAC 16-bit PCM, Ogg Vorbis).

The converted content is a new Item of the home M-Instance (the bridge signs it; its
``SourceItem`` is the home Item with its proof, so the destination verifies both), with the
home Item's ICapabilities (Rights), DescrMetadata (licence and metadata) and Trace unchanged,
``DescrMetadata.ConvertedBy`` naming the bridge and ``DescrMetadata.Conversion`` a short summary
``{"From": "<SubType> <Format>", "Lost": [...]}`` (left out when DescrMetadata would pass its
2,048 characters). Refusals are ConversionRefused (INVALID_ARGUMENT) with the reasons of
:mod:`bridge.conversion.errors`, ``CONTENT_MALFORMED`` (input that is not a file of its kind) and
``SOUND_TOO_LONG`` (more samples than :data:`MAX_SOUND_SAMPLES`).
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from PIL import Image

from bridge.conversion import ConversionLimits, GltfValidator, convert
from bridge.conversion.errors import IMAGE_TOO_LARGE, UNSUPPORTED_INPUT, ConversionRefused
from bridge.conversion.limits import check_image
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.content.glb_pack import pack_glb
from mmmfed.content.item import CONTENT_ITEM_TYPE
from mmmfed.content.kinds import FORMAT_GLTF_JSON, inspect_parts
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.errors import InvalidInput
from mmmfed.items import FORMAT_GLB, Item, build_item, new_id

IMAGE_FORMATS = ("PNG", "JPEG", "WebP")
SOUND_SOURCES = ("WAV", "FLAC", "Ogg/Vorbis", "Ogg/Opus")
SOUND_TARGETS = ("WAV", "FLAC", "Ogg/Vorbis")
_LOSSY_SOUNDS = frozenset({"Ogg/Vorbis", "Ogg/Opus"})
_LOSSY_DROP = ("lossless samples (Vorbis is lossy)",)
# (SubType, from Format, to Format, what cannot be carried)
CONTENT_PAIRS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("Model3D", FORMAT_GLTF_JSON, FORMAT_GLB, ()),
    ("Model3D", FORMAT_GLB, FORMAT_GLB, ()),
    *(
        ("Image", src, dst, ("alpha channel (JPEG has none)",) if dst == "JPEG" and src != "JPEG" else ())
        for src in IMAGE_FORMATS
        for dst in IMAGE_FORMATS
    ),
    *(
        ("Sound", src, dst, _LOSSY_DROP if dst in _LOSSY_SOUNDS and src not in _LOSSY_SOUNDS else ())
        for src in SOUND_SOURCES
        for dst in SOUND_TARGETS
    ),
)
MAX_SOUND_SAMPLES = 2**25
"""The most samples (frames x channels) of one sound this bridge decodes (128 MiB as float32)."""
MAX_LOST_SHOWN = 6
_SUFFIXES = {FORMAT_GLB: ".glb", "PNG": ".png", "JPEG": ".jpg", "WebP": ".webp", "WAV": ".wav", "FLAC": ".flac"}
_SUFFIXES["Ogg/Vorbis"] = ".ogg"
_PIL_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WebP": "WEBP"}
_SOUND_WRITE = {"WAV": ("WAV", "PCM_16"), "FLAC": ("FLAC", "PCM_16"), "Ogg/Vorbis": ("OGG", "VORBIS")}
JPEG_QUALITY = 90
_FIR_TAPS = 63


def content_pair(sub_type: str, src: str, dst: str) -> tuple[str, ...] | None:
    """The drops of the content pair ``sub_type`` ``src`` -> ``dst``, None if this bridge lacks it."""
    for s, f, t, drops in CONTENT_PAIRS:
        if (s, f, t) == (sub_type, src, dst):
            return drops
    return None


def content_conversions() -> list[mpb.ConversionPair]:
    """The content pairs as manifesto V ConversionPairs (Item type ``ITM``)."""
    return [
        mpb.ConversionPair(
            item_type=CONTENT_ITEM_TYPE,
            from_qualifier=mpb.Qualifier(sub_type=sub_type, format=src),
            to_qualifier=mpb.Qualifier(sub_type=sub_type, format=dst),
            drops=drops,
        )
        for sub_type, src, dst, drops in CONTENT_PAIRS
    ]


@dataclass(frozen=True)
class ConvertedContent:
    """A converted content: its package (one part) and the report ``{"kind", "source_format",
    "target_format", "bytes_in", "bytes_out", "kept", "changed", "dropped", ...}`` (a model's
    report has the avatar report's fields too)."""

    package: ContentPackage
    report: dict[str, Any]


async def convert_content(
    package: ContentPackage,
    source_qualifier: Mapping[str, Any],
    target: mpb.Feature,
    *,
    validator: GltfValidator,
    limits: ConversionLimits,
    model_target: Any,
) -> ConvertedContent:
    """Convert the content ``package`` of ``source_qualifier`` for ``target`` (see the module
    docstring); ``model_target`` is the ConversionTarget of a Model3D target. CPU work runs in a
    worker thread. Raises ConversionRefused and the Conversion Service's errors."""
    sub_type, src = str(source_qualifier.get("SubType", "")), str(source_qualifier.get("Format", ""))
    dst = target.qualifier.format
    stem = Path(package.root.path).stem or "content"
    name = stem + _SUFFIXES.get(dst, "")
    bytes_in = sum(p.size for p in package.parts)
    report: dict[str, Any] = {
        "kind": sub_type,
        "source_format": src,
        "target_format": dst,
        "bytes_in": bytes_in,
        "kept": [],
        "changed": [],
        "dropped": [],
    }
    if sub_type == "Model3D":
        glb = pack_glb(package) if src == FORMAT_GLTF_JSON else package.root.data
        out, model_report = await convert(glb, model_target, validator=validator, limits=limits)
        report.update({k: v for k, v in model_report.to_dict().items() if k not in ("source_format", "dropped")})
        if src == FORMAT_GLTF_JSON:
            report["kept"].insert(0, f"{len(package.parts)} files packed into one GLB")
        t_in, t_out = model_report.triangles_in, model_report.triangles_out
        if t_out < t_in:
            report["changed"].append(f"mesh simplified: {t_in} -> {t_out} triangles")
            report["dropped"].append(f"mesh detail: {t_in - t_out} of {t_in} triangles")
        for texture in model_report.textures:
            was, now = str(texture.get("from", "")), str(texture.get("to", ""))
            if was != now:
                name_of = texture.get("name", "")
                report["changed"].append(f"texture {name_of}: {was} -> {now}")
                if was.rpartition(" ")[2] != now.rpartition(" ")[2]:
                    report["dropped"].append(f"texture {name_of} detail finer than {now.rpartition(' ')[2]} px")
        report["dropped"].extend(model_report.dropped)
    elif sub_type == "Image":
        check_image(package.root.data, limits, name=package.root.path)
        out = await asyncio.to_thread(_convert_image, package.root.data, dst, target.constraints.max_texture_px, report)
    elif sub_type == "Sound":
        c = target.constraints
        out = await asyncio.to_thread(
            _convert_sound, package.root.data, dst, c.max_sample_rate_hz, c.max_channels, report
        )
    else:
        raise ConversionRefused(f"this bridge does not convert {sub_type} contents", reason=UNSUPPORTED_INPUT)
    report["bytes_out"] = len(out)
    converted = ContentPackage((ContentPart.of(name, out, _media_of(name, out)),))
    return ConvertedContent(converted, report)


def _media_of(name: str, data: bytes) -> str:
    inspected = inspect_parts([(name, data)])
    return inspected.package.root.media_type


def _convert_image(data: bytes, fmt: str, max_px: int, report: dict[str, Any]) -> bytes:
    """``data`` (PNG, JPEG or WebP) as ``fmt``, its longest side at most ``max_px`` (0: any)."""
    if fmt not in _PIL_NAMES:
        raise ConversionRefused(f"this bridge does not write {fmt} images", reason=UNSUPPORTED_INPUT)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            found = str(opened.format)
            opened.load()
            img = opened.copy()
            info = dict(opened.info)
    except Image.DecompressionBombError as err:
        message = f"image refused by the decompression-bomb guard: {err}"
        raise ConversionRefused(message, reason=IMAGE_TOO_LARGE) from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ConversionRefused(f"image cannot be decoded: {err}", reason="CONTENT_MALFORMED") from err
    size_in = img.size
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in info else "RGB")
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    if max_px and max(size_in) > max_px:
        ratio = max_px / max(size_in)
        size = (min(max_px, max(1, round(size_in[0] * ratio))), min(max_px, max(1, round(size_in[1] * ratio))))
        img = img.resize(size, Image.Resampling.LANCZOS)
        report["changed"].append(f"resolution {size_in[0]}x{size_in[1]} -> {size[0]}x{size[1]} px")
        report["dropped"].append(f"detail finer than {size[0]}x{size[1]} px")
    options: dict[str, Any] = {}
    if info.get("icc_profile"):
        options["icc_profile"] = info["icc_profile"]
        report["kept"].append("ICC colour profile")
    if info.get("exif"):
        report["dropped"].append("EXIF metadata")
    if fmt == "JPEG":
        if img.mode in ("RGBA", "LA"):
            low, _ = img.getchannel("A").getextrema()
            if isinstance(low, int) and low < 255:
                report["dropped"].append("alpha channel (JPEG has none)")
            img = img.convert("RGB" if img.mode == "RGBA" else "L")
        options["quality"] = JPEG_QUALITY
        if found != "JPEG" or img.size != size_in:
            report["changed"].append(f"encoded as JPEG quality {JPEG_QUALITY} (lossy)")
    elif fmt == "WebP":
        lossless = found == "PNG"
        options.update(lossless=lossless, quality=100 if lossless else JPEG_QUALITY)
        if not lossless:
            report["changed"].append(f"encoded as lossy WebP quality {JPEG_QUALITY}")
    elif fmt == "PNG":
        options["optimize"] = True
    if found != _PIL_NAMES[fmt]:
        report["changed"].insert(0, f"format {found} -> {fmt}")
    out = io.BytesIO()
    img.save(out, format=_PIL_NAMES[fmt], **options)
    report["kept"].append(f"{img.size[0]}x{img.size[1]} px, mode {img.mode}")
    return out.getvalue()


def _resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``samples`` (frames x channels, float32) at ``rate_out`` < ``rate_in``: low-pass below the
    new Nyquist frequency (Hamming-windowed sinc), then linear interpolation."""
    ratio = rate_out / rate_in
    n = np.arange(_FIR_TAPS) - (_FIR_TAPS - 1) / 2
    kernel = ratio * np.sinc(ratio * n) * np.hamming(_FIR_TAPS)
    kernel /= kernel.sum()
    frames_out = max(1, round(len(samples) * ratio))
    at = np.arange(frames_out) / ratio
    grid = np.arange(len(samples))
    channels = [np.interp(at, grid, np.convolve(samples[:, c], kernel, mode="same")) for c in range(samples.shape[1])]
    return np.stack(channels, axis=1).astype(np.float32)


def _convert_sound(data: bytes, fmt: str, max_rate: int, max_channels: int, report: dict[str, Any]) -> bytes:
    """``data`` (WAV, FLAC, Ogg) as ``fmt``, at most ``max_rate`` Hz and ``max_channels`` (0: any)."""
    if fmt not in _SOUND_WRITE:
        raise ConversionRefused(f"this bridge does not write {fmt} sounds", reason=UNSUPPORTED_INPUT)
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            rate, channels, frames = sound.samplerate, sound.channels, sound.frames
            found = f"{sound.format}/{sound.subtype}"
            if frames * channels > MAX_SOUND_SAMPLES:
                raise ConversionRefused(
                    f"the sound has {frames * channels:,} samples; this bridge converts at most {MAX_SOUND_SAMPLES:,}",
                    reason="SOUND_TOO_LONG",
                )
            samples = sound.read(dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise ConversionRefused(f"sound cannot be decoded: {err}", reason="CONTENT_MALFORMED") from err
    if max_channels and channels > max_channels:
        if max_channels == 1:
            samples = samples.mean(axis=1, keepdims=True, dtype=np.float32)
            report["changed"].append(f"{channels} channels mixed down to 1")
            report["dropped"].append("stereo image (channels mixed down to mono)")
        else:
            samples = samples[:, :max_channels]
            report["dropped"].append(f"channels {max_channels + 1}-{channels}")
    rate_out = rate
    if max_rate and rate > max_rate:
        rate_out = max_rate
        samples = _resample(samples, rate, rate_out)
        report["changed"].append(f"sample rate {rate} -> {rate_out} Hz")
        report["dropped"].append(f"frequencies above {rate_out // 2} Hz")
    container, subtype = _SOUND_WRITE[fmt]
    if f"{container}/{subtype}" != found:
        report["changed"].insert(0, f"encoding {found} -> {container}/{subtype}")
    out = io.BytesIO()
    try:
        soundfile.write(out, np.clip(samples, -1.0, 1.0), rate_out, format=container, subtype=subtype)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise ConversionRefused(f"cannot write {fmt} at {rate_out} Hz: {err}", reason=UNSUPPORTED_INPUT) from err
    report["kept"].append(f"{len(samples) * 1000 // rate_out} ms, {samples.shape[1]} channels, {rate_out} Hz")
    return out.getvalue()


def converted_item_id(source: Item, target: mpb.Feature, package: ContentPackage, *, bridge_id: str) -> str:
    """The ItemID of a conversion: an ItemID of the home M-Instance named by the source Item, the
    bridge, the target Feature and the converted parts' digests (a UUID 5), so converting the same
    content for the same target again names the same Item and the destination holds it once."""
    digests = ",".join(p.sha256 for p in package.parts)
    target_hex = target.SerializeToString(deterministic=True).hex()
    local = uuid.uuid5(uuid.NAMESPACE_URL, f"{source.item_id}|{bridge_id}|{target_hex}|{digests}")
    return new_id(source.m_instance_id, "items", str(local))


def converted_item(
    source: Item, converted: ConvertedContent, target: mpb.Feature, *, bridge_id: str, producer_process_id: str
) -> Item:
    """The (unsigned) Item of ``converted`` for ``target``: its ItemID of the home M-Instance
    (:func:`converted_item_id`), the Qualifier
    of its bytes (as the destination will inspect them), ItemParts, the home Item's
    ICapabilities, DescrMetadata and Trace unchanged plus ``ConvertedBy``, and ``SourceItem``
    (the home Item in its V2.2 form, proof and all). InvalidInput (``CONTENT_*``) if the output
    is not a file of its kind (a bug in this service)."""
    parts = converted.package.parts
    inspected = inspect_parts([(p.path, p.data) for p in parts])
    descr = dict(source.doc.get("DescrMetadata") or {})
    descr["ConvertedBy"] = bridge_id
    summary: dict[str, Any] = {
        "From": f"{converted.report['kind']} {converted.report['source_format']}",
        "Lost": [str(x)[:120] for x in converted.report["dropped"][:MAX_LOST_SHOWN]],
    }
    item_parts = [
        {
            "Path": p.path,
            "MediaType": p.media_type,
            "Size": p.size,
            "Digest": {"Algorithm": "sha-256", "Value": p.sha256},
        }
        for p in parts
    ]

    def build(described: Mapping[str, Any]) -> Item:
        return build_item(
            m_instance_id=source.m_instance_id,
            item_id=converted_item_id(source, target, converted.package, bridge_id=bridge_id),
            item_type=CONTENT_ITEM_TYPE,
            qualifier=inspected.qualifier(),
            producer_process_id=producer_process_id,
            source_item_id=source.item_id,
            capabilities=list(source.doc.get("ICapabilities") or []),
            descr=described,
            trace=list(source.doc.get("Trace") or []),
            extra={"ItemParts": item_parts, "SourceItem": dict(source.wire)},
        )

    try:
        return build({**descr, "Conversion": summary})
    except InvalidInput as err:  # DescrMetadata is at most 2,048 characters: the summary goes first
        if err.reason != "DESCR_METADATA_TOO_LONG":
            raise
        return build(descr)
