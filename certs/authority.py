"""A trust domain's CA and its node and operator certificates, made with ``cryptography``.

Each M-Instance (and each bridge) is its own trust domain with its own CA (SPIFFE's model). The
CA certificate names its domain in a URI subjectAltName ``mmmfed://trust-domain/<id>``, so a
bundle handed to a peer says whose it is (:mod:`mmmfed.trust`).

Each node certificate names the node twice: a DNS subjectAltName (its TLS name, e.g.
``gateway.a.example``, which clients check with ``ssl_target_name_override``) and a URI
subjectAltName ``mmmfed://<role>/<name>`` that authorizers read to decide what a peer may call;
a bridge's also carries its ``did:key`` (``extra_uris``). Keys are ECDSA P-256; certificates are
valid for ``valid_days`` from now.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mmmfed.errors import InvalidInput
from mmmfed.trust import TRUST_DOMAIN_PREFIX, URI_SCHEME, identities_from_uris

CA_VALID_DAYS = 365
NODE_VALID_DAYS = 90


class NodeRole(enum.StrEnum):
    """What a certificate's holder is in its trust domain."""

    INSTANCE = "instance"
    GATEWAY = "gateway"
    BRIDGE = "bridge"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Issued:
    """A PEM certificate and its PEM private key (PKCS#8, unencrypted)."""

    cert_pem: bytes
    key_pem: bytes


def key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None) -> bytes:
    """``key`` as PKCS#8 PEM, encrypted with ``passphrase`` (best available scheme) when given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _start(not_before: dt.datetime | None) -> dt.datetime:
    return not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def make_ca(
    trust_domain: str,
    *,
    valid_days: int = CA_VALID_DAYS,
    not_before: dt.datetime | None = None,
) -> tuple[Issued, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Make the self-signed CA of ``trust_domain`` (an M-Instance id or a bridge id).

    Returns (PEMs, certificate, private key); may issue leaf certificates only (path length 0).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    start = _start(not_before)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"mmmfed CA of {trust_domain}")])
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"{TRUST_DOMAIN_PREFIX}{trust_domain}")]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem(key)), cert, key


def check_node_name(name: str, role: str) -> NodeRole:
    """The role of a node certificate request; InvalidInput ``CERT_REQUEST_INVALID`` if ``role``
    is not a role or ``name`` is not a DNS name (letters, digits, ``-`` and ``.``)."""
    try:
        node_role = NodeRole(role)
    except ValueError as err:
        raise InvalidInput(
            f"role {role!r} is not one of {', '.join(r.value for r in NodeRole)}", reason="CERT_REQUEST_INVALID"
        ) from err
    labels = name.split(".")
    if (
        not name
        or len(name) > 253
        or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii() and label[0] != "-"
            for label in labels
        )
    ):
        raise InvalidInput(
            f"node name {name!r} is not a DNS name such as gateway.a.example", reason="CERT_REQUEST_INVALID"
        )
    return node_role


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    name: str,
    uris: Sequence[str],
    *,
    valid_days: int,
    not_before: dt.datetime | None,
) -> x509.Certificate:
    start = _start(not_before)
    end = min(start + dt.timedelta(days=valid_days), ca_cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name), *(x509.UniformResourceIdentifier(u) for u in uris)]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def issue_node(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    name: str,
    role: NodeRole,
    *,
    valid_days: int = NODE_VALID_DAYS,
    not_before: dt.datetime | None = None,
    extra_uris: Sequence[str] = (),
) -> Issued:
    """Issue a node certificate (and a new key) usable as both TLS server and client (mutual TLS).

    Args:
        name: the node's TLS name, e.g. ``gateway.a.example`` (a DNS name).
        role: what the node is; written as URI SAN ``mmmfed://<role>/<name>``.
        not_before: start of validity (tests pass a past time to make an expired certificate).
        extra_uris: further URI subjectAltNames, e.g. a bridge's ``did:key:...`` (its signing key).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    uris = [f"{URI_SCHEME}://{role.value}/{name}", *extra_uris]
    cert = _leaf(ca_cert, ca_key, key.public_key(), name, uris, valid_days=valid_days, not_before=not_before)
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem(key))


