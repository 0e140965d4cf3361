"""How ``mmmfed content`` shows contents: plain dicts for ``--json`` and tables for people
(FGMV-43 9.3). A content's Item is read from its exact V2.2 bytes (``ContentView.item``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.markup import escape
from rich.table import Table

from mmmfed.cli.tables import FittingTable
from mmmfed.content.item import parts_of
from mmmfed.items import domain_doc


def content_dict(view: Any) -> dict[str, Any]:
    """``{"item_id", "owner_process_id", "kind", "format", "attributes", "title", "description",
    "tags", "creator", "copyright", "licence", "parts": [{path, media_type, size, sha256}],
    "converted_from", "converted_by", "conversion_lost"}`` (the last three for a content a
    bridge converted on its way here, FGMV-43 9.3 COCF: its home content's ItemID, the bridge,
    what it lost; empty otherwise)."""
    doc = domain_doc(view.item.item_json)
    qualifier = doc.get("ItemQualifier") or {}
    descr = doc.get("DescrMetadata") or {}
    conversion = descr.get("Conversion")
    if not isinstance(conversion, dict):
        conversion = {}
    converted_by = str(descr.get("ConvertedBy") or "")
    return {
        "item_id": doc["ItemID"],
        "owner_process_id": view.owner_process_id,
        "kind": qualifier.get("SubType", ""),
        "format": qualifier.get("Format", ""),
        "attributes": dict(qualifier.get("Attributes") or {}),
        "title": descr.get("Title", ""),
        "description": descr.get("Description", ""),
        "tags": list(descr.get("Tags") or []),
        "creator": descr.get("Creator", ""),
        "copyright": descr.get("Copyright", ""),
        "licence": descr.get("Licence", ""),
        "parts": [
            {"path": p.path, "media_type": p.media_type, "size": p.size, "sha256": p.sha256} for p in parts_of(doc)
        ],
        "converted_from": str(doc.get("SourceItemID") or "") if converted_by else "",
        "converted_by": converted_by,
        "conversion_lost": [str(x) for x in conversion.get("Lost") or []] if converted_by else [],
    }


def contents_table(contents: Iterable[dict[str, Any]], *, title: str) -> Table:
    """One row per content: ItemID (never wrapped), kind, title, licence, parts, size, tags."""
    table = FittingTable(title=title, title_justify="left", drop=("tags", "format", "bytes", "parts"))
    for i, column in enumerate(("item", "kind", "format", "title", "licence", "parts", "bytes", "tags")):
        table.add_column(column, no_wrap=i == 0, overflow="fold")
    for c in contents:
        size = sum(int(p["size"]) for p in c["parts"])
        row = (c["item_id"], c["kind"], c["format"], c["title"], c["licence"], len(c["parts"]), f"{size:,}")
        table.add_row(*(escape(str(v)) for v in row), escape(", ".join(c["tags"])))
    return table


def content_facts(c: dict[str, Any]) -> Table:
    """A content's metadata and Qualifier as named facts, then its parts."""
    table = Table(title=c["item_id"], title_justify="left", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    attributes = ", ".join(f"{k} {v}" for k, v in sorted(c["attributes"].items()))
    rows = [
        ("title", c["title"]),
        ("kind", f"{c['kind']} ({c['format']})"),
        ("attributes", attributes or "-"),
        ("licence", c["licence"]),
        ("creator", c["creator"] or "-"),
        ("copyright", c["copyright"] or "-"),
        ("tags", ", ".join(c["tags"]) or "-"),
        ("description", c["description"] or "-"),
        ("owner", c["owner_process_id"]),
    ]
    if c.get("converted_by"):
        rows += [
            ("converted from", c["converted_from"]),
            ("converted by", c["converted_by"]),
            ("lost", "; ".join(c["conversion_lost"]) or "nothing"),
        ]
    rows += [(f"part {i}", f"{p['path']} {p['media_type']} {p['size']:,} bytes") for i, p in enumerate(c["parts"])]
    for name, value in rows:
        table.add_row(name, escape(value))
    return table
