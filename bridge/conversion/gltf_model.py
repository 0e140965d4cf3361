"""GLB (glTF 2.0 binary) <-> JSON document + numpy arrays.

Decoding handles byteOffset, byteStride, matrix column padding, normalized integers (values
stay raw; ``normalized`` is kept beside them) and sparse accessors (densified). Encoding writes
one tightly packed buffer with fresh, 4-byte aligned bufferViews. glTF 2.0 sections 3.6
(buffers, accessors) and 4.4 (GLB). FGMV-43 9.1 step 3 AVCF.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bridge.conversion.errors import NOT_GLB, UNSUPPORTED_INPUT, ConversionRefused

GLB_MAGIC = 0x46546C67  # "glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963

COMPONENT_DTYPES: dict[int, np.dtype[Any]] = {
    5120: np.dtype("<i1"),
    5121: np.dtype("<u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
DTYPE_COMPONENTS = {dt: ct for ct, dt in COMPONENT_DTYPES.items()}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_MATRIX_ROWS = {"MAT2": 2, "MAT3": 3, "MAT4": 4}

Json = dict[str, Any]


@dataclass
class Glb:
    """A parsed GLB: the JSON document and the bytes of every buffer (buffer 0 is the BIN chunk)."""

    doc: Json
    buffers: list[bytes] = field(default_factory=list)


def _refuse(message: str) -> ConversionRefused:
    return ConversionRefused(message, reason=NOT_GLB)


def parse_glb(data: bytes) -> Glb:
    """Parse GLB bytes (glTF 2.0 section 4.4).

    Raises:
        ConversionRefused(NOT_GLB): bad magic/version/length, truncated or malformed chunks,
            JSON that is not an object.
        ConversionRefused(UNSUPPORTED_INPUT): buffers with external (non-data:) URIs.
    """
    if len(data) < 20:
        raise _refuse(f"{len(data)} bytes is too short for a GLB header")
    magic, version, length = struct.unpack_from("<III", data, 0)
    if magic != GLB_MAGIC:
        raise _refuse("bad magic: not a GLB (glTF binary) file")
    if version != 2:
        raise _refuse(f"GLB version {version}; only glTF 2.0 is supported")
    if length != len(data):
        raise _refuse(f"header says {length} bytes but {len(data)} were given (truncated?)")
    chunks: list[tuple[int, bytes]] = []
    offset = 12
    while offset < length:
        if offset + 8 > length:
            raise _refuse(f"truncated chunk header at byte {offset}")
        chunk_len, chunk_type = struct.unpack_from("<II", data, offset)
        end = offset + 8 + chunk_len
        if end > length or chunk_len % 4:
            raise _refuse(f"chunk at byte {offset} has a bad length {chunk_len}")
        chunks.append((chunk_type, data[offset + 8 : end]))
        offset = end
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise _refuse("the first chunk is not JSON")
    try:
        doc = json.loads(chunks[0][1].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise _refuse(f"JSON chunk does not parse: {err}") from err
    if not isinstance(doc, dict):
        raise _refuse("JSON chunk is not an object")
    bin_chunk = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == CHUNK_BIN else None
    return Glb(doc=doc, buffers=_load_buffers(doc, bin_chunk))


def _load_buffers(doc: Json, bin_chunk: bytes | None) -> list[bytes]:
    out: list[bytes] = []
    for i, buf in enumerate(_list(doc, "buffers")):
        uri = buf.get("uri") if isinstance(buf, dict) else None
        if uri is None:
            if i != 0 or bin_chunk is None:
                raise _refuse(f"buffer {i} has no uri and no BIN chunk")
            out.append(bin_chunk)
        elif isinstance(uri, str) and uri.startswith("data:") and ";base64," in uri:
            try:
                out.append(base64.b64decode(uri.split(";base64,", 1)[1], validate=True))
            except binascii.Error as err:
                raise _refuse(f"buffer {i} has a bad data URI: {err}") from err
        else:
            raise ConversionRefused(f"buffer {i} uses external uri {uri!r}", reason=UNSUPPORTED_INPUT)
    return out


def _list(doc: Json, key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise _refuse(f"'{key}' is not an array")
    return value


def buffer_view_bytes(glb: Glb, index: int) -> bytes:
    """Bytes of bufferView ``index``. Raises ConversionRefused(NOT_GLB) if out of range."""
    try:
        view = glb.doc["bufferViews"][index]
        buf: bytes = glb.buffers[view["buffer"]]
        start = int(view.get("byteOffset", 0))
        end = start + int(view["byteLength"])
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise _refuse(f"bufferView {index} is malformed: {err}") from err
    if start < 0 or end > len(buf):
        raise _refuse(f"bufferView {index} lies outside its buffer")
    return buf[start:end]


def _layout(dtype: np.dtype[Any], atype: str) -> tuple[int, list[int], int]:
    """(element size, byte offset of each column, components per column): columns of matrices
    with 1- or 2-byte components are padded to 4 bytes (glTF 2.0 section 3.6.2.4)."""
    rows = _MATRIX_ROWS.get(atype)
    if rows is None:
        return dtype.itemsize * TYPE_SIZES[atype], [0], TYPE_SIZES[atype]
    col = -(-rows * dtype.itemsize // 4) * 4
    return col * rows, [c * col for c in range(rows)], rows


def _strided(raw: bytes, offset: int, stride: int, count: int, dtype: np.dtype[Any], atype: str) -> np.ndarray:
    size, cols, per_col = _layout(dtype, atype)
    if count and offset + (count - 1) * stride + size > len(raw):
        raise _refuse("accessor reads past the end of its bufferView")
    parts = [
        np.ndarray(
            (count, per_col),
            dtype=dtype,
            buffer=raw,
            offset=offset + c,
            strides=(stride, dtype.itemsize),
        )
        for c in cols
    ]
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0].copy()


def read_accessor(glb: Glb, index: int) -> np.ndarray:
    """Decode accessor ``index`` to a (count, components) array of its component dtype.

    Values are raw (normalized integers are not scaled); sparse accessors are densified.
    Raises ConversionRefused(NOT_GLB) if the accessor is malformed or out of range.
    """
    try:
        acc = glb.doc["accessors"][index]
        dtype = COMPONENT_DTYPES[acc["componentType"]]
        atype = acc["type"]
        count = int(acc["count"])
        ncomp = TYPE_SIZES[atype]
        if "bufferView" in acc:
            raw = buffer_view_bytes(glb, acc["bufferView"])
            stride = int(glb.doc["bufferViews"][acc["bufferView"]].get("byteStride", 0))
            stride = stride or _layout(dtype, atype)[0]
            out = _strided(raw, int(acc.get("byteOffset", 0)), stride, count, dtype, atype)
        else:
            out = np.zeros((count, ncomp), dtype=dtype)
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise _refuse(f"accessor {index} is malformed: {err}") from err
    sparse = acc.get("sparse")
    if sparse:
        out = _apply_sparse(glb, sparse, out, dtype, atype)
    return out


def _apply_sparse(glb: Glb, sparse: Json, out: np.ndarray, dtype: np.dtype[Any], atype: str) -> np.ndarray:
    try:
        n = int(sparse["count"])
        idx_info, val_info = sparse["indices"], sparse["values"]
        idx_dtype = COMPONENT_DTYPES[idx_info["componentType"]]
        idx_raw = buffer_view_bytes(glb, idx_info["bufferView"])
        val_raw = buffer_view_bytes(glb, val_info["bufferView"])
    except (KeyError, TypeError, ValueError) as err:
        raise _refuse(f"sparse accessor is malformed: {err}") from err
    idx = _strided(idx_raw, int(idx_info.get("byteOffset", 0)), idx_dtype.itemsize, n, idx_dtype, "SCALAR")
    size = _layout(dtype, atype)[0]
    vals = _strided(val_raw, int(val_info.get("byteOffset", 0)), size, n, dtype, atype)
    idx = idx[:, 0].astype(np.int64)
    if n and (idx.min() < 0 or idx.max() >= len(out)):
        raise _refuse("sparse accessor index out of range")
    out = out.copy()
    out[idx] = vals
    return out


def to_float(array: np.ndarray, *, normalized: bool) -> np.ndarray:
    """Float32 values of decoded accessor data (normalized integers scaled per glTF 3.11)."""
    if array.dtype.kind == "f" or not normalized:
        return array.astype(np.float32)
    info = np.iinfo(array.dtype)
    scaled = array.astype(np.float32) / np.float32(info.max)
    return np.maximum(scaled, np.float32(-1.0)) if info.min < 0 else scaled


class GlbBuilder:
    """Accumulates one tightly packed binary buffer with 4-byte aligned bufferViews."""

    def __init__(self) -> None:
        self._bin = bytearray()
        self.buffer_views: list[Json] = []
        self.accessors: list[Json] = []

    def add_view(self, data: bytes, *, target: int | None = None, stride: int | None = None) -> int:
        """Append ``data`` as a new bufferView; returns its index."""
        self._bin.extend(b"\0" * (-len(self._bin) % 4))
        view: Json = {"buffer": 0, "byteOffset": len(self._bin), "byteLength": len(data)}
        if stride is not None:
            view["byteStride"] = stride
        if target is not None:
            view["target"] = target
        self._bin.extend(data)
        self.buffer_views.append(view)
        return len(self.buffer_views) - 1

    def add_accessor(
        self,
        array: np.ndarray,
        *,
        atype: str,
        normalized: bool = False,
        target: int | None = None,
        bounds: bool = False,
        extras: Any = None,
    ) -> int:
        """Append a (count, components) array as a new accessor; returns its index.

        ``target`` sets the bufferView target (ARRAY_BUFFER/ELEMENT_ARRAY_BUFFER); vertex
        attributes are padded to 4-byte element strides. ``bounds`` writes min/max.
        """
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        count = array.shape[0]
        array = array.reshape(count, TYPE_SIZES[atype])
        size, cols, per_col = _layout(array.dtype, atype)
        stride = size
        if target == ARRAY_BUFFER and size % 4:
            stride = size + (-size % 4)
        packed = np.zeros((count, stride), dtype=np.uint8)
        for c, off in enumerate(cols):
            column = array[:, c * per_col : (c + 1) * per_col]
            packed[:, off : off + per_col * array.dtype.itemsize] = column.view(np.uint8).reshape(count, -1)
        view = self.add_view(packed.tobytes(), target=target, stride=stride if stride != size else None)
        acc: Json = {
            "bufferView": view,
            "componentType": DTYPE_COMPONENTS[array.dtype.newbyteorder("<")],
            "count": count,
            "type": atype,
        }
        if normalized:
            acc["normalized"] = True
        if bounds and count:
            cast = float if array.dtype.kind == "f" else int
            acc["min"] = [cast(v) for v in array.min(axis=0)]
            acc["max"] = [cast(v) for v in array.max(axis=0)]
        if extras is not None:
            acc["extras"] = extras
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def build(self, doc: Json) -> bytes:
        """Serialise ``doc`` (accessors, bufferViews, buffers replaced) and the buffer as GLB."""
        doc = dict(doc)
        for key in ("accessors", "bufferViews", "buffers"):
            doc.pop(key, None)
        if self.accessors:
            doc["accessors"] = self.accessors
        if self.buffer_views:
            doc["bufferViews"] = self.buffer_views
            doc["buffers"] = [{"byteLength": len(self._bin)}]
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        body += b" " * (-len(body) % 4)
        binary = bytes(self._bin) + b"\0" * (-len(self._bin) % 4)
        total = 12 + 8 + len(body) + (8 + len(binary) if self.buffer_views else 0)
        out = bytearray(struct.pack("<III", GLB_MAGIC, 2, total))
        out += struct.pack("<II", len(body), CHUNK_JSON) + body
        if self.buffer_views:
            out += struct.pack("<II", len(binary), CHUNK_BIN) + binary
        return bytes(out)
