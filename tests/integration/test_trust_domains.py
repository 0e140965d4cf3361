"""One trust domain per M-Instance (issue 12 items 1 and 9; FGMV-43 GPIR-003), over real mTLS:
a CA rotation published ahead through the RE-5 bundle endpoint, bundles checked at start-up and
by `mmmfed peer add`, and the PKI commands (`certs init|issue|csr|sign|renew|show`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rpcassert import refused

from certs import CertificateAuthority, NodeRole, issue_node, make_ca, write_private
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import A, B
from mmmfed.config import TlsConfig
from mmmfed.errors import RemoteError
from mmmfed.tls import secure_channel
from mmmfed.trust import TrustBundle

ROOT = Path(__file__).resolve().parents[2]
CALL_TIMEOUT_S = 10.0


def mmmfed(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def _client(directory: Path, stem: str, cert_pem: bytes, key_pem: bytes, ca: Path) -> TlsConfig:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stem}.pem").write_bytes(cert_pem)
    write_private(directory / f"{stem}.key", key_pem)
    return TlsConfig(ca_cert=ca, cert=directory / f"{stem}.pem", key=directory / f"{stem}.key")


async def _get_keys(tls: TlsConfig, federation: Federation) -> gpb.GetKeysRequest:
    async with secure_channel(tls, peer(federation.plan.gateway_a)) as channel:
        return await gateway_pb2_grpc.FederationStub(channel).GetKeys(gpb.GetKeysRequest(), timeout=CALL_TIMEOUT_S)


async def test_a_ca_rotation_published_ahead_reaches_the_peer_and_a_removed_ca_stops_its_traffic(
    federation: Federation, tmp_path: Path
) -> None:
    """b.example adds a new CA to its bundle: a.example learns it over RE-5 (GetBundle) with no
    one acting at a, and a gateway certificate of b's new CA is admitted; b then drops its old CA:
    a learns that too, and b's certificates of the old CA are refused at the handshake. The
    learned bundle is kept in a's data dir (it survives a restart)."""
    p = federation.plan
    gateway_a = federation.nodes["gateway-a"]
    b_ca_file = p.pki[B] / "ca.pem"
    old_pem = b_ca_file.read_bytes()
    new, new_cert, new_key = make_ca(B)
    rotated = issue_node(new_cert, new_key, f"gateway.{B}", NodeRole.GATEWAY)
    rotated_tls = _client(tmp_path / "rotated", "gateway-b-new", rotated.cert_pem, rotated.key_pem, p.pki[A] / "ca.pem")

    await refused(_get_keys(rotated_tls, federation), grpc.StatusCode.UNAVAILABLE, None)  # not trusted yet

    b_ca_file.write_bytes(old_pem + new.cert_pem)  # published ahead: old and new
    assert await gateway_a.bundles.refresh(B) is True
    assert len(gateway_a.domains.peer_bundle(B).cas) == 2
    assert (await _get_keys(rotated_tls, federation)).keys  # admitted as b's gateway
    assert (await _get_keys(p.gateway_b.tls, federation)).keys  # and so is the old certificate, still
    stored = list((p.gateway_a.data_dir / "bundles").glob(f"{B}.*.pem"))
    assert [f.read_bytes() for f in stored] == [old_pem + new.cert_pem]

    b_ca_file.write_bytes(new.cert_pem)  # the old CA retired
    assert await gateway_a.bundles.refresh(B) is True  # fetched over the old certificate's channel
    assert gateway_a.domains.peer_bundle(B).pem == new.cert_pem
    await refused(_get_keys(p.gateway_b.tls, federation), grpc.StatusCode.UNAVAILABLE, None)
    assert (await _get_keys(rotated_tls, federation)).keys


async def test_a_bundle_of_another_trust_domain_is_not_adopted(federation: Federation) -> None:
    """A peer whose GetBundle answers CAs that are not its own domain's (here b's file holds a CA
    naming c.example) is refused BUNDLE_INVALID, and the bundle held for it does not change."""
    p = federation.plan
    gateway_a = federation.nodes["gateway-a"]
    before = gateway_a.domains.peer_bundle(B).pem
    foreign, _, _ = make_ca("c.example")
    (p.pki[B] / "ca.pem").write_bytes(foreign.cert_pem)
    with pytest.raises(RemoteError) as err:  # b's gateway refuses to serve a CA that is not its domain's
        await gateway_a.bundles.refresh(B)
    assert (err.value.code, err.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "BUNDLE_INVALID")
    assert gateway_a.domains.peer_bundle(B).pem == before


