"""Readable rich renderings of manifestos, conversion reports and migrations."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.manifesto import ROUTE_NAMES

_ROUTE_STYLE = {"direct": "green", "via bridge": "yellow", "unsupported": "red"}


def _constraints(c: mpb.Constraints) -> str:
    parts = []
    if c.max_triangles:
        parts.append(f"<= {c.max_triangles:,} triangles")
    if c.texture_formats:
        parts.append("/".join(f.removeprefix("image/") for f in c.texture_formats))
    if c.max_texture_px:
        parts.append(f"<= {c.max_texture_px} px")
    return ", ".join(parts) or "no limits"


def feature_table(answer: mpb.Manifesto) -> Table:
    """The negotiated feature table (FGMV-43 9.5) as the answering instance agreed it."""
    table = Table(title=f"Negotiated features: {answer.peer_id} -> {answer.issuer_id} (answer manifesto)")
    for col in ("Item type", "Qualifier offered", "Route", "Peer accepts", "Why"):
        table.add_column(col)
    for row in answer.negotiated:
        route = ROUTE_NAMES.get(row.route, "?")
        q = row.offered.qualifier
        accepts = (
            f"{row.target.qualifier.format} ({_constraints(row.target.constraints)})" if row.HasField("target") else "-"
        )
        table.add_row(
            row.offered.item_type, f"{q.sub_type} {q.format}", f"[{_ROUTE_STYLE[route]}]{route}[/]", accepts, row.detail
        )
    return table


def conversion_table(name: str, report: dict[str, Any]) -> Table:
    """One conversion report: sizes, triangles, textures, kept and dropped."""
    table = Table(title=f"Conversion of {name} ({report.get('source_format', '?')} -> glTF 2.0 binary)", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("bytes", f"{report['bytes_in']:,} -> {report['bytes_out']:,}")
    table.add_row("triangles", f"{report['triangles_in']:,} -> {report['triangles_out']:,}")
    for tex in report.get("textures", []):
        table.add_row("texture", f"{tex.get('name') or '?'}: {tex.get('from')} -> {tex.get('to')}")
    table.add_row("facing fixed", "yes (VRM 0.x faces -Z)" if report.get("facing_fixed") else "no")
    table.add_row("kept", "\n".join(report.get("kept", [])) or "-")
    table.add_row("dropped", "\n".join(report.get("dropped", [])) or "-")
    table.add_row(
        "glTF validator",
        f"{report.get('validator_errors', '?')} errors, {report.get('validator_warnings', '?')} warnings",
    )
    return table


def _item_facts(item_json: bytes) -> tuple[str, int, int]:
    doc = json.loads(item_json)
    attrs = (doc.get("ItemQualifier") or {}).get("Attributes") or {}
    return (
        (doc.get("ItemQualifier") or {}).get("Format", "?"),
        int((doc.get("ItemData") or {}).get("Size", 0)),
        int(attrs.get("Triangles", 0) or 0),
    )


def migration_table(rows: list[tuple[str, gpb.MigrateAvatarResponse]]) -> Table:
    """Per avatar: outcome, route, format/bytes/triangles before and after, time per step."""
    table = Table(title="Avatar migrations a.example -> b.example (FGMV-43 9.1)")
    for col in ("Avatar", "Outcome", "Before", "After", "Steps (s)"):
        table.add_column(col)
    for name, r in rows:
        fmt, size, tris = _item_facts(r.home_persona.item_json)
        before = f"{fmt}\n{size:,} B, {tris:,} tris"
        steps = "\n".join(f"{t.step}: {t.seconds:.3f}" for t in r.timings)
        if r.outcome == gpb.MIGRATION_OUTCOME_MIGRATED:
            fmt2, size2, tris2 = _item_facts(r.peer_persona.item_json)
            outcome = f"[green]migrated[/] ({r.route})\nroaming User {r.roaming_user_process_id}"
            after = f"{fmt2}\n{size2:,} B, {tris2:,} tris"
        else:
            outcome = f"[red]refused[/] {r.refusal_reason} (AVIR-202)\n{r.refusal_message}"
            if r.default_avatar.item_json:
                d = json.loads(r.default_avatar.item_json)
                outcome += f"\ndefault avatar offered (AVIR-001): {d['ItemID']}"
            after = "-"
        table.add_row(name, outcome, before, after, steps)
    return table
