"""A trust domain's PKI on disk: ``ca.pem`` (the bundle peers are given), ``ca.key`` (mode 0600,
PKCS#8, encrypted when a passphrase is given) and ``<name>.pem`` + ``<name>.key`` per node.

``mmmfed certs init`` checks everything it was asked for before it writes anything, so a mistake
leaves no half-made PKI behind. Private keys are written mode 0600 (also over an existing file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.authority import NodeRole, check_node_name, issue_node, key_pem, make_ca
from mmmfed.errors import AlreadyExists, InvalidInput, NotFound
from mmmfed.trust import TrustBundle, trust_domain_of

CA_CERT = "ca.pem"
CA_KEY = "ca.key"


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write secret ``data`` to ``path`` with mode 0600, even when ``path`` existed with another
    mode. ``exclusive``: AlreadyExists ``FILE_EXISTS`` if ``path`` exists."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as err:
        raise AlreadyExists(f"{path} exists; it is never overwritten", reason="FILE_EXISTS") from err
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)


def write_public(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` (mode 0644); ``exclusive`` as for :func:`write_private`."""
    try:
        with path.open("xb" if exclusive else "wb") as fh:
            fh.write(data)
    except FileExistsError as err:
        raise AlreadyExists(f"{path} exists; it is never overwritten", reason="FILE_EXISTS") from err


@dataclass(frozen=True)
class CertificateAuthority:
    """A trust domain's CA loaded from its directory."""

    directory: Path
    trust_domain: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def load(cls, directory: Path, *, passphrase: bytes | None = None) -> CertificateAuthority:
        """Load ``directory/ca.pem`` and ``directory/ca.key``.

        Raises:
            NotFound ``CA_NOT_FOUND``: either file is missing (make them with `mmmfed certs init`).
            InvalidInput ``CA_KEY_PASSPHRASE``: the key is encrypted and no or a wrong passphrase
                was given; ``CA_INVALID``: the files are not a CA and its key.
        """
        cert_path, key_path = directory / CA_CERT, directory / CA_KEY
        for path in (cert_path, key_path):
            if not path.is_file():
                raise NotFound(
                    f"{path} not found; make the trust domain's CA with `mmmfed certs init {directory} "
                    "--m-instance ID`",
                    reason="CA_NOT_FOUND",
                )
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=passphrase)
        except TypeError as err:  # encrypted without a passphrase, or a passphrase for a clear key
            raise InvalidInput(
                f"{key_path}: {err}; pass --passphrase-file with the CA key's passphrase", reason="CA_KEY_PASSPHRASE"
            ) from err
        except ValueError as err:
            raise InvalidInput(
                f"{key_path}: cannot decrypt or parse it (wrong passphrase?): {err}", reason="CA_KEY_PASSPHRASE"
            ) from err
        cas = x509.load_pem_x509_certificates(cert_path.read_bytes())
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidInput(f"{key_path} is not an ECDSA CA key", reason="CA_INVALID")
        # During a rotation ca.pem holds the old and the new CA: the key says which one signs.
        cert = next((c for c in cas if c.public_key() == key.public_key()), None)
        if cert is None:
            raise InvalidInput(f"{key_path} is not the key of a CA in {cert_path}", reason="CA_INVALID")
        domain = trust_domain_of(cert)
        if domain is None:
            raise InvalidInput(
                f"{cert_path} names no trust domain; it was not made by `mmmfed certs init`", reason="CA_INVALID"
            )
        return cls(directory=directory, trust_domain=domain, cert=cert, key=key)

    def bundle(self) -> TrustBundle:
        """This domain's bundle as peers are given it (every CA in ``ca.pem``)."""
        return TrustBundle.load(self.directory / CA_CERT, trust_domain=self.trust_domain)

    def issue_files(
        self,
        name: str,
        role: NodeRole,
        out_dir: Path,
        *,
        valid_days: int,
        extra_uris: list[str],
        stem: str | None = None,
    ) -> Path:
        """Issue ``out_dir/<stem>.pem`` and ``<stem>.key`` (0600; ``stem`` defaults to ``name``);
        neither may exist (FILE_EXISTS)."""
        stem = stem or name
        cert_path, key_path = out_dir / f"{stem}.pem", out_dir / f"{stem}.key"
        for path in (cert_path, key_path):
            if path.exists():
                raise AlreadyExists(
                    f"{path} exists; use `mmmfed certs renew` for a new certificate", reason="FILE_EXISTS"
                )
        issued = issue_node(self.cert, self.key, name, role, valid_days=valid_days, extra_uris=extra_uris)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_private(key_path, issued.key_pem, exclusive=True)
        write_public(cert_path, issued.cert_pem, exclusive=True)
        return cert_path


def init_trust_domain(
    directory: Path,
    trust_domain: str,
    nodes: dict[str, str],
    *,
    passphrase: bytes | None = None,
    extra_uris: dict[str, list[str]] | None = None,
    stems: dict[str, str] | None = None,
) -> CertificateAuthority:
    """Make a trust domain's CA in ``directory`` and one certificate per entry of ``nodes``
    (TLS name -> role), in ``<stem>.pem`` + ``<stem>.key`` (``stems``: TLS name -> file stem;
    default the TLS name). Everything is checked first: nothing is written on any error.

    Raises:
        InvalidInput ``CERT_REQUEST_INVALID``: a node name or role (the message names it).
        AlreadyExists ``FILE_EXISTS``: ``directory`` already holds a CA (never overwritten).
    """
    check_node_name(trust_domain, NodeRole.GATEWAY.value)  # a DNS-like id
    roles = {name: check_node_name(name, role) for name, role in nodes.items()}
    for path in (directory / CA_CERT, directory / CA_KEY):
        if path.exists():
            raise AlreadyExists(
                f"{path} exists; choose an empty directory (a live CA is never overwritten)", reason="FILE_EXISTS"
            )
    stems = {name: (stems or {}).get(name, name) for name in roles}
    clashes = [p for n in roles for p in (directory / f"{stems[n]}.pem", directory / f"{stems[n]}.key") if p.exists()]
    if clashes:
        raise AlreadyExists(f"{clashes[0]} exists; choose an empty directory", reason="FILE_EXISTS")
    issued, cert, key = make_ca(trust_domain)
    directory.mkdir(parents=True, exist_ok=True)
    write_private(directory / CA_KEY, key_pem(key, passphrase), exclusive=True)
    write_public(directory / CA_CERT, issued.cert_pem, exclusive=True)
    ca = CertificateAuthority(directory=directory, trust_domain=trust_domain, cert=cert, key=key)
    for name, role in roles.items():
        uris = (extra_uris or {}).get(name, [])
        ca.issue_files(name, role, directory, valid_days=90, extra_uris=uris, stem=stems[name])
    return ca
