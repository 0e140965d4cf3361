"""Make a federation CA and node certificates with the ``cryptography`` package.

Each node certificate names the node twice: a DNS subjectAltName (its TLS name, e.g.
``gateway.a.example``, which clients check with ``ssl_target_name_override``) and a URI
subjectAltName ``mmmfed://<role>/<name>`` that authorizers read to decide what a peer may call.
Keys are ECDSA P-256; certificates are valid for ``valid_days`` from now.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

URI_SCHEME = "mmmfed"


class NodeRole(enum.StrEnum):
    """What a certificate's holder is in the federation."""

    INSTANCE = "instance"
    GATEWAY = "gateway"
    BRIDGE = "bridge"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Issued:
    """A PEM certificate and its PEM private key (PKCS#8, unencrypted)."""

    cert_pem: bytes
    key_pem: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(
    name: str = "mmmfed federation CA",
    *,
    valid_days: int = 365,
    not_before: dt.datetime | None = None,
) -> tuple[Issued, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Make a self-signed federation CA. Returns (PEMs, certificate, private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)), cert, key


def issue_node(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    name: str,
    role: NodeRole,
    *,
    valid_days: int = 90,
    not_before: dt.datetime | None = None,
    extra_uris: Sequence[str] = (),
) -> Issued:
    """Issue a node certificate usable as both TLS server and client (mutual TLS).

    Args:
        name: the node's TLS name, e.g. ``gateway.a.example`` (a DNS name).
        role: what the node is; written as URI SAN ``mmmfed://<role>/<name>``.
        not_before: start of validity (tests pass a past time to make an expired certificate).
        extra_uris: further URI subjectAltNames, e.g. a bridge's ``did:key:...`` (its signing key).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(name),
                    x509.UniformResourceIdentifier(f"{URI_SCHEME}://{role.value}/{name}"),
                    *(x509.UniformResourceIdentifier(uri) for uri in extra_uris),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def write_federation(directory: Path, nodes: dict[str, NodeRole]) -> dict[str, Path]:
    """Write ``ca.pem`` and ``<name>.pem`` + ``<name>.key`` for each node into ``directory``.

    The CA key is not written: nodes only need the CA certificate, and a new federation is made
    by running this again. Private keys are written with mode 0600. Returns name -> cert path.
    Raises FileExistsError if ``directory`` already holds a ``ca.pem`` (never overwrite a live CA).
    """
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "ca.pem").exists():
        raise FileExistsError(f"{directory / 'ca.pem'} exists; choose an empty directory")
    ca, ca_cert, ca_key = make_ca()
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    paths: dict[str, Path] = {}
    for name, role in nodes.items():
        issued = issue_node(ca_cert, ca_key, name, role)
        cert_path = directory / f"{name}.pem"
        key_path = directory / f"{name}.key"
        cert_path.write_bytes(issued.cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # O_CREAT's mode applies only to a new file: an existing one keeps its own
        with os.fdopen(fd, "wb") as fh:
            fh.write(issued.key_pem)
        paths[name] = cert_path
    return paths
