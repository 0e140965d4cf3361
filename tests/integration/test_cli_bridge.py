"""`mmmfed bridge identity` as an operator runs it before the bridge's certificate is issued
(real CLI, subprocess; issue 12 item 5)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from bridge.identity import KEY_FILE, bridge_key

ROOT = Path(__file__).resolve().parents[2]


def mmmfed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


def bridge_config(tmp_path: Path, **fields: Any) -> Path:
    raw = {
        "kind": "bridge",
        "bridge_id": "bridge.example",
        "tls_name": "bridge.example",
        "data_dir": str(tmp_path / "bridge-data"),
        "tls": {k: str(tmp_path / f"{k}.pem") for k in ("ca_cert", "cert", "key")},
        **fields,
    }
    path = tmp_path / "bridge.json"
    path.write_text(json.dumps({k: v for k, v in raw.items() if v is not None}))
    return path


def test_bridge_identity_makes_the_key_once_and_prints_its_did(tmp_path: Path) -> None:
    """The first run makes signing-key.pem (0600) in data_dir and prints its did:key; a second run
    prints the same did, the one the node will sign with."""
    config = bridge_config(tmp_path)
    first = mmmfed("bridge", "identity", "--config", config, "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    key_file = tmp_path / "bridge-data" / KEY_FILE
    assert out["key_file"] == str(key_file) and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert out["did"] == bridge_key(tmp_path / "bridge-data").did
    assert out["verification_method"].startswith(out["did"] + "#")
    again = mmmfed("bridge", "identity", "--config", config)
    assert (again.returncode, again.stdout) == (0, out["did"] + "\n")


def test_bridge_identity_refuses_a_config_without_data_dir(tmp_path: Path) -> None:
    """A bridge config without data_dir exits 2 with CONFIG_INVALID naming the field, no traceback."""
    done = mmmfed("bridge", "identity", "--config", bridge_config(tmp_path, data_dir=None))
    assert done.returncode == 2
    assert "CONFIG_INVALID" in done.stderr and "data_dir" in done.stderr and "Traceback" not in done.stderr


def test_bridge_identity_refuses_a_data_dir_it_cannot_use(tmp_path: Path) -> None:
    """data_dir naming a file exits 2 with DATA_DIR_INVALID, and the file is left as it was."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = mmmfed("bridge", "identity", "--config", bridge_config(tmp_path, data_dir=str(blocker)))
    assert done.returncode == 2
    assert "DATA_DIR_INVALID" in done.stderr and "Traceback" not in done.stderr
    assert blocker.read_text() == "not a directory"
