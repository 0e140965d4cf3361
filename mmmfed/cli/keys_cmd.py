"""``mmmfed keys generate|rotate|revoke|list|export`` (FGMV-43 GPIR-003).

``generate`` makes a standalone Ed25519 signing key in key files (:mod:`mmmfed.keyfile`).
``rotate``, ``revoke``, ``list`` and ``export`` manage the M-Instance's own signing keys, which its gateway
holds in ``<gateway data_dir>/keys`` (:class:`mmmfed.keys.InstanceKeyStore`); they take the
gateway's configuration file. The running gateway re-reads ``keys.json`` when it changes, so a
rotation or revocation takes effect without a restart.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mmmfed.cli.common import fail, refuse
from mmmfed.cli.tables import WideOption

if TYPE_CHECKING:
    from mmmfed.keys import InstanceKeyStore, PublicKeyRecord

keys_app = typer.Typer(
    help="Signing keys: standalone key files (generate) and the M-Instance's keys (rotate, revoke, list, export).",
    no_args_is_help=True,
)


class ExportFormat(enum.StrEnum):
    """``keys export --format``: a did:web DID document, or a JWK Set (RFC 7517)."""

    did = "did"
    jwks = "jwks"


class RevocationReason(enum.StrEnum):
    """``keys revoke --reason``: the values of :data:`mmmfed.keys.REVOCATION_REASONS`."""

    compromised = "compromised"
    superseded = "superseded"


GatewayConfigOption = Annotated[
    Path, typer.Option("--config", help="the gateway's configuration, .json or .toml", dir_okay=False)
]


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option("--out", help="private key file to create, e.g. signer.pem", dir_okay=False)],
    key_id: Annotated[
        str | None,
        typer.Option("--id", help="verification method URL for the public key file (default: the did:key method)"),
    ] = None,
) -> None:
    """Make a new Ed25519 key: OUT (PKCS#8 PEM, mode 0600) and OUT.pub.json (public key, Multikey).

    Prints the key's did:key verification method: proofs naming it verify with no key file.
    Never overwrites: exits 2 if either file exists.
    """
    import datetime

    from mmmfed.cli.common import err_console
    from mmmfed.errors import MmmfedError
    from mmmfed.keyfile import write_key_files
    from mmmfed.proofs import SigningKey

    key = SigningKey.generate()
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        private_path, public_path = write_key_files(out, key, created=created, key_id=key_id)
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise refuse("FILE_UNWRITABLE", f"cannot write {out}: {err.strerror}; choose another --out") from err
    sys.stdout.write(key.verification_method + "\n")
    err_console.print(
        f"wrote {private_path} (private, 0600) and {public_path} (public)", markup=False, highlight=False, emoji=False
    )


# -- the M-Instance's keys, held by its gateway ------------------------------------------------


def _open_store(config: Path) -> InstanceKeyStore:
    """The key store of the gateway configured in ``config`` (``<data_dir>/keys``, as the gateway
    opens it); exits 2 with ``CONFIG_INVALID`` (or the id's reason) on a bad configuration."""
    from mmmfed.config import GatewayConfig, load_config
    from mmmfed.errors import MmmfedError
    from mmmfed.keys import InstanceKeyStore

    try:
        gateway = load_config(config, GatewayConfig)
        return InstanceKeyStore(gateway.data_dir / "keys", gateway.m_instance_id)
    except MmmfedError as err:
        raise fail(err) from err


def _cannot_write(store: InstanceKeyStore, err: OSError) -> typer.Exit:
    from mmmfed.cli.common import refuse

    return refuse(
        "FILE_UNWRITABLE",
        f"cannot write {store.directory}: {err.strerror}; run as the gateway's user, or check its data_dir",
    )


def _now_ms() -> int:
    from mmmfed.keys import now_ms

    return now_ms()


def _rfc3339(ms: int) -> str | None:
    """``2025-01-31T12:00:00Z`` for Unix ms (whole seconds, UTC); None for 0 (open / never)."""
    import datetime

    if not ms:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_rfc3339(text: str) -> int:
    """Unix ms of an RFC 3339 time with an offset, rounded down to the second (key validity changes
    on whole seconds, :func:`mmmfed.keys.now_ms`); InvalidInput ``TIME_INVALID``."""
    import datetime

    from mmmfed.errors import InvalidInput

    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(f"--at {text!r} is not an RFC 3339 time", reason="TIME_INVALID") from err
    if when.tzinfo is None:
        raise InvalidInput(f"--at {text!r} has no offset; add Z or +HH:MM", reason="TIME_INVALID")
    return int(when.timestamp()) * 1000


def _statuses(records: list[PublicKeyRecord], at_ms: int) -> dict[str, str]:
    """key id -> ``current`` (the key the gateway signs with at ``at_ms``, as in
    :meth:`InstanceKeyStore.current`), ``revoked`` (revoked by then) or ``retired``."""
    current = next((r.key_id for r in reversed(records) if r.usable_at(at_ms) is None), None)
    return {
        r.key_id: "current" if r.key_id == current else "revoked" if r.usable_at(at_ms) == "KEY_REVOKED" else "retired"
        for r in records
    }


@keys_app.command("rotate")
def keys_rotate(config: GatewayConfigOption) -> None:
    """Make a new current signing key for the gateway's M-Instance (FGMV-43 GPIR-003).

    Prints the new key id and its did:web verification method. The previous key's validity ends
    now, a superseded retirement: it stays valid for what it signed before, so Items signed with
    it keep verifying. If it may be in other hands, revoke it too (`keys revoke`, compromised).
    """
    store = _open_store(config)
    previous = _statuses(store.records(), _now_ms())
    try:
        record = store.rotate()
    except OSError as err:
        raise _cannot_write(store, err) from err
    lines = [f"new current key {record.key_id}", f"method {store.method(record)}"]
    lines += [
        f"previous key {key_id} stays valid for what it signed before {_rfc3339(record.valid_from_ms)}"
        for key_id, status in previous.items()
        if status == "current"
    ]
    sys.stdout.write("\n".join(lines) + "\n")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="key id, as `mmmfed keys list` shows it")],
    config: GatewayConfigOption,
    at: Annotated[str | None, typer.Option("--at", help="RFC 3339 time the revocation starts (default: now)")] = None,
    reason: Annotated[
        RevocationReason,
        typer.Option(
            "--reason",
            help="compromised (default): nothing signed with the key verifies from then on, whatever its "
            "proof's created; superseded: what it signed before keeps verifying",
        ),
    ] = RevocationReason.compromised,
) -> None:
    """Revoke KEY_ID from now, or from --at, as compromised or superseded (FGMV-43 GPIR-003).

    compromised, the default because it is the safe one when in doubt: from that time on no proof
    by the key verifies anywhere, even one whose created claims an earlier time (a backdated
    proof). superseded: signatures made with the key before that time keep verifying, later ones
    fail (use it to retire a key that is not in other hands; `mmmfed keys rotate` retires the
    current key that way by itself). Exits 2 with KEY_UNKNOWN for a key id the M-Instance does
    not have.

    A revocation is never weakened: a key already revoked keeps the earlier time, and a
    compromised key stays compromised (a superseded one becomes compromised when asked). A request
    that would change nothing leaves the key as it is. Revoking the current key leaves the gateway
    with no signing key until `mmmfed keys rotate`.
    """
    from mmmfed.cli.common import err_console
    from mmmfed.errors import MmmfedError, NotFound

    store = _open_store(config)
    try:
        at_ms = _now_ms() if at is None else _parse_rfc3339(at)
        existing = next((r for r in store.records() if r.key_id == key_id), None)
        if existing is None:
            raise NotFound(
                f"{store.m_instance_id} has no key {key_id!r}; `mmmfed keys list` shows its keys", reason="KEY_UNKNOWN"
            )
        record = store.revoke(key_id, at_ms=at_ms, reason=reason.value)
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise _cannot_write(store, err) from err
    if record == existing:
        sys.stdout.write(
            f"{key_id} was already revoked ({record.revocation_reason}) at {_rfc3339(record.revoked_at_ms)}; "
            "unchanged\n"
        )
    else:
        meaning = (
            "nothing signed with it verifies from then on, whatever its proof's created"
            if record.compromised
            else "signatures made with it at or after then fail"
        )
        sys.stdout.write(
            f"revoked {record.key_id} ({store.method(record)}) from {_rfc3339(record.revoked_at_ms)} "
            f"as {record.revocation_reason}: {meaning}\n"
        )
    if "current" not in _statuses(store.records(), _now_ms()).values():
        err_console.print(
            f"{store.m_instance_id} has no usable signing key now; run `mmmfed keys rotate`",
            markup=False,
            highlight=False,
            emoji=False,
        )


