"""The negotiation's content rows (ITU FGMV-43 9.5 steps 3-7 for contents, COCF): which contents
a bridge converts for a peer, as NegotiatedFeature rows, and the answering side's check of them.

The peer's manifesto names the contents it accepts in its policies
(:mod:`mmmfed.content.acceptance`: kinds, formats and limits). When they restrict anything, the
offering gateway adds one VIA_BRIDGE row per content pair of a bridge's manifesto V whose target
the peer accepts (:func:`content_rows`), target the peer's accepted Feature with its limits as
Constraints. The answering gateway checks each against its own policies and the verified offer V
(:func:`check_content_row`): a row it does not accept, or of a pair offer V does not carry,
becomes UNSUPPORTED. :func:`content_route` picks the row a content travels by. The conversion on
the way is :mod:`gateway.content_bridging`'s; this module is apart so that the negotiation, which
the conversion reads, does not import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.content.acceptance import ContentAcceptance
from mmmfed.content.item import CONTENT_ITEM_TYPE, CONTENT_SUB_TYPES


def is_content_row(row: mpb.NegotiatedFeature) -> bool:
    """Whether a negotiated row is a content's (Item type ITM, a content kind as SubType)."""
    return (row.offered.item_type or CONTENT_ITEM_TYPE) == CONTENT_ITEM_TYPE and (
        row.offered.qualifier.sub_type in CONTENT_SUB_TYPES
    )


def content_rows(
    policies: Mapping[str, str],
    conversions: Mapping[str, Iterable[mpb.ConversionPair]],
    *,
    prefer: str = "",
) -> list[mpb.NegotiatedFeature]:
    """FGMV-43 9.5 steps 3-4 for contents: the VIA_BRIDGE rows towards a peer publishing
    ``policies``, from the content pairs of ``conversions`` (bridge id -> manifesto V pairs) of
    one bridge (``prefer`` if it has content pairs, else the first that has); none when the
    policies restrict no kind, format or Attribute. Raises InvalidInput
    ``CONTENT_POLICY_INVALID`` for malformed policies."""
    acceptance = ContentAcceptance.of(policies)
    if not acceptance.restricts:
        return []
    offered = {b: [p for p in pairs if _content_pair(p)] for b, pairs in conversions.items()}
    usable = [b for b in sorted(offered) if offered[b]]
    if not usable:
        return []
    bridge_id = prefer if prefer in usable else usable[0]
    rows: list[mpb.NegotiatedFeature] = []
    seen: set[tuple[str, str, str]] = set()
    for pair in offered[bridge_id]:
        src, dst = pair.from_qualifier, pair.to_qualifier
        key = (src.sub_type, src.format, dst.format)
        if key in seen or dst.sub_type != src.sub_type or not acceptance.accepts(dst.sub_type, dst.format):
            continue
        seen.add(key)
        rows.append(
            mpb.NegotiatedFeature(
                offered=mpb.Feature(item_type=CONTENT_ITEM_TYPE, qualifier=src),
                route=mpb.FEATURE_ROUTE_VIA_BRIDGE,
                target=acceptance.feature(dst.sub_type, dst.format),
                bridge_id=bridge_id,
                detail=f"{bridge_id} converts {src.sub_type} {src.format} contents to {dst.format}",
            )
        )
    return rows


def _content_pair(pair: mpb.ConversionPair) -> bool:
    return (pair.item_type or CONTENT_ITEM_TYPE) == CONTENT_ITEM_TYPE and pair.from_qualifier.sub_type in (
        CONTENT_SUB_TYPES
    )


def check_content_row(
    row: mpb.NegotiatedFeature, policies: Mapping[str, str], bridged: set[tuple[str, str, str]], bridge_id: str
) -> mpb.NegotiatedFeature:
    """The answering side's check of one content row (9.5 step 6): a VIA_BRIDGE row of the bridge
    of offer V, whose pair offer V carries (``bridged``: ``(item type, from, to)`` formats), to a
    Qualifier these ``policies`` accept, answered with this M-Instance's own limits as target;
    anything else becomes UNSUPPORTED."""
    out = mpb.NegotiatedFeature()
    out.CopyFrom(row)
    acceptance = ContentAcceptance.of(policies)
    sub_type, dst = row.target.qualifier.sub_type, row.target.qualifier.format
    conv = (row.offered.item_type or CONTENT_ITEM_TYPE, row.offered.qualifier.format, dst)
    if (
        row.route == mpb.FEATURE_ROUTE_VIA_BRIDGE
        and sub_type == row.offered.qualifier.sub_type
        and conv in bridged
        and row.bridge_id == bridge_id
        and acceptance.accepts(sub_type, dst)
    ):
        out.target.CopyFrom(acceptance.feature(sub_type, dst))  # this instance's limits, not the offer's
        return out
    out.route = mpb.FEATURE_ROUTE_UNSUPPORTED
    out.ClearField("target")
    out.detail = f"not accepted by the answering instance: {row.detail}"
    return out


def content_route(answer: mpb.Manifesto, qualifier: Mapping[str, Any]) -> mpb.NegotiatedFeature | None:
    """The negotiated VIA_BRIDGE row a content of ``qualifier`` travels by (one to its own
    Format first: only its limits need meeting), or None when the negotiation has none."""
    sub_type, fmt = str(qualifier.get("SubType", "")), str(qualifier.get("Format", ""))
    rows = [
        r
        for r in answer.negotiated
        if r.route == mpb.FEATURE_ROUTE_VIA_BRIDGE
        and is_content_row(r)
        and (r.offered.qualifier.sub_type, r.offered.qualifier.format) == (sub_type, fmt)
    ]
    rows.sort(key=lambda r: r.target.qualifier.format != fmt)
    return rows[0] if rows else None
