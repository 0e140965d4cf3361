"""`mmmfed keys rotate|revoke|list` on a gateway's configuration, as an operator runs them (real CLI,
subprocess; issue "Federated trust", item 4).

Each subprocess takes about 0.3 s: the two rotations and the JSON listing run once per module,
and the revocation works on a copy of that key store so the other tests see it unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mmmfed.cli.loopback import A, plan
from mmmfed.config import GatewayConfig
from mmmfed.keys import InstanceKeyStore

ROOT = Path(__file__).resolve().parents[2]


def mmmfed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("MMMFED_DATA_DIR", None)  # the config's data_dir is the one under test
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


@dataclass(frozen=True)
class Rotated:
    gateway: GatewayConfig
    config: Path
    rotations: list[str]  # stdout of each rotate
    listed: dict[str, Any]  # `keys list --json`


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> Rotated:
    """Gateway a.example's configuration, its key store rotated twice, then listed as JSON."""
    work = tmp_path_factory.mktemp("instance-keys")
    loopback = plan(work)
    loopback.ports.release()  # no node runs here
    config = work / "gateway-a.json"
    config.write_text(loopback.gateway_a.model_dump_json())
    rotations = []
    for _ in range(2):
        result = mmmfed("keys", "rotate", "--config", config)
        assert result.returncode == 0, result.stderr
        rotations.append(result.stdout)
    listed = mmmfed("keys", "list", "--config", config, "--json")
    assert listed.returncode == 0, listed.stderr
    return Rotated(loopback.gateway_a, config, rotations, json.loads(listed.stdout))


def test_rotate_prints_the_new_key_and_keeps_the_previous_valid_for_what_it_signed(rotated: Rotated) -> None:
    """Each rotate prints its key id and did:web method; the second names the first as still valid
    for what it signed before."""
    first, second = rotated.listed["keys"]
    assert f"new current key {first['key_id']}\nmethod did:web:{A}#{first['key_id']}\n" in rotated.rotations[0]
    assert f"new current key {second['key_id']}\nmethod did:web:{A}#{second['key_id']}\n" in rotated.rotations[1]
    assert f"previous key {first['key_id']} stays valid for what it signed before" in rotated.rotations[1]


def test_list_json_shows_one_current_and_one_retired_key_as_the_store_holds_them(rotated: Rotated) -> None:
    """list --json parses: the older key is retired (valid until the newer one's start), the newer
    is current; methods are did:web:<instance>#<key id> and match what the gateway's store says."""
    store = InstanceKeyStore(rotated.gateway.data_dir / "keys", A)
    first, second = rotated.listed["keys"]
    assert rotated.listed["m_instance_id"] == A
    assert [k["status"] for k in rotated.listed["keys"]] == ["retired", "current"]
    assert first["valid_until"] == second["valid_from"] and second["valid_until"] is None
    assert [k["method"] for k in rotated.listed["keys"]] == [store.method(r) for r in store.records()]
    assert store.current()[0].key_id == second["key_id"]


def test_list_table_shows_status_and_method_of_each_key(rotated: Rotated) -> None:
    """The rich table has one row per key with its did:web method and status."""
    result = mmmfed("keys", "list", "--config", rotated.config)
    assert result.returncode == 0, result.stderr
    assert "key id" in result.stdout and "revoked at" in result.stdout
    for key, status in zip(rotated.listed["keys"], ["retired", "current"], strict=True):
        row = next(line for line in result.stdout.splitlines() if key["key_id"] + " " in line)
        assert key["method"] in row and status in row


def test_revoke_is_seen_by_a_key_store_on_the_same_directory(rotated: Rotated, tmp_path: Path) -> None:
    """revoke --at marks the key revoked from that time: a store opened on the same directory (as
    the running gateway re-reads it) refuses signatures made then or later, keeps earlier ones,
    and still signs with the current key."""
    data_dir = tmp_path / "gateway-a"
    shutil.copytree(rotated.gateway.data_dir, data_dir)
    config = tmp_path / "gateway-a.json"
    config.write_text(rotated.gateway.model_copy(update={"data_dir": data_dir}).model_dump_json())
    first, second = rotated.listed["keys"]
    result = mmmfed("keys", "revoke", first["key_id"], "--config", config, "--at", first["valid_from"])
    assert result.returncode == 0, result.stderr
    assert f"revoked {first['key_id']} ({first['method']}) from {first['valid_from']}" in result.stdout
    store = InstanceKeyStore(data_dir / "keys", A)
    record = next(r for r in store.records() if r.key_id == first["key_id"])
    assert record.revoked_at_ms == record.valid_from_ms
    assert record.usable_at(record.valid_from_ms) == "KEY_REVOKED"
    assert record.usable_at(record.valid_from_ms - 1000) == "KEY_NOT_VALID_AT_TIME"
    assert store.current()[0].key_id == second["key_id"]


