"""Contents through a bridge's Conversion Service (ITU FGMV-43 9.3 with 9.5 steps 5-9, COCF,
COIR-204/205): the negotiation's content rows and the conversion on the way to a peer.

Negotiation (9.5 steps 3-7): the content rows are :mod:`gateway.content_rows`'; the virtual
bridge is made for them with the avatar rows.

Migration (9.3 steps 2-4). A content the peer's policies do not accept as it is goes through
the bridge of the negotiated row for its Qualifier (:meth:`ContentBridge.convert`): the home
gateway streams its Item (signed by it) and parts into the bridge's Convert, takes the converted
Item only with a proof by the key of the verified manifesto V, checks each converted part as it
arrives, and that the conversion kept what must travel unchanged (:func:`check_kept`: the
licence and metadata, the Rights, the owner's SourceItem). The receiving gateway verifies the
bridge's proof over the home gateway's (the verification pipeline of converted Items) and checks
:func:`check_kept` again. A bridge's refusal of the content is FAILED_PRECONDITION
``CONVERSION_FAILED`` (metadata ``cause``: the bridge's reason, ``bridge``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from gateway.bridging import convert_via_bridge
from gateway.channels import Channels
from gateway.content_rows import content_route
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.content.item import is_content, parts_of
from mmmfed.content.package import ContentPackage
from mmmfed.content.transfer import MAX_CONTENT_BYTES, PartsChecker, check_limits, part_bytes
from mmmfed.errors import FailedPrecondition, MmmfedError, PermissionDenied, RemoteError
from mmmfed.items import Item, parse_item
from mmmfed.strictjson import parse_json
from mmmfed.v22.codec import decode

if TYPE_CHECKING:
    from gateway.negotiation import NegotiationService

VIA_BRIDGE = "via bridge"
DIRECT = "direct"
CONVERSION_FAILED = "CONVERSION_FAILED"
MAX_REPORT_BYTES = 64 * 1024
# A bridge's refusals of the content itself (the input or the target), as opposed to failures
# of the request or the network, which pass through as they are.
_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DATA_LOSS,
    }
)
# DescrMetadata fields a conversion must keep as they are (COIR-102/103: metadata and licence).
_KEPT_DESCR = ("Title", "Description", "Tags", "Creator", "Copyright", "Licence")


def check_kept(item: Item, home: Mapping[str, Any] | None = None) -> None:
    """A converted content's Item keeps what must travel unchanged (COIR-102/103/302): its
    SourceItem is the home content (``home``, its domain document, when the caller has it), and
    its licence and metadata (DescrMetadata), Rights (ICapabilities) are the home Item's.
    PermissionDenied ``CONVERSION_ALTERED_CONTENT`` naming the field otherwise."""
    source_wire = item.doc.get("SourceItem")
    if not isinstance(source_wire, Mapping):
        raise PermissionDenied("a converted content embeds its home Item", reason="CONVERSION_ALTERED_CONTENT")
    source = decode(source_wire)
    if not is_content(source) or source.get("ItemID") != item.doc.get("SourceItemID"):
        raise PermissionDenied("the converted Item's SourceItem is not a content", reason="CONVERSION_ALTERED_CONTENT")
    if home is not None and source.get("ItemID") != home.get("ItemID"):
        raise PermissionDenied("the bridge converted another content", reason="CONVERSION_ALTERED_CONTENT")
    mine, theirs = item.doc.get("DescrMetadata") or {}, source.get("DescrMetadata") or {}
    changed = [k for k in _KEPT_DESCR if mine.get(k) != theirs.get(k)]
    if item.doc.get("ICapabilities") != source.get("ICapabilities"):
        changed.append("ICapabilities")
    if item.doc.get("ItemQualifier", {}).get("SubType") != source.get("ItemQualifier", {}).get("SubType"):
        changed.append("kind")
    if changed:
        raise PermissionDenied(
            f"the conversion changed {', '.join(changed)}; a bridge converts only the bytes",
            reason="CONVERSION_ALTERED_CONTENT",
            metadata={"fields": ",".join(changed)},
        )


@dataclass(frozen=True)
class ConvertedContent:
    """A content as a bridge converted it: its Item (signed by the bridge), its parts, the
    bridge's id and its report (a JSON object: kept, changed, dropped...)."""

    item: Item
    package: ContentPackage
    bridge_id: str
    report: dict[str, Any]

    def report_json(self) -> bytes:
        """The report as compact JSON bytes."""
        return json.dumps(self.report, sort_keys=True, separators=(",", ":")).encode()


