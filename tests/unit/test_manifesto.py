"""Manifesto comparison (FGMV-43 9.5): direct, via bridge, unsupported."""

from __future__ import annotations

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.manifesto import compare, compare_feature, violations


def feature(fmt: str, *, tris: int = 0, tex: tuple[str, ...] = (), px: int = 0, item_type: str = "ITM") -> mpb.Feature:
    return mpb.Feature(
        item_type=item_type,
        qualifier=mpb.Qualifier(sub_type="Persona", format=fmt),
        constraints=mpb.Constraints(max_triangles=tris, texture_formats=tex, max_texture_px=px),
    )


B_ACCEPTS = [feature("glTF/2.0-binary", tris=1500, tex=("image/jpeg",), px=512)]
BRIDGE = {
    "bridge.example": [
        mpb.ConversionPair(
            item_type="ITM",
            from_qualifier=mpb.Qualifier(sub_type="Persona", format="VRM/0.x"),
            to_qualifier=mpb.Qualifier(sub_type="Persona", format="glTF/2.0-binary"),
        )
    ]
}


def test_direct_when_offered_constraints_fit() -> None:
    """A feature the peer accepts as produced, within its limits, is DIRECT."""
    row = compare_feature(feature("glTF/2.0-binary", tris=1000, tex=("image/jpeg",), px=256), B_ACCEPTS, BRIDGE)
    assert row.route == mpb.FEATURE_ROUTE_DIRECT
    assert row.target.constraints.max_triangles == 1500


def test_via_bridge_when_a_bridge_converts_to_an_accepted_qualifier() -> None:
    """VRM 0.x, which the peer does not accept, goes through the bridge converting it to glTF."""
    row = compare_feature(feature("VRM/0.x"), B_ACCEPTS, BRIDGE)
    assert row.route == mpb.FEATURE_ROUTE_VIA_BRIDGE
    assert row.bridge_id == "bridge.example"
    assert row.target.qualifier.format == "glTF/2.0-binary"
    assert row.target.constraints.max_texture_px == 512


def test_unsupported_without_bridge_or_peer_support() -> None:
    """A format nobody accepts or converts is UNSUPPORTED, and the detail says why."""
    row = compare_feature(feature("USDZ/1.0", item_type="ASS"), B_ACCEPTS, BRIDGE)
    assert row.route == mpb.FEATURE_ROUTE_UNSUPPORTED
    assert "USDZ/1.0" in row.detail and "no bridge" in row.detail


def test_same_format_over_limits_is_not_direct() -> None:
    """Unbounded glTF offered to a peer with limits is not DIRECT; the detail names the limit."""
    row = compare_feature(feature("glTF/2.0-binary"), B_ACCEPTS, {})
    assert row.route == mpb.FEATURE_ROUTE_UNSUPPORTED
    assert "1500" in row.detail


def test_compare_keeps_one_row_per_offered_feature() -> None:
    """The feature table has one row per produced feature, in order."""
    offered = [feature("VRM/0.x"), feature("glTF/2.0-binary", tris=10, tex=("image/jpeg",), px=8)]
    routes = [r.route for r in compare(offered, B_ACCEPTS, BRIDGE)]
    assert routes == [mpb.FEATURE_ROUTE_VIA_BRIDGE, mpb.FEATURE_ROUTE_DIRECT]


def test_violations_names_each_exceeded_limit() -> None:
    """violations() reports triangles, texture size and texture format overruns."""
    limits = mpb.Constraints(max_triangles=100, texture_formats=["image/jpeg"], max_texture_px=512)
    found = violations({"triangles": 200, "max_texture_px": 1024, "texture_formats": ["image/png"]}, limits)
    assert len(found) == 3
    assert violations({"triangles": 100, "max_texture_px": 512, "texture_formats": ["image/jpeg"]}, limits) == []