@keys_app.command("list")
def keys_list(
    config: GatewayConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="print the keys as JSON")] = False,
    wide: WideOption = False,
) -> None:
    """Show the M-Instance's keys, oldest first (FGMV-43 GPIR-003).

    A table (or JSON) of key id, did:web verification method, valid from / until, revoked at, the
    revocation reason (compromised or superseded) and status: current (the key
    the gateway signs with now), retired or revoked.
    """
    import json

    from mmmfed.cli.tables import FittingTable, table_console

    store = _open_store(config)
    records = store.records()
    statuses = _statuses(records, _now_ms())
    rows = [
        {
            "key_id": r.key_id,
            "method": store.method(r),
            "public_key_multibase": r.public_key_multibase,
            "valid_from": _rfc3339(r.valid_from_ms),
            "valid_until": _rfc3339(r.valid_until_ms),
            "revoked_at": _rfc3339(r.revoked_at_ms),
            "revocation_reason": r.revocation_reason or None,
            "status": statuses[r.key_id],
        }
        for r in records
    ]
    if as_json:
        sys.stdout.write(json.dumps({"m_instance_id": store.m_instance_id, "keys": rows}, indent=2) + "\n")
        return
    if not rows:
        sys.stdout.write(f"{store.m_instance_id} has no keys yet: the gateway makes one when it starts\n")
        return
    table = FittingTable(
        title=f"Signing keys of {store.m_instance_id}", drop=("revoked at", "valid from", "valid until", "method")
    )
    for column in ("key id", "method", "valid from", "valid until", "revoked at", "status"):
        table.add_column(column, no_wrap=column != "method", overflow="fold")
    style = {"current": "green", "retired": "dim", "revoked": "red"}
    for r, row in zip(records, rows, strict=True):
        status = statuses[r.key_id]
        table.add_row(
            row["key_id"],
            row["method"],
            row["valid_from"] or "-",
            row["valid_until"] or "-",
            row["revoked_at"] or "-",
            f"[{style[status]}]{status}[/]" + (f" ({r.revocation_reason})" if r.revocation_reason else ""),
        )
    table_console(wide, emoji=False, highlight=False).print(table)