def test_gateway_refuses_to_start_with_a_peer_bundle_that_is_not_that_peers_ca(tmp_path: Path) -> None:
    """`mmmfed serve gateway` with a peer's bundle that is a node certificate, or another trust
    domain's CA, exits 2 with BUNDLE_INVALID naming the file; a peer without a bundle is
    CONFIG_INVALID. No traceback."""
    from mmmfed.cli.loopback import plan

    p = plan(tmp_path)
    p.ports.release()
    cases = {
        "node-cert": p.gateway_b.tls.cert,
        "other-domain": p.pki[A] / "ca.pem",  # a's CA given as b's bundle
    }
    for label, bundle in cases.items():
        peers = {B: p.gateway_a.peers[B].model_copy(update={"bundle": bundle})}
        config = tmp_path / f"{label}.json"
        config.write_text(p.gateway_a.model_copy(update={"peers": peers}).model_dump_json())
        done = mmmfed("serve", "gateway", "--config", str(config))
        assert done.returncode == 2, (label, done.stderr)
        assert "BUNDLE_INVALID" in done.stderr and str(bundle) in done.stderr.replace("\n", "")
        assert "Traceback" not in done.stderr
    raw = json.loads(p.gateway_a.model_dump_json())
    raw["peers"][B]["bundle"] = None
    config = tmp_path / "no-bundle.json"
    config.write_text(json.dumps(raw))
    done = mmmfed("serve", "gateway", "--config", str(config))
    assert done.returncode == 2 and "CONFIG_INVALID" in done.stderr and "peers.b.example.bundle" in done.stderr


def test_peer_add_checks_the_bundle_and_writes_the_peer(tmp_path: Path) -> None:
    """`mmmfed peer add` refuses a bundle of another trust domain (exit 2, BUNDLE_INVALID, the
    configuration unchanged) and adds a peer with its own CA bundle, which `peer list` shows."""
    from mmmfed.cli.loopback import plan

    p = plan(tmp_path)
    p.ports.release()
    config = tmp_path / "gateway.json"
    config.write_text(p.gateway_a.model_copy(update={"peers": {}}).model_dump_json(indent=2))
    before = config.read_text()
    wrong = mmmfed(
        "peer", "add", B, "--config", str(config), "--endpoint", "127.0.0.1:7443", "--bundle", str(p.pki[A] / "ca.pem")
    )
    assert wrong.returncode == 2 and "BUNDLE_INVALID" in wrong.stderr and "Traceback" not in wrong.stderr
    assert config.read_text() == before
    added = mmmfed(
        "peer", "add", B, "--config", str(config), "--endpoint", "127.0.0.1:7443", "--bundle", str(p.pki[B] / "ca.pem")
    )
    assert added.returncode == 0, added.stderr
    listed = mmmfed("peer", "list", "--config", str(config), "--json")
    rows = json.loads(listed.stdout)
    assert {"kind": "peer", "id": B, "tls_name": f"gateway.{B}", "address": "127.0.0.1:7443"}.items() <= rows[0].items()
    again = mmmfed(
        "peer", "add", B, "--config", str(config), "--endpoint", "127.0.0.1:7443", "--bundle", str(p.pki[B] / "ca.pem")
    )
    assert again.returncode == 2 and "PEER_EXISTS" in again.stderr


