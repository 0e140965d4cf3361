"""Decode a glTF document's meshes to :class:`Primitive` objects and rebuild a clean GLB.

The rebuilt GLB has one tightly packed buffer; every accessor still used (mesh primitives,
skins, animations) is written to a fresh bufferView, images as bufferViews. glTF 2.0 sections
3.6-3.7; FGMV-43 9.1 step 3 AVCF.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from bridge.conversion.errors import NOT_GLB, UNSUPPORTED_INPUT, ConversionRefused
from bridge.conversion.gltf_model import (
    ARRAY_BUFFER,
    ELEMENT_ARRAY_BUFFER,
    Glb,
    GlbBuilder,
    Json,
    buffer_view_bytes,
    read_accessor,
)
from bridge.conversion.simplify import TRIANGLES, Attribute, Primitive


def _attribute(glb: Glb, index: int) -> Attribute:
    acc = glb.doc["accessors"][index]
    return Attribute(read_accessor(glb, index), acc["type"], bool(acc.get("normalized", False)))


def decode_meshes(glb: Glb, doc: Json) -> list[list[Primitive]]:
    """Decode every primitive of ``doc["meshes"]`` (accessors read from ``glb``).

    Raises ConversionRefused(UNSUPPORTED_INPUT) for a primitive without POSITION.
    """
    meshes: list[list[Primitive]] = []
    try:
        for m, mesh in enumerate(doc.get("meshes") or []):
            prims = []
            for p, prim in enumerate(mesh["primitives"]):
                attrs = {name: _attribute(glb, i) for name, i in prim["attributes"].items()}
                if "POSITION" not in attrs:
                    raise ConversionRefused(f"mesh {m} primitive {p} has no POSITION", reason=UNSUPPORTED_INPUT)
                targets = [{n: _attribute(glb, i) for n, i in t.items()} for t in prim.get("targets") or []]
                indices = None
                if "indices" in prim:
                    indices = read_accessor(glb, prim["indices"]).ravel().astype(np.uint32)
                prims.append(Primitive(int(prim.get("mode", TRIANGLES)), attrs, targets, indices))
            meshes.append(prims)
    except (KeyError, IndexError, TypeError, AttributeError) as err:
        raise ConversionRefused(f"malformed mesh data: {err!r}", reason=NOT_GLB) from err
    return meshes


def image_bytes(glb: Glb, image: Json, index: int) -> bytes:
    """Encoded bytes of an image stored in a bufferView or a base64 data: URI.

    Raises ConversionRefused(UNSUPPORTED_INPUT) for external URIs.
    """
    if "bufferView" in image:
        return buffer_view_bytes(glb, image["bufferView"])
    uri = image.get("uri", "")
    if isinstance(uri, str) and uri.startswith("data:") and ";base64," in uri:
        try:
            return base64.b64decode(uri.split(";base64,", 1)[1], validate=True)
        except binascii.Error as err:
            raise ConversionRefused(f"image {index} has a bad data URI", reason=NOT_GLB) from err
    raise ConversionRefused(f"image {index} is external ({uri!r})", reason=UNSUPPORTED_INPUT)


class Rebuilder:
    """Writes the output document's accessors, bufferViews and buffer."""

    def __init__(self, glb: Glb) -> None:
        self._glb = glb
        self._builder = GlbBuilder()
        self._copied: dict[tuple[int, bool], int] = {}

    def _write(self, attr: Attribute, *, target: int | None, bounds: bool, source: Json | None) -> int:
        index = self._builder.add_accessor(
            attr.data,
            atype=attr.atype,
            normalized=attr.normalized,
            target=target,
            bounds=bounds or bool(source and "min" in source),
        )
        if source and "name" in source:
            self._builder.accessors[index]["name"] = source["name"]
        return index

    def copy_accessor(self, index: int, *, bounds: bool = False) -> int:
        """Copy accessor ``index`` unchanged (densified); the same source is written once."""
        key = (index, bounds)
        if key not in self._copied:
            source = self._glb.doc["accessors"][index]
            attr = _attribute(self._glb, index)
            self._copied[key] = self._write(attr, target=None, bounds=bounds, source=source)
        return self._copied[key]

    def write_primitive(self, prim: Primitive, src: Json) -> Json:
        """Write ``prim``'s data; returns its JSON (material, extras, extensions kept)."""
        accessors = self._glb.doc["accessors"]
        out = {k: v for k, v in src.items() if k not in ("attributes", "indices", "targets", "mode")}
        out["attributes"] = {
            name: self._write(
                a,
                target=ARRAY_BUFFER,
                bounds=name == "POSITION",
                source=accessors[src["attributes"][name]] if name in src["attributes"] else None,
            )
            for name, a in prim.attributes.items()
        }
        if prim.targets:
            out["targets"] = [
                {
                    name: self._write(a, target=ARRAY_BUFFER, bounds=name == "POSITION", source=None)
                    for name, a in t.items()
                }
                for t in prim.targets
            ]
        if prim.indices is not None:
            dtype = np.uint16 if prim.vertex_count <= 65535 else np.uint32
            idx = Attribute(prim.indices.astype(dtype).reshape(-1, 1), "SCALAR")
            out["indices"] = self._write(idx, target=ELEMENT_ARRAY_BUFFER, bounds=False, source=None)
        if prim.mode != TRIANGLES:
            out["mode"] = prim.mode
        return out

    def add_image(self, data: bytes) -> int:
        """Store encoded image bytes as a bufferView; returns its index."""
        return self._builder.add_view(data)

    def build(self, doc: Json) -> bytes:
        """Finish the GLB with ``doc`` (whose accessors/bufferViews/buffers are replaced)."""
        return self._builder.build(doc)


