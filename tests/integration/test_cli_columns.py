"""Configuration-only commands at an 80-column terminal, with ``--wide`` and with ``--json``:
`peer list`, `keys list`, `keys export`, `agreement accept|consents` and `item verify` on
gateway a.example's configuration (no node runs). Identifiers are printed whole at 80 columns,
``--wide`` prints every column, ``--json`` is one JSON document with the documented keys.

The key store, the consent and the signed Item are made once per module; every other check is
one CLI subprocess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from cliproc import mmmfed

from mmmfed.cli.loopback import A, B, plan
from mmmfed.config import GatewayConfig
from mmmfed.items import build_item
from mmmfed.keys import InstanceKeyStore


@dataclass(frozen=True)
class Gateway:
    config: GatewayConfig
    path: Path
    method: str  # the did:web verification method of its one key
    signed: Path  # an Item signed with it
    did_json: Path  # `keys export`
    exported: dict[str, object]  # what `keys export --json` printed


def cli(*args: str | Path, columns: int = 80) -> str:
    """stdout of a command that must succeed."""
    done = mmmfed(*map(str, args), columns=columns)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _lines(stdout: str, width: int = 80) -> list[str]:
    lines = stdout.splitlines()
    assert max(len(line) for line in lines) <= width, stdout
    return lines


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    """a.example's gateway configuration with one key, consent to b.example, a signed Item."""
    work = tmp_path_factory.mktemp("columns")
    loopback = plan(work)
    loopback.ports.release()  # no node runs here
    config = loopback.gateway_a
    path = work / "gateway-a.json"
    path.write_text(config.model_dump_json())
    cli("keys", "rotate", "--config", path)
    store = InstanceKeyStore(config.data_dir / "keys", A)
    record = store.records()[0]
    item = build_item(
        m_instance_id=A,
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": "VRM/1.0"},
        producer_process_id=f"mmm://{A}/x",
    )
    (work / "item.json").write_bytes(item.raw)
    key = config.data_dir / "keys" / f"{record.key_id}.pem"
    method = store.method(record)
    cli(
        "item", "sign", "--key", key, "--verification-method", method, work / "item.json", "--out", work / "signed.json"
    )
    accepted = json.loads(cli("agreement", "accept", B, "--config", path, "--json"))
    assert accepted == {"m_instance_id": A, "peer": B, "accepted": True}
    exported = json.loads(cli("keys", "export", "--config", path, "--out", work / "did.json", "--json"))
    return Gateway(config, path, method, work / "signed.json", work / "did.json", exported)


def test_keys_export_json_names_the_file_the_did_and_its_methods(gateway: Gateway) -> None:
    assert gateway.exported == {
        "file": str(gateway.did_json),
        "did": f"did:web:{A}",
        "verification_methods": [gateway.method],
    }
    assert json.loads(gateway.did_json.read_text())["id"] == f"did:web:{A}"


def test_peer_list_at_80_columns_keeps_ids_and_addresses_whole(gateway: Gateway) -> None:
    stdout = cli("peer", "list", "--config", gateway.path)
    lines = _lines(stdout)
    for name, entry in {**gateway.config.peers, **gateway.config.bridges}.items():
        assert any(name in line and str(entry.address) in line for line in lines), stdout
    wide = cli("peer", "list", "--config", gateway.path, "--wide")
    assert wide.splitlines()[0].split() == ["kind", "id", "address", "bundle"]
    assert "hidden at this width" not in wide
    rows = json.loads(cli("peer", "list", "--config", gateway.path, "--json"))
    assert {r["id"] for r in rows} == set(gateway.config.peers) | set(gateway.config.bridges)
    assert set(rows[0]) == {"kind", "id", "tls_name", "address", "bundle", "bundle_state"}


def test_keys_list_at_80_columns_keeps_the_key_id_and_method_whole(gateway: Gateway) -> None:
    stdout = cli("keys", "list", "--config", gateway.path)
    lines = _lines(stdout)
    key_id = gateway.method.split("#")[1]
    assert any(key_id in line for line in lines) and any(gateway.method in line for line in lines), stdout
    wide = cli("keys", "list", "--config", gateway.path, "--wide")
    header = next(line for line in wide.splitlines() if "key id" in line)
    for name in ("method", "valid from", "valid until", "revoked at", "status"):
        assert name in header, wide
    assert any(gateway.method in line and "current" in line for line in wide.splitlines())


def test_agreement_consents_at_80_columns_wide_and_json(gateway: Gateway) -> None:
    lines = _lines(cli("agreement", "consents", "--config", gateway.path))
    assert any(line.split()[:2] == [B, "yes"] for line in lines), lines
    wide = cli("agreement", "consents", "--config", gateway.path, "--wide")
    assert wide.splitlines()[0].split() == ["peer", "accepts", "by", "since"]
    rows = json.loads(cli("agreement", "consents", "--config", gateway.path, "--json"))
    assert {(r["peer"], r["accepted"], r["by"]) for r in rows} >= {(B, True, "operator")}
    assert all(set(r) == {"peer", "accepted", "by", "at"} for r in rows)


def test_item_verify_at_80_columns_prints_the_method_whole(gateway: Gateway) -> None:
    args = ("item", "verify", gateway.signed, "--keys", gateway.did_json)
    *table, verdict_line = cli(*args).splitlines()  # the verdict is one line, for copying: it may wrap
    lines = _lines("\n".join(table))
    assert any(gateway.method in line for line in lines) and verdict_line.startswith("VERIFIED")
    wide = cli(*args, "--wide").splitlines()
    header = next(line for line in wide if "verification method" in line)
    assert all(name in header for name in ("purpose", "created", "result"))
    assert any(gateway.method in line and "assertionMethod" in line for line in wide)
    verdict = json.loads(cli(*args, "--json"))
    assert (verdict["verified"], verdict["proofs"][0]["verification_method"]) == (True, gateway.method)
    assert set(verdict) == {"file", "verified", "reason", "proofs"}