@keys_app.command("export")
def keys_export(
    config: GatewayConfigOption,
    out: Annotated[Path, typer.Option("--out", help="file to write the DID document to (replaced if it exists)")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print {file, did, verification_methods} of what was written as JSON")
    ] = False,
    export_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="did (default): the DID document; jwks: a JWK Set, for verifiers of identity credentials "
            "and status lists (compromised keys left out)",
        ),
    ] = ExportFormat.did,
) -> None:
    """Write the M-Instance's public keys as its did:web DID document, for verifiers outside the
    federation: `mmmfed item verify --keys FILE` takes it (W3C DID Core; FGMV-43 GPIR-003).

    Every key the M-Instance published is listed, with its expiry and revocation; a key revoked as
    compromised verifies nothing, one revoked as superseded still verifies what it signed before.
    The file holds public keys only. Prints where it was written and how many keys it lists.
    With --format jwks the same keys go out as a JWK Set whose kid is each key's did:web method.
    """
    import json
    import os
    import tempfile

    from mmmfed.did_document import instance_did_document
    from mmmfed.identity.jwks import instance_jwk_set

    store = _open_store(config)
    records = store.records()
    if not records:
        raise refuse(
            "NO_KEYS",
            f"{store.m_instance_id} has no keys yet; start its gateway (it makes the first) "
            "or run `mmmfed keys rotate`",
        )
    did_document = instance_did_document(store.m_instance_id, records)
    exported = did_document if export_format is ExportFormat.did else instance_jwk_set(store.m_instance_id, records)
    document = json.dumps(exported, indent=2) + "\n"
    target = out.resolve()
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(document)
            os.chmod(tmp, 0o644)  # public keys: readable by whoever verifies
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as err:
        raise refuse(
            "FILE_UNWRITABLE", f"cannot write {out}: {err.strerror}; choose an --out in a directory you can write"
        ) from err
    if as_json:
        methods = [m["id"] for m in did_document["verificationMethod"]]
        written = {"file": str(out), "did": did_document["id"], "verification_methods": methods}
        sys.stdout.write(json.dumps(written, indent=2) + "\n")
        return
    sys.stdout.write(f"wrote {out}: did:web:{store.m_instance_id} with {len(records)} key(s)\n")
