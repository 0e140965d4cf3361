"""`mmmfed audit show|verify` on a gateway that has accepted and refused foreign Items."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cliproc import mmmfed

from mmmfed.cli.inprocess import Federation


async def test_audit_show_and_verify_then_detect_tampering(federation: Federation, tmp_path: Path) -> None:
    """The CLI lists gateway B's entries and verifies the chain; after someone edits the file,
    verify exits 2 naming the broken entry."""
    await federation.at_a.negotiate("b.example")
    config = tmp_path / "gateway-b.json"
    config.write_text(federation.plan.gateway_b.model_dump_json())

    shown = mmmfed("audit", "show", "--config", str(config), "--json")
    assert shown.returncode == 0, shown.stderr
    entries = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(e["event"], e["peer_id"]) for e in entries] == [
        ("AGREEMENT_PROPOSED", "a.example"),
        ("AGREEMENT_ACCEPTED", "a.example"),
    ]
    narrow = mmmfed("audit", "show", "--config", str(config), columns=80).stdout.splitlines()
    assert max(map(len, narrow)) <= 80 and any("AGREEMENT_ACCEPTED" in line for line in narrow), narrow
    wide = mmmfed("audit", "show", "--config", str(config), "--wide", columns=80).stdout.splitlines()
    header = next(line for line in wide if "seq" in line)
    assert all(name in header for name in ("time (UTC)", "event", "peer", "subject", "reason")), wide
    ok = mmmfed("audit", "verify", "--config", str(config))
    assert ok.returncode == 0 and ok.stdout.startswith("VERIFIED 2 entries"), ok.stdout + ok.stderr

    db = sqlite3.connect(federation.plan.gateway_b.data_dir / "audit.sqlite3")
    triggers = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in triggers:  # an attacker with the file can drop the guards; the chain still tells
        db.execute(f'DROP TRIGGER "{name}"')
    db.execute(f"UPDATE {_table(db)} SET reason = 'EDITED'")
    db.commit()
    db.close()
    broken = mmmfed("audit", "verify", "--config", str(config))
    assert broken.returncode == 2 and "BROKEN at entry 1: HASH_MISMATCH" in broken.stderr


def _table(db: sqlite3.Connection) -> str:
    return str(db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchone()[0])