def test_revoke_of_an_unknown_key_id_is_key_unknown_and_changes_nothing(rotated: Rotated) -> None:
    """revoke with a key id the M-Instance does not have exits 2 with KEY_UNKNOWN; keys.json is unchanged."""
    index = rotated.gateway.data_dir / "keys" / "keys.json"
    before = index.read_bytes()
    result = mmmfed("keys", "revoke", "k-000000000000", "--config", rotated.config)
    assert result.returncode == 2 and result.stdout == ""
    assert "KEY_UNKNOWN" in result.stderr and "k-000000000000" in result.stderr
    assert index.read_bytes() == before


def test_a_missing_or_invalid_config_is_config_invalid(rotated: Rotated, tmp_path: Path) -> None:
    """A config file that does not exist, or one that is not a gateway's, exits 2 with CONFIG_INVALID."""
    missing = mmmfed("keys", "list", "--config", tmp_path / "missing.json")
    assert missing.returncode == 2 and "CONFIG_INVALID" in missing.stderr and missing.stdout == ""
    not_gateway = tmp_path / "not-gateway.json"
    not_gateway.write_text(json.dumps({**json.loads(rotated.config.read_text()), "kind": "instance"}))
    invalid = mmmfed("keys", "rotate", "--config", not_gateway)
    assert invalid.returncode == 2 and "CONFIG_INVALID" in invalid.stderr and invalid.stdout == ""


def _copy(rotated: Rotated, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the rotated gateway's data dir and a config naming it: (config, keys directory)."""
    data_dir = tmp_path / "gateway-a"
    shutil.copytree(rotated.gateway.data_dir, data_dir)
    config = tmp_path / "gateway-a.json"
    config.write_text(rotated.gateway.model_copy(update={"data_dir": data_dir}).model_dump_json())
    return config, data_dir / "keys"


def test_revoke_reason_defaults_to_compromised_and_list_shows_it(rotated: Rotated, tmp_path: Path) -> None:
    """Issue 12 item 4: revoke without --reason revokes as compromised (the safe default), says
    what that means, and keys list (JSON and table) shows the reason."""
    config, keys = _copy(rotated, tmp_path)
    first = rotated.listed["keys"][0]
    result = mmmfed("keys", "revoke", first["key_id"], "--config", config)
    assert result.returncode == 0, result.stderr
    assert "as compromised: nothing signed with it verifies from then on" in result.stdout
    record = next(r for r in InstanceKeyStore(keys, A).records() if r.key_id == first["key_id"])
    assert record.revocation_reason == "compromised"
    listed = json.loads(mmmfed("keys", "list", "--config", config, "--json").stdout)
    assert [(k["status"], k["revocation_reason"]) for k in listed["keys"]] == [
        ("revoked", "compromised"),
        ("current", None),
    ]
    table = mmmfed("keys", "list", "--config", config).stdout
    assert "revoked (compromised)" in next(line for line in table.splitlines() if first["key_id"] + " " in line)


def test_revoke_superseded_can_become_compromised_never_the_reverse(rotated: Rotated, tmp_path: Path) -> None:
    """Issue 12 item 4: --reason superseded retires the key; the same again changes nothing; a
    later compromised revocation upgrades it; superseded after that changes nothing ("unchanged")
    and keys.json keeps compromised."""
    config, keys = _copy(rotated, tmp_path)
    key_id, at = rotated.listed["keys"][0]["key_id"], rotated.listed["keys"][1]["valid_from"]
    superseded = mmmfed("keys", "revoke", key_id, "--config", config, "--reason", "superseded", "--at", at)
    assert superseded.returncode == 0, superseded.stderr
    assert f"from {at} as superseded: signatures made with it at or after then fail" in superseded.stdout
    again = mmmfed("keys", "revoke", key_id, "--config", config, "--reason", "superseded")
    assert again.returncode == 0 and f"already revoked (superseded) at {at}; unchanged" in again.stdout
    compromised = mmmfed("keys", "revoke", key_id, "--config", config, "--reason", "compromised")
    assert compromised.returncode == 0 and f"from {at} as compromised" in compromised.stdout
    index = keys / "keys.json"
    before = index.read_bytes()
    weaker = mmmfed("keys", "revoke", key_id, "--config", config, "--reason", "superseded")
    assert weaker.returncode == 0 and f"already revoked (compromised) at {at}; unchanged" in weaker.stdout
    assert index.read_bytes() == before


def test_revoke_with_an_unknown_reason_exits_2_and_changes_nothing(rotated: Rotated) -> None:
    """--reason other than compromised|superseded exits 2 with one message and no traceback."""
    index = rotated.gateway.data_dir / "keys" / "keys.json"
    before = index.read_bytes()
    key_id = rotated.listed["keys"][0]["key_id"]
    result = mmmfed("keys", "revoke", key_id, "--config", rotated.config, "--reason", "lost")
    assert result.returncode == 2 and result.stdout == ""
    assert "--reason" in result.stderr and "Traceback" not in result.stderr
    assert index.read_bytes() == before
