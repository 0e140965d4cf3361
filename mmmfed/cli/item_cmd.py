"""``mmmfed item sign|verify``: W3C Data Integrity proofs (``DataIntegrityProof``, cryptosuite
``eddsa-jcs-2022``, W3C vc-di-eddsa section 3.3) on Item files, with keys from :mod:`mmmfed.keyfile`.

Items are read with the strict intake of :func:`mmmfed.items.parse_item` (I-JSON, no duplicate
members, ...): input it refuses exits 2 with its reason, before any key is used. Proofs are made
and checked by :mod:`mmmfed.proofs`; signing adds to the proof set (W3C vc-data-integrity 4.3),
verifying checks every proof (4.5) and shows one verdict per proof.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mmmfed.cli.common import fail, refuse
from mmmfed.cli.tables import WideOption

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from mmmfed.proofs import VerificationResult

item_app = typer.Typer(help="Sign and verify Items (W3C Data Integrity, eddsa-jcs-2022).", no_args_is_help=True)
PROOF_PURPOSE = "assertionMethod"


def _read_item(path: Path) -> dict[str, Any]:
    """The Item in ``path`` in its V2.2 form (what proofs cover), through the strict intake
    (InvalidInput with its reason: not JSON, not MPAI's V2.2 type of its Header...)."""
    from mmmfed.items import MAX_ITEM_JSON_BYTES, parse_item

    with path.open("rb") as fh:
        raw = fh.read(MAX_ITEM_JSON_BYTES + 1)  # parse_item refuses anything longer
    return dict(parse_item(raw).wire)


@item_app.command("sign")
def item_sign(
    item: Annotated[Path, typer.Argument(help="Item JSON file", exists=True, dir_okay=False)],
    key: Annotated[Path, typer.Option("--key", help="private key file (keys generate)", exists=True, dir_okay=False)],
    out: Annotated[Path | None, typer.Option("--out", help="new file for the signed Item (default: stdout)")] = None,
    verification_method: Annotated[
        str | None,
        typer.Option("--verification-method", help="URL proofs name for the key (default: its did:key method)"),
    ] = None,
) -> None:
    """Add an eddsa-jcs-2022 DataIntegrityProof to ITEM and write the signed Item.

    The proof (vc-di-eddsa 3.3.1) has proofPurpose assertionMethod, created = now (UTC, seconds)
    and verificationMethod = the key's did:key method, so it verifies with no key file; with
    --verification-method, verifiers need the public key file or the M-Instance's DID document
    (item verify --keys). An Item that
    already has proofs keeps them and gets one more (proof set, vc-data-integrity 4.3).
    """
    import datetime
    import json

    from mmmfed.cli.common import err_console
    from mmmfed.errors import MmmfedError
    from mmmfed.keyfile import load_signing_key
    from mmmfed.proofs import sign_document

    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        document = _read_item(item)
        signing_key = load_signing_key(key)
        method = verification_method or signing_key.verification_method
        signed = sign_document(
            document, key=signing_key, verification_method=method, created=created, proof_purpose=PROOF_PURPOSE
        )
    except MmmfedError as err:
        raise fail(err) from err
    data = (json.dumps(signed, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    if out is None:
        sys.stdout.buffer.write(data)
        return
    try:
        with out.open("xb") as fh:
            fh.write(data)
    except OSError as err:
        if isinstance(err, FileExistsError):
            raise refuse("FILE_EXISTS", f"{out} exists; choose another --out (signing never overwrites)") from err
        raise refuse("FILE_UNWRITABLE", f"cannot write {out}: {err.strerror}; choose another --out") from err
    err_console.print(f"wrote {out}, signed by {method}", markup=False, highlight=False, emoji=False)


@item_app.command("verify")
def item_verify(
    signed: Annotated[Path, typer.Argument(help="signed Item JSON file", exists=True, dir_okay=False)],
    keys: Annotated[
        list[Path] | None,
        typer.Option(
            "--keys",
            help="public key file (KEY.pub.json) or an M-Instance's DID document (keys export); repeatable",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict and each proof's result as JSON")] = False,
    wide: WideOption = False,
) -> None:
    """Verify every proof on SIGNED (vc-di-eddsa 3.3.2, vc-data-integrity 4.5); print a verdict
    and the reason per proof. Exits 0 only if every proof verified, 2 otherwise.

    did:key methods resolve on their own; --keys maps each file's "id" to its key, or each
    verification method of a DID document (`mmmfed keys export`) to its key, honouring its
    expiry and revocation: a proof created at or after a key's revocation or expiry, or made with
    a key revoked as compromised, is KEY_REVOKED or KEY_NOT_VALID_AT_TIME. Each proof must have
    proofPurpose assertionMethod (an Item's proof asserts the Item).

    --json prints {"file", "verified", "reason", "proofs": [{"index", "id", "verification_method",
    "verified", "reason"}]}, with the same exit code.
    """
    import json

    from mmmfed.cli.tables import table_console
    from mmmfed.errors import MmmfedError
    from mmmfed.proofs import verify_document

    try:
        document = _read_item(signed)
        resolve, refusals = _resolver(document, keys or [])
    except MmmfedError as err:
        raise fail(err) from err
    result = _with_refusals(
        verify_document(document, resolve_key=resolve, expected_proof_purpose=PROOF_PURPOSE), refusals
    )
    if as_json:
        proofs = [
            {
                "index": c.index,
                "id": c.proof_id,
                "verification_method": c.verification_method,
                "verified": c.verified,
                "reason": c.reason,
            }
            for c in result.proofs
        ]
        verdict = {"file": str(signed), "verified": result.verified, "reason": result.reason, "proofs": proofs}
        sys.stdout.write(json.dumps(verdict, indent=2) + "\n")
        if not result.verified:
            raise typer.Exit(code=2)
        return
    console = table_console(wide, emoji=False, highlight=False)
    if result.proofs:
        console.print(_proof_table(document, result))
    console.print(_verdict(_shown(str(signed)), result), soft_wrap=True)  # one line, so the method stays whole
    if not result.verified:
        raise typer.Exit(code=2)


def _resolver(document: dict[str, Any], paths: list[Path]) -> tuple[Callable[[str], bytes], dict[str, str]]:
    """``resolve_key`` over the key files and DID documents in ``paths``, and the refusal of each
    proof method whose DID document key was not usable when the proof was created
    (method -> ``KEY_REVOKED`` / ``KEY_NOT_VALID_AT_TIME``; such methods do not resolve).

    Raises InvalidInput (``KEY_FILE_INVALID``, ``KEY_ID_CONFLICT``) naming the file."""
    from mmmfed.did_document import (
        MAX_DID_DOCUMENT_BYTES,
        DocumentKey,
        is_did_document,
        load_did_document,
        parse_rfc3339_ms,
    )
    from mmmfed.errors import InvalidInput
    from mmmfed.keyfile import PublicKeyFile, keyring, load_public_key_file
    from mmmfed.strictjson import parse_json

    files: list[PublicKeyFile] = []
    document_keys: dict[str, DocumentKey] = {}
    for path in paths:
        try:
            data = path.read_bytes()
            doc = parse_json(data, max_bytes=MAX_DID_DOCUMENT_BYTES)
        except (OSError, InvalidInput):
            data, doc = None, None  # load_public_key_file says what is wrong with the file
        if data is not None and is_did_document(doc):
            for key in load_did_document(path, data):
                seen = document_keys.setdefault(key.id, key)
                if seen.public_key != key.public_key:
                    raise InvalidInput(
                        f"{seen.path} and {path} give {key.id!r} different keys; pass only the right one",
                        reason="KEY_ID_CONFLICT",
                    )
        else:
            files.append(load_public_key_file(path))
    files += [PublicKeyFile(id=k.id, public_key=k.public_key, path=k.path) for k in document_keys.values()]
    usable = keyring(files)
    refusals: dict[str, str] = {}
    proofs = document.get("proof")
    for proof in proofs if isinstance(proofs, list) else [proofs]:
        if not isinstance(proof, dict):
            continue  # a malformed proof the verifier reports
        method, created = proof.get("verificationMethod"), proof.get("created")
        found = document_keys.get(method) if isinstance(method, str) else None
        if found is None or not isinstance(created, str):
            continue  # no time rules for this method, or a malformed proof the verifier reports
        try:
            refusal = found.refusal_at(parse_rfc3339_ms(created))
        except ValueError:
            continue
        if refusal is not None:
            refusals[found.id] = refusal

    def resolve(method: str) -> bytes:
        if method in refusals:
            raise KeyError(method)
        return usable(method)

    return resolve, refusals


def _with_refusals(result: VerificationResult, refusals: dict[str, str]) -> VerificationResult:
    """``result`` with each proof left KEY_UNRESOLVED because its key was not usable at its
    ``created`` time given that refusal instead."""
    import dataclasses

    from mmmfed.proofs import KEY_UNRESOLVED

    checks = tuple(
        dataclasses.replace(check, reason=refusals[check.verification_method])
        if check.reason == KEY_UNRESOLVED and check.verification_method in refusals
        else check
        for check in result.proofs
    )
    failed = [check for check in checks if not check.verified]
    if not failed:
        return result
    return dataclasses.replace(result, reason=failed[0].reason, proofs=checks)


def _verdict(name: str, result: VerificationResult) -> Text:
    """``VERIFIED <file>: n of n proofs, by <methods>`` or ``NOT VERIFIED <file>: <reason> (proof i, <method>)``."""
    from rich.text import Text

    if result.verified:
        methods = ", ".join(dict.fromkeys(_shown(check.verification_method) for check in result.proofs))
        count = len(result.proofs)
        return Text.assemble(("VERIFIED", "bold green"), f" {name}: {count} of {count} proofs, by {methods}")
    failed = result.failed[0] if result.failed else None
    where = f" (proof {failed.index}, {_shown(failed.verification_method)})" if failed else ""
    return Text.assemble(("NOT VERIFIED", "bold red"), f" {name}: {result.reason}{where}")


def _proof_table(document: dict[str, Any], result: VerificationResult) -> Table:
    """One row per proof: method, purpose, created, and VERIFIED or the reason."""
    from rich.text import Text

    from mmmfed.cli.tables import FittingTable

    proofs = document["proof"] if isinstance(document["proof"], list) else [document["proof"]]
    table = FittingTable(title="Proofs (eddsa-jcs-2022)", drop=("purpose", "created"))
    table.add_column("#", justify="right")
    for name in ("verification method", "purpose", "created", "result"):
        table.add_column(name, overflow="fold")
    for check in result.proofs:
        proof = proofs[check.index]
        table.add_row(
            str(check.index),
            Text(_shown(proof.get("verificationMethod"))),
            Text(_shown(proof.get("proofPurpose"))),
            Text(_shown(proof.get("created"))),
            Text(check.reason, style="green" if check.verified else "bold red"),
        )
    return table


def _shown(value: object, *, limit: int = 300) -> str:
    """A value from the file as safe text: strings with control characters escaped, else "-"."""
    if not isinstance(value, str):
        return "-"
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in value[:limit])
    return text + ("..." if len(value) > limit else "")
