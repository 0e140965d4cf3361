"""bench/where.py (issue 18's profiles): py-spy's collapsed stacks put in the right component."""

from __future__ import annotations

import io

from rich.console import Console

from bench.where import OTHER, Split, component, report, split_raw

GRPC = "/work/main/.venv/lib/python3.11/site-packages/grpc/aio/_call.py"


def test_the_innermost_frame_of_a_known_component_decides() -> None:
    audit_in_thread = (
        "_bootstrap (/usr/lib/python3.11/threading.py:995);"
        "_worker (/usr/lib/python3.11/concurrent/futures/thread.py:83);"
        "append_drafts (mmmfed/audit/sqlite.py:101)"
    )
    assert component(audit_in_thread) == "audit log (durable, group commit)"
    verify_under_servicer = (
        "ForwardProcessAction (gateway/servicer.py:300);receive (gateway/resolution.py:121);"
        "_fast_parse (mmmfed/strictjson.py:290);__instancecheck__ (<frozen abc>:119)"
    )
    assert component(verify_under_servicer) == "Items: strict JSON, V2.2, schemas, proofs"
    assert component(f"decide (gateway/resolution.py:168);_invoke ({GRPC}:580)") == "gRPC Python layer (grpc.aio calls)"
    assert component("run (/usr/lib/python3.11/asyncio/runners.py:118)") == OTHER
    writer_waiting = "_bootstrap (/usr/lib/python3.11/threading.py:995);_serve (mmmfed/store/writer_thread.py:60)"
    assert component(writer_waiting) == "thread hand-off (writer thread, pool)"


def test_split_raw_counts_samples_and_report_prints_shares() -> None:
    raw = (
        "run (/usr/lib/python3.11/asyncio/runners.py:118) 30\n"
        "receive (gateway/resolution.py:121);verify (mmmfed/proofs/verify.py:90) 60\n"
        "require_active (gateway/agreements.py:40) 10\n"
        "garbage line\n"
    )
    split = split_raw(raw)
    assert split.total == 100
    assert split.samples["Items: strict JSON, V2.2, schemas, proofs"] == 60
    out = io.StringIO()
    report(
        {"gateway B": split, "gateway A": Split(error="Permission denied")},
        {"gateway B": 400.0},
        "Item",
        Console(file=out, width=120),
    )
    text = out.getvalue()
    assert "60.0%" in text and "30.0%" in text and "Permission denied" in text and "400" in text
