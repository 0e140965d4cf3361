"""``mmmfed reputation issue|show``: reputation credentials (IDIR-301/304/305; FGMV-43 9.4 step 3;
:mod:`mmmfed.identity.reputation`).

``issue`` signs as the home M-Instance (``--config``: its gateway's current key, and the
credential is kept for the user, so the next ``identity issue`` carries it as the disclosable
claim ``reputation``) or as a third party (``--issuer-key``: a key file from ``keys generate``,
issuer its did:key; the destination trusts it only if its manifesto policy
``identity.reputation.issuers`` names that did:key). ``show`` prints a credential's fields and
whether its signature verifies. Exit codes: 0 done, 2 refused.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mmmfed.cli.common import fail, refuse

reputation_app = typer.Typer(
    help="Reputation credentials: what an issuer vouches about a user's conduct (IDIR-301/304/305).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="print the outcome as JSON")]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="the home gateway's configuration, .json or .toml", dir_okay=False),
]


def _counts(option: str, pairs: list[str] | None) -> dict[str, int]:
    """``{"kind": n}`` of ``KIND=N`` options; exits 2 ``REPUTATION_INVALID`` naming a bad one."""
    counts: dict[str, int] = {}
    for pair in pairs or ():
        kind, sep, number = pair.partition("=")
        if not sep or not number.isdigit() or kind in counts:
            raise refuse("REPUTATION_INVALID", f"{option} {pair!r} is not KIND=N (a whole number), once per kind")
        counts[kind] = int(number)
    return counts


def _date(option: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise refuse("REPUTATION_INVALID", f"{option} {text!r} is not a date YYYY-MM-DD") from err


def _subject_did(subject: str) -> str:
    """The user DID of ``subject`` (a DID, or a user Process id); exits 2 otherwise."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.user_did import user_did_of_process

    if subject.startswith("did:web:"):
        return subject
    try:
        return user_did_of_process(subject)
    except MmmfedError as err:
        raise fail(err) from err


