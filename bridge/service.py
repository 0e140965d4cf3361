"""The bridge's business logic: manifesto V, virtual bridges (FGMV-43 MBMF) and the Conversion
Service (AVCF; MMM-TEC Convert) producing a new Item whose SourceItemID is the original, whose
Trace names the bridge, which embeds the original (with its proof) as ``SourceItem`` and which
the bridge signs with its own key (did:key, announced in manifesto V). Each conversion's duration
counts in ``mmmfed_conversion_duration_seconds{outcome}`` (issue 6, item 2).

Manifesto V (BRIDGE and OFFER_V) is signed by the bridge's key and carries its certificate, which
binds that key (mmmfed/bridge_identity.py); virtual bridges are kept in the bridge's data_dir
(bridge/identity.py), so they outlive a restart (issue 12 item 5).

Contents (FGMV-43 9.3 with 9.5, COCF): manifesto V also announces the content pairs of
:mod:`bridge.content_conversion` (Model3D, Image, Sound), virtual bridges carry them, and
:meth:`BridgeService.convert_content` converts a content's parts into a new content Item."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridge.content_conversion import content_conversions, content_pair, convert_content, converted_item
from bridge.conversion import ConversionLimits, ConversionReport, ConversionTarget, GltfValidator, convert
from bridge.identity import VirtualBridge, VirtualBridgeStore
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.bridge_identity import sign_bridge_manifesto
from mmmfed.content.item import CONTENT_SUB_TYPES, is_content
from mmmfed.content.package import ContentPackage
from mmmfed.errors import InvalidInput, MmmfedError, NotFound, PermissionDenied
from mmmfed.formats import lookup
from mmmfed.glb import inspect_glb
from mmmfed.items import (
    FORMAT_GLB,
    FORMAT_VRM_0,
    FORMAT_VRM_1,
    DataBinding,
    Item,
    build_item,
    new_id,
    parse_item,
    proof_time,
    sha256_hex,
    sign_item,
)
from mmmfed.metrics import NodeMetrics
from mmmfed.proofs import SigningKey

VRM_DROPS = (
    "VRM humanoid bone map",
    "spring bones",
    "look-at",
    "first-person settings",
    "MToon shading (approximated by PBR)",
    "expressions / blend shape groups (morph targets kept)",
)
# (from format, to format, what cannot be carried)
CONVERSION_PAIRS = (
    (FORMAT_VRM_0, FORMAT_GLB, VRM_DROPS),
    (FORMAT_VRM_1, FORMAT_GLB, VRM_DROPS),
    (FORMAT_GLB, FORMAT_GLB, ()),
)
CONVERTED_KINDS = (("ITM", "Persona"), ("ASS", "Model"))
"""What the pairs apply to: avatars (Persona Items, FGMV-43 9.1) and 3D model Assets (9.2)."""
# An Asset's economic fields travel with its conversion (the converted Item is the same Asset).
ASSET_FIELDS = ("AssetDate", "OwnerProcessID", "Provenance", "MarketClass", "ValueMetadata", "CurrencyID")
NO_TEXTURE_LIMIT_PX = 16384
NO_TRIANGLE_LIMIT = 2**31 - 1


def check_conversion_pairs(pairs: Sequence[tuple[str, str, Sequence[str]]]) -> None:
    """Refuse Conversion Service pairs ``(from format, to format, drops)`` naming a Qualifier
    Format mmmfed does not know (:data:`mmmfed.formats.FORMATS`): manifesto V must announce only
    conversions whose input and output files can be checked. InvalidInput ``UNKNOWN_FORMAT``
    naming the pair."""
    for index, (src, dst, _) in enumerate(pairs):
        lookup(src, field=f"conversion pair {index} ({src} -> {dst}) from format")
        lookup(dst, field=f"conversion pair {index} ({src} -> {dst}) to format")


@dataclass(frozen=True)
class Converted:
    """A converted Item, its data, and the report of what was kept and dropped."""

    item: Item
    data: bytes
    report: ConversionReport


def target_of(feature: mpb.Feature) -> ConversionTarget:
    """The ConversionTarget for a peer's accepted feature: its triangle budget, its texture
    format (PNG when accepted, to keep alpha, else JPEG) and its texture size (0 = no limit)."""
    c = feature.constraints
    formats = set(c.texture_formats)
    texture_format: Literal["jpeg", "png"] = "png" if not formats or "image/png" in formats else "jpeg"
    if formats and not formats & {"image/png", "image/jpeg"}:
        raise InvalidInput(
            f"no texture format the bridge writes is accepted ({', '.join(sorted(formats))})",
            reason="QUALIFIER_NOT_SUPPORTED",
        )
    return ConversionTarget(
        max_triangles=c.max_triangles or NO_TRIANGLE_LIMIT,
        texture_format=texture_format,
        max_texture_px=c.max_texture_px or NO_TEXTURE_LIMIT_PX,
    )


class BridgeService:
    """Conversion Services of one bridge node."""

    def __init__(
        self,
        bridge_id: str,
        validator: GltfValidator,
        key: SigningKey,
        *,
        certificate_pem: str,
        virtual_bridges: VirtualBridgeStore,
        metrics: NodeMetrics | None = None,
        limits: ConversionLimits | None = None,
    ) -> None:
        """``key`` signs manifesto V and converted Items; ``certificate_pem`` is the bridge's TLS
        certificate (binding ``key``'s did:key), carried in manifesto V; ``virtual_bridges``
        keeps the virtual bridges made; ``limits`` bound what a conversion may spend."""
        self._limits = limits if limits is not None else ConversionLimits()
        self._metrics = metrics if metrics is not None else NodeMetrics()
        self.bridge_id = bridge_id
        self._validator = validator
        self._key = key
        self._certificate_pem = certificate_pem
        self._process_id = new_id(bridge_id, "processes/service", "conversion")
        self._virtual_bridges = virtual_bridges

    def _signed(self, manifesto: mpb.Manifesto) -> mpb.Manifesto:
        return sign_bridge_manifesto(
            manifesto, key=self._key, certificate_pem=self._certificate_pem, created=proof_time()
        )

    def manifesto(self) -> mpb.Manifesto:
        """Manifesto V of the bridge: its conversion pairs (FGMV-43 9.5), signed by its key."""
        return self._signed(
            mpb.Manifesto(
                manifesto_id=f"urn:uuid:{uuid.uuid4()}",
                kind=mpb.MANIFESTO_KIND_BRIDGE,
                issuer_id=self.bridge_id,
                conversions=[
                    mpb.ConversionPair(
                        item_type=item_type,
                        from_qualifier=mpb.Qualifier(sub_type=sub_type, format=src),
                        to_qualifier=mpb.Qualifier(sub_type=sub_type, format=dst),
                        drops=drops,
                    )
                    for item_type, sub_type in CONVERTED_KINDS
                    for src, dst, drops in CONVERSION_PAIRS
                ]
                + content_conversions(),  # contents (FGMV-43 9.3, COCF)
                issued_at_ms=int(time.time() * 1000),
            )
        )

    def create_virtual_bridge(
        self, from_id: str, to_id: str, features: list[mpb.NegotiatedFeature]
    ) -> tuple[str, mpb.Manifesto]:
        """MBMF: a virtual bridge from ``from_id`` to ``to_id`` for ``features``; returns its id
        and offer manifesto V (only the pairs those features use), signed. The virtual bridge is
        stored before its id is returned. InvalidInput ``QUALIFIER_NOT_SUPPORTED`` if a feature
        needs a pair this bridge lacks (nothing stored then)."""
        pairs = []
        supported = {(s, d): drops for s, d, drops in CONVERSION_PAIRS}
        for row in features:
            key = (row.offered.qualifier.format, row.target.qualifier.format)
            if row.offered.qualifier.sub_type in CONTENT_SUB_TYPES:  # a content's pair (COCF)
                drops = content_pair(row.offered.qualifier.sub_type, *key)
                if drops is None:
                    raise InvalidInput(
                        f"this bridge does not convert {row.offered.qualifier.sub_type} {key[0]} to {key[1]}",
                        reason="QUALIFIER_NOT_SUPPORTED",
                    )
                pairs.append(
                    mpb.ConversionPair(
                        item_type=row.offered.item_type,
                        from_qualifier=row.offered.qualifier,
                        to_qualifier=row.target.qualifier,
                        drops=drops,
                    )
                )
                continue
            if key not in supported:
                raise InvalidInput(
                    f"this bridge does not convert {key[0]} to {key[1]}", reason="QUALIFIER_NOT_SUPPORTED"
                )
            pairs.append(
                mpb.ConversionPair(
                    item_type=row.offered.item_type,
                    from_qualifier=row.offered.qualifier,
                    to_qualifier=row.target.qualifier,
                    drops=supported[key],
                )
            )
        vb_id = f"urn:uuid:{uuid.uuid4()}"
        now_ms = int(time.time() * 1000)
        offer_v = mpb.Manifesto(
            manifesto_id=f"urn:uuid:{uuid.uuid4()}",
            kind=mpb.MANIFESTO_KIND_OFFER_V,
            issuer_id=self.bridge_id,
            peer_id=to_id,
            conversions=pairs,
            virtual_bridge_id=vb_id,
            issued_at_ms=now_ms,
        )
        signed = self._signed(offer_v)
        self._virtual_bridges.add(VirtualBridge(vb_id, from_id, to_id, now_ms))
        return vb_id, signed

    def check_request(self, vb_id: str, item_json: bytes, target: mpb.Feature) -> Item:
        """Check a Convert header before data arrives. NotFound ``UNKNOWN_VIRTUAL_BRIDGE``;
        PermissionDenied ``VIRTUAL_BRIDGE_MISMATCH`` (the Item is not of the M-Instance the
        virtual bridge converts from); InvalidInput ``ITEM_MALFORMED`` / ``QUALIFIER_NOT_SUPPORTED``."""
        vb = self._virtual_bridges.get(vb_id)
        if vb is None:
            raise NotFound(f"no virtual bridge {vb_id}; negotiate first", reason="UNKNOWN_VIRTUAL_BRIDGE")
        item = parse_item(item_json)
        if item.m_instance_id != vb.from_m_instance_id:
            raise PermissionDenied(
                f"virtual bridge {vb_id} converts Items of {vb.from_m_instance_id}, not of {item.m_instance_id}",
                reason="VIRTUAL_BRIDGE_MISMATCH",
            )
        if is_content(item.doc):  # a content's parts follow instead of one data binding (COCF)
            sub_type, fmt = str(item.qualifier.get("SubType", "")), item.format
            if target.qualifier.sub_type != sub_type or content_pair(sub_type, fmt, target.qualifier.format) is None:
                raise InvalidInput(
                    f"this bridge does not convert {sub_type} {fmt} to "
                    f"{target.qualifier.sub_type} {target.qualifier.format}",
                    reason="QUALIFIER_NOT_SUPPORTED",
                )
            return item
        if item.data is None:
            raise InvalidInput("Item has no data to convert", reason="ITEM_MALFORMED")
        if (item.format, target.qualifier.format) not in {(s, d) for s, d, _ in CONVERSION_PAIRS}:
            raise InvalidInput(
                f"this bridge does not convert {item.format or 'an unnamed format'} to {target.qualifier.format}",
                reason="QUALIFIER_NOT_SUPPORTED",
            )
        return item

    async def convert(self, source: Item, data: bytes, target: mpb.Feature) -> Converted:
        """Convert ``data`` (the source Item's, digest already checked) for ``target``.

        Raises ConversionRefused (INVALID_ARGUMENT, reasons ``GLTF_VALIDATION_FAILED``,
        ``NOT_GLB``, ``TRIANGLE_BUDGET_UNREACHABLE``, ``IMAGE_TOO_LARGE``...) for input it will not
        convert (AVIR-202); ValidatorTimeout / ConversionTimeout (DEADLINE_EXCEEDED) past the limits.
        The time it takes counts in ``mmmfed_conversion_duration_seconds`` with outcome converted,
        refused (a domain error: the input or the target) or error (anything else).
        """
        started, outcome = time.perf_counter(), "error"
        try:
            out, report = await convert(data, target_of(target), validator=self._validator, limits=self._limits)
            outcome = "converted"
        except MmmfedError:
            outcome = "refused"
            raise
        finally:
            self._metrics.conversion_duration.labels(outcome=outcome).observe(time.perf_counter() - started)
        facts = await asyncio.to_thread(inspect_glb, out)  # off the event loop
        descr = dict(source.doc.get("DescrMetadata") or {})
        descr["ConvertedBy"] = self.bridge_id
        item_type = str(source.doc.get("ItemType", "ITM"))
        extra: dict[str, object] = {"SourceItem": dict(source.wire)}  # the original in its V2.2 form, proof and all
        item_id = new_id(source.m_instance_id, "items")
        if item_type == "ASS":  # the converted Item is the same Asset, in another Qualifier
            extra.update({k: source.doc[k] for k in ASSET_FIELDS if k in source.doc}, AssetID=item_id)
        item = build_item(
            m_instance_id=source.m_instance_id,
            item_id=item_id,
            item_type=item_type,
            qualifier={
                "SubType": str(source.qualifier.get("SubType", "Persona")),
                "Format": facts.format,
                "Attributes": facts.attributes(),
            },
            data=DataBinding(len(out), sha256_hex(out), "model/gltf-binary"),
            producer_process_id=self._process_id,
            source_item_id=source.item_id,
            capabilities=list(source.doc.get("ICapabilities") or []),
            descr=descr,
            trace=list(source.doc.get("Trace") or []),
            # The original, with its proof, so the receiver verifies who produced the data too.
            extra=extra,
        )
        signed = sign_item(item, key=self._key, verification_method=self._key.verification_method)
        return Converted(signed, out, report)

    async def convert_content(
        self, source: Item, package: ContentPackage, target: mpb.Feature
    ) -> tuple[Item, ContentPackage, dict[str, object]]:
        """Convert a content (FGMV-43 9.3 with 9.5, COCF: :mod:`bridge.content_conversion`):
        ``package`` (its parts, digests already checked against the source Item) for ``target``
        (the destination's accepted Feature with its limits). Returns the converted Item signed
        by this bridge, its package and the report. Raises ConversionRefused (INVALID_ARGUMENT,
        e.g. ``TRIANGLE_BUDGET_UNREACHABLE``, ``IMAGE_TOO_LARGE``, ``SOUND_TOO_LONG``) and the
        validator's and time limits' errors; counted in ``mmmfed_conversion_duration_seconds``."""
        started, outcome = time.perf_counter(), "error"
        try:
            model_target = target_of(target) if target.qualifier.sub_type == "Model3D" else None
            converted = await convert_content(
                package,
                source.qualifier,
                target,
                validator=self._validator,
                limits=self._limits,
                model_target=model_target,
            )
            outcome = "converted"
        except MmmfedError:
            outcome = "refused"
            raise
        finally:
            self._metrics.conversion_duration.labels(outcome=outcome).observe(time.perf_counter() - started)
        item = converted_item(source, converted, target, bridge_id=self.bridge_id, producer_process_id=self._process_id)
        signed = sign_item(item, key=self._key, verification_method=self._key.verification_method)
        return signed, converted.package, converted.report


def report_json(report: ConversionReport) -> bytes:
    return json.dumps(report.to_dict(), sort_keys=True).encode()
