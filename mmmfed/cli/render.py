"""Readable rich renderings of manifestos, conversion reports and migrations."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.items import domain_doc
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
    if c.max_sample_rate_hz:  # a sound content's (FGMV-43 9.3)
        parts.append(f"<= {c.max_sample_rate_hz:,} Hz")
    if c.max_channels:
        parts.append(f"<= {c.max_channels} channels")
    return ", ".join(parts) or "no limits"


def feature_table(answer: mpb.Manifesto) -> Table:
    """The negotiated feature table (FGMV-43 9.5) as the answering instance agreed it."""
    table = Table(title=f"Negotiated features: {answer.peer_id} -> {answer.issuer_id} (answer manifesto)")
    for col in ("Item", "Offered", "Route", "Peer accepts", "Why"):
        table.add_column(col, overflow="fold")
    for row in answer.negotiated:
        route = ROUTE_NAMES.get(row.route, "?")
        q = row.offered.qualifier
        accepts = (
            f"{row.target.qualifier.format} ({_constraints(row.target.constraints)})" if row.HasField("target") else "-"
        )
        table.add_row(
            f"{row.offered.item_type} {q.sub_type}", q.format, f"[{_ROUTE_STYLE[route]}]{route}[/]", accepts, row.detail
        )
    return table


def conversion_table(name: str, report: dict[str, Any]) -> Table:
    """One conversion report: sizes, triangles, textures, kept and dropped."""
    table = Table(
        title=f"Conversion of {name} ({report.get('source_format', '?')} -> glTF 2.0 binary)", show_header=False
    )
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
    doc = domain_doc(item_json)
    attrs = (doc.get("ItemQualifier") or {}).get("Attributes") or {}
    return (
        (doc.get("ItemQualifier") or {}).get("Format", "?"),
        int((doc.get("ItemData") or {}).get("Size", 0)),
        int(attrs.get("Triangles", 0) or 0),
    )


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _signers(doc: dict[str, Any]) -> list[str]:
    proof = doc.get("proof") or []
    proofs = proof if isinstance(proof, list) else [proof]
    out = []
    for p in proofs:
        method = str(p.get("verificationMethod", "?"))
        if method.startswith("did:key:"):  # the fragment repeats the key: show its start only
            method = method.split("#")[0][:24] + "…"
        out.append(method)
    return out


def migration_detail(name: str, r: gpb.MigrateAvatarResponse) -> Table:
    """One avatar's migration: outcome, route, before/after, conversion report, time per step."""
    table = Table(title=f"{name}", show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    fmt, size, tris = _item_facts(r.home_persona.item_json)
    table.add_row("home Persona", f"{fmt}, {size:,} bytes, {tris:,} triangles")
    if r.outcome == gpb.MIGRATION_OUTCOME_MIGRATED:
        fmt2, size2, tris2 = _item_facts(r.peer_persona.item_json)
        table.add_row("outcome", f"[green]migrated[/] ({r.route})")
        table.add_row("at peer", f"{fmt2}, {size2:,} bytes, {tris2:,} triangles")
        table.add_row("roaming User", r.roaming_user_process_id)
        doc = domain_doc(r.peer_persona.item_json)
        verified = f"signed by {', '.join(_signers(doc))}"
        if isinstance(doc.get("SourceItem"), dict):
            verified += f"; original signed by {', '.join(_signers(doc['SourceItem']))}"
        table.add_row("verified at peer", verified + " (eddsa-jcs-2022, keys valid when signed)")
        if doc.get("SourceItemID"):
            table.add_row(
                "provenance",
                f"SourceItemID {doc['SourceItemID']}; Trace: "
                + " -> ".join(t["ProcessID"] for t in doc.get("Trace", [])),
            )
    else:
        table.add_row("outcome", f"[red]refused[/] (AVIR-202): {r.refusal_reason}")
        table.add_row("reason", _short(r.refusal_message))
        if r.default_avatar.item_json:
            d = domain_doc(r.default_avatar.item_json)
            table.add_row("offered instead", f"default avatar {d['ItemID']} (AVIR-001)")
            table.add_row("verified here", f"signed by {', '.join(_signers(d))}")
    if r.conversion_report_json:
        rep = json.loads(r.conversion_report_json)
        for tex in rep.get("textures", []):
            table.add_row("texture", f"{tex.get('name') or '?'}: {tex.get('from')} -> {tex.get('to')}")
        if rep.get("facing_fixed"):
            table.add_row("facing", "turned to +Z (VRM 0.x faces -Z)")
        table.add_row("kept", "\n".join(rep.get("kept", [])) or "-")
        table.add_row("dropped", "\n".join(rep.get("dropped", [])) or "-")
        table.add_row(
            "glTF validator", f"{rep.get('validator_errors')} errors, {rep.get('validator_warnings')} warnings"
        )
    table.add_row("steps", "\n".join(f"{t.seconds * 1000:8.1f} ms  {t.step}" for t in r.timings))
    return table


def migration_summary(rows: list[tuple[str, gpb.MigrateAvatarResponse]]) -> Table:
    """One line per avatar: outcome, bytes and triangles before -> after, total time."""
    table = Table(title="Avatar migrations a.example -> b.example (FGMV-43 9.1)")
    for col in ("Avatar", "Outcome", "Bytes", "Triangles", "Time"):
        table.add_column(col, overflow="fold")
    for name, r in rows:
        _, size, tris = _item_facts(r.home_persona.item_json)
        total = f"{sum(t.seconds for t in r.timings) * 1000:.0f} ms"
        if r.outcome == gpb.MIGRATION_OUTCOME_MIGRATED:
            _, size2, tris2 = _item_facts(r.peer_persona.item_json)
            table.add_row(
                name, f"[green]migrated[/] {r.route}", f"{size:,} -> {size2:,}", f"{tris:,} -> {tris2:,}", total
            )
        else:
            table.add_row(name, f"[red]refused[/] {r.refusal_reason}", f"{size:,}", f"{tris:,}", total)
    return table
