"""Operator commands that read configurations only: `config check`, `agreement accept|withdraw|
consents` refusing consent to a peer that is not configured, and `--version` (issue 13 items 3-4)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sample_assets import GODETTE, SPHERE, needs_samples

from certs import CertificateAuthority, NodeRole
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import instance_pb2_grpc
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import A, B, LoopbackPlan, plan
from mmmfed.errors import RemoteError
from mmmfed.rpc import call
from mmmfed.tls import secure_channel

ROOT = Path(__file__).resolve().parents[2]


def mmmfed(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )


def _configs(tmp_path: Path) -> tuple[LoopbackPlan, dict[str, Path]]:
    p = plan(tmp_path / "fed")
    p.ports.release()
    paths = p.config_paths()
    for name, cfg in p.nodes().items():
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        paths[name].write_text(cfg.model_dump_json(indent=2))
    return p, paths


def test_config_check_passes_every_node_of_the_loopback_federation(tmp_path: Path) -> None:
    """Each node's configuration checks out, naming its trust domain and the others it trusts."""
    _, paths = _configs(tmp_path)
    for name, path in paths.items():
        done = mmmfed("config", "check", str(path), "--json")
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        facts = json.loads(done.stdout)
        if name == "gateway-a":
            assert (facts["trust_domain"], facts["other_trust_domains"]) == (A, [B, "bridge.example"])


def test_config_check_names_what_is_wrong_and_changes_nothing(tmp_path: Path) -> None:
    """A field of the wrong type, a certificate of another trust domain, a peer bundle that is
    not that peer's CA: exit 2, the reason, the field or file, no traceback; --json errors too."""
    p, paths = _configs(tmp_path)
    gateway = paths["gateway-a"]
    raw = json.loads(gateway.read_text())

    bad = tmp_path / "bad-listen.json"
    bad.write_text(json.dumps({**raw, "max_item_bytes": "lots"}))
    done = mmmfed("config", "check", str(bad), "--json")
    assert done.returncode == 2 and json.loads(done.stdout)["error"] == "CONFIG_INVALID"
    assert "max_item_bytes" in json.loads(done.stdout)["message"]

    b_ca = CertificateAuthority.load(p.pki[B])
    b_ca.issue_files(f"gateway.{A}", NodeRole.GATEWAY, tmp_path / "forged", valid_days=1, extra_uris=[])
    forged = tmp_path / "forged.json"
    tls = {
        **raw["tls"],
        "cert": str(tmp_path / "forged" / f"gateway.{A}.pem"),
        "key": str(tmp_path / "forged" / f"gateway.{A}.key"),
    }
    forged.write_text(json.dumps({**raw, "tls": tls}))
    done = mmmfed("config", "check", str(forged))
    assert done.returncode == 2 and "CERT_INVALID" in done.stderr and "not issued by this node's own CA" in done.stderr

    wrong_bundle = tmp_path / "wrong-bundle.json"
    peers = {B: {**raw["peers"][B], "bundle": str(p.pki[A] / "ca.pem")}}
    wrong_bundle.write_text(json.dumps({**raw, "peers": peers}))
    done = mmmfed("config", "check", str(wrong_bundle))
    assert done.returncode == 2 and "BUNDLE_INVALID" in done.stderr
    for text in (done.stdout, done.stderr):
        assert "Traceback" not in text


def test_consent_to_a_peer_that_is_not_configured_is_refused_unless_forced(tmp_path: Path) -> None:
    """`agreement accept x.exampel` (a typo) exits 2 PEER_NOT_CONFIGURED and stores nothing;
    accept b.example, withdraw it, and `consents` shows both the configuration's and the
    operator's word."""
    _, paths = _configs(tmp_path)
    gateway = str(paths["gateway-a"])
    typo = mmmfed("agreement", "accept", "x.exampel", "--config", gateway)
    assert typo.returncode == 2 and "PEER_NOT_CONFIGURED" in typo.stderr and B in typo.stderr
    assert mmmfed("agreement", "accept", B, "--config", gateway).returncode == 0
    rows = json.loads(mmmfed("agreement", "consents", "--config", gateway, "--json").stdout)
    assert {"peer": B, "accepted": True, "by": "operator"}.items() <= rows[-1].items()
    assert mmmfed("agreement", "withdraw", B, "--config", gateway).returncode == 0
    rows = json.loads(mmmfed("agreement", "consents", "--config", gateway, "--json").stdout)
    assert [r["peer"] for r in rows if r["by"] == "operator"] == [B] and rows[-1]["accepted"] is False
    assert {"peer": B, "by": "configuration"}.items() <= rows[0].items()  # accept_agreements_from
    forced = mmmfed("agreement", "accept", "x.exampel", "--config", gateway, "--force")
    assert forced.returncode == 0


def test_version() -> None:
    done = mmmfed("--version")
    assert done.returncode == 0 and done.stdout.startswith("mmmfed ")


