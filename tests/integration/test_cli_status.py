"""`mmmfed status` against the loopback federation: the whole picture of a.example (nodes, the
manifesto registered with its gateway, the peer with its agreement's state and expiry, the bridge
with its virtual bridge, work in flight, the audit head), as JSON and as text at 80 columns; a
node that is down is reported with its reason, not a crash; a peer's operator learns nothing."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from cliproc import mmmfed_in_thread as mmmfed
from rich.console import Console

from mmmfed.cli.inprocess import Federation
from mmmfed.cli.loopback import BRIDGE, A, B
from mmmfed.cli.status_render import status_renderables

ALICE = f"mmm://{A}/processes/user/alice"


def _operator(federation: Federation, tmp_path: Path, *, of: str = A) -> list[str]:
    """--config (a.example's instance configuration, written to a file) and ``of``'s operator TLS material."""
    config = tmp_path / "instance-a.json"
    config.write_text(federation.plan.instance_a.model_dump_json())
    tls = federation.plan.operators[of]
    return ["--config", str(config), "--cert", str(tls.cert), "--key", str(tls.key)]


async def test_status_shows_peer_agreement_manifesto_bridge_and_audit_head(
    negotiated: Federation, tmp_path: Path
) -> None:
    """After a.example negotiated with b.example: exit 0, every node up (instance, gateway, the
    bridge the gateway probed), the manifesto id the gateway holds, b.example ACTIVE until about
    30 days from now, the virtual bridge the negotiation set up towards b.example, a migration in
    flight, no transfer in flight, and the gateway's audit head; the text form shows the same
    within 80 columns, identifiers whole."""
    gateway = negotiated.nodes["gateway-a"]
    manifesto_id = await gateway.negotiation.registered_id()
    args = _operator(negotiated, tmp_path)
    with gateway.migration.in_flight.track("home", ALICE, B):
        done = await mmmfed("status", *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    head = await gateway.audit.head()
    assert head is not None and report["audit_head"] == {"seq": head.seq, "hash": head.hash}
    assert report["all_reachable"] is True
    assert [(n["node"], n["reachable"]) for n in report["nodes"]] == [
        ("instance", True),
        ("gateway", True),
        ("bridge", True),
    ]
    assert report["manifesto"] == {"registered": True, "manifesto_id": manifesto_id} and manifesto_id
    (peer,) = report["peers"]
    assert (peer["m_instance_id"], peer["agreement_state"]) == (B, "ACTIVE")
    days_left = (peer["valid_until_ms"] - time.time() * 1000) / 86_400_000
    assert 29.9 < days_left <= 30 and peer["agreement_id"].startswith("urn:uuid:")
    (bridge,) = report["bridges"]
    assert (bridge["bridge_id"], bridge["configured"], bridge["reachable"]) == (BRIDGE, True, True)
    assert [v["peer_m_instance_id"] for v in bridge["virtual_bridges"]] == [B]
    assert [(m["side"], m["user_process_id"], m["peer_m_instance_id"]) for m in report["migrations_in_flight"]] == [
        ("home", ALICE, B)
    ]
    assert report["transfers_in_flight"] == []

    text = await mmmfed("status", *args)
    assert text.returncode == 0, text.stderr
    assert re.search(rf"{re.escape(B)}\s+ACTIVE", text.stdout) and manifesto_id in text.stdout
    assert f"seq {head.seq}" in text.stdout and head.hash in text.stdout
    console = Console(width=80, record=True, color_system=None)
    for part in status_renderables(report):
        console.print(part)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    vb_id = bridge["virtual_bridges"][0]["virtual_bridge_id"]
    assert any(re.search(rf"{re.escape(B)}\s+ACTIVE\s+\d{{4}}-\d\d-\d\d", line) for line in lines), lines
    assert any(vb_id in line and BRIDGE in line for line in lines), lines  # one row, the id kept whole
    assert "no avatar migrations in flight" in text.stdout  # that one ended with its block
    wide = await mmmfed("status", *args, "--wide", columns=80)  # every column of every table, one row each
    header = next(line for line in wide.stdout.splitlines() if "peer" in line and "agreement" in line)
    assert all(name in header for name in ("valid until", "address")), wide.stdout
    assert any(vb_id in line and BRIDGE in line and B in line for line in wide.stdout.splitlines()), wide.stdout


async def test_a_peer_operator_is_refused_everywhere(negotiated: Federation, tmp_path: Path) -> None:
    """b.example's operator certificate: a.example's instance refuses the handshake and its gateway
    refuses the call (GetStatus admits no peer): both shown down with the reason, exit 3, and no
    part of a.example's picture is printed."""
    done = await mmmfed("status", *_operator(negotiated, tmp_path, of=B), "--json")
    assert done.returncode == 3, done.stdout + done.stderr
    report = json.loads(done.stdout)
    reasons = {n["node"]: (n["reachable"], n["reason"]) for n in report["nodes"]}
    assert reasons == {"instance": (False, "TLS_CLIENT_CERT_REFUSED"), "gateway": (False, "PEER_NOT_ALLOWED")}
    assert report["peers"] is None and report["audit_head"] is None and report["transfers_in_flight"] is None


async def test_a_node_down_is_reported_with_its_reason_and_the_rest_still_shown(
    federation: Federation, tmp_path: Path
) -> None:
    """With a.example's instance and the bridge stopped: exit 3, the instance and the bridge down
    (UNAVAILABLE, the gateway's probe for the bridge), the gateway's part still there; the text
    form says DOWN with the reason, no traceback. A --cert that cannot be read is exit 2
    FILE_UNREADABLE instead: nothing was asked."""
    await federation.nodes["instance-a"].stop()
    await federation.nodes["bridge"].stop()
    args = _operator(federation, tmp_path)
    done = await mmmfed("status", *args, "--json", "--timeout", "3")
    assert done.returncode == 3, done.stdout + done.stderr
    report = json.loads(done.stdout)
    nodes = {n["node"]: n for n in report["nodes"]}
    assert (nodes["instance"]["reachable"], nodes["instance"]["reason"]) == (False, "UNAVAILABLE")
    assert (nodes["bridge"]["reachable"], nodes["bridge"]["reason"]) == (False, "UNAVAILABLE")
    assert nodes["gateway"]["reachable"] is True and report["all_reachable"] is False
    assert report["transfers_in_flight"] is None
    assert report["peers"][0]["agreement_state"] == "NONE"  # not negotiated: nothing agreed
    text = await mmmfed("status", *args, "--timeout", "3")
    assert text.returncode == 3
    assert re.search(r"instance\s+instance\.a\.example\s+\S+\s+DOWN UNAVAILABLE", text.stdout), text.stdout
    assert "Traceback" not in text.stdout + text.stderr

    args[args.index("--cert") + 1] = str(tmp_path / "missing.pem")  # an input mistake, not a node down
    mistake = await mmmfed("status", *args, "--json")
    assert mistake.returncode == 2
    assert json.loads(mistake.stdout)["error"] == "FILE_UNREADABLE" and "missing.pem" in mistake.stdout
