"""Inspect glTF 2.0 binary (GLB) files, including VRM: header, JSON chunk, Qualifier facts.

Only reads; conversion lives in the bridge. Used by instances to qualify avatars they register
or import (MMM-TEC ItemQualifier) and to refuse truncated or malformed files.
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from mmmfed.errors import InvalidInput
from mmmfed.items import FORMAT_GLB, FORMAT_VRM_0, FORMAT_VRM_1

GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942


@dataclass(frozen=True)
class GlbFacts:
    """What an avatar file is: Qualifier format, triangles, texture media types and largest side."""

    format: str
    triangles: int
    texture_formats: tuple[str, ...]
    max_texture_px: int
    size: int

    def attributes(self) -> dict[str, str]:
        """As ItemQualifier Attributes (strings)."""
        return {
            "Triangles": str(self.triangles),
            "TextureFormats": ",".join(self.texture_formats),
            "MaxTexturePx": str(self.max_texture_px),
        }


def _bad(msg: str) -> InvalidInput:
    return InvalidInput(msg, reason="GLB_MALFORMED")


class _Reader:
    """Random access to a GLB's bytes, from memory or from an open file (no full read)."""

    def __init__(self, size: int, read: Callable[[int, int], bytes]) -> None:
        self.size = size
        self.read = read

    @classmethod
    def of_bytes(cls, data: bytes) -> _Reader:
        view = memoryview(data)
        return cls(len(data), lambda offset, n: bytes(view[offset : offset + n]))

    @classmethod
    def of_file(cls, fh: BinaryIO) -> _Reader:
        def read(offset: int, n: int) -> bytes:
            fh.seek(offset)
            return fh.read(n)

        return cls(os.fstat(fh.fileno()).st_size, read)


def _layout(src: _Reader) -> tuple[dict[str, Any], int, int]:
    """(glTF JSON, offset of the BIN chunk's data, its length); BIN length 0 if absent."""
    header = src.read(0, 12)
    if len(header) < 12 or header[:4] != GLB_MAGIC:
        raise _bad("not a glTF binary: missing 'glTF' magic")
    version, length = struct.unpack_from("<II", header, 4)
    if version != 2:
        raise _bad(f"GLB version {version} is not 2")
    if length > src.size:
        raise InvalidInput(f"GLB declares {length} bytes but only {src.size} arrived", reason="GLB_TRUNCATED")
    offset, doc, bin_at, bin_len = 12, None, 0, 0
    while offset + 8 <= length:
        chunk_len, chunk_type = struct.unpack("<II", src.read(offset, 8))
        start, end = offset + 8, offset + 8 + chunk_len
        if end > length:
            raise InvalidInput("GLB chunk runs past the end of the file", reason="GLB_TRUNCATED")
        if chunk_type == _CHUNK_JSON and doc is None:
            try:
                doc = json.loads(src.read(start, chunk_len))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise _bad(f"GLB JSON chunk is not JSON: {err}") from err
        elif chunk_type == _CHUNK_BIN and not bin_len:
            bin_at, bin_len = start, chunk_len
        offset = end
    if not isinstance(doc, dict):
        raise _bad("GLB has no JSON chunk")
    return doc, bin_at, bin_len


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Return (glTF JSON, BIN chunk) of a GLB; InvalidInput ``GLB_MALFORMED`` or
    ``GLB_TRUNCATED`` when the header or a chunk is wrong or cut short."""
    doc, bin_at, bin_len = _layout(_Reader.of_bytes(data))
    return doc, data[bin_at : bin_at + bin_len]


def qualifier_format(doc: dict[str, Any]) -> str:
    """``VRM/0.x`` (root extension VRM), ``VRM/1.0`` (VRMC_vrm) or ``glTF/2.0-binary``."""
    ext = doc.get("extensions") or {}
    if "VRMC_vrm" in ext:
        return FORMAT_VRM_1
    if "VRM" in ext:
        return FORMAT_VRM_0
    return FORMAT_GLB


def count_triangles(doc: dict[str, Any]) -> int:
    """Triangles over all mesh primitives of mode TRIANGLES (4, the default), once per mesh."""
    accessors = doc.get("accessors") or []
    total = 0
    for mesh in doc.get("meshes") or []:
        for prim in mesh.get("primitives") or []:
            if prim.get("mode", 4) != 4:
                continue
            if "indices" in prim:
                total += int(accessors[prim["indices"]]["count"]) // 3
            elif "POSITION" in prim.get("attributes", {}):
                total += int(accessors[prim["attributes"]["POSITION"]]["count"]) // 3
    return total


def inspect_glb(data: bytes) -> GlbFacts:
    """Qualify a GLB/VRM file held in memory. Raises InvalidInput (``GLB_MALFORMED`` /
    ``GLB_TRUNCATED``)."""
    return _inspect(_Reader.of_bytes(data))


def inspect_glb_file(path: Path) -> GlbFacts:
    """Qualify a GLB/VRM file on disk, reading only its header, JSON chunk and images (a
    large file is not read whole). Errors as :func:`inspect_glb`."""
    with open(path, "rb") as fh:
        return _inspect(_Reader.of_file(fh))


def _inspect(src: _Reader) -> GlbFacts:
    doc, bin_at, bin_len = _layout(src)
    formats: set[str] = set()
    max_px = 0
    views = doc.get("bufferViews") or []
    try:
        triangles = count_triangles(doc)
        for image in doc.get("images") or []:
            if "bufferView" not in image:
                continue
            view = views[image["bufferView"]]
            start, length = int(view.get("byteOffset", 0)), int(view["byteLength"])
            if start < 0 or length < 0 or start + length > bin_len:
                raise ValueError(f"image bufferView {image['bufferView']} lies outside the BIN chunk")
            blob = src.read(bin_at + start, length)
            with Image.open(io.BytesIO(blob)) as img:
                formats.add(Image.MIME.get(img.format or "", image.get("mimeType", "")))
                max_px = max(max_px, *img.size)
    except (KeyError, IndexError, TypeError, ValueError, OSError) as err:
        raise _bad(f"GLB content is inconsistent: {err}") from err
    return GlbFacts(
        format=qualifier_format(doc),
        triangles=triangles,
        texture_formats=tuple(sorted(formats)),
        max_texture_px=max_px,
        size=src.size,
    )
