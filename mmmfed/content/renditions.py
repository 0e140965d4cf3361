"""Converted representations of content versions (ITU FGMV-43 9.3 steps 5-7 with COCF,
COIR-204/205): how a content the bridge converted at its migration stays in step with its home.

The content's versions are ONE graph on both sides: the same records, so the same version ids
(:mod:`mmmfed.content.versions`; a record's ``ContentID`` is the home content's ItemID and its
``Parts`` the parts of the side that made it). Each side holds its own representation of a
version: the home the parts the record names (e.g. a ``.gltf`` package), the destination that
accepts this version only converted a :class:`Rendition`: the Item of the content at that
version as the bridge's Conversion Service converted it (signed by the bridge over the home
gateway's proof; its ItemParts the converted parts, e.g. one ``.glb``), the bridge, its report
(what the conversion kept, changed and lost) and the version it came from. A version made at the
destination names its own parts in its record (a ``.glb``) and needs no rendition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmmfed.content.item import PartRef, check_parts, is_content, parts_of
from mmmfed.content.package import ContentPackage
from mmmfed.content.versions import ContentVersion
from mmmfed.errors import InvalidInput
from mmmfed.items import Item

MAX_REPORT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Rendition:
    """The converted representation held at a destination of version ``source_version_id`` (the
    home's version it was converted from, whose id it shares): ``item`` (the converted Item, V2.2
    bytes as the bridge signed them), ``package`` (its parts), ``bridge_id`` and ``report`` (the
    Conversion Service's JSON object: kept, changed, dropped...)."""

    source_version_id: str
    item: Item
    package: ContentPackage
    bridge_id: str
    report: Mapping[str, Any]

    @classmethod
    def of(
        cls,
        version: ContentVersion,
        item: Item,
        package: ContentPackage,
        bridge_id: str,
        report_json: bytes,
        *,
        source_version_id: str = "",
    ) -> Rendition:
        """The rendition of ``version``: ``item`` must be a content's Item converted from that
        content (SourceItemID the record's ContentID), of the same kind, listing exactly
        ``package``'s parts. InvalidInput ``RENDITION_MALFORMED`` otherwise, DataIntegrityError
        ``DIGEST_MISMATCH`` / ``SIZE_MISMATCH`` for a part not as listed."""
        if not is_content(item.doc) or item.doc.get("SourceItemID") != version.content_id:
            raise InvalidInput(
                f"the converted Item of version {version.version_id[:12]} is not a conversion of"
                f" {version.content_id[:200]}",
                reason="RENDITION_MALFORMED",
            )
        if item.qualifier.get("SubType") != version.kind:
            raise InvalidInput(
                f"version {version.version_id[:12]} is {version.kind}; its conversion is"
                f" {item.qualifier.get('SubType')}",
                reason="RENDITION_MALFORMED",
            )
        check_parts(item.doc, package)
        if len(report_json) > MAX_REPORT_BYTES:
            raise InvalidInput(f"a conversion report is at most {MAX_REPORT_BYTES} bytes", reason="RENDITION_MALFORMED")
        try:
            report = json.loads(report_json or b"{}")
        except ValueError as err:
            raise InvalidInput(f"the conversion report is not JSON: {err}", reason="RENDITION_MALFORMED") from err
        if not isinstance(report, dict):
            raise InvalidInput("the conversion report is not a JSON object", reason="RENDITION_MALFORMED")
        return cls(source_version_id or version.version_id, item, package, bridge_id, report)

    @property
    def qualifier(self) -> Mapping[str, Any]:
        return self.item.qualifier

    @property
    def metadata(self) -> Mapping[str, Any]:
        return dict(self.item.doc.get("DescrMetadata") or {})

    @property
    def parts(self) -> tuple[PartRef, ...]:
        return tuple(parts_of(self.item.doc))

    def report_json(self) -> bytes:
        """The report as compact JSON bytes (sorted keys)."""
        return json.dumps(dict(self.report), sort_keys=True, separators=(",", ":")).encode()
