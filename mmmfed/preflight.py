"""What a node checks before it starts (``mmmfed serve``) and ``mmmfed config check`` reports:
the addresses it listens on, its data directory and the format of the stores in it, and its trust
material. Each check raises InvalidInput (FailedPrecondition ``DATA_DIR_FORMAT`` for a store
another release wrote) with a reason and a message naming the field or file and what to do, so a mistake
in a configuration ends with one line, never a traceback, and nothing is created or changed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import tempfile
from pathlib import Path
from typing import Any

from mmmfed.errors import InvalidInput


def check_listen(address: str, field: str) -> None:
    """``address`` is ``host:port`` (``[v6]:port`` for IPv6; port 0-65535, 0: any free port).
    InvalidInput ``LISTEN_INVALID`` naming ``field``."""
    host, sep, port = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    ok = bool(sep and host and port.isdigit() and int(port) <= 65535)
    if ok and bracketed:
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            ok = False
    elif ok and ":" in host:
        ok = False  # an IPv6 address without brackets
    if not ok:
        raise InvalidInput(
            f"{field} {address!r} is not host:port (e.g. 127.0.0.1:7443, [::1]:7443, 0.0.0.0:0 for any free port)",
            reason="LISTEN_INVALID",
            metadata={"field": field},
        )


def check_data_dir(path: Path, field: str = "data_dir") -> None:
    """The node can create and write ``path``: it is a directory it may write, or does not exist
    yet under a directory it may write (a nameless temporary file is written there and removed;
    nothing else is created). InvalidInput
    ``DATA_DIR_UNWRITABLE`` naming ``field``."""
    target = Path(path).absolute()
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    problem = ""
    if not probe.is_dir():
        problem = f"{probe} is not a directory"
    else:
        try:  # a real write (os.access says yes to root even where nothing can be written)
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as err:
            problem = f"{probe} cannot be written ({err.strerror or err})"
    if problem:
        raise InvalidInput(
            f"{field} {path}: {problem}; create it (writable by the node's user) or point {field} elsewhere",
            reason="DATA_DIR_UNWRITABLE",
            metadata={"field": field},
        )


def check_output_file(path: Path, field: str) -> None:
    """A file can be written at ``path``: its directory exists and is writable, and ``path`` is
    not a directory. InvalidInput ``FILE_UNWRITABLE`` naming ``field`` (checked before the work
    that produces the file, so a mistake does not cost the work)."""
    parent = Path(path).absolute().parent
    problem = ""
    if Path(path).is_dir():
        problem = "it is a directory"
    elif not parent.is_dir():
        problem = f"the directory {parent} does not exist; create it first"
    else:
        try:
            with tempfile.TemporaryFile(dir=parent):
                pass
        except OSError as err:
            problem = f"{parent} cannot be written ({err.strerror or err})"
    if problem:
        raise InvalidInput(f"{field} {path}: {problem}", reason="FILE_UNWRITABLE", metadata={"field": field})


def check_node(cfg: Any) -> dict[str, Any]:
    """Every check above for a node configuration (instance, gateway or bridge) and its trust
    material (:func:`check_node_tls`); returns the trust facts for a report."""
    check_listen(cfg.listen, "listen")
    metrics = cfg.observability.metrics_listen
    if metrics:
        check_listen(metrics, "observability.metrics_listen")
    check_data_dir(cfg.data_dir)
    check_data_dir_format(cfg.data_dir)
    return check_node_tls(cfg)


def check_data_dir_format(data_dir: Path) -> None:
    """Every SQLite file a node keeps in ``data_dir`` that is there already
    (:data:`~mmmfed.data_format.DATA_DIR_FILES`) holds this release's data-dir format; each is
    read from its main file (:func:`~mmmfed.data_format.peek_sqlite_format`), nothing is created or
    changed. A file that is open (its ``-wal`` is there) or cannot be read
    as SQLite is left to the node's own open to report. FailedPrecondition ``DATA_DIR_FORMAT``
    (:func:`~mmmfed.data_format.check_store_format`). The gateways' Redis state is checked when
    the gateway starts (it needs the server)."""
    import sqlite3

    from mmmfed.data_format import DATA_DIR_FILES, check_store_format, peek_sqlite_format

    for name, what in DATA_DIR_FILES.items():
        path = Path(data_dir) / name
        if not path.is_file():
            continue
        try:
            found = peek_sqlite_format(str(path))
        except sqlite3.Error:
            continue
        check_store_format(found, what=what, path=str(path))


def check_node_tls(cfg: Any) -> dict[str, Any]:
    """Check the node's trust material; returns facts for the report. Raises InvalidInput
    ``BUNDLE_INVALID`` / ``CERT_INVALID`` naming the file and what to do."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from mmmfed.tls import node_trust_domains

    domains = node_trust_domains(cfg)
    own_domain = domains.own_domain
    try:
        leaf = x509.load_pem_x509_certificate(cfg.tls.cert.read_bytes())
        key = serialization.load_pem_private_key(cfg.tls.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise InvalidInput(
            f"tls.cert {cfg.tls.cert} / tls.key {cfg.tls.key}: cannot read a PEM certificate and its unencrypted "
            f"key ({err})",
            reason="CERT_INVALID",
        ) from err
    if not domains.own.issued(leaf):
        raise InvalidInput(
            f"tls.cert {cfg.tls.cert} was not issued by this node's own CA ({cfg.tls.ca_cert}); issue it with "
            f"`mmmfed certs issue` from {own_domain}'s PKI",
            reason="CERT_INVALID",
        )
    now = dt.datetime.now(dt.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise InvalidInput(
            f"tls.cert {cfg.tls.cert} is not valid now (until {leaf.not_valid_after_utc:%Y-%m-%d}); "
            "renew it with `mmmfed certs renew`",
            reason="CERT_INVALID",
        )
    if key.public_key() != leaf.public_key():
        raise InvalidInput(f"tls.key {cfg.tls.key} is not the key of tls.cert {cfg.tls.cert}", reason="CERT_INVALID")
    return {
        "trust_domain": own_domain,
        "certificate_valid_until": leaf.not_valid_after_utc.isoformat(),
        "other_trust_domains": sorted(domains.peers),
    }
