"""A ``.gltf`` package packed into one GLB (glTF 2.0 section 4.4), so the bridge's Conversion
Service, which takes GLB, converts it (ITU FGMV-43 9.3, COIR-205).

Pure over the package's bytes: what is packed is exactly the parts whose digests were taken, never
a second read from disk. Every buffer (external part or ``data:`` URI) is laid end to end in the
one BIN chunk, each at a 4-byte boundary (so every accessor keeps its alignment), and each
bufferView is moved onto it; every image with a URI becomes a bufferView image with its
mimeType. Raises InvalidInput ``GLTF_MALFORMED`` for a buffer shorter than its byteLength, a
buffer without data, a bufferView naming no buffer, or a ``data:`` URI that is not base64.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from typing import Any
from urllib.parse import unquote_to_bytes

from mmmfed.content.package import ContentPackage, media_type_of, package_path, parse_gltf_json
from mmmfed.errors import InvalidInput
from mmmfed.glb import GLB_MAGIC

_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
PACKER = "mmmfed content packer"


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, reason="GLTF_MALFORMED")


def data_uri_bytes(uri: str, where: str) -> bytes:
    """The bytes of a ``data:[<media type>][;base64],<data>`` URI (RFC 2397)."""
    head, sep, body = uri.partition(",")
    if not sep:
        raise _bad(f"{where}: data: URI has no ','")
    if head.endswith(";base64"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as err:
            raise _bad(f"{where}: data: URI is not base64 ({err})") from err
    return unquote_to_bytes(body)


def _uri_bytes(package: ContentPackage, uri: str, where: str) -> bytes:
    path = package_path(uri)
    return data_uri_bytes(uri, where) if path is None else package.part(path).data


def _align(blob: bytearray) -> None:
    blob.extend(b"\x00" * (-len(blob) % 4))


def pack_glb(package: ContentPackage) -> bytes:
    """One GLB holding the package's root ``.gltf`` and every part it names (see the module
    docstring). The JSON's ``asset.generator`` is kept; ``asset.extras.packed_by`` says who
    packed it."""
    doc = parse_gltf_json(package.root.data, name=package.root.path)
    blob = bytearray()
    offsets: list[int] = []
    for i, buffer in enumerate(doc.get("buffers") or []):
        where = f"buffers[{i}]"
        length = buffer.get("byteLength") if isinstance(buffer, dict) else None
        if not isinstance(length, int) or length < 0:
            raise _bad(f"{where} has no byteLength")
        if "uri" not in buffer:
            raise _bad(f"{where} has no uri: a .gltf buffer needs its data")
        data = _uri_bytes(package, buffer["uri"], where)
        if len(data) < length:
            raise _bad(f"{where} holds {len(data)} bytes but declares byteLength {length}")
        _align(blob)
        offsets.append(len(blob))
        blob.extend(data[:length])
    views: list[Any] = doc.get("bufferViews") or []
    for j, view in enumerate(views):
        index = view.get("buffer") if isinstance(view, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(offsets):
            raise _bad(f"bufferViews[{j}] names no buffer of the file")
        view["buffer"] = 0
        view["byteOffset"] = int(view.get("byteOffset", 0)) + offsets[index]
    for k, image in enumerate(doc.get("images") or []):
        if not isinstance(image, dict) or "uri" not in image:
            continue
        data = _uri_bytes(package, image.pop("uri"), f"images[{k}]")
        _align(blob)
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)})
        blob.extend(data)
        image["bufferView"] = len(views) - 1
        image.setdefault("mimeType", media_type_of("images", data))
    if views:
        doc["bufferViews"] = views
    if blob:
        doc["buffers"] = [{"byteLength": len(blob)}]
    else:
        doc.pop("buffers", None)
    extras = doc["asset"].setdefault("extras", {})
    if isinstance(extras, dict):
        extras["packed_by"] = PACKER
    return glb_bytes(doc, bytes(blob))


def glb_bytes(doc: dict[str, Any], blob: bytes) -> bytes:
    """A GLB of a JSON chunk (padded with spaces) and, if ``blob`` is not empty, a BIN chunk
    (padded with zeros), each 4-byte aligned (glTF 2.0 section 4.4.3)."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), _CHUNK_JSON) + text
    if blob:
        padded = blob + b"\x00" * (-len(blob) % 4)
        chunks += struct.pack("<II", len(padded), _CHUNK_BIN) + padded
    return GLB_MAGIC + struct.pack("<II", 2, 12 + len(chunks)) + chunks


def looks_like_gltf_json(data: bytes) -> bool:
    """True if ``data`` starts (after a UTF-8 BOM and white space) like a JSON object, not a GLB."""
    return data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{"
