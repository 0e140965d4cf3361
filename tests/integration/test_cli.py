"""The command line as an operator runs it: demo, convert, certs init."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cliproc import mmmfed
from cryptography import x509
from sample_assets import GODETTE, SPHERE, needs_samples

from mmmfed.glb import inspect_glb

ROOT = Path(__file__).resolve().parents[2]


@needs_samples
def test_demo_migrates_godette_refuses_sphere_and_stops_every_process(tmp_path: Path) -> None:
    """`mmmfed demo` prints the report, concludes a trust agreement signed by both, verifies every
    foreign Item, writes Godette converted within b's budget, refuses sphere.vrm with the
    validator's reason, migrates an Asset with an exchanged payment, links godette's identity at
    b.example with only name and age_over_18, refuses mtoon (16) ELIGIBILITY_AGE, pushes godette's
    new display name to b.example (IDSF), unlinks godette with a receipt of deletion, exits 0 and
    leaves no node process running."""
    out = tmp_path / "out"
    result = mmmfed("demo", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout
    assert "Negotiated features" in text and "via bridge" in text and "unsupported" in text
    assert "GLTF_VALIDATION_FAILED" in text and "1984 errors" in text
    assert "default avatar" in text
    assert "0 errors, 0 warnings" in text
    assert "2 of 3 avatars migrated" in text
    assert "ACTIVE, signed by" in text and text.count("verified at peer") == 2  # every foreign Item verified
    assert "verified here" in text  # the default avatar b.example offered, verified at a.example
    assert "PENDING -> COMPLETED" in text or "PENDING -> COMMITTED -> COMPLETED" in text
    assert "received 1,492 BCU" in text and "owner of record now mmm://b.example/processes/user/bob" in text
    flat = " ".join(text.split())  # rich wraps long lines
    assert "b.example stores only age_over_18, name (disclosed: name, age_over_18)" in flat  # FGMV-43 9.4
    assert "a User Process of b.example, admitted admit (Account type Linked)" in flat  # 9.4 step 4
    assert "mtoon -> b.example: REFUSED ELIGIBILITY_AGE (rule age_over_18)" in flat  # IDIR-303
    assert "new display name 'Godette L.' pushed to b.example: SYNCED at version 2, holding age_over_18, name" in flat
    assert "it deleted age_over_18, name; receipt of deletion signed by did:web:b.example#" in flat  # IDIR-204
    # FGMV-43 9.3 and COIR-104: the .gltf through the bridge, then concurrent edits merged and resolved
    assert "AnimatedMorphCube.gltf + 1 external part, CC0-1.0 -> b.example: via bridge bridge.example" in flat
    assert "arrived as glTF/2.0-binary" in flat and "kept: 2 files packed into one GLB" in flat
    assert "note: the two edits merged on their own; both hold head" in flat
    assert "| # Fox sighting (north gate)" in flat and "| It ran towards the forest, then back to the gate." in flat
    # the binary conflict is on the converted model: shown at both sides, resolved to one head (issue 16)
    assert "model: CONFLICT shown at a.example" in flat and "model: CONFLICT shown at b.example" in flat
    assert "glTF/2.0-binary converted" in flat
    assert "b.example holds the same head as glTF/2.0-binary converted by the bridge, red, no conflict left" in flat
    godette = inspect_glb((out / "godette.glb").read_bytes())
    assert godette.format == "glTF/2.0-binary" and godette.triangles <= 1500
    pids = [int(p) for p in re.findall(r"pid (\d+)", text)]
    assert len(pids) == 5
    assert not [p for p in pids if Path(f"/proc/{p}").exists()], "node processes left running"


@needs_samples
def test_convert_writes_a_valid_glb_within_budget(tmp_path: Path) -> None:
    """`mmmfed convert` runs the Conversion Service locally and prints its report."""
    out = tmp_path / "g.glb"
    result = mmmfed(
        "convert",
        str(GODETTE),
        "--max-triangles",
        "2000",
        "--texture-format",
        "png",
        "--max-texture-px",
        "256",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "0 errors" in result.stdout
    facts = inspect_glb(out.read_bytes())
    assert facts.triangles <= 2000 and facts.max_texture_px <= 256 and facts.texture_formats == ("image/png",)


@needs_samples
def test_convert_refuses_sphere_with_the_reason(tmp_path: Path) -> None:
    """`mmmfed convert` exits non-zero on input the validator rejects, naming the reason."""
    out = tmp_path / "s.glb"
    result = mmmfed("convert", str(SPHERE), "--max-triangles", "500", "--out", str(out))
    assert result.returncode == 2
    assert "GLTF_VALIDATION_FAILED" in result.stderr and "1984" in result.stderr
    assert not out.exists()


def test_certs_init_makes_a_ca_and_node_certificates_and_never_overwrites(tmp_path: Path) -> None:
    """`mmmfed certs init` writes a trust domain's CA (its key kept, 0600) and node certificates
    naming role and name; a second run into the same directory is refused (issue 12 item 1)."""
    pki = tmp_path / "pki"
    result = mmmfed("certs", "init", str(pki), "--m-instance", "x.example", "--node", "gateway.x.example=gateway")
    assert result.returncode == 0, result.stderr
    assert oct((pki / "ca.key").stat().st_mode & 0o777) == "0o600"
    ca = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    ca_sans = ca.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ca_sans.get_values_for_type(x509.UniformResourceIdentifier) == ["mmmfed://trust-domain/x.example"]
    cert = x509.load_pem_x509_certificate((pki / "gateway.x.example.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "mmmfed://gateway/gateway.x.example" in sans.get_values_for_type(x509.UniformResourceIdentifier)
    assert oct((pki / "gateway.x.example.key").stat().st_mode & 0o777) == "0o600"
    again = mmmfed("certs", "init", str(pki), "--m-instance", "x.example")
    assert again.returncode == 2 and "exists" in again.stderr


@needs_samples
def test_demo_keep_running_serves_until_sigterm_then_stops_every_node(tmp_path: Path) -> None:
    """`mmmfed demo --config-dir DIR --keep-running` keeps the federation serving after the demo
    and prints each M-Instance's --config, --cert and --key; an operator's command works against
    it; SIGTERM stops every node and the demo exits 0 (issue 13 item 2, issue 12 item 9)."""
    import json
    import signal
    import time

    config_dir = tmp_path / "fed"
    env = {**os.environ, "COLUMNS": "200"}
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mmmfed",
            "demo",
            "--out",
            str(tmp_path / "out"),
            "--config-dir",
            str(config_dir),
            "--keep-running",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert demo.stdout is not None
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("b.example: instance --config"):
                lines.append(demo.stdout.readline())
                break
        text = "".join(lines)
        assert "keeps serving" in text, text[-3000:]
        op = config_dir / "a.example" / "pki"
        ledger = mmmfed(
            "asset",
            "ledger",
            "--config",
            str(config_dir / "a.example" / "instance.json"),
            "--cert",
            str(op / "operator.pem"),
            "--key",
            str(op / "operator.key"),
            "--json",
        )
        assert ledger.returncode == 0, ledger.stderr
        assert json.loads(ledger.stdout)["m_instance_id"] == "a.example"
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, rest[-2000:]
    pids = [int(p) for p in re.findall(r"pid (\d+)", text)]
    assert len(pids) == 5 and not [p for p in pids if Path(f"/proc/{p}").exists()], "node processes left running"
    assert (config_dir / "a.example" / "pki" / "ca.key").is_file() and (
        config_dir / "b.example" / "gateway.json"
    ).is_file()
