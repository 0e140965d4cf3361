"""With ``--json``, a command's refusal is JSON too: ``{"error": REASON, "message": ...}`` on
stdout, exit code 2, no traceback, nothing changed on disk; without it, the same refusal is one
line on stderr. Real CLI, subprocesses, no node running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmmfed.cli.loopback import plan
from mmmfed.items import build_item

ROOT = Path(__file__).resolve().parents[2]


def mmmfed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("MMMFED_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loopback plan's configurations (nothing running) and an unsigned Item."""
    root = tmp_path_factory.mktemp("json-errors")
    loopback = plan(root)
    loopback.ports.release()
    (root / "gateway.json").write_text(loopback.gateway_a.model_dump_json())
    (root / "instance.json").write_text(loopback.instance_a.model_dump_json())
    item = build_item(
        m_instance_id="a.example",
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": "VRM/1.0"},
        producer_process_id="mmm://a.example/x",
    )
    (root / "item.json").write_bytes(item.raw)
    return root


CASES = {
    "config_check_missing_file": (["config", "check", "{w}/nope.json", "--json"], "CONFIG_INVALID"),
    "keys_list_missing_config": (["keys", "list", "--config", "{w}/nope.json", "--json"], "CONFIG_INVALID"),
    "agreement_show_missing_config": (["agreement", "show", "--config", "{w}/nope.json", "--json"], "CONFIG_INVALID"),
    "item_verify_unsigned": (["item", "verify", "{w}/item.json", "--json"], "PROOF_MISSING"),
    "audit_show_no_log_yet": (["audit", "show", "--config", "{w}/gateway.json", "--json"], "AUDIT_LOG_MISSING"),
    "unknown_option": (["keys", "list", "--config", "{w}/gateway.json", "--bogus", "--json"], "USAGE_ERROR"),
    "missing_required_option": (["asset", "ledger", "--json"], "USAGE_ERROR"),
    "status_missing_config": (
        ["status", "--config", "{w}/nope.json", "--cert", "c", "--key", "k", "--json"],
        "CONFIG_INVALID",
    ),
    "status_unreadable_cert": (
        ["status", "--config", "{w}/instance.json", "--cert", "{w}/nope.pem", "--key", "{w}/nope.key", "--json"],
        "FILE_UNREADABLE",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_refusal_under_json_is_one_json_object_on_stdout(work: Path, case: str) -> None:
    """Exit 2; stdout is exactly one JSON object with the expected reason and a message that
    says something; no traceback; the working directory holds the same files as before."""
    args, reason = CASES[case]
    before = files_under(work)
    result = mmmfed(*(a.format(w=work) for a in args))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    answer = json.loads(result.stdout)
    if "error" in answer:
        assert (answer["error"], bool(answer["message"].strip())) == (reason, True), answer
    else:  # item verify's verdict: not verified, with its reason
        assert (answer["verified"], answer["reason"]) == (False, reason), answer
    assert files_under(work) == before


def test_without_json_the_same_refusal_is_one_line_on_stderr(work: Path) -> None:
    """The human form: nothing on stdout, ``error REASON: message`` on stderr."""
    result = mmmfed("keys", "list", "--config", work / "nope.json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error CONFIG_INVALID: ") and "Traceback" not in result.stderr
