"""``mmmfed identity issue|show|present|verify|status-list|revoke|migrate|unlink``: a user's portable
identity as an SD-JWT VC (FGMV-43 9.4 steps 1-4; IDIR-204; :mod:`mmmfed.identity`).

``issue``, ``present``, ``status-list`` and ``revoke`` act at the home M-Instance and take its
gateway's configuration: the issuer key is the gateway's current signing key
(``<data_dir>/keys``), the users' keys, credentials and the status list live in
``<data_dir>/identity`` (:class:`mmmfed.identity.store.IdentityStore`). ``verify`` is the
destination's check from files only: the presentation, the home's keys (``keys export``, a DID
document or ``--format jwks``) and its status list token. ``migrate`` and ``unlink`` ask the
running home gateway over RI-4 (IdentityGateway) with an operator certificate of its trust
domain; the gateway talks to the destination's gateway over RE-4 (gateway/identity_migration.py).
Times are the wall clock, in seconds.
Exit codes: 0 done, 2 refused (the reason names the check that failed).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mmmfed.cli.common import fail, refuse

if TYPE_CHECKING:
    from mmmfed.identity.credential import Issuer
    from mmmfed.identity.store import IdentityStore

identity_app = typer.Typer(
    help="Portable identity: issue a user's credential, present chosen claims, verify at a destination.",
    no_args_is_help=True,
)

GatewayConfigOption = Annotated[
    Path, typer.Option("--config", help="the home gateway's configuration, .json or .toml", dir_okay=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="print the outcome as JSON")]
CertOption = Annotated[
    Path, typer.Option("--cert", help="operator certificate (PEM) of the M-Instance's trust domain", dir_okay=False)
]
OperatorKeyOption = Annotated[Path, typer.Option("--key", help="the operator certificate's private key (PEM)")]


def _home(config: Path) -> tuple[IdentityStore, Issuer]:
    """The identity store and issuer (current key) of the gateway in ``config``; exits 2 on a bad
    configuration or with no signing key (``NO_SIGNING_KEY``)."""
    from mmmfed.config import GatewayConfig, load_config
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.credential import Issuer
    from mmmfed.identity.store import IdentityStore
    from mmmfed.keys import InstanceKeyStore

    try:
        gateway = load_config(config, GatewayConfig)
        keys = InstanceKeyStore(gateway.data_dir / "keys", gateway.m_instance_id)
        record, key = keys.current()
        store = IdentityStore(gateway.data_dir / "identity", gateway.m_instance_id)
    except MmmfedError as err:
        raise fail(err) from err
    return store, Issuer(gateway.m_instance_id, record, key)


def _user_of(process_id: str, m_instance_id: str) -> tuple[str, str]:
    """(user id, DID) of a User Process of this M-Instance; exits 2 ``PROCESS_NOT_LOCAL`` else."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.user_did import user_did_of_process

    try:
        did = user_did_of_process(process_id)
    except MmmfedError as err:
        raise fail(err) from err
    if not did.startswith(f"did:web:{m_instance_id}:"):
        raise refuse("PROCESS_NOT_LOCAL", f"{process_id} is not a Process of {m_instance_id}; issue at its home")
    return did.rsplit(":", 1)[-1], did


def _write_out(out: Path, text: str, *, mode: int) -> None:
    import os

    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as fh:
            fh.write(text + "\n")
    except OSError as err:
        raise refuse("FILE_UNWRITABLE", f"cannot write {out}: {err.strerror}; choose another --out") from err


def _read_json(path: Path) -> Any:
    """The strict JSON in ``path``; InvalidInput ``FILE_UNREADABLE`` / ``JWK_INVALID`` naming it."""
    from mmmfed.errors import InvalidInput, MmmfedError
    from mmmfed.strictjson import parse_json

    try:
        return parse_json(path.read_bytes(), max_bytes=64 * 1024)
    except OSError as err:
        raise InvalidInput(f"cannot read {path}: {err.strerror}", reason="FILE_UNREADABLE") from err
    except MmmfedError as err:
        raise InvalidInput(f"{path} is not a JSON Web Key: {err.message}", reason="JWK_INVALID") from err