def test_certs_csr_sign_renew_show_keep_the_node_key_on_the_node(tmp_path: Path) -> None:
    """The node makes its key and a request; the CA signs it into a certificate of its trust
    domain for that key; renewal keeps the key; show names the identity; the CA key is 0600 and,
    with --passphrase-file, encrypted and required."""
    ca_dir, node_dir = tmp_path / "ca", tmp_path / "node"
    node_dir.mkdir()
    secret = tmp_path / "pass"
    secret.write_text("correct horse\n")
    made = mmmfed("certs", "init", str(ca_dir), "--m-instance", "x.example", "--passphrase-file", str(secret))
    assert made.returncode == 0, made.stderr
    assert b"ENCRYPTED PRIVATE KEY" in (ca_dir / "ca.key").read_bytes()
    assert oct((ca_dir / "ca.key").stat().st_mode & 0o777) == "0o600"

    csr = mmmfed(
        "certs",
        "csr",
        "--name",
        "gateway.x.example",
        "--role",
        "gateway",
        "--key-out",
        str(node_dir / "gw.key"),
        "--out",
        str(node_dir / "gw.csr"),
    )
    assert csr.returncode == 0, csr.stderr
    assert b"PRIVATE KEY" not in (node_dir / "gw.csr").read_bytes()

    unsigned = mmmfed("certs", "sign", str(ca_dir), str(node_dir / "gw.csr"), "--out", str(node_dir / "gw.pem"))
    assert unsigned.returncode == 2 and "CA_KEY_PASSPHRASE" in unsigned.stderr and "Traceback" not in unsigned.stderr
    signed = mmmfed(
        "certs",
        "sign",
        str(ca_dir),
        str(node_dir / "gw.csr"),
        "--out",
        str(node_dir / "gw.pem"),
        "--passphrase-file",
        str(secret),
    )
    assert signed.returncode == 0, signed.stderr
    cert = x509.load_pem_x509_certificate((node_dir / "gw.pem").read_bytes())
    key = serialization.load_pem_private_key((node_dir / "gw.key").read_bytes(), password=None)
    assert cert.public_key() == key.public_key()
    assert TrustBundle.load(ca_dir / "ca.pem", trust_domain="x.example").issued(cert)

    renewed = mmmfed(
        "certs", "renew", str(ca_dir), str(node_dir / "gw.pem"), "--days", "30", "--passphrase-file", str(secret)
    )
    assert renewed.returncode == 0, renewed.stderr
    new = x509.load_pem_x509_certificate((node_dir / "gw.pem").read_bytes())
    assert new.public_key() == key.public_key() and new.serial_number != cert.serial_number

    shown = json.loads(mmmfed("certs", "show", str(node_dir / "gw.pem"), "--json").stdout)
    assert shown[0]["identities"] == ["gateway/gateway.x.example"] and shown[0]["trust_domain"] is None
    assert (
        json.loads(mmmfed("certs", "show", str(ca_dir / "ca.pem"), "--json").stdout)[0]["trust_domain"] == "x.example"
    )


@pytest.mark.parametrize(
    "node", ["=gateway", "gateway.x.example=king", "bad name=gateway", "gateway.x.example"], ids=repr
)
def test_certs_init_with_a_bad_node_leaves_nothing_behind(tmp_path: Path, node: str) -> None:
    """`certs init --node` with a malformed spec, role or name exits 2 with one message and writes
    nothing: no half-made PKI."""
    pki = tmp_path / "pki"
    done = mmmfed(
        "certs", "init", str(pki), "--m-instance", "x.example", "--node", "instance.x.example=instance", "--node", node
    )
    assert done.returncode == 2 and "CERT_REQUEST_INVALID" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not pki.exists() or not any(pki.iterdir())


def test_certs_issue_from_another_domains_ca_is_not_that_domains_node(tmp_path: Path) -> None:
    """A CA loaded from its directory issues certificates only in its own trust domain: the
    bundle of another domain does not vouch for them."""
    x = CertificateAuthority.load(_init(tmp_path / "x", "x.example"))
    y_bundle = TrustBundle.load(_init(tmp_path / "y", "y.example") / "ca.pem", trust_domain="y.example")
    issued = issue_node(x.cert, x.key, "gateway.y.example", NodeRole.GATEWAY)
    assert not y_bundle.issued(x509.load_pem_x509_certificate(issued.cert_pem))
    assert x.bundle().issued(x509.load_pem_x509_certificate(issued.cert_pem))


def _init(directory: Path, domain: str) -> Path:
    assert mmmfed("certs", "init", str(directory), "--m-instance", domain).returncode == 0
    return directory
