"""An operator's typical mistakes, one per command (issue 13 item 4): each ends with exit 2 and one
message naming the file, field or value and its reason, no traceback anywhere, and nothing left
behind on disk (no half-made PKI, no data directory, no output file). Real CLI in subprocesses,
no node running."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sample_assets import GODETTE, needs_samples

from mmmfed.cli.loopback import plan
from mmmfed.store import SqliteStore

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
    _old_format_data_dir(root / "old-data")
    (root / "olddata.json").write_text(json.dumps({**good, "data_dir": str(root / "old-data")}))
    op = loopback.operators["a.example"]
    (root / "op.args").write_text(json.dumps(["--cert", str(op.cert), "--key", str(op.key)]))
    return root


def _old_format_data_dir(data_dir: Path) -> None:
    """A data_dir as a release before stores carried a format left it: an Item store with a row
    and no format stamp (issue 15 item 5)."""
    store = SqliteStore(data_dir)
    store.put_document("agreement", "b.example", b"{}")
    store.close()
    db = sqlite3.connect(data_dir / "store.sqlite3")
    db.execute("PRAGMA user_version = 0")
    db.close()


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
    "serve_data_dir_of_an_older_release": (
        ["serve", "instance", "--config", "{w}/olddata.json"],
        "DATA_DIR_FORMAT",
        "old-data/store.sqlite3",
    ),
    "config_check_data_dir_of_an_older_release": (
        ["config", "check", "{w}/olddata.json"],
        "DATA_DIR_FORMAT",
        "old-data/store.sqlite3",
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
    "activity_show_missing_config": (["activity", "show", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "agreement_consents_missing_config": (
        ["agreement", "consents", "--config", "{w}/nope.json"],
        "CONFIG_INVALID",
        "nope.json",
    ),
    "agreement_propose_missing_config": (
        ["agreement", "propose", "b.example", "{nope}"],
        "CONFIG_INVALID",
        "nope.json",
    ),
    "agreement_revoke_missing_config": (
        ["agreement", "revoke", "b.example", "{nope}"],
        "CONFIG_INVALID",
        "nope.json",
    ),
    "agreement_show_missing_config": (["agreement", "show", "--config", "{w}/nope.json"], "CONFIG_INVALID", "nope"),
    "agreement_withdraw_a_typo": (
        ["agreement", "withdraw", "x.exampel", "--config", "{w}/gateway.json"],
        "PEER_NOT_CONFIGURED",
        "x.exampel",
    ),
    "asset_cancel_missing_config": (["asset", "cancel", "urn:t:1", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "asset_fund_missing_config": (
        ["asset", "fund", "{nope}", "--holder", ALICE, "--amount", "5"],
        "CONFIG_INVALID",
        "nope.json",
    ),
    "asset_history_missing_config": (["asset", "history", "X", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "asset_ledger_missing_config": (["asset", "ledger", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "content_publish_missing_file": (
        ["content", "publish", "{w}/nope.md", "{op}", "--owner", ALICE, "--title", "Notes", "--licence", "MIT"],
        "FILE_UNREADABLE",
        "nope.md",
    ),
    "content_list_node_not_running": (["content", "list", "{op}"], "UNAVAILABLE", "connect"),
    "content_show_missing_config": (["content", "show", "X", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "content_search_node_not_running": (["content", "search", "cube", "{op}"], "UNAVAILABLE", "connect"),
    "content_share_missing_config": (
        ["content", "share", "X", "{nope}", "--with", "b.example"],
        "CONFIG_INVALID",
        "nope.json",
    ),
    "reputation_issue_before_any_key": (
        ["reputation", "issue", ALICE, "--config", "{w}/gateway.json", "--from", "2026-01-01", "--to", "2026-02-01"],
        "NO_SIGNING_KEY",
        "keys rotate",
    ),
    "reputation_show_missing_file": (["reputation", "show", "{w}/nope.jwt"], "FILE_UNREADABLE", "nope.jwt"),
    "content_migrate_node_not_running": (
        ["content", "migrate", "X", "{op}", "--to", "b.example"],
        "UNAVAILABLE",
        "connect",
    ),
    "content_update_missing_file": (["content", "update", "X", "{w}/nope.md", "{op}"], "FILE_UNREADABLE", "nope.md"),
    "content_history_node_not_running": (["content", "history", "X", "{op}"], "UNAVAILABLE", "connect"),
    "content_revert_missing_config": (["content", "revert", "X", "0123abcd", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "content_sync_node_not_running": (["content", "sync", "X", "{op}"], "UNAVAILABLE", "connect"),
    "content_conflicts_missing_config": (["content", "conflicts", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "content_resolve_node_not_running": (
        ["content", "resolve", "X", "{op}", "--keep", "0123abcd"],
        "UNAVAILABLE",
        "connect",
    ),
    "asset_transfer_node_not_running": (
        [
            "asset",
            "transfer",
            "mmm://a.example/assets/x",
            "{op}",
            "--from",
            ALICE,
            "--to",
            "mmm://b.example/processes/b",
        ],
        "UNAVAILABLE",
        "connect",
    ),
    "audit_checkpoint_missing_config": (["audit", "checkpoint", "--config", "{w}/nope.json"], "CONFIG_INVALID", "nope"),
    "audit_show_missing_config": (["audit", "show", "--config", "{w}/nope.json"], "CONFIG_INVALID", "nope.json"),
    "audit_verify_missing_config": (["audit", "verify", "--config", "{w}/nope.json"], "CONFIG_INVALID", "nope.json"),
    "avatar_list_missing_config": (["avatar", "list", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "avatar_migrate_node_not_running": (
        ["avatar", "migrate", ALICE, "--to", "b.example", "{op}"],
        "UNAVAILABLE",
        "connect",
    ),
    "avatar_show_missing_config": (["avatar", "show", "X", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "avatar_history_missing_config": (["avatar", "history", ALICE, "{nope}"], "CONFIG_INVALID", "nope.json"),
    "avatar_sync_neither_keep_nor_discard": (["avatar", "sync", ALICE, "{op}"], "KEEP_OR_DISCARD", "--keep"),
    "avatar_wear_nothing_to_change": (["avatar", "wear", ALICE, "{op}"], "NO_CHANGE", "--outfit"),
    "avatar_status_missing_config": (["avatar", "status", ALICE, "{nope}"], "CONFIG_INVALID", "nope.json"),
    "bridge_identity_missing_config": (["bridge", "identity", "--config", "{w}/nope.json"], "CONFIG_INVALID", "nope"),
    "certs_renew_without_a_ca": (["certs", "renew", "{w}/nopki", "{w}/nope.pem"], "CA_NOT_FOUND", "nopki"),
    "certs_show_missing_file": (["certs", "show", "{w}/nope.pem"], "FILE_UNREADABLE", "nope.pem"),
    "certs_sign_without_a_ca": (
        ["certs", "sign", "{w}/nopki", "{w}/nope.csr", "--out", "{w}/x.pem"],
        "CA_NOT_FOUND",
        "nopki",
    ),
    "demo_config_dir_unwritable": (["demo", "--config-dir", "{w}/a-file/fed"], "DATA_DIR_UNWRITABLE", "a-file"),
    "identity_issue_before_any_key": (
        ["identity", "issue", ALICE, "--config", "{w}/gateway.json", "--birthdate", "1990-05-17"],
        "NO_SIGNING_KEY",
        "keys rotate",
    ),
    "identity_present_missing_config": (
        [
            "identity",
            "present",
            ALICE,
            "--config",
            "{w}/nope.json",
            "--disclose",
            "name",
            "--audience",
            "b.example",
            "--nonce",
            "n",
            "--out",
            "{w}/p.txt",
        ],
        "CONFIG_INVALID",
        "nope.json",
    ),
    "identity_migrate_missing_config": (
        [
            "identity",
            "migrate",
            ALICE,
            "--to",
            "b.example",
            "--disclose",
            "name",
            "--config",
            "{w}/nope.json",
            "--cert",
            "{w}/op.pem",
            "--key",
            "{w}/op.key",
        ],
        "CONFIG_INVALID",
        "nope",
    ),
    "identity_link_missing_config": (
        [
            "identity",
            "link",
            ALICE,
            "--to",
            "b.example",
            "--disclose",
            "name",
            "--config",
            "{w}/nope.json",
            "--cert",
            "{w}/op.pem",
            "--key",
            "{w}/op.key",
        ],
        "CONFIG_INVALID",
        "nope",
    ),
    "identity_resolve_not_did_web": (
        [
            "identity",
            "resolve",
            "did:key:z6Mk",
            "--config",
            "{w}/gateway.json",
            "--cert",
            "{w}/op.pem",
            "--key",
            "{w}/op.key",
        ],
        "DID_INVALID",
        "did:key:z6Mk",
    ),
    "identity_sync_set_without_value": (
        [
            "identity",
            "sync",
            ALICE,
            "--set",
            "comfort",
            "--config",
            "{w}/gateway.json",
            "--cert",
            "{w}/op.pem",
            "--key",
            "{w}/op.key",
        ],
        "SYNC_ARGUMENTS",
        "FIELD=JSON",
    ),
    "identity_unlink_missing_config": (
        [
            "identity",
            "unlink",
            ALICE,
            "--from",
            "b.example",
            "--config",
            "{w}/nope.json",
            "--cert",
            "{w}/op.pem",
            "--key",
            "{w}/op.key",
        ],
        "CONFIG_INVALID",
        "nope",
    ),
    "identity_revoke_missing_config": (
        ["identity", "revoke", ALICE, "--config", "{w}/nope.json"],
        "CONFIG_INVALID",
        "nope",
    ),
    "identity_show_missing_config": (
        ["identity", "show", ALICE, "--config", "{w}/nope.json"],
        "CONFIG_INVALID",
        "nope",
    ),
    "identity_status_list_before_any_key": (
        ["identity", "status-list", "--config", "{w}/gateway.json", "--out", "{w}/s.txt"],
        "NO_SIGNING_KEY",
        "keys rotate",
    ),
    "identity_verify_missing_file": (
        [
            "identity",
            "verify",
            "{w}/nope.txt",
            "--keys",
            "{w}/k.json",
            "--status-list",
            "{w}/s.txt",
            "--audience",
            "b.example",
            "--nonce",
            "n",
        ],
        "FILE_UNREADABLE",
        "nope.txt",
    ),
    "keys_list_missing_config": (["keys", "list", "--config", "{w}/nope.json"], "CONFIG_INVALID", "nope.json"),
    "keys_revoke_unknown_key": (["keys", "revoke", "nokey", "--config", "{w}/gateway.json"], "KEY_UNKNOWN", "nokey"),
    "keys_rotate_missing_config": (["keys", "rotate", "--config", "{w}/nope.json"], "CONFIG_INVALID", "nope.json"),
    "peer_add_without_an_endpoint": (
        ["peer", "add", "c.example", "--config", "{w}/gateway.json", "--bundle", "{w}/nope.pem"],
        "ENDPOINT_INVALID",
        "--endpoint",
    ),
    "peer_list_missing_config": (["peer", "list", "--config", "{w}/nope.json"], "CONFIG_INVALID", "nope.json"),
    "status_missing_config": (["status", "{nope}"], "CONFIG_INVALID", "nope.json"),
    "keys_export_before_any_key": (
        ["keys", "export", "--config", "{w}/gateway.json", "--out", "{w}/did.json"],
        "NO_KEYS",
        "keys rotate",
    ),
}


def _args(template: list[str], w: Path) -> list[str]:
    out: list[str] = []
    for arg in template:
        if arg == "{op}":
            out += _op(w)
        elif arg == "{nope}":
            out += ["--config", str(w / "nope.json"), "--cert", str(w / "c.pem"), "--key", str(w / "k.pem")]
        else:
            out.append(arg.replace("{w}", str(w)))
    return out


# Mistakes the CLI's own parser refuses (USAGE_ERROR, exit 2; tests/integration/test_cli_json_errors.py
# covers their JSON form): a required option left out or a value of the wrong type.
PARSER_ONLY = {"certs csr", "item sign", "item verify", "keys generate", "scenario phase0"}


def _commands() -> set[str]:
    import typer

    from mmmfed.cli import app

    def walk(command: object, prefix: tuple[str, ...]) -> set[str]:
        subs = getattr(command, "commands", None)
        if not subs:
            return {" ".join(prefix)}
        return set().union(*(walk(sub, (*prefix, name)) for name, sub in subs.items()))

    return walk(typer.main.get_command(app), ())


def test_every_command_has_its_mistake_here() -> None:
    """Every command of the CLI is in MISTAKES (or refused by the parser alone), so a new command
    cannot ship without its mistake tested."""
    covered = {" ".join(a for a in args[:2] if not a.startswith(("-", "{"))) for args, _, _ in MISTAKES.values()}
    covered = {c if c in _commands() else c.split(" ")[0] for c in covered}
    missing = sorted(_commands() - covered - PARSER_ONLY)
    assert not missing, f"commands without a mistake test: {missing}"


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


def test_a_data_dir_of_an_older_release_is_json_under_json(work: Path) -> None:
    """``config check --json`` (what ``serve`` refuses at start-up) gives the refusal as JSON on
    stdout: reason DATA_DIR_FORMAT and a message naming the file and what to do; exit 2."""
    before = files_under(work)
    done = mmmfed("config", "check", str(work / "olddata.json"), "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    error = json.loads(done.stdout)
    assert error["error"] == "DATA_DIR_FORMAT"
    assert str(work / "old-data" / "store.sqlite3") in error["message"] and "new data_dir" in error["message"]
    assert "Traceback" not in done.stdout + done.stderr
    assert files_under(work) == before
