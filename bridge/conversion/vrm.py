"""VRM 0.x / VRM 1.0 to plain glTF 2.0: detection, extension stripping, facing fix.

Plain glTF cannot carry VRM's humanoid bone map, spring bones, look-at, first-person settings,
expressions or MToon shading: they are removed and listed in ``dropped`` (FGMV-43 9.1 step 3
AVCF; MPAI MMM-TEC Convert Action). The VRM meta (title, authors, licence) is kept in
``asset.extras["vrm_meta"]`` so the licence and credit travel with the converted file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from bridge.conversion.errors import UNSUPPORTED_INPUT, ConversionRefused
from bridge.conversion.gltf_model import Json

VRM0 = "VRM 0.x"
VRM1 = "VRM 1.0"
GLTF = "glTF 2.0"

# Extensions kept in the output: the validator checks them and they name no accessor or
# bufferView (all accessors and bufferViews are renumbered by the rebuild).
KEPT_EXTENSIONS = frozenset(
    {
        "KHR_animation_pointer",
        "KHR_lights_punctual",
        "KHR_materials_anisotropy",
        "KHR_materials_clearcoat",
        "KHR_materials_dispersion",
        "KHR_materials_emissive_strength",
        "KHR_materials_ior",
        "KHR_materials_iridescence",
        "KHR_materials_pbrSpecularGlossiness",
        "KHR_materials_sheen",
        "KHR_materials_specular",
        "KHR_materials_transmission",
        "KHR_materials_unlit",
        "KHR_materials_variants",
        "KHR_materials_volume",
        "KHR_mesh_quantization",
        "KHR_texture_transform",
    }
)
# Extensions whose data this service cannot decode: refused, never silently dropped.
_UNDECODABLE = frozenset(
    {
        "KHR_draco_mesh_compression",
        "EXT_meshopt_compression",
        "KHR_meshopt_compression",
        "KHR_texture_basisu",
        "EXT_texture_webp",
        "EXT_texture_avif",
    }
)
# Quaternion (x, y, z, w) of a half turn about +Y: VRM 0.x faces -Z, glTF faces +Z.
HALF_TURN_Y = [0.0, 1.0, 0.0, 0.0]


@dataclass
class VrmStripResult:
    """What :func:`strip_vrm` did: the source format, what it dropped and kept."""

    source_format: str
    dropped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def detect_format(doc: Json) -> str:
    """``"VRM 0.x"`` (root extension ``VRM``), ``"VRM 1.0"`` (``VRMC_vrm``) or ``"glTF 2.0"``."""
    ext = doc.get("extensions") or {}
    if "VRMC_vrm" in ext:
        return VRM1
    if "VRM" in ext:
        return VRM0
    return GLTF


def _is_vrm_extension(name: str) -> bool:
    return name == "VRM" or name.startswith("VRMC_")


def check_required_extensions(doc: Json) -> None:
    """Refuse (UNSUPPORTED_INPUT) data this service cannot decode or must not drop."""
    used = set(doc.get("extensionsUsed") or [])
    required = set(doc.get("extensionsRequired") or [])
    undecodable = sorted(used & _UNDECODABLE)
    if undecodable:
        raise ConversionRefused(f"cannot decode extension(s) {undecodable}", reason=UNSUPPORTED_INPUT)
    unknown = sorted(r for r in required if r not in KEPT_EXTENSIONS and not _is_vrm_extension(r))
    if unknown:
        raise ConversionRefused(f"required extension(s) {unknown} not supported", reason=UNSUPPORTED_INPUT)


def _count(n: int, what: str) -> str:
    return f"{what} ({n})"


def _describe_vrm0(vrm: Json, doc: Json) -> list[str]:
    dropped = []
    bones = (vrm.get("humanoid") or {}).get("humanBones") or []
    if bones:
        dropped.append(f"VRM humanoid bone map ({len(bones)} bones)")
    spring = vrm.get("secondaryAnimation") or {}
    if spring.get("boneGroups"):
        groups, colliders = len(spring["boneGroups"]), len(spring.get("colliderGroups") or [])
        dropped.append(f"spring bones ({groups} groups, {colliders} collider groups)")
    props = vrm.get("materialProperties") or []
    mtoon = sum(1 for p in props if str(p.get("shader", "")).startswith("VRM/MToon"))
    if mtoon:
        dropped.append(f"MToon shading on {mtoon} materials")
    other = sum(1 for p in props if p.get("shader") not in (None, "VRM_USE_GLTFSHADER")) - mtoon
    if other > 0:
        dropped.append(f"VRM shader properties on {other} materials")
    shape_groups = (vrm.get("blendShapeMaster") or {}).get("blendShapeGroups") or []
    if shape_groups:
        dropped.append(_count(len(shape_groups), "blend shape groups"))
    first = vrm.get("firstPerson") or {}
    if first.get("lookAtTypeName") or first.get("lookAtHorizontalInner"):
        dropped.append(f"look-at ({first.get('lookAtTypeName', 'Bone')})")
    if first:
        dropped.append("first-person settings")
    return dropped


def _describe_vrm1(vrm: Json, doc: Json) -> list[str]:
    dropped = []
    bones = (vrm.get("humanoid") or {}).get("humanBones") or {}
    if bones:
        dropped.append(f"VRM humanoid bone map ({len(bones)} bones)")
    expressions = vrm.get("expressions") or {}
    n_expr = len(expressions.get("preset") or {}) + len(expressions.get("custom") or {})
    if n_expr:
        dropped.append(_count(n_expr, "expressions"))
    if vrm.get("lookAt"):
        dropped.append(f"look-at ({vrm['lookAt'].get('type', 'bone')})")
    if vrm.get("firstPerson"):
        dropped.append("first-person settings")
    spring = (doc.get("extensions") or {}).get("VRMC_springBone") or {}
    if spring.get("springs"):
        dropped.append(f"spring bones ({len(spring['springs'])} springs)")
    return dropped


def _strip_extensions(node: Any, removed: dict[str, int], parent_key: str = "") -> None:
    """Remove every extension not in KEPT_EXTENSIONS, counting removals by name."""
    if isinstance(node, dict):
        ext = node.get("extensions")
        if isinstance(ext, dict) and parent_key != "extras":
            for name in [n for n in ext if n not in KEPT_EXTENSIONS]:
                del ext[name]
                removed[name] = removed.get(name, 0) + 1
            if not ext:
                del node["extensions"]
        for key, value in node.items():
            if key != "extras":
                _strip_extensions(value, removed, key)
    elif isinstance(node, list):
        for item in node:
            _strip_extensions(item, removed, parent_key)


def strip_vrm(doc: Json) -> tuple[Json, VrmStripResult]:
    """Return a copy of ``doc`` with VRM (and other non-kept) extensions removed.

    VRM meta goes to ``asset.extras["vrm_meta"]``; extensionsUsed/extensionsRequired keep only
    extensions still present. FGMV-43 9.1 step 3 AVCF.
    """
    doc = copy.deepcopy(doc)
    fmt = detect_format(doc)
    result = VrmStripResult(source_format=fmt)
    root_ext = doc.get("extensions") or {}
    vrm = root_ext.get("VRM") if fmt == VRM0 else root_ext.get("VRMC_vrm")
    if vrm is not None:
        meta = vrm.get("meta")
        if meta:
            asset = doc.setdefault("asset", {})
            extras = asset.get("extras") if isinstance(asset.get("extras"), dict) else {}
            asset["extras"] = {**extras, "vrm_meta": meta, "vrm_source_format": fmt}
            result.kept.append("VRM meta in asset.extras (vrm_meta)")
        describe = _describe_vrm0 if fmt == VRM0 else _describe_vrm1
        result.dropped.extend(describe(vrm, doc))
    removed: dict[str, int] = {}
    _strip_extensions(doc, removed)
    if removed.get("VRMC_materials_mtoon"):
        result.dropped.append(f"MToon shading on {removed.pop('VRMC_materials_mtoon')} materials")
    if removed.get("VRMC_node_constraint"):
        result.dropped.append(f"node constraints on {removed.pop('VRMC_node_constraint')} nodes")
    for name in ("VRM", "VRMC_vrm", "VRMC_springBone"):
        removed.pop(name, None)
    result.dropped.extend(f"extension {name} ({n}x)" for name, n in sorted(removed.items()))
    present: set[str] = set()
    _collect_extension_names(doc, present)
    for key in ("extensionsUsed", "extensionsRequired"):
        names = [n for n in doc.get(key) or [] if n in present]
        if names:
            doc[key] = names
        else:
            doc.pop(key, None)
    return doc, result


def _collect_extension_names(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("extensions"), dict):
            out.update(node["extensions"])
        for key, value in node.items():
            if key != "extras":
                _collect_extension_names(value, out)
    elif isinstance(node, list):
        for item in node:
            _collect_extension_names(item, out)


def fix_facing(doc: Json) -> bool:
    """Turn a VRM 0.x scene (facing -Z) to face +Z, as glTF assets do (glTF 2.0 section 3.4).

    Appends one new root node per scene (rotation = half turn about Y) parenting that scene's
    root nodes; appending keeps every node index (skins, animations) valid. Childless root
    nodes with a skinned mesh stay roots: their transform is ignored (the joints, which are
    turned, place the mesh), and the validator warns about skinned meshes below a parent.
    Scenes that share root nodes get one wrapper per shared root instead (a node has at most
    one parent).
    Returns True if any node was added.
    """
    nodes = doc.setdefault("nodes", [])
    scenes = doc.get("scenes") or []

    def turns(n: int) -> bool:  # a childless skinned-mesh node ignores parent transforms
        node = nodes[n] if isinstance(n, int) and 0 <= n < len(nodes) else {}
        return not ("skin" in node and "mesh" in node and not node.get("children"))

    roots = [[n for n in scene.get("nodes") or [] if turns(n)] for scene in scenes]
    flat = [r for rs in roots for r in rs]
    disjoint = len(flat) == len(set(flat))
    wrapped: dict[int, int] = {}
    changed = False
    for scene, scene_roots in zip(scenes, roots, strict=True):
        if not scene_roots:
            continue
        if disjoint:
            nodes.append({"name": "vrm0_facing_fix", "rotation": HALF_TURN_Y, "children": scene_roots})
            skinned = [n for n in scene["nodes"] if n not in scene_roots]
            scene["nodes"] = [len(nodes) - 1, *skinned]
        else:
            for r in scene_roots:
                if r not in wrapped:
                    nodes.append({"name": "vrm0_facing_fix", "rotation": HALF_TURN_Y, "children": [r]})
                    wrapped[r] = len(nodes) - 1
            scene["nodes"] = [wrapped.get(r, r) for r in scene["nodes"]]
        changed = True
    return changed
