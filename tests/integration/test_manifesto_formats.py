"""A manifesto that names a Qualifier Format mmmfed does not know is refused before a node starts
(issue 13 item 4): `mmmfed config check` and `mmmfed serve instance` exit 2 with UNKNOWN_FORMAT,
the file, the field and the value, no traceback, and the instance's data_dir is left untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mmmfed.cli.loopback import plan

ROOT = Path(__file__).resolve().parents[2]


def _mmmfed(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )


def test_config_check_and_serve_refuse_an_unknown_format_naming_file_and_field(tmp_path: Path) -> None:
    p = plan(tmp_path / "fed")
    p.ports.release()
    raw = json.loads(p.instance_a.model_dump_json())
    raw["manifesto"]["accepts"][1]["format"] = "FBX/7.4"
    config = tmp_path / "instance-a.json"
    config.write_text(json.dumps(raw))
    data_dir = Path(raw["data_dir"])
    before = sorted(data_dir.rglob("*")) if data_dir.exists() else None
    field = "manifesto.accepts[1].format 'FBX/7.4' is not a Qualifier Format mmmfed knows"

    checked = _mmmfed("config", "check", str(config), "--json")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    error = json.loads(checked.stdout)
    assert error["error"] == "UNKNOWN_FORMAT" and f"config {config}: {field}" in error["message"]
    assert "USDZ/1.0" in error["message"] and "or remove that feature" in error["message"]

    served = _mmmfed("serve", "instance", "--config", str(config))
    assert served.returncode == 2, served.stdout + served.stderr
    assert "UNKNOWN_FORMAT" in served.stderr and field in " ".join(served.stderr.split())
    for text in (checked.stdout, checked.stderr, served.stdout, served.stderr):
        assert "Traceback" not in text
    assert (sorted(data_dir.rglob("*")) if data_dir.exists() else None) == before

    raw["manifesto"]["accepts"][1]["format"] = "USDZ/1.0"  # known: the same file checks out
    config.write_text(json.dumps(raw))
    assert _mmmfed("config", "check", str(config)).returncode == 0
