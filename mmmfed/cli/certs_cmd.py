"""``mmmfed certs init|issue|csr|sign|renew|show``: one trust domain's CA and its certificates.

Each M-Instance (and each bridge) is its own trust domain: ``init`` makes its CA and keeps the
CA's key (``ca.key``, mode 0600, PKCS#8, encrypted with ``--passphrase-file``); ``issue`` makes a
node or operator certificate and its key; ``csr`` makes a key and a signing request on the node
that will hold it, ``sign`` turns the request into a certificate at the CA, so a node's key never
leaves it; ``renew`` re-issues a certificate for the same key; ``show`` describes a certificate
or bundle. ``ca.pem`` is the bundle a peer is given (``mmmfed peer add --bundle``). Exit 0 done,
2 not done because of the input (one message naming the file or value, never a traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mmmfed.errors import InvalidInput, MmmfedError

certs_app = typer.Typer(
    help="A trust domain's CA and its node and operator certificates (mutual TLS).", no_args_is_help=True
)

DirArgument = Annotated[Path, typer.Argument(help="the trust domain's PKI directory (ca.pem, ca.key)", file_okay=False)]
PassphraseOption = Annotated[
    Path | None,
    typer.Option("--passphrase-file", help="file holding the CA key's passphrase (first line)", dir_okay=False),
]
DaysOption = Annotated[int, typer.Option("--days", min=1, max=3650, help="validity in days")]


def _passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        line = path.read_bytes().splitlines()[0] if path.read_bytes() else b""
    except OSError as err:
        raise InvalidInput(f"cannot read --passphrase-file {path}: {err.strerror}", reason="FILE_UNREADABLE") from err
    if not line:
        raise InvalidInput(f"--passphrase-file {path} is empty", reason="PASSPHRASE_EMPTY")
    return line


def _run(action: Callable[[], None]) -> None:
    """Run ``action``; a MmmfedError ends the command with exit 2 and its one message."""
    from mmmfed.cli.common import fail

    try:
        action()
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise fail(InvalidInput(f"{err.filename}: {err.strerror}", reason="FILE_UNWRITABLE")) from err


def _read_input(path: Path) -> bytes:
    """The bytes of an input file; InvalidInput ``FILE_UNREADABLE`` naming it."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise InvalidInput(f"cannot read {path}: {err.strerror}", reason="FILE_UNREADABLE") from err


def _parse_nodes(specs: list[str]) -> dict[str, str]:
    nodes: dict[str, str] = {}
    for spec in specs:
        name, sep, role = spec.partition("=")
        if not sep or not name or not role:
            raise InvalidInput(
                f"--node {spec!r}: write NAME=ROLE, e.g. gateway.a.example=gateway", reason="CERT_REQUEST_INVALID"
            )
        nodes[name] = role
    return nodes