def _read_reputation_file(path: Path, did: str) -> str:
    """The reputation credential in ``path``, about ``did``; InvalidInput ``FILE_UNREADABLE`` or
    ``REPUTATION_INVALID`` naming the file."""
    from mmmfed.errors import InvalidInput, MmmfedError
    from mmmfed.identity.reputation import REPUTATION_INVALID, read_reputation

    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"cannot read {path}: {err}", reason="FILE_UNREADABLE") from err
    try:
        about, _kid = read_reputation(token)
    except MmmfedError as err:
        raise InvalidInput(f"{path}: {err.message}", reason=REPUTATION_INVALID) from err
    if about.subject != did:
        raise InvalidInput(f"{path} is about {about.subject}, not {did}", reason=REPUTATION_INVALID)
    return token


def _issue_date(now_s: int) -> dt.date:
    return dt.datetime.fromtimestamp(now_s, tz=dt.UTC).date()


def _print(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    sys.stdout.write(json.dumps(result, indent=2) + "\n" if as_json else "\n".join(lines) + "\n")


@identity_app.command("issue")
def identity_issue(
    process_id: Annotated[str, typer.Argument(help="the user's Process id, mmm://<home>/processes/user/<id>")],
    config: GatewayConfigOption,
    birthdate: Annotated[str, typer.Option("--birthdate", help="YYYY-MM-DD, from the Personal Profile")],
    name: Annotated[str | None, typer.Option("--name", help="display name (default: the user id)")] = None,
    language: Annotated[
        list[str] | None, typer.Option("--language", help="BCP 47 tag; repeat, preferred first")
    ] = None,
    avatar: Annotated[list[str] | None, typer.Option("--avatar", help="avatar Item id; repeat")] = None,
    asset: Annotated[list[str] | None, typer.Option("--asset", help="asset Item id; repeat")] = None,
    right: Annotated[list[str] | None, typer.Option("--right", help="Rights id; repeat")] = None,
    valid_days: Annotated[int, typer.Option("--valid-days", help="validity of the credential, days", min=1)] = 30,
    reputation: Annotated[
        Path | None,
        typer.Option(
            "--reputation",
            help="a reputation credential file to carry (default: the one `reputation issue` keeps here)",
            dir_okay=False,
        ),
    ] = None,
    holder_jwk: Annotated[
        Path | None,
        typer.Option("--holder-jwk", help="the user's own Ed25519 public key as a JWK file (default: a key held here)"),
    ] = None,
    cert: Annotated[
        Path | None,
        typer.Option(
            "--cert", help="operator certificate: read each --avatar's Qualifier from the M-Instance", dir_okay=False
        ),
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="the operator certificate's private key")] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue the user an identity credential (SD-JWT VC) signed with the M-Instance's current key.

    Every claim (name, birthdate, age_over_13/16/18/21 as of today, languages, avatars, assets,
    Rights, the reputation credential) is disclosable on its own; the user's key is bound to it
    (one made on first issue and held here, or the one they bring with --holder-jwk), and it gets
    the next index of the status list. With --cert and --key (an operator's), each --avatar is
    read from the M-Instance and carried with its Qualifier (Format, triangles, textures, size),
    so a destination can judge its appearance rules (IDIR-303). Prints the user's DID and the claims.
    """
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.claims import IdentityProfile, parse_birthdate
    from mmmfed.identity.credential import issue_credential
    from mmmfed.identity.sdjwt import parse_disclosure
    from mmmfed.identity.user_did import UserKey

    store, issuer = _home(config)
    user_id, did = _user_of(process_id, issuer.m_instance_id)
    if (cert is None) != (key is None):
        raise refuse("OPTION_MISSING", "give --cert and --key together (an operator's), or neither")
    avatars: list[Any] = list(avatar or ())
    if cert is not None and key is not None and avatars:
        avatars = _persona_qualifiers(config, cert, key, avatars)
    now_s = int(time.time())
    try:
        held = store.reputation(user_id)
        reputation_token = held if reputation is None else _read_reputation_file(reputation, did)
        profile = IdentityProfile(
            name=name or user_id,
            reputation=reputation_token,
            birthdate=parse_birthdate(birthdate),
            languages=tuple(language or ()),
            avatars=tuple(avatars),
            assets=tuple(asset or ()),
            rights=tuple(right or ()),
        )
        profile.claims(issued_on=_issue_date(now_s))  # refuse a bad profile before any file is written
        if holder_jwk is not None:
            store.bring_own_key(user_id, UserKey.bring_own(_read_json(holder_jwk)))
        holder = store.user_key(user_id, did=did, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_s)))
        credential = issue_credential(
            profile,
            issuer=issuer,
            subject_did=did,
            holder=holder,
            status=store.allocate(),
            issued_at_s=now_s,
            valid_for_s=valid_days * 86400,
        )
        path = store.save_credential(user_id, credential)
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise refuse("FILE_UNWRITABLE", f"cannot write {store.directory}: {err.strerror}") from err
    claims = [parse_disclosure(d).name for d in credential.disclosures]
    result = {"did": did, "credential": str(path), "issuer": issuer.kid, "claims": claims}
    _print(result, as_json, [f"issued {did}", f"signed by {issuer.kid}", f"claims {', '.join(claims)}"])


@identity_app.command("present")
def identity_present(
    process_id: Annotated[str, typer.Argument(help="the user's Process id")],
    config: GatewayConfigOption,
    disclose: Annotated[
        str, typer.Option("--disclose", help="claims to disclose, comma-separated, e.g. name,age_over_18")
    ],
    audience: Annotated[str, typer.Option("--audience", help="the destination M-Instance, e.g. b.example")],
    nonce: Annotated[str, typer.Option("--nonce", help="the nonce the destination gave")],
    out: Annotated[Path, typer.Option("--out", help="file to write the presentation to", dir_okay=False)],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="the user's private key file, for a key they brought (default: the key held here)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write a presentation of the user's credential disclosing only the chosen claims, bound to
    the destination and its nonce by the user's key. Nothing else leaves the home."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.presentation import present
    from mmmfed.keyfile import load_signing_key

    store, issuer = _home(config)
    user_id, _did = _user_of(process_id, issuer.m_instance_id)
    chosen = [c.strip() for c in disclose.split(",") if c.strip()]
    try:
        credential = store.credential(user_id)
        shown = present(
            credential,
            disclose=chosen,
            audience=audience,
            nonce=nonce,
            holder_key=store.held_key(user_id) if key is None else load_signing_key(key),
            iat_s=int(time.time()),
        )
    except MmmfedError as err:
        raise fail(err) from err
    _write_out(out, shown.serialize(), mode=0o600)
    result = {"file": str(out), "audience": audience, "disclosed": chosen}
    _print(result, as_json, [f"wrote {out} for {audience}: {', '.join(chosen) or 'no claim'} disclosed"])


@identity_app.command("verify")
def identity_verify(
    presentation: Annotated[Path, typer.Argument(help="the presentation file", dir_okay=False)],
    keys: Annotated[Path, typer.Option("--keys", help="the home's keys: `keys export` output", dir_okay=False)],
    status_list: Annotated[Path, typer.Option("--status-list", help="the home's status list token", dir_okay=False)],
    audience: Annotated[str, typer.Option("--audience", help="this (the destination) M-Instance")],
    nonce: Annotated[str, typer.Option("--nonce", help="the nonce this M-Instance gave")],
    min_age: Annotated[int | None, typer.Option("--min-age", help="13, 16, 18 or 21: age_over_N required")] = None,
    require: Annotated[str, typer.Option("--require", help="claims that must be disclosed, comma-separated")] = "",
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="a reputation rule (manifesto policy), e.g. identity.reputation.required=true"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a presentation as the destination: issuer signature with the home's keys, key
    binding to AUDIENCE and NONCE, the status list, then the eligibility and reputation rules. Prints the
    disclosed claims, and nothing else; exits 2 with the failed check's reason.

    Each run checks one presentation against the nonce given: refusing a second use of a nonce
    is for the destination that hands out nonces, which keeps them between presentations."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.nonces import NonceStore
    from mmmfed.identity.policy import EligibilityPolicy
    from mmmfed.identity.published_keys import load_published_keys
    from mmmfed.identity.reputation import ReputationPolicy
    from mmmfed.identity.verifier import IdentityVerifier

    now_s = int(time.time())
    rules = dict(_policy_pair(p) for p in policy or ())
    try:
        text, token = presentation.read_text().strip(), status_list.read_text().strip()
    except OSError as err:
        raise refuse("FILE_UNREADABLE", f"cannot read {err.filename}: {err.strerror}") from err
    try:
        home, records = load_published_keys(keys)
        nonces = NonceStore()
        nonces.remember(nonce, issued_s=now_s)
        required = tuple(c.strip() for c in require.split(",") if c.strip())
        verifier = IdentityVerifier(
            audience=audience,
            issuer_keys={home: records},
            status_lists=lambda uri: token,
            nonces=nonces,
            policy=EligibilityPolicy(min_age=min_age, required_claims=required),
            reputation=ReputationPolicy.of(rules),
        )
        verified = verifier.verify(text, now_s=now_s, expected_nonce=nonce)
    except MmmfedError as err:
        raise fail(err) from err
    result = {
        "issuer": verified.issuer,
        "subject": verified.subject,
        "admission": verified.admission,
        "disclosed": verified.disclosed,
    }
    lines = [f"VERIFIED {verified.subject} from {verified.issuer}, {verified.admission}"]
    lines += [f"  {k} = {json.dumps(v)}" for k, v in verified.disclosed.items()]
    _print(result, as_json, lines)


def _policy_pair(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` of a ``--policy`` under ``identity.reputation.``; exits 2 ``POLICY_INVALID``."""
    from mmmfed.identity.reputation import ReputationPolicy

    key, sep, value = text.partition("=")
    if not sep or not key.startswith(ReputationPolicy.PREFIX):
        raise refuse("POLICY_INVALID", f"--policy {text!r} is not {ReputationPolicy.PREFIX}<rule>=<value>")
    return key, value


@identity_app.command("status-list")
def identity_status_list(
    config: GatewayConfigOption,
    out: Annotated[Path, typer.Option("--out", help="file to write the status list token to", dir_okay=False)],
    ttl_s: Annotated[int, typer.Option("--ttl-s", help="seconds a verifier may cache it", min=1)] = 300,
    as_json: JsonOption = False,
) -> None:
    """Write the M-Instance's current status list token (statuslist+jwt), signed with its current key."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.status_list import status_list_token

    store, issuer = _home(config)
    try:
        status, issued = store.status_list()
        token = status_list_token(
            status, uri=store.status_uri, key=issuer.key, kid=issuer.kid, iat_s=int(time.time()), ttl_s=ttl_s
        )
    except MmmfedError as err:
        raise fail(err) from err
    _write_out(out, token, mode=0o644)
    result = {"file": str(out), "uri": store.status_uri, "issued": issued}
    _print(result, as_json, [f"wrote {out}: {store.status_uri}, {issued} credential(s) issued"])


@identity_app.command("revoke")
def identity_revoke(
    process_id: Annotated[str, typer.Argument(help="the user's Process id")],
    config: GatewayConfigOption,
    as_json: JsonOption = False,
) -> None:
    """Revoke the user's current credential in the status list: destinations refuse it once they
    read the next status list token (`identity status-list`)."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.jose import read_jws

    store, issuer = _home(config)
    user_id, did = _user_of(process_id, issuer.m_instance_id)
    try:
        payload = read_jws(store.credential(user_id).issuer_jwt, reason="CREDENTIAL_MALFORMED").payload
        idx = int(payload["status"]["status_list"]["idx"])
        store.revoke(idx)
    except MmmfedError as err:
        raise fail(err) from err
    _print({"did": did, "revoked_idx": idx}, as_json, [f"revoked the credential of {did} (status index {idx})"])


@identity_app.command("show")
def identity_show(
    process_id: Annotated[str, typer.Argument(help="the user's Process id")],
    config: GatewayConfigOption,
    as_json: JsonOption = False,
) -> None:
    """Show the user's DID, where it resolves, their key, and their current credential as the home
    holds it: every claim, the validity and the status in the status list; the platforms it is
    linked to with the profile version each holds (and the one queued for it, which the gateway
    pushes on its own), and the changes platforms offered that await the user."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.jose import read_jws
    from mmmfed.identity.push_queue import PushQueue
    from mmmfed.identity.sdjwt import disclosed_claims
    from mmmfed.identity.user_did import did_web_url

    store, issuer = _home(config)
    user_id, did = _user_of(process_id, issuer.m_instance_id)
    try:
        credential = store.credential(user_id)
        payload = read_jws(credential.issuer_jwt, reason="CREDENTIAL_MALFORMED").payload
        claims = disclosed_claims(payload, credential.disclosures)
        idx = int(payload["status"]["status_list"]["idx"])
        status = store.status_list()[0].get(idx)
        held = store.holds_key(user_id)
        links = store.links(user_id)
        receipts = [_receipt_of(path) for path in store.receipts(user_id)]
        sync = store.sync_state(user_id)
        queue = PushQueue(store.directory / "push-queue")
        queued = {p: e.version for p in links for e in queue.entries(p) if e.user == user_id}
    except MmmfedError as err:
        raise fail(err) from err
    for peer, version in queued.items():
        links[peer]["queued_version"] = version  # the gateway pushes it on its own (IDSF)
    profile = {k: v for k, v in claims.items() if k not in payload}
    result = {
        "did": did,
        "did_document_url": did_web_url(did),
        "holder_jwk": payload["cnf"]["jwk"],
        "key": "held" if held else "own",
        "issued_at": payload["iat"],
        "expires_at": payload["exp"],
        "status_idx": idx,
        "status": {0: "valid", 1: "revoked", 2: "suspended"}.get(status, f"{status:#x}"),
        "claims": profile,
        "links": links,
        "receipts": receipts,
        "version": sync.version,
        "open_changes": [c.change_id for c in sync.changes.values() if c.status in ("PENDING", "CONFLICT")],
    }
    lines = [f"{did} ({result['did_document_url']})", f"key {result['key']}, status {result['status']}"]
    lines += [f"  {k} = {json.dumps(v)}" for k, v in profile.items()]
    for peer, link in links.items():
        lines.append(
            f"linked at {peer} as {link['process_id']}: {', '.join(map(str, link['disclosed']))}"
            f" (holds version {link.get('version', 0)} of {sync.version}"
            + (f"; version {queued[peer]} queued for it)" if peer in queued else ")")
        )
    if result["open_changes"]:
        lines.append(f"changes offered by platforms awaiting the user: {len(result['open_changes'])} (identity sync)")
    for receipt in receipts:
        deleted = ", ".join(receipt.get("deleted_claims", []))
        lines.append(
            f"receipt of deletion from {receipt.get('iss')} at {receipt.get('iat')}: {deleted} ({receipt['file']})"
        )
    _print(result, as_json, lines)


def _receipt_of(path: Path) -> dict[str, Any]:
    """A kept receipt of deletion, as its file, kid and payload (verified when it was received)."""
    from mmmfed.identity.receipts import read_receipt

    text = path.read_text().strip()
    header, payload = read_receipt(text)
    return {"file": str(path), "kid": header.get("kid"), **payload, "jws": text}


def _ri4(config: Path, cert: Path, key: Path, method: str, request: Any) -> Any:
    """One RI-4 call (IdentityGateway ``method``) to the running gateway of ``config``, with the
    operator's certificate; exit 2 with the reason on any refusal or connection failure."""
    import asyncio

    from mmmfed.api.v1 import identity_pb2_grpc
    from mmmfed.config import GatewayConfig, PeerAddress, TlsConfig, load_config
    from mmmfed.errors import InvalidInput, MmmfedError
    from mmmfed.rpc import call
    from mmmfed.tls import secure_channel

    try:
        gateway = load_config(config, GatewayConfig)
    except MmmfedError as err:
        raise fail(err) from err

    async def once() -> Any:
        tls = TlsConfig(ca_cert=gateway.tls.ca_cert, cert=cert, key=key)
        async with secure_channel(tls, PeerAddress(tls_name=gateway.tls_name, address=gateway.listen)) as channel:
            stub = identity_pb2_grpc.IdentityGatewayStub(channel)
            return await call(lambda: getattr(stub, method)(request), attempts=1)

    try:
        return asyncio.run(once())
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise fail(InvalidInput(f"cannot read {err.filename}: {err.strerror}", reason="FILE_UNREADABLE")) from err


def _persona_qualifiers(config: Path, cert: Path, key: Path, item_ids: list[str]) -> list[dict[str, Any]]:
    """Each Persona ``item_ids`` names, read from the home M-Instance (RI-1 ReadItem, with the
    operator's certificate) as the ``avatars`` claim carries it: ``{"ItemID", "Format",
    "Attributes", "Length"}`` (:data:`mmmfed.identity.claims.AVATAR_FIELDS`), so the credential
    vouches only for what the M-Instance holds. Exit 2 ``ITEM_NOT_FOUND`` / ``AVATAR_NOT_PERSONA``
    naming the avatar, or the connection's reason."""
    import asyncio
    from functools import partial

    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.api.v1 import instance_pb2_grpc
    from mmmfed.config import GatewayConfig, TlsConfig, load_config
    from mmmfed.errors import InvalidInput, MmmfedError
    from mmmfed.identity.claims import MAX_AVATAR_ATTRIBUTES
    from mmmfed.items import parse_item
    from mmmfed.rpc import call
    from mmmfed.tls import secure_channel

    try:
        gateway = load_config(config, GatewayConfig)
    except MmmfedError as err:
        raise fail(err) from err

    async def first_part(stub: instance_pb2_grpc.InstanceAsyncStub, item_id: str) -> bytes:
        stream = stub.ReadItem(ipb.ReadItemRequest(item_id=item_id))
        try:
            async for part in stream:
                return bytes(part.envelope.item_json)
        finally:
            stream.cancel()
        raise InvalidInput(f"the M-Instance sent no Item for {item_id}", reason="ITEM_NOT_FOUND")

    async def read_all() -> list[dict[str, Any]]:
        tls = TlsConfig(ca_cert=gateway.tls.ca_cert, cert=cert, key=key)
        out = []
        async with secure_channel(tls, gateway.instance) as channel:
            stub = instance_pb2_grpc.InstanceStub(channel)
            for item_id in item_ids:
                raw = await call(partial(first_part, stub, item_id), attempts=1)
                item = parse_item(raw)
                if item.qualifier.get("SubType") != "Persona" or not item.format:
                    raise InvalidInput(f"{item_id} is not a Persona (an avatar)", reason="AVATAR_NOT_PERSONA")
                attrs = item.qualifier.get("Attributes") or {}
                kept = {str(k): str(v) for k, v in sorted(attrs.items())[:MAX_AVATAR_ATTRIBUTES]}
                length = item.data.size if item.data is not None else 0
                out.append({"ItemID": item.item_id, "Format": item.format, "Attributes": kept, "Length": length})
        return out

    try:
        return asyncio.run(read_all())
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise fail(InvalidInput(f"cannot read {err.filename}: {err.strerror}", reason="FILE_UNREADABLE")) from err


def _link(process_id: str, to: str, disclose: str, config: Path, cert: Path, key: Path, as_json: bool) -> None:
    """RI-4 MigrateIdentity and its report, for `identity migrate` and `identity link`."""
    from mmmfed.api.v1 import identity_pb2 as ipb

    chosen = [c.strip() for c in disclose.split(",") if c.strip()]
    request = ipb.MigrateIdentityRequest(process_id=process_id, peer_m_instance_id=to, disclose=chosen)
    done = _ri4(config, cert, key, "MigrateIdentity", request)
    result = {
        "did": done.did,
        "peer_m_instance_id": done.peer_m_instance_id,
        "peer_process_id": done.peer_process_id,
        "stored_claims": list(done.stored_claims),
        "already_linked": done.already_linked,
        "admission": done.admission,
        "account_type": done.account_type,
        "rights": list(done.rights),
    }
    again = " (already linked: same Process)" if done.already_linked else ""
    lines = [
        f"LINKED {done.did} at {done.peer_m_instance_id} as {done.peer_process_id}{again}",
        f"  stored there: {', '.join(done.stored_claims) or 'no claim'}",
    ]
    if done.admission:
        lines.append(f"  admitted: {done.admission} (Account type {done.account_type or 'not said'})")
        lines.append(f"  may there: {', '.join(done.rights) or 'nothing'}")
    _print(result, as_json, lines)


@identity_app.command("migrate")
def identity_migrate(
    process_id: Annotated[str, typer.Argument(help="the user's Process id, mmm://<home>/processes/user/<id>")],
    to: Annotated[str, typer.Option("--to", help="the destination M-Instance, e.g. b.example")],
    disclose: Annotated[
        str, typer.Option("--disclose", help="claims to disclose, comma-separated, e.g. name,age_over_18")
    ],
    config: GatewayConfigOption,
    cert: CertOption,
    key: OperatorKeyOption,
    as_json: JsonOption = False,
) -> None:
    """Migrate the user's identity to a peer M-Instance (FGMV-43 9.4 steps 1-4): the home gateway
    presents the user's credential disclosing only the chosen claims, bound to the peer and its
    nonce by the user's key; the peer verifies it, checks its eligibility rules and links it to a
    Process of its own holding only those claims. Migrating again gives the same Process. The
    same as `identity link`."""
    _link(process_id, to, disclose, config, cert, key, as_json)


@identity_app.command("link")
def identity_link(
    process_id: Annotated[str, typer.Argument(help="the user's Process id, mmm://<home>/processes/user/<id>")],
    to: Annotated[str, typer.Option("--to", help="the platform (M-Instance) to link to, e.g. b.example")],
    disclose: Annotated[
        str, typer.Option("--disclose", help="claims the platform may read, comma-separated, e.g. name,age_over_18")
    ],
    config: GatewayConfigOption,
    cert: CertOption,
    key: OperatorKeyOption,
    as_json: JsonOption = False,
) -> None:
    """Link the user's identity to a platform (IDIR-204), the user staying at home: the platform
    gets a presentation of the chosen claims only, verifies it and links it to a Process of its
    own, and may read that consented profile and nothing more; `identity sync` keeps it current
    within that scope, `identity unlink` ends it. The same request as `identity migrate`."""
    _link(process_id, to, disclose, config, cert, key, as_json)


@identity_app.command("resolve")
def identity_resolve(
    did: Annotated[str, typer.Argument(help="did:web:<m-instance> or did:web:<m-instance>:users:<id>")],
    config: GatewayConfigOption,
    cert: CertOption,
    key: OperatorKeyOption,
    as_json: JsonOption = False,
) -> None:
    """Resolve a DID to its DID document through this M-Instance's gateway: its own DIDs there,
    any other at the DID's home M-Instance (its host) over the key service, RE-5. A user's document
    holds the user's current public key (#key-1)."""
    from mmmfed.api.v1 import identity_pb2 as ipb

    if not did.startswith("did:web:"):
        raise refuse("DID_INVALID", f"{did[:200]!r} is not a did:web DID; pass did:web:<m-instance>[:users:<id>]")
    done = _ri4(config, cert, key, "ResolveDid", ipb.ResolveDidRequest(did=did))
    document = json.loads(done.document_json)
    methods = document.get("verificationMethod", [])
    result = {"did": done.did, "resolved_by": done.resolved_by, "document": document}
    lines = [f"{done.did} (resolved by {done.resolved_by})"]
    lines += [
        f"  {m.get('id')}  {m.get('publicKeyMultibase')}" + (" revoked" if "revoked" in m else "") for m in methods
    ]
    _print(result, as_json, lines)


@identity_app.command("unlink")
def identity_unlink(
    process_id: Annotated[str, typer.Argument(help="the user's Process id")],
    from_: Annotated[str, typer.Option("--from", help="the M-Instance the identity is linked at")],
    config: GatewayConfigOption,
    cert: CertOption,
    key: OperatorKeyOption,
    as_json: JsonOption = False,
) -> None:
    """Unlink the user's identity from a peer M-Instance (IDIR-204): the peer deletes the
    disclosed claims and the link and answers with a receipt of deletion signed by its key; the
    home gateway verifies it with the peer's published keys and keeps it (`identity show`)."""
    from mmmfed.api.v1 import identity_pb2 as ipb
    from mmmfed.identity.receipts import read_receipt

    request = ipb.UnlinkIdentityRequest(process_id=process_id, peer_m_instance_id=from_)
    done = _ri4(config, cert, key, "UnlinkIdentity", request)
    header, payload = read_receipt(done.receipt_jws)
    result = {
        "did": done.did,
        "peer_m_instance_id": done.peer_m_instance_id,
        "peer_process_id": done.peer_process_id,
        "deleted_claims": list(done.deleted_claims),
        "receipt": {"kid": header.get("kid"), **payload},
        "receipt_path": done.receipt_path,
        "receipt_jws": done.receipt_jws,
    }
    lines = [
        f"UNLINKED {done.did} from {done.peer_m_instance_id} ({done.peer_process_id})",
        f"  deleted there: {', '.join(done.deleted_claims) or 'no claim'}",
        f"  receipt of deletion signed by {header.get('kid')}, kept in {done.receipt_path}",
    ]
    _print(result, as_json, lines)


@identity_app.command("sync")
def identity_sync(
    process_id: Annotated[
        str, typer.Argument(help="the user's Process id at home, or the linked Process id at the platform")
    ],
    config: GatewayConfigOption,
    cert: CertOption,
    key: OperatorKeyOption,
    accept: Annotated[
        str | None, typer.Option("--accept", help="at home: a change id to accept (its value becomes the home's)")
    ] = None,
    reject: Annotated[
        str | None, typer.Option("--reject", help="at home: a change id to reject (the home's value stays)")
    ] = None,
    set_: Annotated[
        str | None,
        typer.Option(
            "--set", help='at the platform: FIELD=JSON the user changed here, e.g. comfort={"motion":"reduced"}'
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Keep a linked identity in step (FGMV-43 9.4 steps 5-7).

    At home: push the user's current credential now, with its version, to every platform the
    identity is linked to, each getting only the claims the user disclosed to it (the running
    gateway also pushes every change on its own within seconds); first apply the
    user's choice on a change a platform offered (--accept takes its value and re-issues the
    credential, --reject keeps the home's; a CONFLICT, the home having changed the field too, is
    settled the same way). At the platform: offer a change the user made here (--set name=...,
    languages=[...] or comfort={...}) to the home, which applies it only when the user accepts.
    Both list the changes not yet settled, conflicts included, with their status.
    """
    from mmmfed.api.v1 import identity_pb2 as ipb

    field, value = "", ""
    if set_ is not None:
        field, sep, value = set_.partition("=")
        if not sep or not field.strip():
            raise refuse(
                "SYNC_ARGUMENTS", f'--set {set_[:80]!r} is not FIELD=JSON, e.g. comfort=\'{{"motion": "reduced"}}\''
            )
    request = ipb.SyncIdentityRequest(
        process_id=process_id, accept=accept or "", reject=reject or "", set_field=field.strip(), set_value_json=value
    )
    done = _ri4(config, cert, key, "SyncIdentity", request)
    peers = [
        {"peer_m_instance_id": p.peer_m_instance_id, "version": p.version, "outcome": p.outcome, "reason": p.reason}
        | {"claims": list(p.claims)}
        for p in done.peers
    ]
    changes = [
        {
            "change_id": c.change_id,
            "peer_m_instance_id": c.peer_m_instance_id,
            "field": c.field,
            "value": json.loads(c.value_json) if c.value_json else None,
            "base_version": c.base_version,
            "status": c.status,
            "home_value": json.loads(c.home_value_json) if c.home_value_json else None,
        }
        for c in done.changes
    ]
    result = {
        "did": done.did,
        "version": done.version,
        "peers": peers,
        "changes": changes,
        "conflicts": [c for c in changes if c["status"] == "CONFLICT"],
        "claims": list(done.claims),
    }
    lines = [f"{done.did} at version {done.version}"]
    lines += [
        f"  {p['peer_m_instance_id']:<24} {p['outcome']:<11} v{p['version']}  {p['reason'] or ', '.join(p['claims'])}"
        for p in peers
    ]
    for c in changes:
        home = f" (home has {json.dumps(c['home_value'])})" if c["home_value"] is not None else ""
        lines.append(
            f"  change {c['change_id']} from {c['peer_m_instance_id']}: {c['field']} = "
            f"{json.dumps(c['value'])[:60]}  {c['status']}{home}"
        )
    if done.claims:
        lines.append(f"  held here: {', '.join(done.claims)}")
    _print(result, as_json, lines)
