"""An audit log a peer can hold us to (issue 12 item 7), over real mTLS and the CLI: signed
checkpoints fetched by the peer, `mmmfed audit verify --checkpoint` catching a cut or rewritten
tail, a peer's own entries in capped pages, and a peer's refusals coalesced."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import grpc
from cliproc import mmmfed
from rpcassert import refused

from gateway.refusals import REFUSALS_SUPPRESSED
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.audit import ACCEPTED, REFUSED, entry_hash
from mmmfed.cli.inprocess import Federation


def _configs(federation: Federation, tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "gateway-a.json", tmp_path / "gateway-b.json"
    a.write_text(federation.plan.gateway_a.model_dump_json())
    b.write_text(federation.plan.gateway_b.model_dump_json())
    return a, b


def _attack(db_path: Path, *statements: str) -> None:
    """What someone with write access to the file does: drop the append-only triggers, then edit."""
    db = sqlite3.connect(db_path)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f'DROP TRIGGER "{name}"')
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def _rewrite_from(db_path: Path, seq: int) -> None:
    """Change entry ``seq``'s reason and rehash it and every entry after it, so the chain alone
    still verifies: the rewrite only a held head can show."""
    _attack(db_path)
    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq", (seq - 1,)).fetchall()
    prev_hash = rows[0][8] if rows[0][0] == seq - 1 else "0" * 64
    for row in rows:
        if row[0] < seq:
            continue
        names = ("seq", "time_ms", "event", "peer_id", "subject", "reason", "details", "prev_hash")
        fields = dict(zip(names, row[:8], strict=True))
        fields.update(details=json.loads(fields["details"]), prev_hash=prev_hash)
        if row[0] == seq:
            fields["reason"] = "REWRITTEN"
        new_hash = entry_hash(fields)
        db.execute(
            "UPDATE audit_log SET reason = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (fields["reason"], prev_hash, new_hash, row[0]),
        )
        prev_hash = new_hash
    db.commit()
    db.close()


async def _refuse(federation: Federation, n: int) -> None:
    """``n`` malformed Process Actions from a's gateway to b's, each refused (and audited) at b."""
    stub = federation.nodes["gateway-a"].channels.peer("b.example")

    async def one() -> None:
        await refused(
            stub.ForwardProcessAction(papb.ProcessActionRequest()),
            grpc.StatusCode.INVALID_ARGUMENT,
            "PROCESS_ACTION_MALFORMED",
        )

    for start in range(0, n, 50):
        await asyncio.gather(*(one() for _ in range(min(50, n - start))))


def _verify(config: Path, checkpoint: Path) -> tuple[int, dict[str, object]]:
    result = mmmfed("audit", "verify", "--config", str(config), "--checkpoint", str(checkpoint), "--json")
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {"stderr": result.stderr}


async def test_truncated_tail_fails_checkpoint_verify(federation: Federation, tmp_path: Path) -> None:
    """Items 7.1-7.3: a's gateway fetches b's signed checkpoint over RE-5 and keeps it; b's log
    grows and still holds it; then b's tail is cut below it: plain `audit verify` passes, but
    `audit verify --checkpoint` exits 2 with AUDIT_TRUNCATED."""
    await federation.at_a.negotiate("b.example")
    config_a, config_b = _configs(federation, tmp_path)
    held = tmp_path / "b-checkpoint.json"
    # in a thread: the CLI calls b's gateway, which this test's event loop serves
    fetch = ("audit", "checkpoint", "--config", str(config_a), "--peer", "b.example", "--out", str(held))
    fetched = await asyncio.to_thread(mmmfed, *fetch)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    doc = json.loads(held.read_bytes())
    assert (doc["MInstanceID"], doc["Size"]) == ("b.example", 2)
    kept = await federation.nodes["gateway-a"].peer_checkpoints.last("b.example")
    assert kept is not None and kept.signed_json == held.read_bytes()

    await _refuse(federation, 3)  # growth after the checkpoint
    code, outcome = _verify(config_b, held)
    assert code == 0 and outcome["ok"] and outcome["grown"] == 3, outcome

    _attack(federation.plan.gateway_b.data_dir / "audit.sqlite3", "DELETE FROM audit_log WHERE seq >= 2")
    plain = mmmfed("audit", "verify", "--config", str(config_b))
    assert plain.returncode == 0, plain.stderr  # the hole item 7 closes: the cut chain verifies alone
    code, outcome = _verify(config_b, held)
    assert code == 2 and outcome["reason"] == "AUDIT_TRUNCATED", outcome
    human = mmmfed("audit", "verify", "--config", str(config_b), "--checkpoint", str(held))
    assert human.returncode == 2 and "AUDIT_TRUNCATED" in human.stderr


async def test_rewritten_tail_fails_checkpoint_verify(federation: Federation, tmp_path: Path) -> None:
    """Item 7.3: b's operator signs a checkpoint (`audit checkpoint --out`); the entry at its
    size is rewritten and everything after rehashed: the chain alone verifies, the checkpoint
    fails with AUDIT_REWRITTEN (exit 2)."""
    await federation.at_a.negotiate("b.example")
    await _refuse(federation, 2)
    _, config_b = _configs(federation, tmp_path)
    held = tmp_path / "own.json"
    signed = mmmfed("audit", "checkpoint", "--config", str(config_b), "--out", str(held))
    assert signed.returncode == 0 and "4 entries" in signed.stdout, signed.stdout + signed.stderr
    await _refuse(federation, 1)
    assert _verify(config_b, held)[0] == 0

    _rewrite_from(federation.plan.gateway_b.data_dir / "audit.sqlite3", 4)
    assert mmmfed("audit", "verify", "--config", str(config_b)).returncode == 0
    code, outcome = _verify(config_b, held)
    assert code == 2 and outcome["reason"] == "AUDIT_REWRITTEN", outcome


async def test_bad_checkpoint_signature_fails_verify(federation: Federation, tmp_path: Path) -> None:
    """Item 7.3: a checkpoint edited after signing, or another M-Instance's, is
    CHECKPOINT_SIGNATURE_INVALID; a missing or non-JSON file exits 2 with a message, no traceback."""
    await federation.at_a.negotiate("b.example")
    config_a, config_b = _configs(federation, tmp_path)
    own = tmp_path / "own.json"
    assert mmmfed("audit", "checkpoint", "--config", str(config_b), "--out", str(own)).returncode == 0
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**json.loads(own.read_bytes()), "Size": 1}))
    code, outcome = _verify(config_b, forged)
    assert code == 2 and outcome["reason"] == "CHECKPOINT_SIGNATURE_INVALID", outcome
    code, outcome = _verify(config_a, own)  # b's checkpoint is no evidence about a's log
    assert code == 2 and outcome["reason"] == "CHECKPOINT_SIGNATURE_INVALID", outcome

    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    for path in (tmp_path / "missing.json", garbage):
        result = mmmfed("audit", "verify", "--config", str(config_b), "--checkpoint", str(path))
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    malformed = mmmfed("audit", "verify", "--config", str(config_b), "--checkpoint", str(garbage))
    assert "CHECKPOINT_MALFORMED" in malformed.stderr


async def test_peer_reads_only_its_own_entries_in_capped_pages(federation: Federation) -> None:
    """Item 7.4: over RE-5 a's gateway gets only entries whose peer is a.example, never more than
    500 a page whatever limit it asks, pages on with next_since_seq, and each page's signed
    checkpoint verifies and is kept."""
    audit_b = federation.nodes["gateway-b"].audit
    for i in range(700):
        await audit_b.append(ACCEPTED, peer_id="a.example" if i % 7 else "c.example", subject=f"s{i}")
    stub = federation.nodes["gateway-a"].channels.peer("b.example")
    peer_checkpoints = federation.nodes["gateway-a"].peer_checkpoints
    since, seen = 0, []
    while True:
        page = await stub.GetAuditEntries(gpb.GetAuditEntriesRequest(since_seq=since, limit=100_000))
        assert len(page.entries) <= 500
        assert {e.peer_id for e in page.entries} == {"a.example"}
        kept = await peer_checkpoints.keep(page.checkpoint_json, "b.example")
        assert (kept.size, kept.head_hash) == (page.head_seq, page.head_hash)
        seen += [e.seq for e in page.entries]
        since = page.next_since_seq
        if not since:
            break
    assert len(seen) == 600 and seen == sorted(seen)
    checkpoint = await stub.GetAuditCheckpoint(gpb.GetAuditCheckpointRequest())
    assert (await peer_checkpoints.keep(checkpoint.signed_json, "b.example")).size == 700


async def test_thousand_refusals_by_one_peer_make_bounded_entries(federation: Federation) -> None:
    """Item 7.5: 1,000 refused RE-1 calls from a's gateway leave at most 10 REFUSED entries and
    one REFUSALS_SUPPRESSED count per minute at b, every refusal accounted for, chain intact."""
    await _refuse(federation, 1000)
    audit_b = federation.nodes["gateway-b"].audit
    await audit_b.flush()
    entries = await audit_b.entries(peer_id="a.example", limit=5000)
    written = [e for e in entries if e.event == REFUSED]
    counts = [e.details["count"] for e in entries if e.event == REFUSALS_SUPPRESSED]
    assert len(entries) <= 2 * 11  # one window, or two if the run straddled its end
    assert len(written) + sum(counts) == 1000
    assert (await audit_b.verify()).ok


async def test_peer_gateway_catches_a_truncated_tail_from_the_next_checkpoint(federation: Federation) -> None:
    """Item 7.2: a's gateway keeps b's checkpoint (what its 5-minute watch does); after b's tail
    is cut, b's next checkpoint signs fewer entries: a refuses it with AUDIT_TRUNCATED and keeps
    the one it had, the evidence. A peer that is not configured is named, not fatal."""
    await federation.at_a.negotiate("b.example")
    await _refuse(federation, 3)
    peer_checkpoints = federation.nodes["gateway-a"].peer_checkpoints
    first = await peer_checkpoints.fetch_all(["b.example", "nowhere.example"])
    assert first["nowhere.example"] == "UNKNOWN_PEER"
    kept = first["b.example"]
    assert not isinstance(kept, str) and kept.size == 5

    _attack(federation.plan.gateway_b.data_dir / "audit.sqlite3", "DELETE FROM audit_log WHERE seq >= 4")
    again = await peer_checkpoints.fetch_all(["b.example"])
    assert again == {"b.example": "AUDIT_TRUNCATED"}
    assert await peer_checkpoints.last("b.example") == kept