@certs_app.command("init")
def certs_init(
    directory: DirArgument,
    m_instance: Annotated[
        str, typer.Option("--m-instance", "--trust-domain", help="the trust domain: the M-Instance id (or bridge id)")
    ],
    node: Annotated[
        list[str] | None,
        typer.Option("--node", help="NAME=ROLE to issue now (role: instance, gateway, bridge, operator); repeatable"),
    ] = None,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Make the CA of one trust domain in DIRECTORY (ca.pem, and ca.key mode 0600), and the node
    certificates asked for with --node (default: instance.ID, gateway.ID and operator.ID).

    Everything is checked before anything is written: a mistake leaves nothing behind."""
    from certs import init_trust_domain

    def action() -> None:
        nodes = (
            _parse_nodes(node)
            if node
            else {
                f"instance.{m_instance}": "instance",
                f"gateway.{m_instance}": "gateway",
                f"operator.{m_instance}": "operator",
            }
        )
        ca = init_trust_domain(directory, m_instance, nodes, passphrase=_passphrase(passphrase_file))
        Console().print(
            f"trust domain {ca.trust_domain}: wrote {directory / 'ca.pem'} (give it to peers), "
            f"{directory / 'ca.key'} (keep it secret) and {len(nodes)} certificates",
            markup=False,
            highlight=False,
        )

    _run(action)


@certs_app.command("issue")
def certs_issue(
    directory: DirArgument,
    name: Annotated[str, typer.Option("--name", help="TLS name, e.g. gateway.a.example or alice.operator.a.example")],
    role: Annotated[str, typer.Option("--role", help="instance, gateway, bridge or operator")],
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="where NAME.pem and NAME.key go (default DIR)", file_okay=False)
    ] = None,
    uri: Annotated[list[str] | None, typer.Option("--uri", help="another URI subjectAltName (e.g. a did:key)")] = None,
    days: DaysOption = 90,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Issue a node or operator certificate and its key (NAME.pem, NAME.key mode 0600)."""
    from certs import CertificateAuthority
    from certs.authority import check_node_name

    def action() -> None:
        node_role = check_node_name(name, role)
        ca = CertificateAuthority.load(directory, passphrase=_passphrase(passphrase_file))
        path = ca.issue_files(name, node_role, out_dir or directory, valid_days=days, extra_uris=list(uri or []))
        Console().print(
            f"wrote {path} and its key ({ca.trust_domain}, {role}, {days} days)", markup=False, highlight=False
        )

    _run(action)


@certs_app.command("csr")
def certs_csr(
    name: Annotated[str, typer.Option("--name", help="this node's TLS name")],
    role: Annotated[str, typer.Option("--role", help="instance, gateway, bridge or operator")],
    key_out: Annotated[Path, typer.Option("--key-out", help="private key to create (mode 0600)", dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="certificate signing request to create (PEM)", dir_okay=False)],
    uri: Annotated[list[str] | None, typer.Option("--uri", help="another URI subjectAltName (e.g. a did:key)")] = None,
) -> None:
    """On the node: make its key (never leaves it) and a signing request for the CA (`certs sign`)."""
    from certs import make_request, write_private, write_public
    from certs.authority import check_node_name

    def action() -> None:
        node_role = check_node_name(name, role)
        for path in (key_out, out):
            if path.exists():
                raise InvalidInput(f"{path} exists; it is never overwritten", reason="FILE_EXISTS")
        issued = make_request(name, node_role, extra_uris=list(uri or []))
        write_private(key_out, issued.key_pem, exclusive=True)
        write_public(out, issued.cert_pem, exclusive=True)
        Console().print(
            f"wrote {key_out} (keep it here) and {out} (send it to the CA: `mmmfed certs sign`)",
            markup=False,
            highlight=False,
        )

    _run(action)


@certs_app.command("sign")
def certs_sign(
    directory: DirArgument,
    request: Annotated[Path, typer.Argument(help="the node's signing request (PEM)", dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="certificate to create (PEM)", dir_okay=False)],
    days: DaysOption = 90,
    passphrase_file: PassphraseOption = None,
) -> None:
    """At the CA: sign a node's request (from `mmmfed certs csr`) into its certificate."""
    from certs import CertificateAuthority, sign_request, write_public

    def action() -> None:
        ca = CertificateAuthority.load(directory, passphrase=_passphrase(passphrase_file))
        csr = _read_input(request)
        write_public(out, sign_request(ca.cert, ca.key, csr, valid_days=days, source=str(request)), exclusive=True)
        Console().print(f"wrote {out} ({ca.trust_domain}, {days} days)", markup=False, highlight=False)

    _run(action)


@certs_app.command("renew")
def certs_renew(
    directory: DirArgument,
    cert: Annotated[Path, typer.Argument(help="the certificate to renew (PEM)", dir_okay=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="where the new certificate goes (default: replace CERT)", dir_okay=False),
    ] = None,
    days: DaysOption = 90,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Re-issue CERT for the same node and key, valid DAYS from now (the key is unchanged)."""
    from certs import CertificateAuthority, renew, write_public

    def action() -> None:
        ca = CertificateAuthority.load(directory, passphrase=_passphrase(passphrase_file))
        old = _read_input(cert)
        new = renew(ca.cert, ca.key, old, valid_days=days, source=str(cert))
        target = out or cert
        tmp = target.with_name(target.name + ".new")
        write_public(tmp, new)
        tmp.replace(target)
        Console().print(f"wrote {target} ({days} days)", markup=False, highlight=False)

    _run(action)


@certs_app.command("show")
def certs_show(
    path: Annotated[Path, typer.Argument(help="a certificate or a CA bundle (PEM)", dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Describe each certificate in PATH: subject, trust domain or identities, issuer, validity,
    SHA-256 fingerprint."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from mmmfed.trust import identities_of, trust_domain_of

    def action() -> None:
        try:
            certs = x509.load_pem_x509_certificates(_read_input(path))
        except ValueError as err:
            raise InvalidInput(f"{path} holds no PEM certificate ({err})", reason="CERT_INVALID") from err
        rows: list[dict[str, Any]] = [
            {
                "subject": c.subject.rfc4514_string(),
                "issuer": c.issuer.rfc4514_string(),
                "trust_domain": trust_domain_of(c),
                "identities": [f"{i.role}/{i.name}" for i in identities_of(c)],
                "not_before": c.not_valid_before_utc.isoformat(),
                "not_after": c.not_valid_after_utc.isoformat(),
                "sha256": c.fingerprint(hashes.SHA256()).hex(),
            }
            for c in certs
        ]
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        console = Console()
        for row in rows:
            what = f"CA of {row['trust_domain']}" if row["trust_domain"] else ", ".join(row["identities"]) or "-"
            console.print(
                f"{row['subject']}\n  {what}\n  issuer   {row['issuer']}\n"
                f"  valid    {row['not_before'][:19]} .. {row['not_after'][:19]}\n  sha256   {row['sha256']}",
                markup=False,
                highlight=False,
            )

    _run(action)