def _print(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    sys.stdout.write(json.dumps(result, indent=2) + "\n" if as_json else "\n".join(lines) + "\n")


@reputation_app.command("issue")
def reputation_issue(
    subject: Annotated[str, typer.Argument(help="the user's Process id or DID")],
    period_from: Annotated[str, typer.Option("--from", help="first day of the period, YYYY-MM-DD")],
    period_to: Annotated[str, typer.Option("--to", help="last day of the period, YYYY-MM-DD")],
    config: ConfigOption = None,
    issuer_key: Annotated[
        Path | None,
        typer.Option("--issuer-key", help="a third party's private key file (keys generate), instead of --config"),
    ] = None,
    sanction: Annotated[list[str] | None, typer.Option("--sanction", help="KIND=N sanctions; repeat")] = None,
    report: Annotated[list[str] | None, typer.Option("--report", help="KIND=N reports; repeat")] = None,
    standing: Annotated[str, typer.Option("--standing", help="good, warned, restricted or suspended")] = "good",
    valid_days: Annotated[int, typer.Option("--valid-days", help="validity of the credential, days", min=1)] = 90,
    out: Annotated[Path | None, typer.Option("--out", help="file to write the credential to", dir_okay=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a reputation credential about SUBJECT for the period --from..--to: counts of
    sanctions and reports by kind, and a standing. As the home (--config) it is kept for the user
    and carried by their next identity credential; as a third party (--issuer-key) write it with --out."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.reputation import Reputation, issue_reputation
    from mmmfed.keyfile import load_signing_key

    if (config is None) == (issuer_key is None):
        raise refuse("ISSUER_MISSING", "give either --config (the home issues) or --issuer-key (a third party issues)")
    if issuer_key is not None and out is None:
        raise refuse("OUT_MISSING", "a third party's credential is not kept here: give --out FILE")
    did = _subject_did(subject)
    now_s = int(time.time())
    try:
        if config is not None:
            from mmmfed.cli.identity_cmd import _home

            store, home = _home(config)
            if not did.startswith(f"did:web:{home.m_instance_id}:"):
                raise refuse("PROCESS_NOT_LOCAL", f"{did} is not a user of {home.m_instance_id}; its home issues")
            issuer, kid, key = home.did, home.kid, home.key
        else:
            assert issuer_key is not None
            key = load_signing_key(issuer_key)
            issuer, kid = key.did, key.verification_method
        reputation = Reputation(
            issuer=issuer,
            subject=did,
            period_from=_date("--from", period_from),
            period_to=_date("--to", period_to),
            sanctions=_counts("--sanction", sanction),
            reports=_counts("--report", report),
            standing=standing,
            issued_at_s=now_s,
            expires_s=now_s + valid_days * 86400,
        )
        token = issue_reputation(reputation, key=key, kid=kid)
        kept = store.save_reputation(did.rsplit(":", 1)[-1], token) if config is not None else None
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise refuse("FILE_UNWRITABLE", f"cannot write the credential: {err.strerror}") from err
    if out is not None:
        from mmmfed.cli.identity_cmd import _write_out

        _write_out(out, token, mode=0o600)
    result: dict[str, Any] = {"issuer": issuer, "subject": did, "kept": str(kept) if kept else None}
    result |= {"file": str(out) if out else None, "credential": reputation.to_json()}
    where = f"kept at {kept}" if kept else f"wrote {out}"
    _print(result, as_json, [f"issued a reputation credential about {did}", f"signed by {kid}", where])


@reputation_app.command("show")
def reputation_show(
    source: Annotated[str, typer.Argument(help="a credential file, or (with --config) a user's Process id")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a reputation credential: issuer, subject, period, sanctions and reports by kind,
    standing, validity, and whether its signature verifies (a did:key issuer always can be
    checked; the home's with --config)."""
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.reputation import read_reputation

    token: str | None
    home = None
    if config is not None and not Path(source).is_file():
        from mmmfed.cli.identity_cmd import _home

        store, home = _home(config)
        did = _subject_did(source)
        token = store.reputation(did.rsplit(":", 1)[-1])
        if token is None:
            raise refuse("REPUTATION_UNKNOWN", f"no reputation credential kept for {did}; run `reputation issue`")
    else:
        try:
            token = Path(source).read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise refuse("FILE_UNREADABLE", f"cannot read {source}: {err}; give a credential file") from err
        if config is not None:
            from mmmfed.cli.identity_cmd import _home

            home = _home(config)[1]
    try:
        reputation, kid = read_reputation(token)
    except MmmfedError as err:
        raise fail(err) from err
    signature = _signature(token, reputation.issuer, kid, home)
    body = reputation.to_json()
    result = {**body, "kid": kid, "signature": signature}
    lines = [
        f"subject   {reputation.subject}",
        f"issuer    {reputation.issuer} (signature {signature})",
        f"period    {reputation.period_from} .. {reputation.period_to}",
        f"standing  {reputation.standing}",
        f"sanctions {_listed(reputation.sanctions)}",
        f"reports   {_listed(reputation.reports)}",
        f"valid     until {dt.datetime.fromtimestamp(reputation.expires_s, tz=dt.UTC):%Y-%m-%d %H:%M}Z",
    ]
    _print(result, as_json, lines)


def _listed(counts: dict[str, int] | Any) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def _signature(token: str, issuer: str, kid: str, home: Any) -> str:
    """``verified``, ``INVALID`` or ``not checked`` (a did:web issuer without its --config)."""
    from mmmfed.did import public_key_from_did_key
    from mmmfed.errors import MmmfedError
    from mmmfed.identity.jose import read_jws

    try:
        if issuer.startswith("did:key:"):
            public_key = public_key_from_did_key(issuer)
        elif home is not None and issuer == home.did and kid == home.kid:
            public_key = home.record.public_key
        else:
            return "not checked"
        return "verified" if read_jws(token, reason="REPUTATION_INVALID").verify(public_key) else "INVALID"
    except MmmfedError:
        return "INVALID"