class ContentBridge:
    """The home gateway's side of a content conversion (see the module docstring)."""

    def __init__(self, channels: Channels, negotiation: NegotiationService) -> None:
        self._channels = channels
        self._negotiation = negotiation

    async def route(self, peer: str, qualifier: Mapping[str, Any]) -> mpb.NegotiatedFeature | None:
        """The negotiated row a content of ``qualifier`` takes to ``peer`` through a bridge, None
        when there is none (or this gateway never offered to ``peer``)."""
        try:
            answer = await self._negotiation.answer_for(peer)
        except FailedPrecondition:
            return None
        return content_route(answer, qualifier)

    async def convert(
        self, home: Item, package: ContentPackage, row: mpb.NegotiatedFeature, peer: str
    ) -> ConvertedContent:
        """Convert the content ``home`` (signed by this gateway) with ``package`` through the bridge
        of ``row`` for ``row.target`` (FGMV-43 9.3 with 9.5 step 9, COCF).

        Raises FailedPrecondition ``CONVERSION_FAILED`` (the bridge refused the content: metadata
        ``cause`` and ``bridge``), BridgeIdentityRefused (the converted Item is not signed by the
        verified manifesto V's key), PermissionDenied ``CONVERSION_ALTERED_CONTENT``,
        DataIntegrityError ``SIZE_MISMATCH`` / ``DIGEST_MISMATCH`` (a converted part not as its
        Item lists), TooLarge ``CONTENT_TOO_LARGE``, MmmfedError ``BRIDGE_PROTOCOL``, and the
        bridge's other errors (Unavailable, DEADLINE_EXCEEDED) as they are."""
        answer = await self._negotiation.answer_for(peer)
        bridge_keys = await self._negotiation.bridge_keys(peer)
        stub = self._channels.bridge(row.bridge_id)

        async def chunks() -> AsyncIterator[bytes]:
            for chunk in part_bytes(package):
                yield chunk

        report: dict[str, bytes] = {}
        try:
            envelope, converted = await convert_via_bridge(
                stub, home, row, answer.virtual_bridge_id, chunks(), report, bridge_keys=bridge_keys
            )
            item = parse_item(envelope.item_json)
            if not is_content(item.doc):
                raise MmmfedError("the bridge did not answer with a content's Item", reason="BRIDGE_PROTOCOL")
            check_kept(item, home.doc)
            refs = parts_of(item.doc)
            check_limits(refs, max_bytes=MAX_CONTENT_BYTES)
            checker = PartsChecker(refs, keep=True)
            async for chunk in converted:
                checker.feed(chunk)
            checker.finish()
        except RemoteError as err:
            if err.code not in _REFUSALS:
                raise
            raise FailedPrecondition(
                f"bridge {row.bridge_id} could not convert {row.offered.qualifier.sub_type} "
                f"{row.offered.qualifier.format} to {row.target.qualifier.format}: {err.reason}: {err.message}"[:1000],
                reason=CONVERSION_FAILED,
                metadata={"cause": err.reason, "bridge": row.bridge_id},
            ) from err
        parsed = parse_json(report.get("report", b"{}"), max_bytes=MAX_REPORT_BYTES)
        return ConvertedContent(item, checker.package(), row.bridge_id, parsed if isinstance(parsed, dict) else {})
