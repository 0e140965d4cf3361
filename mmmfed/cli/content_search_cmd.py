"""``mmmfed content search|share``: find contents at this M-Instance and, with ``--peers``, at
every peer whose trust agreement covers contents (COIR-101/105; FGMV-43 9.3), and choose which
contents a peer's searches may find (``share``). Registered on :data:`mmmfed.cli.content_cmd.content_app`.

``search QUERY`` matches every word of QUERY in a content's title, description, tags or creator
(case-insensitive), with exact ``--kind``/``--tag``/``--creator``/``--licence`` filters, best
first, at most ``--limit`` per M-Instance. A peer answers only with what it shares with this
M-Instance, signed by its gateway; a peer that fails or is slow is listed, it never fails the
search. ``--json``: ``{"hits": [content + "m_instance_id"], "failures": [...]}``. Exit codes: 0
done (even with peer failures), 2 refused (a bad query, no connection).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from mmmfed.cli.content_cmd import CertOption, ConfigOption, JsonOption, KeyOption, content_app
from mmmfed.cli.content_render import content_dict
from mmmfed.cli.operator_session import content_once, open_session, run
from mmmfed.cli.tables import FittingTable, WideOption, table_console


def _hits_table(hits: list[dict[str, Any]], *, title: str) -> FittingTable:
    """One row per hit: where, ItemID (never wrapped), kind, title, licence, tags."""
    table = FittingTable(title=title, title_justify="left", drop=("tags", "licence"))
    for i, column in enumerate(("at", "item", "kind", "title", "licence", "tags")):
        table.add_column(column, no_wrap=i < 2, overflow="fold")
    for h in hits:
        row = (h["m_instance_id"], h["item_id"], h["kind"], h["title"], h["licence"], ", ".join(h["tags"]))
        table.add_row(*(escape(str(v)) for v in row))
    return table


@content_app.command("search")
def content_search(
    query: Annotated[str, typer.Argument(help="words that must all appear (title, description, tags, creator)")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    kind: Annotated[str, typer.Option("--kind", help="Model3D, Image, Sound or Text")] = "",
    tag: Annotated[str, typer.Option("--tag")] = "",
    creator: Annotated[str, typer.Option("--creator")] = "",
    licence: Annotated[str, typer.Option("--licence", help="SPDX expression as published")] = "",
    limit: Annotated[int, typer.Option("--limit", help="hits per M-Instance, 1..100", min=1, max=100)] = 20,
    peers: Annotated[bool, typer.Option("--peers", help="also search what agreed peers share with us")] = False,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Search contents here and, with --peers, at the peers (COIR-101/105)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    asked = cpb.ContentQuery(text=query, kind=kind, tag=tag, creator=creator, licence=licence, limit=limit)
    request = cpb.SearchContentsRequest(query=asked, peers=peers)
    answer = run(content_once(op, "SearchContents", request, attempts=3))  # a search changes nothing
    hits = [content_dict(h.content) | {"m_instance_id": h.m_instance_id} for h in answer.hits]
    failures = [{"peer": f.peer_m_instance_id, "reason": f.reason, "message": f.message} for f in answer.failures]
    if as_json:
        typer.echo(json.dumps({"hits": hits, "failures": failures}, indent=2, sort_keys=True))
        return
    where = f"{op.config.m_instance_id} and its peers" if peers else op.config.m_instance_id
    table_console(wide).print(_hits_table(hits, title=f"{len(hits)} contents matching {query!r} at {where}"))
    err = Console(stderr=True)
    for f in failures:
        err.print(escape(f"{f['peer']} did not answer: {f['reason']}: {f['message']}"), emoji=False)


@content_app.command("share")
def content_share(
    content_id: Annotated[str, typer.Argument(help="the content's ItemID (a content of this M-Instance)")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    with_: Annotated[str, typer.Option("--with", help="the peer M-Instance, e.g. b.example")],
    unshare: Annotated[bool, typer.Option("--unshare", help="stop sharing it with that peer")] = False,
    as_json: JsonOption = False,
) -> None:
    """Let the peer's searches find a content of this M-Instance (COIR-105), or stop (--unshare).
    Sharing shows it in searches; migrating it (`content migrate`) is what gives the peer a copy."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    request = cpb.ShareContentRequest(content_id=content_id, peer_m_instance_id=with_, unshare=unshare)
    answer = run(content_once(op, "ShareContent", request, attempts=3))  # idempotent
    shown = {"item_id": answer.content_id, "shared_with": list(answer.shared_with)}
    if as_json:
        typer.echo(json.dumps(shown, indent=2, sort_keys=True))
        return
    typer.echo(f"{answer.content_id} shared with {', '.join(answer.shared_with) or 'no peer'}")