async def test_a_refused_handshake_says_which_side_refused_whose_certificate(federation: Federation) -> None:
    """A client whose certificate the server's trust domains did not issue learns that the server
    refused its certificate (TLS_CLIENT_CERT_REFUSED); a client holding the wrong bundle for the
    server learns that it refused the server's (TLS_SERVER_CERT_UNTRUSTED); with a wrong TLS name,
    TLS_SERVER_NAME_MISMATCH. Not a bare "UNAVAILABLE ... Socket closed"."""
    p = federation.plan
    cases = [
        (p.operators[A], peer(p.instance_b), "TLS_CLIENT_CERT_REFUSED"),
        (
            p.operators[A],
            peer(p.instance_a).model_copy(update={"bundle": p.pki[B] / "ca.pem"}),
            "TLS_SERVER_CERT_UNTRUSTED",
        ),
        (
            p.operators[A],
            peer(p.instance_a).model_copy(update={"tls_name": f"gateway.{A}"}),
            "TLS_SERVER_NAME_MISMATCH",
        ),
    ]
    for tls, to, reason in cases:
        async with secure_channel(tls, to) as channel:
            stub = instance_pb2_grpc.InstanceStub(channel)
            with pytest.raises(RemoteError) as err:
                await call(lambda stub=stub: stub.GetManifesto(ipb.GetManifestoRequest(), timeout=10), attempts=1)
        assert err.value.reason == reason, err.value.message
        assert "certificate" in err.value.message


@needs_samples
async def test_avatar_register_and_migrate_from_the_cli(federation: Federation, tmp_path: Path) -> None:
    """An operator registers Godette at a.example with `avatar register` and migrates her with
    `avatar migrate --to b.example` (exit 0: it lives at b.example, converted by the bridge);
    sphere.vrm, which the validator rejects, is refused with the reason and the default avatar
    offered (exit 3); an unknown Process is exit 2 (FGMV-43 9.1 from the command line)."""
    assert federation.at_a is not None
    await federation.at_a.negotiate(B)
    cfg = federation.plan.instance_a
    config = tmp_path / "instance-a.json"
    config.write_text(cfg.model_dump_json())
    op = federation.plan.operators[A]
    at_a = ["--config", str(config), "--cert", str(op.cert), "--key", str(op.key)]

    async def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(mmmfed, *args)

    done = await cli("avatar", "register", *at_a, "--file", str(GODETTE), "--human", "godette", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    godette = json.loads(done.stdout)["user_process_id"]
    moved = await cli("avatar", "migrate", godette, "--to", B, *at_a)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert f"MIGRATED: it lives at {B} as {godette}" in " ".join(moved.stdout.split())  # IDIR-101: home id kept

    sphere = json.loads(
        (await cli("avatar", "register", *at_a, "--file", str(SPHERE), "--human", "s", "--json")).stdout
    )
    refused_cli = await cli("avatar", "migrate", sphere["user_process_id"], "--to", B, *at_a, "--json")
    assert refused_cli.returncode == 3, refused_cli.stdout + refused_cli.stderr
    view = json.loads(refused_cli.stdout)
    assert view["outcome"] == "REFUSED" and view["refusal"]["reason"] == "GLTF_VALIDATION_FAILED"
    assert view["default_avatar_id"]

    unknown = await cli("avatar", "migrate", f"mmm://{A}/processes/user/nobody", "--to", B, *at_a, "--json")
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["error"] == "USER_NOT_FOUND"
    assert "Traceback" not in unknown.stdout + unknown.stderr

    # where each avatar went, from the home M-Instance (avatar list / status / show)
    listed = await cli("avatar", "list", *at_a, "--json")
    assert listed.returncode == 0, listed.stderr
    users = {u["process_id"]: u for u in json.loads(listed.stdout)}
    assert [(r["peer"], r["outcome"]) for r in users[godette]["last_migrations"]] == [(B, "MIGRATED")]
    assert users[sphere["user_process_id"]]["last_migrations"][0]["outcome"] == "REFUSED"
    table = await cli("avatar", "list", *at_a)
    assert godette in table.stdout and f"{B} MIGRATED" in " ".join(table.stdout.split())
    status = await cli("avatar", "status", sphere["user_process_id"], *at_a, "--json")
    [went] = json.loads(status.stdout)["migrations"]
    assert (
        went["refusal"]["reason"] == "GLTF_VALIDATION_FAILED" and went["default_avatar_id"] == view["default_avatar_id"]
    )
    text = await cli("avatar", "status", godette, *at_a)
    assert text.returncode == 0 and "MIGRATED" in text.stdout and "via bridge" in " ".join(text.stdout.split())
    shown = await cli("avatar", "show", sphere["persona_id"], *at_a, "--json")
    assert json.loads(shown.stdout)["format"] == sphere["format"], shown.stderr
    nobody = await cli("avatar", "status", f"mmm://{A}/processes/user/nobody", *at_a, "--json")
    assert nobody.returncode == 2 and json.loads(nobody.stdout)["error"] == "USER_NOT_FOUND"
    assert "Traceback" not in nobody.stdout + nobody.stderr
    whole = await cli("status", *at_a, "--json")
    assert whole.returncode == 0, whole.stdout + whole.stderr
    avatars = json.loads(whole.stdout)["avatars"]
    assert {"user_process_id": godette, "peer_m_instance_id": B, "outcome": "MIGRATED"} in avatars["last_migrations"]
    assert avatars["home_users"] >= 2
