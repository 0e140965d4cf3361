"""Manifestos (FGMV-43 9.5): building them from configuration and comparing them.

Comparison is a pure function over protobuf messages: for every feature an instance produces,
decide whether the peer accepts it directly, through a bridge's Conversion Service, or not at
all, and say why in a sentence a person can read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.config import FeatureConfig, ManifestoConfig

ROUTE_NAMES = {
    mpb.FEATURE_ROUTE_DIRECT: "direct",
    mpb.FEATURE_ROUTE_VIA_BRIDGE: "via bridge",
    mpb.FEATURE_ROUTE_UNSUPPORTED: "unsupported",
}


def feature_from_config(cfg: FeatureConfig) -> mpb.Feature:
    """The manifesto Feature of a configured Item type, Qualifier and Constraints."""
    c = cfg.constraints
    return mpb.Feature(
        item_type=cfg.item_type,
        qualifier=mpb.Qualifier(sub_type=cfg.sub_type, format=cfg.format),
        constraints=mpb.Constraints(
            max_triangles=c.max_triangles,
            texture_formats=c.texture_formats,
            max_texture_px=c.max_texture_px,
            max_bytes=c.max_bytes,
        ),
    )


def platform_manifesto(m_instance_id: str, cfg: ManifestoConfig) -> mpb.Manifesto:
    """The platform manifesto an M-Instance registers with its gateway (9.5 step 1, RI-5)."""
    return mpb.Manifesto(
        manifesto_id=f"urn:uuid:{uuid.uuid4()}",
        kind=mpb.MANIFESTO_KIND_PLATFORM,
        issuer_id=m_instance_id,
        produces=[feature_from_config(f) for f in cfg.produces],
        accepts=[feature_from_config(f) for f in cfg.accepts],
        profiles=cfg.profiles,
        policies=cfg.policies,
        issued_at_ms=int(time.time() * 1000),
    )


def _key(f: mpb.Feature) -> tuple[str, str, str]:
    return (f.item_type, f.qualifier.sub_type, f.qualifier.format)


def violations(facts: Mapping[str, int | Sequence[str]], limits: mpb.Constraints) -> list[str]:
    """What in ``facts`` exceeds ``limits`` (0 / empty = no limit), one sentence each.

    ``facts`` keys: ``triangles``, ``texture_formats``, ``max_texture_px``, ``bytes``; a missing
    key means "unknown", which cannot be shown to fit a set limit.
    """
    out: list[str] = []
    checks = (
        ("triangles", limits.max_triangles, "triangles"),
        ("max_texture_px", limits.max_texture_px, "px textures"),
        ("bytes", limits.max_bytes, "bytes"),
    )
    for key, limit, unit in checks:
        if not limit:
            continue
        value = facts.get(key)
        if not isinstance(value, int):
            out.append(f"{unit} not bounded (peer limit {limit})")
        elif value > limit:
            out.append(f"{value} {unit} > {limit}")
    if limits.texture_formats:
        formats = facts.get("texture_formats")
        if formats is None:
            out.append(f"texture formats not bounded (peer accepts {', '.join(limits.texture_formats)})")
        elif not isinstance(formats, int):
            extra = sorted(set(formats) - set(limits.texture_formats))
            if extra:
                out.append(f"textures {', '.join(extra)} not in {', '.join(limits.texture_formats)}")
    return out


def produced_facts(c: mpb.Constraints) -> dict[str, int | Sequence[str]]:
    """What a produce-side feature guarantees, as ``violations`` facts (0 = unbounded = absent)."""
    facts: dict[str, int | Sequence[str]] = {}
    if c.max_triangles:
        facts["triangles"] = c.max_triangles
    if c.max_texture_px:
        facts["max_texture_px"] = c.max_texture_px
    if c.max_bytes:
        facts["bytes"] = c.max_bytes
    if c.texture_formats:
        facts["texture_formats"] = list(c.texture_formats)
    return facts


def compare_feature(
    offered: mpb.Feature,
    accepts: Sequence[mpb.Feature],
    bridges: Mapping[str, Iterable[mpb.ConversionPair]],
) -> mpb.NegotiatedFeature:
    """One row of the feature table: DIRECT, VIA_BRIDGE or UNSUPPORTED, with the reason.

    DIRECT when the peer accepts the same Item type, Sub-Type and Format and the offered
    constraints fit the peer's; VIA_BRIDGE when a bridge converts the offered Qualifier to one the
    peer accepts (the target carries the peer's constraints); otherwise UNSUPPORTED.
    """
    same = [a for a in accepts if _key(a) == _key(offered)]
    misfit: list[str] = []
    for accepted in same:
        misfit = violations(produced_facts(offered.constraints), accepted.constraints)
        if not misfit:
            return mpb.NegotiatedFeature(
                offered=offered,
                route=mpb.FEATURE_ROUTE_DIRECT,
                target=accepted,
                detail=f"peer accepts {offered.qualifier.format} as produced",
            )
    for bridge_id, pairs in sorted(bridges.items()):
        for pair in pairs:
            if (pair.item_type, pair.from_qualifier.sub_type, pair.from_qualifier.format) != _key(offered):
                continue
            for accepted in accepts:
                if (accepted.item_type, accepted.qualifier.sub_type, accepted.qualifier.format) == (
                    pair.item_type,
                    pair.to_qualifier.sub_type,
                    pair.to_qualifier.format,
                ):
                    why = f"; {'; '.join(misfit)}" if misfit else ""
                    return mpb.NegotiatedFeature(
                        offered=offered,
                        route=mpb.FEATURE_ROUTE_VIA_BRIDGE,
                        target=accepted,
                        bridge_id=bridge_id,
                        detail=f"{bridge_id} converts {offered.qualifier.format} to {accepted.qualifier.format}{why}",
                    )
    reason = "; ".join(misfit) if misfit else f"peer does not accept {offered.qualifier.format}"
    return mpb.NegotiatedFeature(
        offered=offered,
        route=mpb.FEATURE_ROUTE_UNSUPPORTED,
        detail=f"{reason}, and no bridge converts it",
    )


def compare(
    produced: Sequence[mpb.Feature],
    accepts: Sequence[mpb.Feature],
    bridges: Mapping[str, Iterable[mpb.ConversionPair]],
) -> list[mpb.NegotiatedFeature]:
    """The feature table for everything ``produced`` (FGMV-43 9.5 steps 3-4)."""
    return [compare_feature(f, accepts, {k: list(v) for k, v in bridges.items()}) for f in produced]
