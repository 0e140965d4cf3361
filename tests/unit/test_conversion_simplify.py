"""Triangle-budget simplification keeps seams, skins and morph targets (FGMV-43 9.1 AVCF)."""

from __future__ import annotations

from pathlib import Path

import meshoptimizer
import numpy as np
import pytest

from bridge.conversion.gltf_model import parse_glb, read_accessor
from bridge.conversion.rebuild import decode_meshes
from bridge.conversion.simplify import (
    boundary_edges,
    compact,
    simplify_to_budget,
    to_indexed_triangles,
)

SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"sample assets not found at {SAMPLES}")
GODETTE = SAMPLES / "vrm/godot-vrm_Godette/Godette_vrm_v4.vrm"


def position_boundary(positions: list[np.ndarray], triangles: list[np.ndarray]) -> set[frozenset[bytes]]:
    """Boundary edges (used by one triangle) as pairs of positions, welded across primitives."""
    uses: dict[frozenset[bytes], int] = {}
    for pos, tris in zip(positions, triangles, strict=True):
        keys = [p.tobytes() for p in pos.astype(np.float32)]
        for a, b, c in tris.reshape(-1, 3):
            for u, v in ((a, b), (b, c), (c, a)):
                edge = frozenset((keys[u], keys[v]))
                uses[edge] = uses.get(edge, 0) + 1
    return {e for e, n in uses.items() if n == 1}


def mesh_geometry(path: Path) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    glb = parse_glb(path.read_bytes())
    out = []
    for mesh in glb.doc["meshes"]:
        prims = mesh["primitives"]
        out.append(
            (
                [read_accessor(glb, p["attributes"]["POSITION"]) for p in prims],
                [read_accessor(glb, p["indices"]).ravel() for p in prims],
            )
        )
    return out


def test_godette_simplification_opens_no_seam() -> None:
    """Halving Godette (open borders where head, body and material regions meet) adds no
    boundary edge in position space, while plain unlocked simplify would add some."""
    glb = parse_glb(GODETTE.read_bytes())
    meshes = [[to_indexed_triangles(p) for p in m] for m in decode_meshes(glb, glb.doc)]
    total = sum(p.triangles for m in meshes for p in m)

    simplified, info = simplify_to_budget(meshes, [1] * len(meshes), total // 2)

    assert sum(p.triangles for m in simplified for p in m) <= total // 2
    for before, after in zip(meshes, simplified, strict=True):
        edges_before = position_boundary([p.positions() for p in before], [p.indices for p in before])
        edges_after = position_boundary([p.positions() for p in after], [p.indices for p in after])
        assert edges_after <= edges_before
    # The check has teeth: without locked borders meshoptimizer slides Godette's open borders.
    body = meshes[1]
    unlocked = []
    for p in body:
        dest = np.zeros(len(p.indices), dtype=np.uint32)
        n = meshoptimizer.simplify(
            dest,
            p.indices,
            p.positions(),
            target_index_count=len(p.indices) // 2,
            target_error=0.05,
        )
        unlocked.append(dest[:n])
    assert not boundary_edges(body, unlocked) <= boundary_edges(body)
    assert info.locked_meshes


def test_compaction_keeps_attributes_and_targets_consistent() -> None:
    """After simplification every corner keeps the same position, skin weights and morph
    target offsets as before; unused vertices are gone from every attribute and target."""
    glb = parse_glb(GODETTE.read_bytes())
    meshes = [[to_indexed_triangles(p) for p in m] for m in decode_meshes(glb, glb.doc)]
    face = meshes[0][0]
    assert len(face.targets) == 15

    simplified, _ = simplify_to_budget([[face]], [1], face.triangles // 2)

    out = simplified[0][0]
    assert out.vertex_count == len(np.unique(out.indices)) < face.vertex_count
    assert out.indices.max() == out.vertex_count - 1
    keys = {name: a.data for name, a in face.attributes.items()}
    for name, attr in out.attributes.items():
        assert len(attr.data) == out.vertex_count
        # every output vertex exists in the input with identical data
        src_rows = {r.tobytes() for r in keys[name]}
        assert all(r.tobytes() in src_rows for r in attr.data)
    for t_in, t_out in zip(face.targets, out.targets, strict=True):
        pairs_in = {(p.tobytes(), d.tobytes()) for p, d in zip(face.positions(), t_in["POSITION"].data, strict=True)}
        pairs_out = {(p.tobytes(), d.tobytes()) for p, d in zip(out.positions(), t_out["POSITION"].data, strict=True)}
        assert pairs_out <= pairs_in


def test_winding_preserved() -> None:
    """Simplified triangles keep the surface's winding: face normals still agree with the
    vertex normals (a reversed winding would agree almost nowhere)."""
    glb = parse_glb(GODETTE.read_bytes())
    meshes = [[to_indexed_triangles(p) for p in m] for m in decode_meshes(glb, glb.doc)]
    simplified, _ = simplify_to_budget(meshes, [1, 1], 1700)
    agree = []
    for prim in (p for m in simplified for p in m):
        pos, nrm = prim.positions(), prim.attributes["NORMAL"].data
        tri = prim.indices.reshape(-1, 3)
        face = np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]])
        agree.append(np.einsum("ij,ij->i", face, nrm[tri].sum(axis=1)) > 0)
    assert np.concatenate(agree).mean() > 0.9


def test_welding_indexes_fox() -> None:
    """Fox's unindexed triangles are welded (identical vertices merged) so they can simplify."""
    glb = parse_glb((SAMPLES / "gltf/Fox/Fox.glb").read_bytes())
    prim = decode_meshes(glb, glb.doc)[0][0]
    welded = compact(to_indexed_triangles(prim))
    assert prim.indices is None and welded.indices is not None
    assert welded.triangles == prim.triangles == 576
    assert welded.vertex_count < prim.vertex_count
    for name, attr in prim.attributes.items():
        assert np.array_equal(welded.attributes[name].data[welded.indices], attr.data)
