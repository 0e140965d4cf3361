"""`mmmfed keys export` and `mmmfed item verify --keys DID_DOCUMENT`: an M-Instance's public keys
handed to a verifier outside the federation, with their expiry and revocation honoured as a
gateway honours them (FGMV-43 GPIR-003). Real CLI, subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mmmfed.cli.loopback import A, plan
from mmmfed.config import GatewayConfig
from mmmfed.items import build_item
from mmmfed.keys import InstanceKeyStore

ROOT = Path(__file__).resolve().parents[2]


def mmmfed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("MMMFED_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


@dataclass(frozen=True)
class Exported:
    gateway: GatewayConfig
    config: Path
    work: Path
    key_ids: list[str]  # oldest first
    signed_first: Path  # by the first key while it was current
    signed_second: Path  # by the second key while it is current
    signed_late: Path  # by the first key after its validity ended
    did_json: Path


def _sign(work: Path, gateway: GatewayConfig, key_id: str, name: str) -> Path:
    item = build_item(
        m_instance_id=A,
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": "VRM/1.0"},
        producer_process_id=f"mmm://{A}/x",
    )
    unsigned = work / f"{name}.unsigned.json"
    unsigned.write_bytes(item.raw)
    out = work / f"{name}.json"
    key = gateway.data_dir / "keys" / f"{key_id}.pem"
    method = f"did:web:{A}#{key_id}"
    result = mmmfed("item", "sign", "--key", key, "--verification-method", method, unsigned, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """a.example's gateway keys: rotated, an Item signed, rotated again (the first key's validity
    ends), two more Items signed, then exported."""
    work = tmp_path_factory.mktemp("keys-export")
    loopback = plan(work)
    loopback.ports.release()  # no node runs here
    gateway = loopback.gateway_a
    config = work / "gateway-a.json"
    config.write_text(gateway.model_dump_json())
    store = InstanceKeyStore(gateway.data_dir / "keys", A)
    assert mmmfed("keys", "rotate", "--config", config).returncode == 0
    first = store.records()[0].key_id
    signed_first = _sign(work, gateway, first, "first")
    time.sleep(1.1)  # key validity and proof times are whole seconds: the next key starts later
    assert mmmfed("keys", "rotate", "--config", config).returncode == 0
    second = store.records()[1].key_id
    signed_second = _sign(work, gateway, second, "second")
    signed_late = _sign(work, gateway, first, "late")
    did_json = work / "did.json"
    result = mmmfed("keys", "export", "--config", config, "--out", did_json)
    assert result.returncode == 0, result.stderr
    assert f"did:web:{A} with 2 key(s)" in result.stdout
    return Exported(gateway, config, work, [first, second], signed_first, signed_second, signed_late, did_json)


def test_export_writes_the_did_web_document_of_every_published_key(exported: Exported) -> None:
    """The file is a DID document for did:web:a.example listing both keys as Multikey methods
    (the same methods `keys list` shows), the first with its expiry; both may assert."""
    doc = json.loads(exported.did_json.read_text())
    store = InstanceKeyStore(exported.gateway.data_dir / "keys", A)
    records = store.records()
    assert doc["id"] == f"did:web:{A}"
    assert [m["id"] for m in doc["verificationMethod"]] == [store.method(r) for r in records]
    assert {m["type"] for m in doc["verificationMethod"]} == {"Multikey"}
    assert all(m["publicKeyMultibase"].startswith("z6Mk") for m in doc["verificationMethod"])
    assert "expires" in doc["verificationMethod"][0] and "expires" not in doc["verificationMethod"][1]
    assert doc["assertionMethod"] == [store.method(r) for r in records]
    assert not any("private" in json.dumps(m).lower() for m in doc["verificationMethod"])


def test_items_verify_with_the_exported_document_and_not_without_it(exported: Exported) -> None:
    """Each Item signed by a key while it was valid verifies with --keys did.json; without it
    the did:web method does not resolve (KEY_UNRESOLVED, exit 2)."""
    for signed in (exported.signed_first, exported.signed_second):
        result = mmmfed("item", "verify", signed, "--keys", exported.did_json)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "VERIFIED" in result.stdout and "NOT VERIFIED" not in result.stdout
    bare = mmmfed("item", "verify", exported.signed_first)
    assert bare.returncode == 2 and "KEY_UNRESOLVED" in bare.stdout


def test_a_proof_made_after_the_key_expired_is_not_valid_at_time(exported: Exported) -> None:
    """The first key signed again after the second replaced it: KEY_NOT_VALID_AT_TIME, exit 2."""
    result = mmmfed("item", "verify", exported.signed_late, "--keys", exported.did_json)
    assert result.returncode == 2, result.stdout
    assert "NOT VERIFIED" in result.stdout and "KEY_NOT_VALID_AT_TIME" in result.stdout


def test_a_compromised_key_verifies_nothing_a_superseded_one_what_it_signed_before(
    exported: Exported, tmp_path: Path
) -> None:
    """On a copy of the key store: the second key revoked as superseded still verifies what it
    signed; the first revoked as compromised verifies nothing, though its proof predates the
    revocation (it leaves assertionMethod; KEY_REVOKED)."""
    data_dir = tmp_path / "gateway-a"
    shutil.copytree(exported.gateway.data_dir, data_dir)
    config = tmp_path / "gateway-a.json"
    config.write_text(exported.gateway.model_copy(update={"data_dir": data_dir}).model_dump_json())
    first, second = exported.key_ids
    time.sleep(1.1)  # the revocations start after every proof was made
    assert mmmfed("keys", "revoke", second, "--reason", "superseded", "--config", config).returncode == 0
    assert mmmfed("keys", "revoke", first, "--reason", "compromised", "--config", config).returncode == 0
    did_json = tmp_path / "did.json"
    assert mmmfed("keys", "export", "--config", config, "--out", did_json).returncode == 0
    doc = json.loads(did_json.read_text())
    assert doc["assertionMethod"] == [f"did:web:{A}#{second}"]
    assert all("revoked" in m for m in doc["verificationMethod"])

    superseded = mmmfed("item", "verify", exported.signed_second, "--keys", did_json)
    assert superseded.returncode == 0, superseded.stdout
    compromised = mmmfed("item", "verify", exported.signed_first, "--keys", did_json)
    assert compromised.returncode == 2 and "KEY_REVOKED" in compromised.stdout, compromised.stdout


def test_export_mistakes_exit_2_with_the_reason_and_write_nothing(exported: Exported, tmp_path: Path) -> None:
    """--out in a missing directory: FILE_UNWRITABLE; a gateway with no keys yet: NO_KEYS; a
    garbled DID document given to verify: KEY_FILE_INVALID naming the file. No traceback."""
    missing = mmmfed("keys", "export", "--config", exported.config, "--out", tmp_path / "nodir" / "did.json")
    assert missing.returncode == 2 and "FILE_UNWRITABLE" in missing.stderr, missing.stderr
    assert not (tmp_path / "nodir").exists()

    empty = tmp_path / "empty.json"
    empty.write_text(exported.gateway.model_copy(update={"data_dir": tmp_path / "no-keys"}).model_dump_json())
    no_keys = mmmfed("keys", "export", "--config", empty, "--out", tmp_path / "did.json")
    assert no_keys.returncode == 2 and "NO_KEYS" in no_keys.stderr, no_keys.stderr
    assert not (tmp_path / "did.json").exists()

    garbled = tmp_path / "garbled.json"
    doc = json.loads(exported.did_json.read_text())
    doc["verificationMethod"][0]["publicKeyMultibase"] = "zNotAKey"
    garbled.write_text(json.dumps(doc))
    refused = mmmfed("item", "verify", exported.signed_first, "--keys", garbled)
    assert refused.returncode == 2 and "KEY_FILE_INVALID" in refused.stderr and str(garbled) in refused.stderr
    for result in (missing, no_keys, refused):
        assert "Traceback" not in result.stdout + result.stderr
