"""``mmmfed content publish|list|show``: an operator publishes and reads the contents of a running
M-Instance (ITU FGMV-43 9.3, COTF; COIR-101/102/204) over its Content service, with an operator
certificate of its trust domain (``--config`` is the M-Instance's configuration, as for ``asset``).

``publish FILE`` sends a 3D model (``.glb``, ``.vrm``, or a ``.gltf`` with the files its URIs
name, read here as one package: a URI leaving its folder is refused before anything is sent), an
image (PNG, JPEG, WebP), a sound (WAV, FLAC, Ogg) or UTF-8 text (``.md``, ``.txt``) with its
metadata; the M-Instance checks every part and decides an Author Process Action for ``--owner``.
``show ID --out PATH`` writes the content as this M-Instance holds it, each part checked against
the Item's digests first: a one-part content to the file PATH, a package into the new folder PATH.
``migrate ID --to PEER`` sends a content to a peer M-Instance through this M-Instance's gateway
(FGMV-43 9.3 steps 1-4, RI-3 and RE-3): its Item signed by the gateway, its parts, metadata,
licence and Rights; a licence that grants no redistribution is refused ``LICENCE_FORBIDS`` before
anything leaves (:mod:`mmmfed.content.licence`); migrating it again changes nothing.
``update ID FILE`` makes a new version of a content (COIR-104: its parent the head, decided as a
Modify Process Action of ``--author``, the owner by default); ``history ID`` lists its versions;
``revert ID VERSION`` makes a NEW version equal to an old one (a VERSION is its id or a unique
prefix of at least 8 hex digits, as ``history`` shows). A migrated content stays linked to its
home (COSF): each new version reaches the other side on its own within seconds, and ``sync ID``
does it now; concurrent versions of a text merge, of a binary content wait in ``conflicts`` until
the owner runs ``resolve ID --keep VERSION``.
``--json`` prints machine-readable output on stdout (errors too). Exit codes: 0 done; 2 not done
(bad input, a refusal such as PERMISSION_DENIED InsRights, no connection); nothing is written then.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from mmmfed.cli.common import fail
from mmmfed.cli.content_render import (
    conflicts_table,
    content_dict,
    content_facts,
    contents_table,
    history_dict,
    history_table,
    version_dict,
)
from mmmfed.cli.operator_session import content_once, open_session, run
from mmmfed.cli.tables import WideOption, table_console
from mmmfed.errors import InvalidInput, MmmfedError

content_app = typer.Typer(help="Contents: 3D models, images, sounds and text (FGMV-43 9.3).", no_args_is_help=True)
ConfigOption = Annotated[Path, typer.Option("--config", help="the M-Instance's configuration, .json or .toml")]
CertOption = Annotated[Path, typer.Option("--cert", help="operator certificate (PEM) of the M-Instance's trust domain")]
KeyOption = Annotated[Path, typer.Option("--key", help="its private key (PEM)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, sort_keys=True))


def _parts_of_file(file: Path) -> list[tuple[str, bytes]]:
    """``(path, bytes)`` of what publishing ``file`` sends: a ``.gltf`` with its package's parts."""
    from mmmfed.content.kinds import kind_of
    from mmmfed.content.package import read_gltf_package

    kind_of(file.name)  # CONTENT_KIND_UNKNOWN before anything is read or sent
    if file.suffix.lower() == ".gltf":
        return [(p.path, p.data) for p in read_gltf_package(file).parts]
    return [(file.name, file.read_bytes())]


