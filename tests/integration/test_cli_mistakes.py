"""An operator's typical mistakes, one per command (issue 13 item 4): each ends with exit 2 and one
message naming the file, field or value and its reason, no traceback anywhere, and nothing left
behind on disk (no half-made PKI, no data directory, no output file). Real CLI in subprocesses,
no node running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sample_assets import GODETTE, needs_samples

from mmmfed.cli.loopback import plan

ROOT = Path(__file__).resolve().parents[2]
ALICE = "mmm://a.example/processes/user/alice"


def mmmfed(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("MMMFED_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loopback plan's configurations (nothing running), and three broken instance configs:
    a certificate that does not exist, a listen address without a port number, a data_dir under
    a regular file."""
    root = tmp_path_factory.mktemp("mistakes")
    loopback = plan(root / "fed")
    loopback.ports.release()
    (root / "gateway.json").write_text(loopback.gateway_a.model_dump_json())
    (root / "instance.json").write_text(loopback.instance_a.model_dump_json())
    (root / "a-file").write_text("not a directory")
    good = json.loads(loopback.instance_a.model_dump_json())
    broken = {
        "nocert.json": {**good, "tls": {**good["tls"], "cert": str(root / "missing.pem")}},
        "badport.json": {**good, "listen": "127.0.0.1:notaport"},
        "nowrite.json": {**good, "data_dir": str(root / "a-file" / "data")},
        "typo.json": {**{k: v for k, v in good.items() if k != "m_instance_id"}, "m_instance": "a.example"},
    }
    for name, doc in broken.items():
        (root / name).write_text(json.dumps(doc))
    op = loopback.operators["a.example"]
    (root / "op.args").write_text(json.dumps(["--cert", str(op.cert), "--key", str(op.key)]))
    return root


def _op(w: Path) -> list[str]:
    return ["--config", str(w / "instance.json"), *json.loads((w / "op.args").read_text())]


MISTAKES: dict[str, tuple[list[str], str, str]] = {
    # name: (arguments, reason, a value the message must name)
    "serve_missing_certificate": (["serve", "instance", "--config", "{w}/nocert.json"], "CERT_INVALID", "missing.pem"),
    "serve_listen_not_a_port": (["serve", "instance", "--config", "{w}/badport.json"], "LISTEN_INVALID", "notaport"),
    "serve_data_dir_unwritable": (
        ["serve", "instance", "--config", "{w}/nowrite.json"],
        "DATA_DIR_UNWRITABLE",
        "a-file",
    ),
    "config_check_listen_not_a_port": (["config", "check", "{w}/badport.json"], "LISTEN_INVALID", "listen"),
    "config_check_data_dir_unwritable": (["config", "check", "{w}/nowrite.json"], "DATA_DIR_UNWRITABLE", "data_dir"),
    "config_check_misspelt_field": (["config", "check", "{w}/typo.json"], "CONFIG_INVALID", "fieldm_instance:"),
    "certs_init_node_without_a_name": (
        ["certs", "init", "{w}/pki", "--m-instance", "x.example", "--node", "=gateway"],
        "CERT_REQUEST_INVALID",
        "=gateway",
    ),
    "certs_issue_unknown_role": (
        ["certs", "issue", "{w}/pki", "--name", "x.ops.x.example", "--role", "boss"],
        "CERT_REQUEST_INVALID",
        "boss",
    ),
    "convert_out_in_a_missing_directory": (
        ["convert", str(GODETTE), "--out", "{w}/nodir/x.glb", "--max-triangles", "5000"],
        "FILE_UNWRITABLE",
        "nodir",
    ),
    "agreement_accept_a_typo": (
        ["agreement", "accept", "x.exampel", "--config", "{w}/gateway.json"],
        "PEER_NOT_CONFIGURED",
        "x.exampel",
    ),
    "asset_register_missing_file": (
        ["asset", "register", "{op}", "--owner", ALICE, "--file", "{w}/nope.glb"],
        "FILE_UNREADABLE",
        "nope.glb",
    ),
    "avatar_register_missing_file": (
        ["avatar", "register", "{op}", "--human", "alice", "--file", "{w}/nope.vrm"],
        "FILE_UNREADABLE",
        "nope.vrm",
    ),
    "pa_send_missing_file": (["pa", "send", "{op}", "--file", "{w}/nope.json"], "FILE_UNREADABLE", "nope.json"),
    "asset_status_node_not_running": (["asset", "status", "urn:t:1", "{op}"], "UNAVAILABLE", "connect"),
    "keys_export_before_any_key": (
        ["keys", "export", "--config", "{w}/gateway.json", "--out", "{w}/did.json"],
        "NO_KEYS",
        "keys rotate",
    ),
}


def _args(template: list[str], w: Path) -> list[str]:
    out: list[str] = []
    for arg in template:
        out += _op(w) if arg == "{op}" else [arg.replace("{w}", str(w))]
    return out


@needs_samples
@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_a_mistake_is_exit_2_with_its_reason_no_traceback_and_nothing_left(work: Path, case: str) -> None:
    template, reason, named = MISTAKES[case]
    before = files_under(work)
    done = mmmfed(*_args(template, work))
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert f"error {reason}:" in " ".join(done.stderr.split()), out
    assert "".join(named.split()) in "".join(done.stderr.split()), out  # rich wraps lines at 80 columns
    assert "Traceback" not in out and "pydantic" not in out  # read like the rest, not a library's dump
    assert files_under(work) == before  # no PKI, data directory or output file left behind