def make_request(name: str, role: NodeRole, *, extra_uris: Sequence[str] = ()) -> Issued:
    """A new key and a certificate signing request (PKCS#10) for it, naming ``name`` and ``role``
    as a node certificate would: the key stays with the node (``Issued.cert_pem`` holds the CSR)."""
    key = ec.generate_private_key(ec.SECP256R1())
    uris = [f"{URI_SCHEME}://{role.value}/{name}", *extra_uris]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name), *(x509.UniformResourceIdentifier(u) for u in uris)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(csr.public_bytes(serialization.Encoding.PEM), key_pem(key))


def _requested(subject: x509.Name, extensions: x509.Extensions, source: str) -> tuple[str, NodeRole, list[str]]:
    """(name, role, further URIs) of a request or certificate to (re)issue."""
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    uris = list(san.get_values_for_type(x509.UniformResourceIdentifier))
    identities = identities_from_uris(uris)
    if not names or len(identities) != 1:
        raise InvalidInput(
            f"{source} must name one node (a common name and one mmmfed://<role>/<name> URI); "
            "make it with `mmmfed certs csr`",
            reason="CERT_REQUEST_INVALID",
        )
    name = str(names[0].value)
    role = check_node_name(name, identities[0].role)
    if identities[0].name != name or list(san.get_values_for_type(x509.DNSName)) != [name]:
        raise InvalidInput(f"{source}: its names disagree (common name {name})", reason="CERT_REQUEST_INVALID")
    extra = [u for u in uris if u != f"{URI_SCHEME}://{role.value}/{name}"]
    if any(u.startswith(f"{URI_SCHEME}://") for u in extra):
        raise InvalidInput(f"{source} asks for more than one mmmfed identity", reason="CERT_REQUEST_INVALID")
    return name, role, extra


def sign_request(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    csr_pem: bytes,
    *,
    valid_days: int = NODE_VALID_DAYS,
    source: str = "the request",
) -> bytes:
    """Sign a node's certificate signing request; returns the certificate (PEM).

    Raises InvalidInput ``CERT_REQUEST_INVALID``: not a PEM CSR, a bad self-signature, or names
    that are not one node's."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as err:
        raise InvalidInput(f"{source} is not a PEM certificate request ({err})", reason="CERT_REQUEST_INVALID") from err
    if not csr.is_signature_valid:
        raise InvalidInput(f"{source}: its signature does not verify", reason="CERT_REQUEST_INVALID")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise InvalidInput(f"{source}: the key must be ECDSA P-256", reason="CERT_REQUEST_INVALID")
    name, _role, _ = _requested(csr.subject, csr.extensions, source)
    cert = _leaf(ca_cert, ca_key, public_key, name, _san_uris(csr.extensions), valid_days=valid_days, not_before=None)
    return cert.public_bytes(serialization.Encoding.PEM)


def _san_uris(extensions: x509.Extensions) -> list[str]:
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))


def renew(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    cert_pem: bytes,
    *,
    valid_days: int = NODE_VALID_DAYS,
    source: str = "the certificate",
) -> bytes:
    """A new certificate for the same node and key as ``cert_pem`` (which this CA issued), valid
    ``valid_days`` from now; returns it as PEM. InvalidInput ``CERT_REQUEST_INVALID`` if this CA
    did not issue it or it is not a node certificate."""
    try:
        old = x509.load_pem_x509_certificate(cert_pem)
        old.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as err:  # all say "not issued by this CA"
        raise InvalidInput(
            f"{source} was not issued by this trust domain's CA; renew it with the CA that issued it",
            reason="CERT_REQUEST_INVALID",
        ) from err
    public_key = old.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise InvalidInput(f"{source}: not an ECDSA node certificate", reason="CERT_REQUEST_INVALID")
    name, _role, _ = _requested(old.subject, old.extensions, source)
    cert = _leaf(ca_cert, ca_key, public_key, name, _san_uris(old.extensions), valid_days=valid_days, not_before=None)
    return cert.public_bytes(serialization.Encoding.PEM)
