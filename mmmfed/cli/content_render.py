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


def _when(time_ms: int) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def version_dict(v: Any) -> dict[str, Any]:
    """``{"version_id", "parent_ids", "author_process_id", "time_ms", "title", "format",
    "bytes", "part_count", "converted_by", "held_format"}`` of a ContentVersionInfo (COIR-104;
    the last two set for a version this M-Instance holds converted, COCF: the bridge and the
    Format held here, while ``format`` is the record's)."""
    return {
        "version_id": v.version_id,
        "parent_ids": list(v.parent_ids),
        "author_process_id": v.author_process_id,
        "time_ms": int(v.time_ms),
        "title": v.title,
        "format": v.format,
        "bytes": int(v.bytes),
        "part_count": int(v.part_count),
        "converted_by": v.converted_by,
        "held_format": v.held_format,
    }


def history_dict(h: Any) -> dict[str, Any]:
    """``{"content_id", "versions": [version_dict...], "head_ids", "current_version_id",
    "linked_peers", "in_conflict"}`` of a ContentHistoryResponse."""
    return {
        "content_id": h.content_id,
        "versions": [version_dict(v) for v in h.versions],
        "head_ids": list(h.head_ids),
        "current_version_id": h.current_version_id,
        "linked_peers": list(h.linked_peers),
        "in_conflict": len(h.head_ids) > 1,
    }


def history_table(h: dict[str, Any]) -> Table:
    """One row per version, newest last: short id (12 hex digits), parents, author, time (UTC),
    size, and a mark: ``current``, ``head`` (another head: a conflict), ``merge``, ``held as
    FORMAT`` (a version held here converted by a bridge)."""
    linked = ", ".join(h["linked_peers"]) or "none"
    table = FittingTable(
        title=f"{h['content_id']} ({len(h['versions'])} versions, linked with {linked})",
        title_justify="left",
        drop=("bytes", "author"),
    )
    for i, column in enumerate(("version", "parents", "author", "time (UTC)", "bytes", "state")):
        table.add_column(column, no_wrap=i in (0, 3), overflow="fold")
    heads = set(h["head_ids"])
    for v in h["versions"]:
        marks = []
        if v["version_id"] == h["current_version_id"]:
            marks.append("current")
        elif v["version_id"] in heads:
            marks.append("head")
        if len(v["parent_ids"]) > 1:
            marks.append("merge")
        if v.get("converted_by"):
            marks.append(f"held as {v['held_format']}")
        parents = " ".join(p[:12] for p in v["parent_ids"]) or "-"
        row = (v["version_id"][:12], parents, v["author_process_id"], _when(v["time_ms"]), f"{v['bytes']:,}")
        table.add_row(*(escape(str(x)) for x in row), escape(", ".join(marks)))
    return table


def conflicts_table(conflicts: list[dict[str, Any]], *, title: str) -> Table:
    """One row per head of each content in conflict: content, head (short id), author, time."""
    table = FittingTable(title=title, title_justify="left", drop=("title",))
    for i, column in enumerate(("content", "title", "head", "author", "time (UTC)")):
        table.add_column(column, no_wrap=i in (0, 2), overflow="fold")
    for c in conflicts:
        for v in c["heads"]:
            row = (c["content_id"], c["title"], v["version_id"][:12], v["author_process_id"], _when(v["time_ms"]))
            table.add_row(*(escape(str(x)) for x in row))
    return table