def rewrite_skins_and_animations(doc: Json, rebuilder: Rebuilder) -> None:
    """Point skins and animation samplers of ``doc`` at freshly written accessors."""
    for skin in doc.get("skins") or []:
        if "inverseBindMatrices" in skin:
            skin["inverseBindMatrices"] = rebuilder.copy_accessor(skin["inverseBindMatrices"])
    for anim in doc.get("animations") or []:
        for sampler in anim.get("samplers") or []:
            sampler["input"] = rebuilder.copy_accessor(sampler["input"], bounds=True)
            sampler["output"] = rebuilder.copy_accessor(sampler["output"])


def count_instances(doc: Json) -> list[int]:
    """Per mesh, how many nodes instance it (1 if none: the mesh still ships in the file)."""
    counts = [0] * len(doc.get("meshes") or [])
    for node in doc.get("nodes") or []:
        m = node.get("mesh")
        if isinstance(m, int) and 0 <= m < len(counts):
            counts[m] += 1
    return [c or 1 for c in counts]


def drawn_triangles(meshes: list[list[Primitive]], instances: list[int]) -> int:
    """Triangles drawn: each triangle primitive once per node instancing its mesh."""
    return sum(w * sum(p.triangles for p in m) for m, w in zip(meshes, instances, strict=True))


def morph_target_count(doc: Json) -> int:
    """Morph targets per mesh (largest over its primitives), summed over meshes."""
    return sum(
        max((len(p.get("targets") or []) for p in mesh.get("primitives") or []), default=0)
        for mesh in doc.get("meshes") or []
    )


def texture_users(doc: Json) -> dict[int, list[int]]:
    """image index -> materials using it as baseColorTexture (where alpha lives)."""
    textures = doc.get("textures") or []
    users: dict[int, list[int]] = {}
    for m, mat in enumerate(doc.get("materials") or []):
        info: Any = (mat.get("pbrMetallicRoughness") or {}).get("baseColorTexture")
        if isinstance(info, dict) and 0 <= info.get("index", -1) < len(textures):
            source = textures[info["index"]].get("source")
            if isinstance(source, int):
                users.setdefault(source, []).append(m)
    return users