@content_app.command("publish")
def content_publish(
    file: Annotated[Path, typer.Argument(help="the content's file (a .gltf brings the files it names)")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    owner: Annotated[str, typer.Option("--owner", help="owner: a User ProcessID at this M-Instance")],
    title: Annotated[str, typer.Option("--title")],
    licence: Annotated[str, typer.Option("--licence", help="SPDX licence expression, e.g. CC-BY-4.0")],
    description: Annotated[str, typer.Option("--description")] = "",
    tags: Annotated[list[str] | None, typer.Option("--tag", help="a tag (repeat for more)")] = None,
    creator: Annotated[str, typer.Option("--creator")] = "",
    copyright_: Annotated[str, typer.Option("--copyright")] = "",
    as_json: JsonOption = False,
) -> None:
    """Publish FILE for OWNER and print its ItemID (FGMV-43 9.3 step 1, COTF)."""
    from mmmfed.api.v1 import content_pb2 as cpb
    from mmmfed.content.metadata import ContentMetadata

    try:
        meta = ContentMetadata.of(
            title=title,
            licence=licence,
            description=description,
            tags=tags or [],
            creator=creator,
            copyright=copyright_,
        )
        parts = _parts_of_file(file)
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise fail(InvalidInput(f"cannot read {file}: {err.strerror or err}", reason="FILE_UNREADABLE")) from err
    op = open_session(config, cert, key)
    request = cpb.PublishContentRequest(
        owner_process_id=owner,
        parts=[cpb.ContentPartData(path=path, data=data) for path, data in parts],
        title=meta.title,
        description=meta.description,
        tags=list(meta.tags),
        creator=meta.creator,
        copyright=meta.copyright,
        licence=meta.licence,
    )
    view = run(content_once(op, "PublishContent", request, attempts=1))  # not idempotent: never repeated
    shown = content_dict(view)
    if as_json:
        _echo_json(shown)
        return
    typer.echo(shown["item_id"])
    size = sum(p["size"] for p in shown["parts"])
    summary = f"{shown['kind']} {shown['format']}, {len(shown['parts'])} parts, {size:,} bytes, {shown['licence']}"
    Console(stderr=True).print(escape(f"{summary}, owned by {view.owner_process_id}"), emoji=False)


@content_app.command("list")
def content_list(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    kind: Annotated[str, typer.Option("--kind", help="Model3D, Image, Sound or Text")] = "",
    tag: Annotated[str, typer.Option("--tag")] = "",
    creator: Annotated[str, typer.Option("--creator")] = "",
    licence: Annotated[str, typer.Option("--licence", help="SPDX expression as published")] = "",
    owner: Annotated[str, typer.Option("--owner")] = "",
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """The contents of the M-Instance matching every filter given, oldest first (COIR-101)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    request = cpb.ListContentsRequest(kind=kind, tag=tag, creator=creator, licence=licence, owner_process_id=owner)
    found = [content_dict(v) for v in run(content_once(op, "ListContents", request, attempts=3)).contents]
    if as_json:
        _echo_json(found)
        return
    table_console(wide).print(contents_table(found, title=f"Contents at {op.config.m_instance_id} ({len(found)})"))


@content_app.command("show")
def content_show(
    content_id: Annotated[str, typer.Argument(help="the content's ItemID")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    out: Annotated[Path | None, typer.Option("--out", help="write it here: a file, or a new folder")] = None,
    as_json: JsonOption = False,
) -> None:
    """A content's metadata and parts; with --out, its bytes as this M-Instance holds them."""
    from mmmfed.api.v1 import content_pb2 as cpb
    from mmmfed.content.item import check_parts
    from mmmfed.content.package import ContentPackage, ContentPart
    from mmmfed.items import domain_doc

    op = open_session(config, cert, key)
    response = run(content_once(op, "GetContent", cpb.GetContentRequest(content_id=content_id), attempts=3))
    shown = content_dict(response.content)
    if out is not None:
        package = ContentPackage(tuple(ContentPart.of(p.path, p.data, p.media_type) for p in response.parts))
        try:
            check_parts(domain_doc(response.content.item.item_json), package)  # what arrived is what the Item lists
            shown["written"] = str(write_content(package, out))
        except MmmfedError as err:
            raise fail(err) from err
    if as_json:
        _echo_json(shown)
        return
    Console().print(content_facts(shown))
    if out is not None:
        Console(stderr=True).print(escape(f"wrote {shown['written']}"), emoji=False)


@content_app.command("migrate")
def content_migrate(
    content_id: Annotated[str, typer.Argument(help="the content's ItemID")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    to: Annotated[str, typer.Option("--to", help="the peer M-Instance, e.g. b.example")],
    as_json: JsonOption = False,
) -> None:
    """Migrate a content to the peer M-Instance TO (FGMV-43 9.3 steps 1-4, RE-3)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    request = cpb.MigrateContentRequest(content_id=content_id, peer_m_instance_id=to)
    result = run(content_once(op, "MigrateContent", request, attempts=1))  # the gateway answers once
    shown = content_dict(result.content)
    shown.update(peer_m_instance_id=to, bytes_sent=result.bytes, already_held=result.already_held)
    shown.update(conversion_of(result))
    if as_json:
        _echo_json(shown)
        return
    typer.echo(shown["item_id"])
    said = "already held it; nothing changed" if result.already_held else f"holds it now ({result.bytes:,} bytes sent)"
    err = Console(stderr=True)
    err.print(escape(f"{to} {said}, owned by {result.content.owner_process_id}"), emoji=False)
    if shown["converted"]:
        report = shown["conversion_report"]
        err.print(
            escape(
                f"converted by {shown['bridge_id']} from {report.get('kind', '')} {report.get('source_format', '')} "
                f"to {shown['format']} (its home content: {shown['source_item_id']})"
            ),
            emoji=False,
        )
        for label in ("changed", "dropped"):
            entries = "; ".join(str(e) for e in report.get(label) or []) or "nothing"
            err.print(escape(f"{'lost' if label == 'dropped' else label}: {entries}"), emoji=False)


def conversion_of(result: Any) -> dict[str, Any]:
    """What ``content migrate`` says of a conversion on the way (FGMV-43 9.3, COCF): ``{"route",
    "converted", "source_item_id", "bridge_id", "conversion_report", "lost"}`` (the report as
    the bridge's Conversion Service wrote it; ``lost``: its ``dropped`` entries)."""
    report: dict[str, Any] = {}
    if result.conversion_report_json:
        try:
            parsed = json.loads(result.conversion_report_json)
        except ValueError:
            parsed = {}
        report = parsed if isinstance(parsed, dict) else {}
    converted = result.route == "via bridge"
    return {
        "route": result.route or "direct",
        "converted": converted,
        "source_item_id": result.source_item_id,
        "bridge_id": result.bridge_id,
        "conversion_report": report,
        "lost": [str(e) for e in report.get("dropped") or []],
    }


ContentIdArgument = Annotated[str, typer.Argument(help="the content's ItemID")]
AuthorOption = Annotated[
    str, typer.Option("--author", help="a User ProcessID here with the Modify Right (default: the owner)")
]


def _version_out(info: Any, as_json: bool, said: str) -> None:
    shown = version_dict(info)
    if as_json:
        _echo_json(shown)
        return
    typer.echo(shown["version_id"])
    parents = ", ".join(p[:12] for p in shown["parent_ids"]) or "none"
    Console(stderr=True).print(escape(f"{said}; parents {parents}, by {shown['author_process_id']}"), emoji=False)


@content_app.command("update")
def content_update(
    content_id: ContentIdArgument,
    file: Annotated[Path, typer.Argument(help="the new version's file (a .gltf brings the files it names)")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    author: AuthorOption = "",
    as_json: JsonOption = False,
) -> None:
    """Make a new version of a content from FILE and print its version id (COIR-104)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    try:
        parts = _parts_of_file(file)
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise fail(InvalidInput(f"cannot read {file}: {err.strerror or err}", reason="FILE_UNREADABLE")) from err
    op = open_session(config, cert, key)
    request = cpb.UpdateContentRequest(
        content_id=content_id,
        author_process_id=author,
        parts=[cpb.ContentPartData(path=path, data=data) for path, data in parts],
    )
    info = run(content_once(op, "UpdateContent", request, attempts=1))
    _version_out(info, as_json, "new version")


@content_app.command("history")
def content_history(
    content_id: ContentIdArgument,
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """A content's versions as this M-Instance holds them, oldest first (COIR-104)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    response = run(content_once(op, "ContentHistory", cpb.ContentHistoryRequest(content_id=content_id), attempts=3))
    shown = history_dict(response)
    if as_json:
        _echo_json(shown)
        return
    table_console(wide).print(history_table(shown))
    if shown["in_conflict"]:
        heads = ", ".join(h[:12] for h in shown["head_ids"])
        Console(stderr=True).print(
            escape(f"in conflict: heads {heads}; the owner runs `mmmfed content resolve {content_id} --keep VERSION`"),
            emoji=False,
        )


@content_app.command("revert")
def content_revert(
    content_id: ContentIdArgument,
    version: Annotated[str, typer.Argument(help="the version to give back: its id or 8+ hex digits of it")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    author: AuthorOption = "",
    as_json: JsonOption = False,
) -> None:
    """Make a NEW version equal to VERSION, its parent the head (COIR-104)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    request = cpb.RevertContentRequest(content_id=content_id, version_id=version, author_process_id=author)
    info = run(content_once(op, "RevertContent", request, attempts=1))
    _version_out(info, as_json, f"new version equal to {version[:12]}")


@content_app.command("sync")
def content_sync(
    content_id: ContentIdArgument,
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    peer: Annotated[str, typer.Option("--peer", help="only this linked peer (default: every one)")] = "",
    as_json: JsonOption = False,
) -> None:
    """Push a content's new versions to its linked peers and pull theirs, now (COSF)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    request = cpb.SyncContentRequest(content_id=content_id, peer_m_instance_id=peer)
    response = run(content_once(op, "SyncContent", request, attempts=1))
    peers = [
        {
            "peer_m_instance_id": p.peer_m_instance_id,
            "sent": p.sent,
            "received": p.received,
            "error": p.error,
            "message": p.message,
        }
        for p in response.peers
    ]
    failed = [p for p in peers if p["error"]]
    if as_json:
        _echo_json({"content_id": content_id, "peers": peers, "head_ids": list(response.head_ids)})
    else:
        err = Console(stderr=True)
        for p in peers:
            if p["error"]:
                said = f"{p['peer_m_instance_id']}: not now ({p['error']}: {p['message']}); it stays queued"
            else:
                said = f"{p['peer_m_instance_id']}: {p['sent']} versions sent, {p['received']} received"
            err.print(escape(said), emoji=False)
        typer.echo(" ".join(response.head_ids))
    if failed:
        raise typer.Exit(code=2)


@content_app.command("conflicts")
def content_conflicts(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """The contents held here with concurrent versions waiting for their owner (COSF)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    response = run(content_once(op, "ListConflicts", cpb.ListConflictsRequest(), attempts=3))
    found = [
        {"content_id": c.content_id, "title": c.title, "heads": [version_dict(v) for v in c.heads]}
        for c in response.conflicts
    ]
    if as_json:
        _echo_json(found)
        return
    title = f"Contents in conflict at {op.config.m_instance_id} ({len(found)})"
    table_console(wide).print(conflicts_table(found, title=title))


@content_app.command("resolve")
def content_resolve(
    content_id: ContentIdArgument,
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    keep: Annotated[str, typer.Option("--keep", help="the head to keep: its id or 8+ hex digits of it")],
    author: Annotated[str, typer.Option("--author", help="the content's owner (default: the owner)")] = "",
    as_json: JsonOption = False,
) -> None:
    """The owner resolves a conflict: a merge version of every head, holding the head KEEP (COSF)."""
    from mmmfed.api.v1 import content_pb2 as cpb

    op = open_session(config, cert, key)
    request = cpb.ResolveContentRequest(content_id=content_id, keep_version_id=keep, author_process_id=author)
    info = run(content_once(op, "ResolveContent", request, attempts=1))
    _version_out(info, as_json, f"resolved, keeping {keep[:12]}")


def write_content(package: Any, out: Path) -> Path:
    """Write a one-part content to the file ``out``, a package into the new folder ``out`` (each
    part at its path, checked again not to leave it). All or nothing: written beside ``out``
    first, then renamed. InvalidInput ``FILE_UNWRITABLE`` / ``OUTPUT_EXISTS`` /
    ``CONTENT_URI_OUTSIDE_PACKAGE``."""
    from mmmfed.content.package import package_path
    from mmmfed.preflight import check_output_file

    if out.exists() and (out.is_dir() or len(package.parts) > 1):
        raise InvalidInput(f"--out {out} exists; give a new path", reason="OUTPUT_EXISTS")
    check_output_file(out, "--out")
    staging = Path(tempfile.mkdtemp(prefix=".content-", dir=out.absolute().parent))
    try:
        if len(package.parts) == 1:
            (staging / "part").write_bytes(package.root.data)
            (staging / "part").replace(out)
            return out
        for part in package.parts:
            rel = package_path(part.path)
            if rel is None:
                raise InvalidInput(f"part {part.path!r} has no path", reason="CONTENT_URI_OUTSIDE_PACKAGE")
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(part.data)
        staging.rename(out)
        return out
    except OSError as err:
        raise InvalidInput(f"cannot write {out}: {err.strerror or err}", reason="FILE_UNWRITABLE") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
